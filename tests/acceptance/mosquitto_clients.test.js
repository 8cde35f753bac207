'use strict';
// Issue 3, "must show": mosquitto_pub/mosquitto_sub (Debian mosquitto-clients) work against the
// plain listener with a SAS password, as a second independent client. The tokens are computed
// here with node:crypto per facts §3.2 (and cross-checked against the SDK's azure-iot-common).
// Also: expired and forged tokens, a client id that is not the token's identity, and a username
// without api-version are refused with CONNACK 5 and disturb no other connection.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const { withOutpost, ConnectionString, sasToken, sdkSasToken, withTimeout, waitFor } = require('./lib/outpost');

function have(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function run(cmd, args, timeoutMs = 20000) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, out: stdout + stderr });
    });
  });
}

/// `k=v&...` with percent-decoding on both sides.
function parseBag(bag) {
  const out = {};
  if (!bag) return out;
  for (const kv of bag.split('&')) {
    const i = kv.indexOf('=');
    out[decodeURIComponent(i < 0 ? kv : kv.slice(0, i))] = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
  }
  return out;
}

test('mosquitto_pub (device dev1, SAS password) → route → mosquitto_sub (module edge1/modB) on the plain listener',
  { timeout: 120000 }, async (t) => {
    for (const tool of ['mosquitto_pub', 'mosquitto_sub']) {
      assert.ok(have(tool), `${tool} not found: install the Debian package mosquitto-clients`);
    }
    await withOutpost({ name: 'mosquitto' }, async (op) => {
      const dev = ConnectionString.parse(await op.addDevice('dev1'));
      const mod = ConnectionString.parse(await op.addModule('modB'));
      await op.addDevice('dev2');
      const port = String(op.plainPort);
      const now = Math.floor(Date.now() / 1000);
      const devToken = sasToken({ host: 'localhost', deviceId: 'dev1', key: dev.SharedAccessKey, expiry: now + 3600 });
      const modToken = sasToken({ host: 'localhost', deviceId: 'edge1', moduleId: 'modB', key: mod.SharedAccessKey, expiry: now + 3600 });
      assert.equal(devToken, sdkSasToken({ host: 'localhost', deviceId: 'dev1', key: dev.SharedAccessKey, expiry: now + 3600 }),
        'the hand-made token equals the SDK\'s');
      assert.equal(modToken, sdkSasToken({ host: 'localhost', deviceId: 'edge1', moduleId: 'modB', key: mod.SharedAccessKey, expiry: now + 3600 }),
        'the hand-made module token equals the SDK\'s');

      const common = ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311'];
      const devUser = 'localhost/dev1/?api-version=2021-04-12';
      const pub = (args, extra = {}) => run('mosquitto_pub', [...common,
        '-i', extra.clientId || 'dev1', '-u', extra.username || devUser, '-P', extra.password || devToken,
        '-q', '1', '-d', ...args]);

      // The module subscriber, waiting for two messages.
      // stdbuf -oL: mosquitto_sub's stdout is a pipe here, and its -d lines (CONNACK, SUBACK) must
      // show up as they happen, not when it exits.
      const subArgs = [...common, '-i', 'edge1/modB',
        '-u', 'localhost/edge1/modB/?api-version=2021-04-12', '-P', modToken,
        '-t', 'devices/edge1/modules/modB/#', '-q', '1', '-v', '-d', '-C', '2', '-W', '60'];
      const sub = have('stdbuf')
        ? spawn('stdbuf', ['-oL', 'mosquitto_sub', ...subArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('mosquitto_sub', subArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
      let subOut = '';
      sub.stdout.on('data', (d) => { subOut += d; });
      sub.stderr.on('data', (d) => { subOut += d; });
      const subExit = new Promise((resolve) => sub.on('close', (code, signal) => resolve({ code, signal })));
      try {
        await waitFor(() => /SUBACK/.test(subOut) || sub.exitCode !== null, { timeoutMs: 15000, message: 'mosquitto_sub SUBACK' })
          .catch((err) => { err.message += `\nmosquitto_sub output:\n${subOut}`; throw err; });
        assert.match(subOut, /received CONNACK \(0\)/, `mosquitto_sub must be accepted:\n${subOut}`);

        const p1 = await pub(['-t', 'devices/dev1/messages/events/', '-m', 'hello from mosquitto']);
        assert.equal(p1.code, 0, `mosquitto_pub must succeed:\n${p1.out}`);
        assert.match(p1.out, /received PUBACK/, `the hub must PUBACK the QoS 1 publish:\n${p1.out}`);

        // Refusals (CONNACK 5) that must not disturb the connected subscriber.
        await t.test('refused: expired token, forged token, wrong client id, no api-version', async () => {
          const expired = sasToken({ host: 'localhost', deviceId: 'dev1', key: dev.SharedAccessKey, expiry: now - 60 });
          const forged = sasToken({ host: 'localhost', deviceId: 'dev1', key: crypto.randomBytes(32).toString('base64'), expiry: now + 3600 });
          const notAuthorized = /CONNACK \(5\)/;
          const cases = [
            ['an expired token', { password: expired }, notAuthorized],
            ['a forged token (signed with another key)', { password: forged }, notAuthorized],
            ['client id dev2 with dev1\'s username and token', { clientId: 'dev2' }, notAuthorized],
            ['dev2 (client id and username) with dev1\'s token', { clientId: 'dev2', username: 'localhost/dev2/?api-version=2021-04-12' }, notAuthorized],
            // facts §3.1: api-version is mandatory. Refused with 5 like the token failures, or
            // with 4 (bad user name or password), the MQTT answer to a malformed username.
            ['a username without api-version', { username: 'localhost/dev1/' }, /CONNACK \((4|5)\)/],
          ];
          for (const [what, extra, expected] of cases) {
            const r = await pub(['-t', 'devices/dev1/messages/events/', '-m', 'must not arrive'], extra);
            assert.notEqual(r.code, 0, `${what} must be refused:\n${r.out}`);
            assert.match(r.out, expected, `${what}: ${expected} expected:\n${r.out}`);
            t.diagnostic(`${what}: ${(/CONNACK \(\d+\)/.exec(r.out) || ['no CONNACK'])[0]}`);
          }
        });

        const p2 = await pub(['-t', 'devices/dev1/messages/events/%24.mid=mosq-2&k%201=v%2Fx%26y', '-m', 'second']);
        assert.equal(p2.code, 0, `mosquitto_pub with a property bag must succeed:\n${p2.out}`);

        const exit = await withTimeout(subExit, 30000, 'mosquitto_sub to receive 2 messages and exit')
          .catch((err) => { err.message += `\nmosquitto_sub output:\n${subOut}`; throw err; });
        assert.equal(exit.code, 0, `mosquitto_sub must exit 0 after 2 messages:\n${subOut}`);
      } finally {
        if (sub.exitCode === null) sub.kill('SIGTERM');
      }

      const lines = subOut.split('\n').filter((l) => l.startsWith('devices/'));
      assert.equal(lines.length, 2, `two deliveries expected:\n${subOut}`);
      const parse = (line) => {
        const sp = line.indexOf(' ');
        return { topic: line.slice(0, sp), payload: line.slice(sp + 1) };
      };
      const first = parse(lines[0]);
      const prefix = 'devices/edge1/modules/modB/inputs/fromDevices/';
      assert.ok(first.topic.startsWith(prefix), `delivered on ${prefix}<bag>; got ${first.topic}`);
      assert.equal(first.payload, 'hello from mosquitto');
      assert.equal(parseBag(first.topic.slice(prefix.length))['$.cdid'], 'dev1', `$.cdid stamped: ${first.topic}`);
      const second = parse(lines[1]);
      assert.ok(second.topic.startsWith(prefix), `second delivery on ${prefix}<bag>; got ${second.topic}`);
      assert.equal(second.payload, 'second');
      const bag = parseBag(second.topic.slice(prefix.length));
      assert.equal(bag['$.mid'], 'mosq-2', `$.mid forwarded: ${second.topic}`);
      assert.equal(bag['k 1'], 'v/x&y', `app property decoded intact: ${second.topic}`);
      assert.equal(bag['$.cdid'], 'dev1', `$.cdid stamped: ${second.topic}`);
      assert.ok(!second.topic.slice(prefix.length).includes('/'), `no raw '/' inside the bag: ${second.topic}`);
    });
  });
