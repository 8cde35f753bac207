'use strict';
// Shared helper for the acceptance suite: one outpostd per test in its own temp dir, identities
// through the `outpost` CLI, the edge CA from `outpost ca`, and unmodified Azure IoT SDK clients
// (azure-iot-device + azure-iot-device-mqtt) connected to it over TLS.
//
// Environment:
//   OUTPOST_BIN_DIR        where outpostd and outpost are (default <repo>/build/bin)
//   OUTPOST_KEEP_TMP=1     keep every temp dir (by default only a failed test's dir is kept)
//   OUTPOST_LOG_LEVEL      outpostd's [log] level (default info)
//   OUTPOST_WIRE_TRACE=1   print every MQTT packet the SDK clients send and receive

const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const { Client, ModuleClient, Message } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { Amqp, AmqpWs } = require('azure-iot-device-amqp');
const { ConnectionString, NoRetry, SharedAccessSignature, encodeUriComponentStrict } =
  require('azure-iot-common');

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const binDir = process.env.OUTPOST_BIN_DIR || path.join(repoRoot, 'build', 'bin');
const outpostdBin = path.join(binDir, 'outpostd');
const outpostBin = path.join(binDir, 'outpost');

/// The SDK transport the device and module clients use: OUTPOST_TRANSPORT (Mqtt by default), so
/// one test file covers every transport (CTest runs the SDK tests once per transport). The
/// WebSocket transports dial wss://<GatewayHostName>:443, which the harness sends to the
/// daemon's HTTPS listener.
const TRANSPORTS = { Mqtt, MqttWs, Amqp, AmqpWs };
function transportOf(name) {
  if (!TRANSPORTS[name]) throw new Error(`transport ${name}: not one of ${Object.keys(TRANSPORTS)}`);
  return TRANSPORTS[name];
}
const transportName = process.env.OUTPOST_TRANSPORT || 'Mqtt';
transportOf(transportName);
const overWebSockets = transportName.endsWith('Ws');

const DEFAULT_ROUTES = {
  r1: 'FROM /messages/modules/modA/outputs/out1 INTO BrokeredEndpoint("/modules/modB/inputs/in1")',
  r2: 'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO ' +
    'BrokeredEndpoint("/modules/modB/inputs/fromDevices")',
};

/// Every daemon still running when the test process exits is killed (a failed assertion must
/// not leave an outpostd behind).
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/// Polls `fn` until it returns a truthy value; throws `message` after `timeoutMs`.
async function waitFor(fn, { timeoutMs = 10000, intervalMs = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await sleep(intervalMs);
  }
}

/// Rejects with `what` after `ms` unless `promise` settles first.
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function tomlString(s) {
  return JSON.stringify(String(s)); // TOML basic strings use JSON's escapes for what we write
}

/// The IoT Edge deployment manifest (facts §1): $edgeAgent with no modules (the test clients are
/// external processes) and $edgeHub schema 1.1 with `routes` and storeAndForwardConfiguration.
function manifest(routes, { ttlSecs = 7200, modules = {} } = {}) {
  return {
    modulesContent: {
      $edgeAgent: {
        'properties.desired': {
          schemaVersion: '1.1',
          runtime: {
            type: 'docker',
            settings: { minDockerVersion: 'v1.25', loggingOptions: '', registryCredentials: {} },
          },
          systemModules: {
            edgeAgent: {
              type: 'docker',
              settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5', createOptions: '{}' },
            },
            edgeHub: {
              type: 'docker',
              status: 'running',
              restartPolicy: 'always',
              settings: {
                image: 'mcr.microsoft.com/azureiotedge-hub:1.5',
                createOptions: JSON.stringify({
                  HostConfig: {
                    PortBindings: {
                      '5671/tcp': [{ HostPort: '5671' }],
                      '8883/tcp': [{ HostPort: '8883' }],
                      '443/tcp': [{ HostPort: '443' }],
                    },
                  },
                }),
              },
            },
          },
          modules,
        },
      },
      $edgeHub: {
        'properties.desired': {
          schemaVersion: '1.1',
          routes,
          storeAndForwardConfiguration: { timeToLiveSecs: ttlSecs },
        },
      },
    },
  };
}

