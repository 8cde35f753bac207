'use strict';
// Issue 11: IoT Hub's AMQP 1.0 dialect. The unmodified Node SDK (azure-iot-device-amqp, rhea:
// TLS, no SASL, CBS put-token) sends telemetry over `Amqp` and `AmqpWs` that reaches a module
// over MQTT with its ids and properties intact; its token renewals are put-tokens on the same
// connection; and an independent client (Qpid Proton's Python binding, amqp_peer.py) sends a
// uuid message id and a binary correlation id, and is refused with AMQP errors that say why for
// an unknown address, another device's link, a bad or expired token and garbage.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');
const tls = require('node:tls');
const crypto = require('node:crypto');
const { withOutpost, Message, bodyOf, propsOf, withTimeout, sleep, sasToken, ConnectionString, paths } =
  require('./lib/outpost');

/// Debian's python3 (python3-qpid-proton belongs to it, not to a pyenv python first on PATH).
const PYTHON = '/usr/bin/python3';
const PEER = path.join(__dirname, 'amqp_peer.py');

function tokenFor(cs, expiry) {
  const p = ConnectionString.parse(cs);
  return sasToken({ host: 'localhost', deviceId: p.DeviceId, moduleId: p.ModuleId, key: p.SharedAccessKey, expiry });
}

/// Runs amqp_peer.py `scenario` against the daemon's AMQP port; resolves its JSON report.
async function peer(op, scenario, args) {
  const ca = path.join(op.dir, 'ca.pem');
  require('node:fs').writeFileSync(ca, await op.caPem());
  const input = JSON.stringify({ port: op.amqpPort, ca, ...args });
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [PEER, scenario], { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`amqp_peer.py ${scenario}: ${err.message}\n${stderr}`));
      try { resolve(JSON.parse(stdout)); } catch { reject(new Error(`amqp_peer.py ${scenario} printed ${stdout}\n${stderr}`)); }
    });
    child.stdin.end(input);
  });
}

for (const transport of ['Amqp', 'AmqpWs']) {
  test(`${transport}: device telemetry reaches a module over MQTT with ids, content type and properties intact`,
    { timeout: 120000 }, async () => {
      await withOutpost({ name: `amqp-${transport}` }, async (op) => {
        const modB = await op.openModule(await op.addModule('modB'), { transport: 'Mqtt' });
        const dev = await op.openDevice(await op.addDevice('dev1'), { transport });
        const msg = new Message(Buffer.from('{"temp":21.5}'));
        msg.messageId = 'mid-1/with&odd=chars';
        msg.correlationId = '2c7cbb3a-5b0f-4a65-9d3c-0f7b0b8c1d11'; // the SDK sends it as an AMQP uuid
        msg.contentType = 'application/json';
        msg.contentEncoding = 'utf-8';
        msg.properties.add('prop1', 'value 1');
        msg.properties.add('weird/key&=', 'v=a&b/c d');
        await withTimeout(dev.sendEvent(msg), 15000, `sendEvent over ${transport} (accepted once durable)`);
        await modB.inbox.waitCount('fromDevices', 1, 20000);
        const got = modB.inbox.on('fromDevices')[0].msg;
        assert.deepEqual(bodyOf(got), Buffer.from('{"temp":21.5}'));
        assert.equal(got.messageId, 'mid-1/with&odd=chars');
        assert.equal(got.correlationId, '2c7cbb3a-5b0f-4a65-9d3c-0f7b0b8c1d11');
        assert.equal(got.contentType, 'application/json');
        assert.equal(got.contentEncoding, 'utf-8');
        const props = propsOf(got);
        assert.equal(props.prop1, 'value 1');
        assert.equal(props['weird/key&='], 'v=a&b/c d');
        assert.equal(props['$.cdid'], 'dev1', 'the hub stamps the authenticated device');
        // Counted under IoT Edge's names, as MQTT clients are.
        const metrics = await op.metricsText();
        assert.match(metrics, /edgehub_messages_received_total\{[^}]*id="dev1"[^}]*\} 1/);
        assert.match(metrics, /edgehub_client_connect_success_total\{[^}]*id="dev1"[^}]*\} 1/);
        const over = transport === 'AmqpWs' ? 'websocket' : 'tls';
        assert.match(metrics, new RegExp(`outpost_connections\\{protocol="amqp",transport="${over}"\\} 1`));
      });
    });
}

