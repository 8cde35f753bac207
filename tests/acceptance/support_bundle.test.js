'use strict';
// Issue 13, item 3: `outpost support-bundle` collects outpostd's and every module's logs, the
// output of `outpost check` and `outpost list`, the configuration and the deployment, the
// status, metrics and the store's statistics into a .tar.gz, with every secret redacted. The
// test plants every kind of secret it can (identity keys, an upstream connection string, a
// broker password, a connection string in a module's environment and in its log), unpacks the
// bundle with tar and greps every file for each of them.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { withOutpost, waitFor, Message } = require('./lib/outpost');

function digestOf(file) {
  return `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}

function keyOf(cs) {
  return /SharedAccessKey=([^;]+)/.exec(cs)[1];
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory()
    ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test('the support bundle holds logs, status, configuration and metrics, and none of the secrets',
  { timeout: 120000 }, async () => {
    const upstreamKey = crypto.randomBytes(32).toString('base64');
    const brokerPassword = `pw-${crypto.randomBytes(8).toString('hex')}`;
    await withOutpost({
      name: 'bundle',
      routes: { up: 'FROM /messages/* INTO $upstream' },
      extra: [
        '[upstream]',
        `connection_string = "HostName=localhost;DeviceId=edge1;SharedAccessKey=${upstreamKey}"`,
        'parent_hostname = "127.0.0.1:1"',
        'parent_https = "127.0.0.1:1"',
        '[endpoints.bus]',
        'type = "amqp"',
        `url = "amqp://outpost:${brokerPassword}@127.0.0.1:1"`,
        'address = "/queue/q"',
      ].join('\n'),
    }, async (op) => {
      const deviceCs = await op.addDevice('leaf1');
      const moduleCs = await op.addModule('chatty');
      const secrets = {
        'the upstream key': upstreamKey,
        'the broker password': brokerPassword,
        'a device key': keyOf(deviceCs),
        'a module key': keyOf(moduleCs),
      };
      // A module that logs a connection string, deployed with another in its environment.
      const bin = path.join(op.dir, 'bin');
      fs.mkdirSync(bin, { recursive: true });
      const script = path.join(bin, 'chatty.sh');
      fs.writeFileSync(script, '#!/bin/sh\necho "starting with $CS"\necho "plain line from chatty"\nexec sleep 600\n',
        { mode: 0o755 });
      const envKey = crypto.randomBytes(32).toString('base64');
      secrets['a key in a module\'s environment'] = envKey;
      op.writeManifest(op.routes, {
        modules: {
          chatty: {
            version: '1.0',
            type: 'process',
            status: 'running',
            restartPolicy: 'always',
            settings: { path: script, digest: digestOf(script) },
            env: { CS: { value: `HostName=h;DeviceId=d;SharedAccessKey=${envKey}` } },
          },
        },
      });
      await waitFor(async () => {
        const r = await op.cli(['logs', 'chatty']);
        return r.code === 0 && r.stdout.includes('plain line from chatty');
      }, { timeoutMs: 20000, message: 'chatty running and logging' });
      const dev = await op.openDevice(deviceCs);
      await dev.sendEvent(new Message('into the store'));
      await op.closeClient(dev);

      const out = path.join(op.dir, 'bundle.tar.gz');
      const made = await op.cli(['support-bundle', '--since', '1h', '--output', out]);
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, /bundle\.tar\.gz \(\d+ bytes, \d+ files\)/);
      assert.equal(fs.statSync(out).mode & 0o077, 0, 'the bundle is readable by its owner only');
      const dir = path.join(op.dir, 'unpacked');
      fs.mkdirSync(dir);
      execFileSync('tar', ['-xzf', out, '-C', dir]);
      const root = path.join(dir, 'outpost-support-bundle');
      const files = walk(root).map((f) => path.relative(root, f)).sort();
      for (const f of ['README.txt', 'config.toml', 'check.txt', 'list.txt', 'metrics.txt', 'store.txt',
        'logs/outpostd.log', 'logs/modules/chatty.log', 'deployment/manifest.json',
        'status/edgeAgent.json', 'status/edgeHub.json', 'status/identities.json']) {
        assert.ok(files.includes(f), `${f} in the bundle (it has ${files.join(', ')})`);
      }
      const text = (f) => fs.readFileSync(path.join(root, f), 'utf8');
      assert.match(text('logs/outpostd.log'), /\[routes\]|\[upstream\]/, 'outpostd\'s own log lines');
      assert.match(text('logs/modules/chatty.log'), /plain line from chatty/);
      assert.match(text('check.txt'), /outpostd edge1 running/);
      assert.match(text('list.txt'), /chatty/);
      assert.match(text('metrics.txt'), /edgehub_messages_received_total/);
      assert.match(text('store.txt'), /edgehub_queue_length\{endpoint="iothub"/);
      assert.match(text('config.toml'), /url = "amqp:\/\/outpost:<redacted>@127\.0\.0\.1:1"/);
      for (const f of files) {
        const content = fs.readFileSync(path.join(root, f));
        for (const [what, secret] of Object.entries(secrets)) {
          assert.ok(!content.includes(secret), `${what} appears in ${f}`);
        }
      }
    });
  });
