'use strict';
// A private RabbitMQ (Debian's rabbitmq-server, its AMQP 1.0 plugin on) for one test: its own
// node name, ports, Erlang cookie and data folder on loopback, started and stopped by the test.
// tools/dev.sh setup installs the package.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn, execFileSync } = require('node:child_process');

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
/// Debian's python3 (python3-qpid-proton belongs to it, not to a pyenv python first on PATH).
const PYTHON = '/usr/bin/python3';

function installed() {
  return fs.existsSync(SERVER);
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

class RabbitMq {
  /// `ports`: [amqp, dist, epmd] free ports (freePorts(3)).
  constructor(ports) {
    [this.port, this.distPort, this.epmdPort] = ports;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-rabbitmq-'));
    this.node = `outpost${this.port}@localhost`;
    fs.writeFileSync(path.join(this.dir, 'enabled_plugins'), '[rabbitmq_amqp1_0].\n');
    fs.writeFileSync(path.join(this.dir, 'rabbitmq.conf'), [
      `listeners.tcp.default = 127.0.0.1:${this.port}`,
      'loopback_users = none',
      // The test's disk may be fuller than RabbitMQ's default 50 MB alarm allows.
      'disk_free_limit.absolute = 1MB',
      '',
    ].join('\n'));
    this.child = null;
    this.starts = 0;
  }

  env() {
    return {
      ...process.env,
      HOME: this.dir, // the Erlang cookie
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      ERL_EPMD_PORT: String(this.epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_MNESIA_BASE: path.join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(this.dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: path.join(this.dir, 'rabbitmq'),
      RABBITMQ_PID_FILE: path.join(this.dir, 'pid'),
    };
  }

  /// Starts the broker and waits until its AMQP port answers (RabbitMQ boots in ~10 s).
  async start({ timeoutMs = 90000 } = {}) {
    this.starts += 1;
    const log = fs.openSync(path.join(this.dir, `server-${this.starts}.log`), 'w');
    this.child = spawn(SERVER, [], { env: this.env(), stdio: ['ignore', log, log], detached: true });
    this.child.exited = new Promise((resolve) => this.child.once('exit', resolve));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await portOpen(this.port)) return;
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`RabbitMQ did not listen on ${this.port}:\n${this.logTail()}`);
  }

  /// Stops the broker and waits for it (SIGTERM to the Erlang VM: an orderly stop).
  async stop() {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 20000);
      await child.exited;
      clearTimeout(timer);
    }
    while (await portOpen(this.port)) await new Promise((r) => setTimeout(r, 100));
  }

  /// Stops the broker and its epmd, and removes its folder.
  async dispose({ keep = false } = {}) {
    await this.stop();
    try {
      execFileSync('/usr/bin/epmd', ['-kill'], { env: this.env(), stdio: 'ignore', timeout: 5000 });
    } catch { /* not running */ }
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  logTail(lines = 40) {
    try {
      const files = fs.readdirSync(path.join(this.dir, 'log')).map((f) => path.join(this.dir, 'log', f));
      files.push(...fs.readdirSync(this.dir).filter((f) => f.startsWith('server-')).map((f) => path.join(this.dir, f)));
      return files.map((f) => `---- ${f}\n${fs.readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n')}`).join('\n');
    } catch (err) {
      return `(no RabbitMQ log: ${err.message})`;
    }
  }

  /// Reads what waits in `address` with Qpid Proton's Python client (bus_reader.py), until
  /// `idleMs` pass without a message → [{body, properties, annotations, durable}].
  read(address, { idleMs = 3000 } = {}) {
    const out = execFileSync(PYTHON, [path.join(__dirname, '..', 'bus_reader.py'),
      `amqp://guest:guest@127.0.0.1:${this.port}`, address, String(idleMs / 1000)],
    { encoding: 'utf8', timeout: 300000, maxBuffer: 256 * 1024 * 1024 });
    return out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  }
}

module.exports = { RabbitMq, installed, PYTHON };