for (const transport of ['Amqp', 'AmqpWs']) {
test(`${transport}: token renewals are put-tokens on the same connection, and no message is lost across them`,
  { timeout: 120000 }, async () => {
    await withOutpost({ name: `amqp-renewal-${transport}` }, async (op) => {
      const modB = await op.openModule(await op.addModule('modB'), { transport: 'Mqtt' });
      const dev = await op.openDevice(await op.addDevice('dev1'), {
        transport, tokenRenewal: { tokenValidTimeInSeconds: 20, tokenRenewalMarginInSeconds: 15 },
      });
      let seq = 0;
      const deadline = Date.now() + 40000;
      const renewals = () => (op.stderrText().match(/\[amqp [^\]]* dev1\] token renewed/g) || []).length;
      while (renewals() < 2) {
        assert.ok(Date.now() < deadline, `two renewals within 40 s; log:\n${op.stderrTail()}`);
        const m = new Message(`seq ${seq}`);
        m.messageId = String(seq++);
        await withTimeout(dev.sendEvent(m), 15000, `sendEvent #${m.messageId}`);
        await sleep(200);
      }
      await modB.inbox.waitCount('fromDevices', seq, 20000);
      const ids = [...new Set(modB.inbox.on('fromDevices').map((i) => i.msg.messageId))];
      assert.deepEqual(ids, [...Array(seq).keys()].map(String), 'every message, in order');
      const log = op.stderrText();
      assert.equal((log.match(/\[amqp [^\]]* dev1\] authenticated/g) || []).length, 1,
        'one authentication, then renewals: no reconnect');
      assert.doesNotMatch(log, /\[amqp [^\]]*\] connection closed/, 'the connection stayed open');
    });
  });
}

test('a Proton client as a module receives its input over AMQP: ids, properties and IoT Hub\'s annotations',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'amqp-proton-input' }, async (op) => {
      const modCs = await op.addModule('modB');
      const p = ConnectionString.parse(modCs);
      const token = sasToken({ host: 'localhost', deviceId: p.DeviceId, moduleId: p.ModuleId,
        key: p.SharedAccessKey, expiry: Math.floor(Date.now() / 1000) + 3600 });
      const readyFile = path.join(op.dir, 'peer-ready');
      const received = peer(op, 'input', { device: 'edge1', module: 'modB', token, ready_file: readyFile });
      await withTimeout((async () => {
        while (!require('node:fs').existsSync(readyFile)) await sleep(50);
      })(), 20000, 'the Proton module to attach its inputs link');
      const dev = await op.openDevice(await op.addDevice('dev1'), { transport: 'Mqtt' });
      const m = new Message('to the proton module');
      m.messageId = 'mid-p';
      m.correlationId = 'b3d5a3a4-1f6e-4c4e-9d55-0b1c2d3e4f50';
      m.properties.add('k', 'v');
      await withTimeout(dev.sendEvent(m), 15000, 'sendEvent');
      const got = await received;
      assert.equal(got.cbs_status, 200, JSON.stringify(got));
      assert.equal(got.body, 'to the proton module');
      assert.equal(got.message_id, 'mid-p');
      assert.equal(got.correlation_id, 'b3d5a3a4-1f6e-4c4e-9d55-0b1c2d3e4f50', 'a string from MQTT stays that string');
      assert.equal(got.properties.k, 'v');
      assert.equal(got.annotations['x-opt-input-name'], 'fromDevices', JSON.stringify(got.annotations));
      assert.equal(got.annotations['iothub-connection-device-id'], 'dev1', JSON.stringify(got.annotations));
    });
  });

