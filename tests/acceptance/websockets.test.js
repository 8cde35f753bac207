'use strict';
// Issue 11, item 6: the HTTPS listener (IoT Hub's port 443) upgrades `GET /$iothub/websocket`
// with sub-protocol `mqtt` to an MQTT session, so the SDK's MqttWs transport works unmodified.
// The SDK feature tests (telemetry, module routes, twins, methods, C2D, token renewal) run once
// per transport under CTest (OUTPOST_TRANSPORT=MqttWs); this file covers what is particular to
// WebSockets: the wire path, mixing transports, refused upgrades, bad frames and shutdown.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const tls = require('node:tls');
const { withOutpost, Message, bodyOf, withTimeout } = require('./lib/outpost');

/// A TLS connection to the HTTPS listener that sends `request` (a raw HTTP request) and collects
/// what comes back: {head (status line and headers, text), rest (bytes after the head), socket}.
async function rawRequest(op, request) {
  const ca = await op.caPem();
  const socket = tls.connect({ host: '127.0.0.1', port: op.httpsPort, servername: 'localhost', ca });
  const received = [];
  socket.on('data', (d) => received.push(d));
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.on('close', resolve));
  await withTimeout(new Promise((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  }), 10000, 'TLS handshake with the HTTPS listener');
  socket.write(request);
  const all = () => Buffer.concat(received);
  const headEnd = () => all().indexOf('\r\n\r\n');
  await withTimeout((async () => {
    while (headEnd() < 0) await new Promise((r) => setTimeout(r, 10));
  })(), 10000, 'the response head');
  const head = all().subarray(0, headEnd()).toString('latin1');
  return {
    head, socket, closed,
    status: Number(head.split(' ')[1]),
    rest: () => all().subarray(headEnd() + 4),
  };
}

function upgradeRequest({ path = '/$iothub/websocket?iothub-no-client-cert=true', protocol = 'mqtt' } = {}) {
  return [
    `GET ${path} HTTP/1.1`, 'Host: localhost', 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13',
    ...(protocol === null ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]), '', '',
  ].join('\r\n');
}

/// One masked binary WebSocket frame (a client's), RFC 6455 §5.2.
function wsFrame(payload) {
  const mask = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  assert.ok(payload.length < 126);
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, masked]);
}

/// An MQTT 3.1.1 CONNECT (clean session, username and password).
function mqttConnect(clientId, username, password) {
  const str = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
  const variable = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60])]);
  const payload = Buffer.concat([str(clientId), str(username), str(password)]);
  const body = Buffer.concat([variable, payload]);
  assert.ok(body.length < 128);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

test('an MqttWs device reaches a module on MQTT/TLS through wss://localhost:443/$iothub/websocket, and back',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'ws-mixed' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modB = await op.openModule(await op.addModule('modB'), { transport: 'Mqtt' });
      const dev = await op.openDevice(devCs, { transport: 'MqttWs' });
      assert.equal(dev.wire.connections[0].uri, 'wss://localhost:443/$iothub/websocket',
        'the SDK dials IoT Hub\'s WebSocket endpoint (redirected to the HTTPS listener)');
      assert.equal(modB.wire.connections[0].uri.split(':')[0], 'mqtts');
      // Open connections by protocol and transport: in /metrics and in `outpost check`.
      const metrics = await op.metricsText();
      assert.match(metrics, /outpost_connections\{protocol="mqtt",transport="websocket"\} 1/);
      assert.match(metrics, /outpost_connections\{protocol="mqtt",transport="tls"\} 1/);
      const check = await op.cli(['check']);
      assert.match(check.stdout, /clients: .*mqtt\/websocket 1/, check.stdout);

      const msg = new Message(Buffer.from('{"t":1}'));
      msg.messageId = 'ws-1';
      msg.properties.add('k', 'v');
      await withTimeout(dev.sendEvent(msg), 15000, 'sendEvent over WebSockets');
      await modB.inbox.waitCount('fromDevices', 1, 20000);
      const got = modB.inbox.on('fromDevices')[0].msg;
      assert.equal(got.messageId, 'ws-1');
      assert.equal(bodyOf(got).toString(), '{"t":1}');

      // And the other way: C2D from the admin API to the WebSocket device.
      const received = new Promise((resolve) => dev.on('message', (m) => { dev.complete(m, () => {}); resolve(m); }));
      await op.cliOk(['c2d', 'send', 'dev1', '--body', 'to the ws device']);
      const m = await withTimeout(received, 15000, 'C2D over WebSockets');
      assert.equal(bodyOf(m).toString(), 'to the ws device');
    });
  });