/// One request through `request` (http.request or https.request) with `options` → {status,
/// headers, body, text}: a body that is not a string is sent as JSON (with `contentType`), an
/// answer that is JSON is parsed. `timeoutMs` (0 = none) ends a request left unanswered.
function jsonRequest(request, options, body, { contentType = 'application/json', timeoutMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const headers = data === undefined ? { ...options.headers }
      : { 'content-type': contentType, 'content-length': Buffer.byteLength(data), ...options.headers };
    const req = request({ ...options, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* text */ }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
      });
    });
    if (timeoutMs) {
      req.setTimeout(timeoutMs, () => req.destroy(
        new Error(`${options.method} ${options.path}: no answer in ${timeoutMs / 1000} s`)));
    }
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/// One HTTP request over a unix socket → {status, body}; body parsed as JSON when it is.
function unixHttp(socketPath, method, target, body, extraHeaders = {}) {
  return jsonRequest(http.request, { socketPath, method, path: target, headers: extraHeaders }, body);
}

function runFile(file, args, { timeoutMs = 15000 } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      let code = 0;
      if (err) code = typeof err.code === 'number' ? err.code : (err.killed ? 'timeout' : String(err.code));
      resolve({ code, stdout, stderr });
    });
  });
}

class Outpost {
  /// `name` labels the temp dir; `routes` replaces DEFAULT_ROUTES.
  /// `agent` adds keys to [agent] (e.g. {cool_off_secs: 1}); `modules` are $edgeAgent modules.
  /// `deviceId` is the edge's device_id; `extra` is TOML appended to the config (e.g. an
  /// [upstream] section).
  /// `listen` overrides [listen] addresses (e.g. fixed ports from `freePorts`, so a daemon
  /// killed and started again is found where it was).
  constructor({ name = 'test', routes = DEFAULT_ROUTES, logLevel, agent = {}, modules = {},
    deviceId = 'edge1', extra = '', listen = {} } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `outpost-acc-${name}-`));
    // Modules run as their own uids: they must reach the workload socket below (search only).
    fs.chmodSync(this.dir, 0o711);
    this.dataDir = path.join(this.dir, 'data');
    this.configPath = path.join(this.dir, 'config.toml');
    this.manifestPath = path.join(this.dir, 'manifest.json');
    this.stderrPath = path.join(this.dir, 'outpostd.stderr');
    this.portsPath = path.join(this.dataDir, 'run', 'ports.json');
    this.routes = routes;
    this.agentKeys = agent;
    this.deviceId = deviceId;
    this.extraConfig = extra;
    this.listen = {
      metrics: '127.0.0.1:0', mqtt_tls: '127.0.0.1:0', mqtt: '127.0.0.1:0', https: '127.0.0.1:0',
      amqp_tls: '127.0.0.1:0', ...listen,
    };
    this.logLevel = logLevel || process.env.OUTPOST_LOG_LEVEL || 'info';
    this.child = null;
    this.ports = null;
    this.starts = 0;
    this.clients = new Set();
    this._ca = null;
    this._undo = []; // redirectHttps undos, run by dispose
    this.writeConfig();
    this.writeManifest(routes, { modules });
  }

  writeConfig() {
    fs.writeFileSync(this.configPath, [
      'hostname = "localhost"',
      `device_id = ${tomlString(this.deviceId)}`,
      '[storage]',
      `dir = ${tomlString(this.dataDir)}`,
      'durability = "fsync"',
      '[listen]',
      ...Object.entries(this.listen).map(([k, v]) => `${k} = ${tomlString(v)}`),
      '[agent]',
      `manifest = ${tomlString(this.manifestPath)}`,
      ...Object.entries(this.agentKeys).map(([k, v]) => `${k} = ${typeof v === 'string' ? tomlString(v) : v}`),
      '[log]',
      `level = ${tomlString(this.logLevel)}`,
      this.extraConfig,
      '',
    ].join('\n'));
  }

  /// Writes the manifest through a temp file and rename, as a deployment tool would (the
  /// daemon never sees half a file).
  writeManifest(routes, opts = {}) {
    const tmp = `${this.manifestPath}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(manifest(routes, opts), null, 2) + '\n');
    fs.renameSync(tmp, this.manifestPath);
  }

  /// GET /metrics → text.
  async metricsText() {
    const res = await fetch(`http://127.0.0.1:${this.port('metrics')}/metrics`);
    assert.equal(res.status, 200, 'GET /metrics');
    return res.text();
  }

  /// Sum of the samples of `name` whose labels include every pair of `labels`.
  async metricSum(name, labels = {}) {
    let sum = 0;
    for (const line of (await this.metricsText()).split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) continue;
      const have = {};
      for (const kv of (m[1] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[kv[1]] = kv[2];
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[2]);
    }
    return sum;
  }

  /// `outpost check` → {code, stdout, stderr}.
  check() { return this.cli(['check']); }

  /// The admin API (HTTP over its unix socket): {status, body (parsed JSON when it is)}.
  admin(method, target, body, headers) {
    return unixHttp(path.join(this.dataDir, 'run', 'admin', 'admin.sock'), method, target, body,
      headers);
  }

  /// The workload API as a process that is not a module would call it.
  workload(method, target, body) {
    return unixHttp(path.join(this.dataDir, 'run', 'workload', 'workload.sock'), method, target, body);
  }

  /// GET /modules → {name: module} from the admin API.
  async modules() {
    const r = await this.admin('GET', '/modules');
    assert.equal(r.status, 200, `GET /modules: ${JSON.stringify(r.body)}`);
    return Object.fromEntries(r.body.modules.map((m) => [m.name, m]));
  }

  /// Starts outpostd (again, on the same storage after a stop) and waits for ports.json.
  async start({ timeoutMs = 20000 } = {}) {
    assert.equal(this.child, null, 'outpostd is already running');
    if (!fs.existsSync(outpostdBin)) {
      throw new Error(`${outpostdBin} not found: build it (cmake --build build --target outpostd outpost) ` +
        'or set OUTPOST_BIN_DIR');
    }
    fs.rmSync(this.portsPath, { force: true }); // a stale file from a killed run must not count
    this.starts += 1;
    fs.appendFileSync(this.stderrPath, `==== outpostd start #${this.starts} ${new Date().toISOString()}\n`);
    const errFd = fs.openSync(this.stderrPath, 'a');
    const child = spawn(outpostdBin, ['--config', this.configPath], {
      stdio: ['ignore', errFd, errFd],
    });
    fs.closeSync(errFd);
    this.child = child;
    live.add(child);
    child.exitInfo = null;
    child.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        live.delete(child);
        child.exitInfo = { code, signal, at: new Date().toISOString(), expected: this.child !== child };
        resolve(child.exitInfo);
      });
    });
    child.on('error', (err) => { child.spawnError = err; });
    await waitFor(() => {
      if (child.spawnError) throw new Error(`cannot start ${outpostdBin}: ${child.spawnError.message}`);
      if (child.exitInfo) {
        throw new Error(`outpostd exited during start-up (${JSON.stringify(child.exitInfo)}):\n` +
          this.stderrTail());
      }
      try {
        this.ports = JSON.parse(fs.readFileSync(this.portsPath, 'utf8'));
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs, message: `${this.portsPath} (outpostd start)` }).catch((err) => {
      if (!err.message.includes('exited during')) err.message += `\n${this.stderrTail()}`;
      throw err;
    });
    for (const key of ['mqtt_tls', 'mqtt']) {
      assert.match(String(this.ports[key]), /^127\.0\.0\.1:\d+$/,
        `ports.json must list "${key}" as 127.0.0.1:PORT; got ${JSON.stringify(this.ports)}`);
    }
    return this.ports;
  }

  port(key) {
    assert.ok(this.ports && this.ports[key], `ports.json has no "${key}"`);
    return Number(this.ports[key].split(':').pop());
  }

  get tlsPort() { return this.port('mqtt_tls'); }
  get plainPort() { return this.port('mqtt'); }

  /// SIGTERM and wait; outpostd must exit with code 0 (README: within 5 s).
  async stop({ timeoutMs = 10000 } = {}) {
    const child = this.child;
    if (!child) return;
    this.child = null;
    this.ports = null;
    if (!child.exitInfo) child.kill('SIGTERM');
    let info;
    try {
      info = await withTimeout(child.exited, timeoutMs, 'outpostd to exit after SIGTERM');
    } catch (err) {
      child.kill('SIGKILL');
      await child.exited;
      throw new Error(`${err.message}; killed it.\n${this.stderrTail()}`);
    }
    assert.deepEqual({ code: info.code, signal: info.signal }, { code: 0, signal: null },
      `outpostd must exit with code 0 on SIGTERM; got ${JSON.stringify(info)}\n${this.stderrTail()}`);
  }

  /// SIGKILL, as a power cut would end it: no shutdown, nothing flushed by the daemon.
  async kill() {
    const child = this.child;
    if (!child) return;
    this.child = null;
    this.ports = null;
    if (!child.exitInfo) child.kill('SIGKILL');
    await child.exited;
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  get running() { return !!this.child && !this.child.exitInfo; }

  stderrText() {
    try { return fs.readFileSync(this.stderrPath, 'utf8'); } catch { return ''; }
  }

  stderrTail(lines = 60) {
    const all = this.stderrText().trimEnd().split('\n');
    return `---- outpostd stderr (last ${Math.min(lines, all.length)} of ${all.length} lines, ` +
      `${this.stderrPath}) ----\n${all.slice(-lines).join('\n')}\n----`;
  }

  /// `outpost --config <file> ARGS...` → {code, stdout, stderr}.
  cli(args, opts) {
    return runFile(outpostBin, ['--config', this.configPath, ...args], opts);
  }

  async cliOk(args) {
    const r = await this.cli(args);
    assert.equal(r.code, 0, `outpost ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  async addDevice(id) {
    const cs = (await this.cliOk(['identity', 'add', 'device', id])).trim();
    assert.match(cs, new RegExp(`^HostName=localhost;DeviceId=${id};SharedAccessKey=[A-Za-z0-9+/=]+(;GatewayHostName=[^;]+)?$`),
      `identity add device ${id} must print its connection string`);
    return cs;
  }

  async addModule(id) {
    const cs = (await this.cliOk(['identity', 'add', 'module', id])).trim();
    const device = id.includes('/') ? '' : `DeviceId=${this.deviceId};`;
    assert.match(cs, new RegExp(`^HostName=localhost;${device}.*ModuleId=${id.split('/').pop()};SharedAccessKey=[A-Za-z0-9+/=]+(;GatewayHostName=[^;]+)?$`),
      `identity add module ${id} must print its connection string`);
    return cs;
  }

  disable(id) { return this.cliOk(['identity', 'disable', id]); }
  enable(id) { return this.cliOk(['identity', 'enable', id]); }

  /// The edge CA PEM (`outpost ca`).
  async caPem() {
    if (!this._ca) {
      const pem = await this.cliOk(['ca']);
      assert.match(pem, /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/,
        'outpost ca must print the edge CA as PEM');
      this._ca = pem;
    }
    return this._ca;
  }

  /// The connection string pointed at this daemon's TLS port: the SDK connects to
  /// mqtts://<GatewayHostName> (facts: a host:port there works for MQTT; SNI stays `localhost`),
  /// while HostName stays `localhost` for the username and the token audience.
  gatewayConnectionString(cs, transport = transportName) {
    // The WebSocket transports always dial port 443 (redirected to the HTTPS listener).
    const port = transport.startsWith('Amqp') ? this.amqpPort : this.tlsPort;
    const gateway = transport.endsWith('Ws') ? 'localhost' : `localhost:${port}`;
    return `${cs.replace(/;GatewayHostName=[^;]*/, '')};GatewayHostName=${gateway}`;
  }

  /// The WebSocket transports: port 443 of localhost goes to this daemon's HTTPS listener (once
  /// per daemon start: the port changes on a restart).
  async _redirectWebSockets(transport) {
    if (!transport.endsWith('Ws') || this._wsRedirectPort === this.httpsPort) return;
    this._wsRedirectPort = this.httpsPort;
    await this.redirectHttps();
  }

  get httpsPort() { return this.port('https'); }

  get amqpPort() { return this.port('amqp_tls'); }

  /// `outpost service connection-string`: the iothubowner service connection string.
  async serviceConnectionString() {
    const cs = (await this.cliOk(['service', 'connection-string'])).trim();
    assert.match(cs, /^HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=[A-Za-z0-9+/=]+$/,
      `outpost service connection-string must print one service connection string; got ${JSON.stringify(cs)}`);
    return cs;
  }

  /// Sends the SDKs' https://localhost(:443) to this daemon's HTTPS listener (see redirectHttps);
  /// undone by dispose (call again after a restart: the port changes).
  async redirectHttps() {
    const undo = redirectHttps(this.httpsPort, await this.caPem(), { amqpPort: this.amqpPort });
    this._undo.push(undo);
    return undo;
  }

  /// One request straight to the HTTPS listener (edge CA, SNI localhost, no pooling) →
  /// {status, headers, body (parsed JSON when it is), text}.
  async httpsRequest(method, target, { headers = {}, body } = {}) {
    const ca = await this.caPem();
    return jsonRequest(https.request, {
      host: '127.0.0.1', port: this.httpsPort, servername: 'localhost', ca, agent: false,
      method, path: target, headers: { host: 'localhost', ...headers },
    }, body, { contentType: 'application/json; charset=utf-8', timeoutMs: 30000 });
  }

  async _prepare(client, { retry = true, tokenRenewal, label, transport = transportName }) {
    await this._redirectWebSockets(transport);
    client.on('error', (err) => { client.lastError = err; }); // never an unhandled 'error'
    if (!retry) client.setRetryPolicy(new NoRetry());
    const options = { ca: await this.caPem() };
    if (tokenRenewal) options.tokenRenewal = tokenRenewal;
    await client.setOptions(options);
    client.wire = tapWire(client, label);
    this.clients.add(client);
    return client;
  }

  /// A device client (not opened yet). opts: {retry: false} for a NoRetry policy,
  /// tokenRenewal: {tokenValidTimeInSeconds, tokenRenewalMarginInSeconds}, transport: a name
  /// of TRANSPORTS instead of OUTPOST_TRANSPORT's.
  async deviceClient(cs, opts = {}) {
    const t = opts.transport || transportName;
    const client = Client.fromConnectionString(this.gatewayConnectionString(cs, t), transportOf(t));
    return this._prepare(client, { label: ConnectionString.parse(cs).DeviceId, ...opts });
  }

  async moduleClient(cs, opts = {}) {
    const t = opts.transport || transportName;
    const client = ModuleClient.fromConnectionString(this.gatewayConnectionString(cs, t), transportOf(t));
    const p = ConnectionString.parse(cs);
    return this._prepare(client, { label: `${p.DeviceId}/${p.ModuleId}`, ...opts });
  }

  async openDevice(cs, opts = {}) {
    const client = await this.deviceClient(cs, opts);
    await withTimeout(client.open(), 20000, `device ${ConnectionString.parse(cs).DeviceId} open()`);
    return client;
  }

  /// Opens a module client that collects its input messages: the listener is registered before
  /// open() so nothing the hub delivers right after CONNACK (persistent session) is missed; waits
  /// for the SUBACK of `devices/{d}/modules/{m}/inputs/#`.
  async openModule(cs, opts = {}) {
    const client = await this.moduleClient(cs, opts);
    const inbox = new Inbox();
    client.inbox = inbox;
    client.on('inputMessage', (input, msg) => {
      inbox.push(input, msg);
      client.complete(msg).catch((err) => { inbox.completeErrors.push(err); });
    });
    await withTimeout(client.open(), 20000, `module ${ConnectionString.parse(cs).ModuleId} open()`);
    await waitFor(() => inputSubscribed(client), {
      timeoutMs: 15000,
      message: 'SUBACK for the module inputs subscription',
    });
    return client;
  }

  async closeClient(client) {
    this.clients.delete(client);
    try {
      await withTimeout(client.close(), 10000, 'client close()');
    } catch { /* the daemon may already be gone */ }
  }

  async closeAllClients() {
    await Promise.all([...this.clients].map((c) => this.closeClient(c)));
  }

  /// Closes clients, stops the daemon (exit code checked) and removes the temp dir unless the
  /// test failed or OUTPOST_KEEP_TMP is set.
  async dispose({ failed = false } = {}) {
    await this.closeAllClients();
    for (const undo of this._undo.splice(0).reverse()) undo();
    let stopError = null;
    try {
      await this.stop();
    } catch (err) {
      stopError = err;
    }
    if (failed || stopError || process.env.OUTPOST_KEEP_TMP) {
      // Logs and the store stay; the disk reserve (up to 256 MiB, kept allocated across stops)
      // goes, so a run with many failures does not fill the disk for the tests after it.
      await dropReserves(this.dir);
      process.stderr.write(`outpost acceptance: kept ${this.dir}\n`);
    } else {
      await fsp.rm(this.dir, { recursive: true, force: true });
    }
    if (stopError) throw stopError;
  }
}

/// Removes every store's disk reserve (`outpost.reserve`) under `dir`, nothing else.
async function dropReserves(dir) {
  let entries = [];
  try {
    entries = await fsp.readdir(dir, { recursive: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (path.basename(e) === 'outpost.reserve') await fsp.rm(path.join(dir, e), { force: true });
  }
}

/// `n` distinct ports on 127.0.0.1 that are free now, for listeners that must keep their port
/// across restarts. They are taken below the kernel's ephemeral range
/// (net.ipv4.ip_local_port_range), which serves port-0 listeners and outgoing connections: a
/// port from inside it could be handed to either while its daemon is down, and the restart
/// then fails with EADDRINUSE (seen twice in CI: a restarted child's port-0 MQTT listener got
/// its HTTPS port; a parent's MQTT port was taken while it was down).
async function freePorts(n) {
  const net = require('node:net');
  let below = 32768;
  try {
    below = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  } catch { /* Linux's default */ }
  const lowest = 10000;
  const bindable = (port) => new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
  const ports = [];
  for (let tries = 0; ports.length < n; ++tries) {
    if (tries > 1000) throw new Error(`no ${n} free ports in ${lowest}-${below - 1}`);
    const port = lowest + crypto.randomInt(below - lowest);
    if (!ports.includes(port) && await bindable(port)) ports.push(port);
  }
  return ports;
}

/// Runs `body(outpost)` with a started daemon and always disposes of it; on failure the error
/// carries the tail of outpostd's stderr.
async function withOutpost(opts, body) {
  const op = new Outpost(opts);
  let failed = false;
  try {
    await op.start();
    await body(op);
  } catch (err) {
    failed = true;
    if (err && typeof err === 'object') {
      try {
        if (op.child && op.child.exitInfo) {
          err.message += `\nNOTE: outpostd exited on its own during the test: ${JSON.stringify(op.child.exitInfo)}`;
        }
        if (!String(err.message).includes('---- outpostd stderr')) err.message += `\n${op.stderrTail()}`;
      } catch { /* keep the original */ }
    }
    throw err;
  } finally {
    await op.dispose({ failed });
  }
}

/// Input messages as they arrive, with waiting helpers.
class Inbox {
  constructor() {
    this.items = []; // {input, msg, at}
    this.completeErrors = [];
    this._waiters = [];
  }

  push(input, msg) {
    this.items.push({ input, msg, at: Date.now() });
    for (const w of [...this._waiters]) w();
  }

  on(input) { return this.items.filter((i) => i.input === input); }

  /// Waits until `count` messages arrived on `input` (any input when null).
  async waitCount(input, count, timeoutMs = 20000) {
    const have = () => (input === null ? this.items : this.on(input)).length;
    if (have() >= count) return;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waiters = this._waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms: ${have()} of ${count} messages on input ` +
          `${input === null ? '(any)' : input}; inputs seen: ${JSON.stringify(this.items.map((i) => i.input))}`));
      }, timeoutMs);
      const check = () => {
        if (have() >= count) {
          clearTimeout(timer);
          this._waiters = this._waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this._waiters.push(check);
    });
  }
}

/// Was the inputs subscription acknowledged? (azure-iot-device-mqtt 1.16.4 keeps the state in
/// its topic table; the SUBACK is also visible in the wire tap.)
function inputSubscribed(client) {
  // AMQP transports: the inputs receiver link, once attached.
  if (client._transport && '_c2dEndpoint' in client._transport) return !!client._transport._c2dLink;
  const t = client._transport && client._transport._topics && client._transport._topics.inputMessage;
  if (t) return t.subscribed === true && !t.subscribeInProgress;
  return client.wire.connections.some((c) => c.received.some((p) => p.cmd === 'suback'));
}

/// Application properties of an SDK Message as a plain object.
function propsOf(msg) {
  const out = {};
  for (let i = 0; i < msg.properties.count(); i++) {
    const { key, value } = msg.properties.getItem(i);
    out[key] = value;
  }
  // Over AMQP the sender's ids are message annotations (the SDK maps none of them): shown
  // under the names the MQTT property bag gives them, so one assertion covers both wires.
  const ann = msg.transportObj && msg.transportObj.message_annotations;
  if (ann) {
    if (ann['iothub-connection-device-id'] !== undefined) out['$.cdid'] = ann['iothub-connection-device-id'];
    if (ann['iothub-connection-module-id'] !== undefined) out['$.cmid'] = ann['iothub-connection-module-id'];
  }
  return out;
}

function bodyOf(msg) {
  const d = msg.getData();
  return Buffer.isBuffer(d) ? d : Buffer.from(d);
}

/// Records the MQTT packets of every connection an SDK client makes, through the public
/// `mqttProvider` hook of azure-iot-mqtt-base's MqttBase (the SDK code itself is untouched).
function tapWire(client, label) {
  const log = { label, connections: [] };
  const base = client._transport && client._transport._mqtt;
  if (!base || !base.mqttProvider) return log;
  const real = base.mqttProvider;
  const trace = !!process.env.OUTPOST_WIRE_TRACE;
  base.mqttProvider = {
    connect(uri, options) {
      // mqtt.js writes CONNECT from inside connect(), before a listener can be attached, so the
      // CONNECT is recorded from the options it is built from (clientId, clean, username, ...).
      const conn = { uri, sent: [summarize({ cmd: 'connect', ...options })], received: [] };
      log.connections.push(conn);
      if (trace) process.stderr.write(`[wire ${label}#${log.connections.length}] C>S ${JSON.stringify(conn.sent[0])}\n`);
      const c = real.connect(uri, options);
      c.on('packetsend', (p) => {
        const s = summarize(p);
        conn.sent.push(s);
        if (trace) process.stderr.write(`[wire ${label}#${log.connections.length}] C>S ${JSON.stringify(s)}\n`);
      });
      c.on('packetreceive', (p) => {
        const s = summarize(p);
        conn.received.push(s);
        if (trace) process.stderr.write(`[wire ${label}#${log.connections.length}] S>C ${JSON.stringify(s)}\n`);
      });
      return c;
    },
  };
  return log;
}

function summarize(p) {
  const s = { cmd: p.cmd };
  switch (p.cmd) {
    case 'connect':
      Object.assign(s, {
        clientId: p.clientId, clean: p.clean, username: p.username, keepalive: p.keepalive,
        password: p.password === undefined ? undefined : String(p.password),
      });
      break;
    case 'connack':
      Object.assign(s, { returnCode: p.returnCode, sessionPresent: p.sessionPresent });
      break;
    case 'publish':
      Object.assign(s, { topic: p.topic, qos: p.qos, messageId: p.messageId, dup: p.dup, bytes: p.payload ? p.payload.length : 0 });
      break;
    case 'subscribe':
      Object.assign(s, { messageId: p.messageId, subscriptions: p.subscriptions });
      break;
    case 'suback':
      Object.assign(s, { messageId: p.messageId, granted: p.granted });
      break;
    case 'puback': case 'unsubscribe': case 'unsuback':
      Object.assign(s, { messageId: p.messageId });
      break;
    default:
      break;
  }
  return s;
}

/// encodeURIComponent plus !'()* (what the SDK's encodeUriComponentStrict does), written out here so
/// the hand-made token below does not borrow anything from the SDK.
function strictEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/// A SAS token computed by hand per facts §3.2: sr = urlenc(host/devices/d[/modules/m]),
/// sig = b64(HMAC-SHA256(b64dec(key), sr + "\n" + se)), field order sr, sig, se.
function sasToken({ host, deviceId, moduleId, key, expiry }) {
  let resource = `${host}/devices/${deviceId}`;
  if (moduleId) resource += `/modules/${moduleId}`;
  const sr = strictEncode(resource);
  const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${strictEncode(sig)}&se=${expiry}`;
}

/// The same token through the SDK's own azure-iot-common (the two must agree).
function sdkSasToken({ host, deviceId, moduleId, key, expiry }) {
  let resource = `${host}/devices/${deviceId}`;
  if (moduleId) resource += `/modules/${moduleId}`;
  return SharedAccessSignature.create(encodeUriComponentStrict(resource), null, key, expiry).toString();
}

/// A different, well-formed key (32 random bytes) in place of the connection string's key.
function withWrongKey(cs) {
  let other;
  const current = ConnectionString.parse(cs).SharedAccessKey;
  do { other = crypto.randomBytes(32).toString('base64'); } while (other === current);
  return cs.replace(/SharedAccessKey=[^;]*/, `SharedAccessKey=${other}`);
}

/// Redirects this process's https connections for https://<host>[:443] (the SDKs cannot be given
/// a port) to 127.0.0.1:<port>, verified against `ca` with SNI <host>; an explicit `ca` of the
/// request wins. It wraps https.Agent.prototype.createConnection, so it covers
/// https.globalAgent (azure-iot-device's method client) and the `new https.Agent({keepAlive})`
/// that azure-iothub's Registry and Client make for themselves. Returns the undo function.
///
/// A request host of "<host>:<n>" counts as <host> too: ModuleClient.invokeMethod posts to
/// https://<GatewayHostName>, and gatewayConnectionString's GatewayHostName is localhost:<MQTT
/// TLS port> (the MQTT side's own stand-in for 8883); a real module has host names on both.
function redirectHttps(port, ca, { host = 'localhost', amqpPort } = {}) {
  const redirect = (options) => {
    const p = options && options.port;
    const h = options && typeof options === 'object' ? String(options.host || options.hostname || '') : '';
    if (h.replace(/:\d+$/, '') !== host) return options;
    // 443: IoT Hub's HTTPS and WebSocket port; 5671: AMQP (azure-iothub's Client.send).
    let to = null;
    if (p === undefined || p === null || p === '' || Number(p) === 443) to = port;
    else if (amqpPort && Number(p) === 5671) to = amqpPort;
    if (to === null) return options;
    return {
      ...options, host: '127.0.0.1', hostname: '127.0.0.1', port: to, servername: host,
      ca: options.ca || ca,
    };
  };
  const proto = https.Agent.prototype;
  const original = proto.createConnection;
  const redirected = function createConnection(options, ...rest) {
    return original.call(this, redirect(options), ...rest);
  };
  proto.createConnection = redirected;
  // `ws` (the SDKs' WebSocket transports) calls tls.connect itself, past any agent.
  const originalTls = tls.connect;
  // Both of tls.connect's forms: (options[, cb]) as ws calls it, (port[, host][, options][, cb])
  // as rhea (the AMQP SDKs) does.
  const redirectedTls = function connect(...args) {
    if (typeof args[0] === 'object' && args[0] !== null) {
      return originalTls.call(this, redirect(args[0]), ...args.slice(1));
    }
    if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
      let i = 1;
      let h;
      if (typeof args[1] === 'string') { h = args[1]; i = 2; }
      const hasOptions = typeof args[i] === 'object' && args[i] !== null;
      const opts = hasOptions ? args[i] : {};
      const options = { ...opts, port: Number(args[0]), host: h || opts.host };
      return originalTls.call(this, redirect(options), ...args.slice(hasOptions ? i + 1 : i));
    }
    return originalTls.apply(this, args);
  };
  tls.connect = redirectedTls;
  return function undo() {
    if (proto.createConnection === redirected) proto.createConnection = original;
    if (tls.connect === redirectedTls) tls.connect = originalTls;
    https.globalAgent.destroy(); // no pooled socket to the redirected port outlives it
  };
}

/// A service SAS token as azure-iot-common's SharedAccessSignature.create makes it for the
/// service SDK: sr = urlenc(host), sig = b64(HMAC-SHA256(b64dec(key), sr + "\n" + se)),
/// fields in its order sr, sig, skn, se (skn is not signed).
function serviceSasToken({ host = 'localhost', keyName = 'iothubowner', key, expiry }) {
  const sr = strictEncode(host);
  const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${strictEncode(sig)}&skn=${strictEncode(keyName)}&se=${expiry}`;
}

/// client.getTwin as a promise (15 s).
function getTwin(client) {
  return withTimeout(new Promise((resolve, reject) => {
    client.getTwin((err, twin) => (err ? reject(err) : resolve(twin)));
  }), 15000, 'getTwin');
}

/// twin.properties.reported.update as a promise (15 s).
function report(twin, patch) {
  return withTimeout(new Promise((resolve, reject) => {
    twin.properties.reported.update(patch, (err) => (err ? reject(err) : resolve()));
  }), 15000, 'reported update');
}

/// The desired patches a twin emits after `properties.desired` subscribed (the SDK first
/// emits the current desired, then every patch).
function watchDesired(twin) {
  const seen = [];
  twin.on('properties.desired', (patch) => seen.push(JSON.parse(JSON.stringify(patch))));
  return seen;
}

/// An echo handler for direct method `name` (Client.onDeviceMethod or ModuleClient.onMethod:
/// the same handler either way) answering `status`; returns the payloads it saw.
function echoHandler(client, name = 'echo', status = 201) {
  const calls = [];
  const on = typeof client.onDeviceMethod === 'function' ? 'onDeviceMethod' : 'onMethod';
  client[on](name, (req, res) => {
    calls.push(req.payload);
    res.send(status, { echoed: req.payload, method: req.methodName }, () => {});
  });
  return calls;
}

module.exports = {
  Outpost, withOutpost, Inbox, freePorts, Message, DEFAULT_ROUTES, manifest, unixHttp,
  waitFor, withTimeout, sleep, propsOf, bodyOf, tapWire, inputSubscribed,
  sasToken, sdkSasToken, serviceSasToken, withWrongKey, ConnectionString, redirectHttps,
  getTwin, report, watchDesired, echoHandler, transportName, transportOf, overWebSockets,
  paths: { repoRoot, binDir, outpostdBin, outpostBin },
};
