'use strict';
// Issue 10, cloud-to-device messages: `outpost c2d send` reaches the unmodified SDK device's
// 'message' event with its id, correlation id and properties; one sent while the device is
// away arrives when it connects, also after an outpostd restart; one past its TTL never
// arrives; a device's queue holds at most 50 (IoT Hub's 403004 beyond); the device's
// acknowledgement (PUBACK after complete) takes it off the queue.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, waitFor, withTimeout } = require('./lib/outpost');

/// Collects the C2D messages a device receives, completing each.
function inbox(client) {
  const got = [];
  client.on('message', (msg) => {
    got.push(msg);
    client.complete(msg, () => {});
  });
  return got;
}

function props(msg) {
  const out = {};
  for (let i = 0; i < msg.properties.count(); i += 1) {
    const { key, value } = msg.properties.getItem(i);
    out[key] = value;
  }
  return out;
}

async function send(op, args) {
  const r = await op.cli(['c2d', 'send', ...args]);
  let json = null;
  try { json = JSON.parse(r.stdout); } catch { /* error: see stderr */ }
  return { ...r, json };
}

test('C2D messages reach the device, wait for it while it is away and across restarts, and expire',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'c2d' }, async (op) => {
      const cs = await op.addDevice('dev1');
      let dev = await op.openDevice(cs);
      let got = inbox(dev);
      await new Promise((r) => setTimeout(r, 300)); // the SDK subscribes on the listener

      let r = await send(op, ['dev1', '--body', 'hello device', '--message-id', 'm-1',
        '--correlation-id', 'c-1', '--property', 'kind=greeting', '--property', 'odd=a/b&c=d e']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.messageId, 'm-1');
      await waitFor(() => got.length === 1, { timeoutMs: 10000, message: 'C2D delivered' });
      assert.equal(got[0].data.toString(), 'hello device');
      assert.equal(got[0].messageId, 'm-1');
      assert.equal(got[0].correlationId, 'c-1');
      assert.equal(props(got[0]).kind, 'greeting');
      assert.equal(props(got[0]).odd, 'a/b&c=d e');

      // Away: queued; one with a 1 s TTL expires before the device is back.
      await op.closeClient(dev);
      r = await send(op, ['dev1', '--body', 'while away', '--message-id', 'm-2']);
      assert.equal(r.code, 0, r.stderr);
      r = await send(op, ['dev1', '--body', 'expires', '--message-id', 'm-x', '--ttl', '1']);
      assert.equal(r.code, 0, r.stderr);
      r = await send(op, ['dev1', '--body', 'after restart', '--message-id', 'm-3']);
      assert.equal(r.code, 0, r.stderr);
      await op.stop();
      await new Promise((res) => setTimeout(res, 1500));
      await op.start();
      dev = await op.openDevice(cs);
      got = inbox(dev);
      await waitFor(() => got.length >= 2, { timeoutMs: 15000, message: 'queued C2D delivered' });
      await new Promise((res) => setTimeout(res, 500));
      assert.deepEqual(got.map((m) => m.messageId), ['m-2', 'm-3'], 'in order, the expired one never');

      // Delivered and completed ones leave the queue: nothing comes again on reconnect.
      await op.closeClient(dev);
      dev = await op.openDevice(cs);
      const again = inbox(dev);
      await new Promise((res) => setTimeout(res, 1500));
      assert.equal(again.length, 0, `nothing redelivered: ${again.map((m) => m.messageId)}`);
    });
  });

test('a device queue holds 50 messages (403004 beyond); modules and unknown devices are refused',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'c2d-limits' }, async (op) => {
      await op.addDevice('full');
      await op.addModule('modC');
      for (let i = 0; i < 50; i += 1) {
        const r = await op.admin('POST', '/devices/full/messages/deviceBound', { body: `n${i}` });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      const r = await send(op, ['full', '--body', 'one too many']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /errorCode 403004/);
      const mod = await op.admin('POST', '/devices/edge1%2FmodC/messages/deviceBound', { body: 'x' });
      assert.equal(mod.status, 404);
      const none = await send(op, ['nobody', '--body', 'x']);
      assert.match(none.stderr, /errorCode 404001/);
      const bad = await op.admin('POST', '/devices/full/messages/deviceBound', { body: 1 });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errorCode, 400004);
    });
  });