test('refused upgrades and bad frames close only their own connection; the hub keeps serving',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'ws-bad' }, async (op) => {
      // A sub-protocol the hub does not speak, and none at all: 400 naming what it speaks.
      for (const protocol of ['foo, bar', null]) {
        const r = await rawRequest(op, upgradeRequest({ protocol }));
        assert.equal(r.status, 400, `upgrade with Sec-WebSocket-Protocol ${protocol}: ${r.head}`);
        await withTimeout(r.closed, 10000, 'the refused connection to close');
        assert.match(r.rest().toString(), /mqtt/);
      }
      // An upgrade to another path is an ordinary (unauthenticated) HTTPS request.
      const other = await rawRequest(op, upgradeRequest({ path: '/devices' }));
      assert.notEqual(other.status, 101, other.head);
      other.socket.destroy();

      // The upgrade: 101 with the sub-protocol echoed (case as the hub spells it).
      const good = await rawRequest(op, upgradeRequest({ protocol: 'MQTT' }));
      assert.equal(good.status, 101, good.head);
      assert.match(good.head, /\r\nSec-WebSocket-Protocol: mqtt(\r\n|$)/i);
      // An MQTT CONNECT in a WebSocket frame reaches the MQTT session: a wrong password is
      // refused with CONNACK 5 (not authorized), in a WebSocket frame.
      await op.addDevice('dev2');
      good.socket.write(wsFrame(mqttConnect('dev2', 'localhost/dev2/?api-version=2021-04-12', 'SharedAccessSignature sr=x&sig=y&se=1')));
      await withTimeout(good.closed, 10000, 'the refused MQTT session to end');
      const frame = good.rest();
      assert.equal(frame[0], 0x82, `a binary frame; got ${frame.toString('hex')}`);
      assert.deepEqual([...frame.subarray(2, 6)], [0x20, 0x02, 0x00, 0x05], `CONNACK 5; got ${frame.toString('hex')}`);

      // Garbage after the upgrade (an unmasked frame, then noise): that connection is closed.
      const bad = await rawRequest(op, upgradeRequest());
      assert.equal(bad.status, 101);
      bad.socket.write(Buffer.concat([Buffer.from([0x82, 0x03, 1, 2, 3]), crypto.randomBytes(256)]));
      await withTimeout(bad.closed, 10000, 'the connection that sent a bad frame to close');

      // Meanwhile, and afterwards, the SDK over WebSockets works.
      const modB = await op.openModule(await op.addModule('modB'), { transport: 'MqttWs' });
      const dev = await op.openDevice(await op.addDevice('dev3'), { transport: 'MqttWs' });
      await withTimeout(dev.sendEvent(new Message('still serving')), 15000, 'sendEvent after bad peers');
      await modB.inbox.waitCount('fromDevices', 1, 20000);
    });
  });

test('the daemon stops promptly with WebSocket sessions open, and they resume after a restart',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'ws-stop' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modB = await op.openModule(await op.addModule('modB'), { transport: 'MqttWs' });
      const dev = await op.openDevice(devCs, { transport: 'MqttWs' });
      const idle = await rawRequest(op, upgradeRequest()); // upgraded, never sends a CONNECT
      assert.equal(idle.status, 101);
      const t0 = Date.now();
      await op.stop();
      assert.ok(Date.now() - t0 < 5000, `outpostd took ${Date.now() - t0} ms to stop`);
      await withTimeout(idle.closed, 5000, 'the idle WebSocket to be closed by the stop');
      await op.start();
      // The SDK reconnects by itself (its retry policy), through the new port's redirect.
      await op._redirectWebSockets('MqttWs');
      await withTimeout(dev.sendEvent(new Message('after restart')), 60000, 'sendEvent after a restart');
      await withTimeout((async () => {
        while (!modB.inbox.on('fromDevices').some((i) => bodyOf(i.msg).toString() === 'after restart')) {
          await new Promise((r) => setTimeout(r, 50));
        }
      })(), 60000, 'modB to receive the message sent after the restart');
    });
  });