test('a Proton client: uuid message id and binary correlation id arrive intact over MQTT; bad peers get AMQP errors',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'amqp-proton' }, async (op) => {
      const modB = await op.openModule(await op.addModule('modB'), { transport: 'Mqtt' });
      const devCs = await op.addDevice('dev1');
      await op.addDevice('dev2');
      const now = Math.floor(Date.now() / 1000);
      const report = await peer(op, 'telemetry', {
        device: 'dev1', token: tokenFor(devCs, now + 3600),
        message_id: 'b3d5a3a4-1f6e-4c4e-9d55-0b1c2d3e4f50', correlation_id_hex: '6369642d01ff',
      });
      assert.equal(report.cbs_status, 200, JSON.stringify(report));
      assert.equal(report.outcome, 'accepted', JSON.stringify(report));
      await modB.inbox.waitCount('fromDevices', 1, 20000);
      const got = modB.inbox.on('fromDevices')[0].msg;
      assert.equal(got.messageId, 'b3d5a3a4-1f6e-4c4e-9d55-0b1c2d3e4f50', 'the uuid in its string form');
      // Binary ids: UTF-8 text as that text, anything else in hex (MQTT carries text only).
      assert.equal(got.correlationId, '6369642d01ff', 'a binary correlation id that is not text, in hex');

      const bad = await peer(op, 'refusals', {
        device: 'dev1', token: tokenFor(devCs, now + 3600), expired: tokenFor(devCs, now - 10),
      });
      assert.equal(bad.unknown_address, 'amqp:not-found', JSON.stringify(bad));
      assert.equal(bad.other_device, 'amqp:unauthorized-access', JSON.stringify(bad));
      assert.equal(bad.no_token, 'amqp:unauthorized-access', JSON.stringify(bad));
      assert.equal(bad.expired_status, 401, JSON.stringify(bad));
      assert.match(bad.expired_description, /expired/i, JSON.stringify(bad));
      assert.equal(bad.bad_plain, 'refused', JSON.stringify(bad));
      assert.equal(bad.good_plain, 'accepted', JSON.stringify(bad));

      // Garbage after TLS: only that connection ends.
      const ca = await op.caPem();
      for (const junk of [crypto.randomBytes(512), Buffer.from('AMQP\x00\x01\x00\x00\x00\x00\x00\xff\x02\x00\x00\x00')]) {
        const s = tls.connect({ host: '127.0.0.1', port: op.amqpPort, servername: 'localhost', ca });
        s.on('error', () => {});
        await new Promise((resolve) => s.once('secureConnect', resolve));
        s.resume(); // read what the hub answers, so its close is seen
        s.write(junk);
        await withTimeout(new Promise((resolve) => s.on('close', resolve)), 20000,
          'the hub to close a garbage connection (a truncated frame: unauthenticated at the connect timeout, 10 s)');
      }
      const after = await peer(op, 'telemetry', {
        device: 'dev1', token: tokenFor(devCs, now + 3600), message_id: 'after-garbage',
        correlation_id_hex: Buffer.from('cid-bin').toString('hex'),
      });
      assert.equal(after.outcome, 'accepted', 'the hub keeps serving');
      await modB.inbox.waitCount('fromDevices', 3, 20000); // with the SASL PLAIN client's
      const last = modB.inbox.on('fromDevices').find((i) => i.msg.messageId === 'after-garbage');
      assert.equal(last.msg.correlationId, 'cid-bin',
        'a binary correlation id that is UTF-8 text arrives as that text');
    });
  });

test('Amqp: disabling a device ends its AMQP links within a second; nothing it sends after that is routed',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'amqp-revoke' }, async (op) => {
      const modB = await op.openModule(await op.addModule('modB'), { transport: 'Mqtt' });
      const dev = await op.openDevice(await op.addDevice('dev1'), { transport: 'Amqp', retry: false });
      await withTimeout(dev.sendEvent(new Message('before')), 15000, 'sendEvent before');
      await modB.inbox.waitCount('fromDevices', 1, 20000);
      const t0 = Date.now();
      await op.cliOk(['identity', 'disable', 'dev1']);
      await withTimeout((async () => {
        while (!/\[amqp [^\]]* dev1\] revoked/.test(op.stderrText())) await sleep(50);
      })(), 5000, 'the hub to revoke dev1 on its AMQP connection');
      assert.ok(Date.now() - t0 < 2000, `revoked after ${Date.now() - t0} ms`);
      // The SDK either gets the refusal or, when rhea reuses a session's channel while the hub
      // is still ending it (the hub then closes the connection: "no such channel"), never
      // answers at all; what matters is that nothing is routed.
      await Promise.race([dev.sendEvent(new Message('after')).catch(() => 'refused'), sleep(5000)]);
      await sleep(500);
      assert.equal(modB.inbox.on('fromDevices').length, 1, 'nothing sent after the revocation is routed');
    });
  });

test('Amqp: C2D abandoned (released) comes again; rejected and completed ones do not, and nothing stays queued',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'amqp-abandon' }, async (op) => {
      const cs = await op.addDevice('dev1');
      const dev = await op.openDevice(cs, { transport: 'Amqp' });
      const seen = [];
      dev.on('message', (msg) => {
        seen.push(msg.messageId);
        const times = seen.filter((id) => id === msg.messageId).length;
        if (msg.messageId === 'abandoned' && times <= 2) {
          dev.abandon(msg, () => {});
        } else if (msg.messageId === 'rejected') {
          dev.reject(msg, () => {});
        } else {
          dev.complete(msg, () => {});
        }
      });
      await sleep(500); // the SDK attaches its C2D receiver
      for (const id of ['abandoned', 'rejected', 'completed']) {
        const r = await op.cli(['c2d', 'send', 'dev1', '--body', id, '--message-id', id]);
        assert.equal(r.code, 0, r.stderr);
      }
      await withTimeout((async () => {
        while (seen.length < 5) await sleep(50);
      })(), 15000, `five deliveries (seen ${seen})`);
      await sleep(1000);
      assert.deepEqual(seen.filter((id) => id === 'abandoned').length, 3,
        `abandoned twice, then completed: ${seen}`);
      assert.equal(seen.filter((id) => id === 'rejected').length, 1, `rejected once: ${seen}`);
      assert.equal(seen.filter((id) => id === 'completed').length, 1, `completed once: ${seen}`);
      // Nothing is left in the queue: a new connection gets nothing.
      await op.closeClient(dev);
      const again = await op.openDevice(cs, { transport: 'Amqp' });
      const late = [];
      again.on('message', (m) => { late.push(m.messageId); again.complete(m, () => {}); });
      await sleep(1500);
      assert.deepEqual(late, [], 'every delivery was settled');
    });
  });

test('batched format (message-format 0x80013700, SendEventBatch): every message of a delivery is routed, the delivery accepted once all are durable',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'amqp-batch' }, async (op) => {
      const fs = require('node:fs');
      const modB = await op.openModule(await op.addModule('modB'), { transport: 'Mqtt' });
      const cs = await op.addDevice('dev1');
      const keys = path.join(op.dir, 'keys.txt');
      fs.writeFileSync(keys, `dev1 ${ConnectionString.parse(cs).SharedAccessKey}\n`);
      const ca = path.join(op.dir, 'ca.pem');
      fs.writeFileSync(ca, await op.caPem());
      // Our raw AMQP client (Proton 0.37 cannot set a message format, the Node SDK does not
      // batch over AMQP): 5 messages per delivery, 2 deliveries in flight, for a second.
      const loadgen = path.join(paths.binDir, 'outpost-amqp-loadgen');
      const report = await new Promise((resolve, reject) => {
        execFile(loadgen, ['--engine', 'raw', '--host', '127.0.0.1', '--port', String(op.amqpPort),
          '--ca', ca, '--iothub-keys', keys, '--hub-hostname', 'localhost', '--id-template', 'dev1',
          '--publishers', '1', '--payload', '32', '--inflight', '2', '--batch', '5', '--duration', '1'],
        { timeout: 60000 }, (err, stdout, stderr) => {
          if (err) return reject(new Error(`loadgen: ${err.message}\n${stderr}`));
          try { resolve(JSON.parse(stdout)); } catch { reject(new Error(`loadgen printed ${stdout}\n${stderr}`)); }
        });
      });
      assert.equal(report.refused, 0, JSON.stringify(report));
      assert.ok(report.accepted >= 5 && report.accepted % 5 === 0, JSON.stringify(report));
      // Every message the hub accepted (also those before the measured window) reaches modB.
      const metrics = await op.metricsText();
      const received = Number((metrics.match(/edgehub_messages_received_total\{id="dev1",route_output=""\} (\d+)/) || [])[1]);
      assert.ok(received >= report.accepted && received % 5 === 0, `received ${received}, ${JSON.stringify(report)}`);
      await modB.inbox.waitCount('fromDevices', received, 30000);
      const got = modB.inbox.on('fromDevices');
      assert.equal(bodyOf(got[0].msg).toString(), 'x'.repeat(32));
      assert.equal(got.length, received, 'each message once');
    });
  });
