'use strict';
// Issue 3, "must show": a wrong key is refused (CONNACK 5, the SDK reports UnauthorizedError and
// does not retry); a disabled identity is refused; an enabled identity keeps working in the same
// daemon, and enable/disable take effect without a restart.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { errors } = require('azure-iot-common');
const { withOutpost, Message, withTimeout, withWrongKey, propsOf } = require('./lib/outpost');

/// open() must reject with UnauthorizedError, and the hub must have answered CONNACK 5.
async function expectRefused(op, cs, { module = false, what }) {
  const client = module ? await op.moduleClient(cs, { retry: false }) : await op.deviceClient(cs, { retry: false });
  const started = Date.now();
  let error = null;
  try {
    await withTimeout(client.open(), 20000, `open() of ${what}`);
  } catch (err) {
    error = err;
  }
  await op.closeClient(client);
  assert.ok(error, `${what}: open() must fail`);
  assert.ok(error instanceof errors.UnauthorizedError || error.name === 'UnauthorizedError',
    `${what}: the SDK must report UnauthorizedError; got ${error.name}: ${error.message}`);
  const connacks = client.wire.connections.flatMap((c) => c.received).filter((p) => p.cmd === 'connack');
  assert.deepEqual(connacks.map((p) => p.returnCode), [5],
    `${what}: the hub must answer CONNECT with CONNACK return code 5 (not authorized); wire: ` +
    JSON.stringify(client.wire.connections));
  return Date.now() - started;
}

async function expectWorks(op, devCs, modB, label) {
  const dev = await op.openDevice(devCs);
  const before = modB.inbox.on('fromDevices').length;
  const m = new Message(`hello from ${label}`);
  m.messageId = label;
  await withTimeout(dev.sendEvent(m), 15000, `${label}: sendEvent (PUBACK)`);
  await modB.inbox.waitCount('fromDevices', before + 1, 20000);
  const got = modB.inbox.on('fromDevices').at(-1).msg;
  assert.equal(got.messageId, label, `${label}: the message must reach modB`);
  await op.closeClient(dev);
  return propsOf(got);
}

test('a wrong key is refused with CONNACK 5 / UnauthorizedError; the right key then works',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'auth-key' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modCs = await op.addModule('modB');
      const modB = await op.openModule(modCs);

      const ms = await expectRefused(op, withWrongKey(devCs), { what: 'device dev1 with a wrong key' });
      assert.ok(ms < 15000, `refusal must be prompt; took ${ms} ms`);
      await expectRefused(op, withWrongKey(modCs), { module: true, what: 'module modB with a wrong key' });

      // The refused connections affected nobody else: modB (connected all along) still receives.
      const props = await expectWorks(op, devCs, modB, 'after-wrong-key');
      assert.equal(props['$.cdid'], 'dev1');
    });
  });

test('a disabled identity is refused, an enabled one still works in the same daemon, enable takes effect live',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'auth-disabled' }, async (op) => {
      const dev1Cs = await op.addDevice('dev1');
      const dev2Cs = await op.addDevice('dev2');
      const modB = await op.openModule(await op.addModule('modB'));

      await op.disable('dev2');
      await expectRefused(op, dev2Cs, { what: 'disabled device dev2' });
      await expectWorks(op, dev1Cs, modB, 'enabled-dev1');

      await op.enable('dev2');
      const props = await expectWorks(op, dev2Cs, modB, 'dev2-after-enable');
      assert.equal(props['$.cdid'], 'dev2', 'dev2 is accepted again after `identity enable`, without restart');

      const modCCs = await op.addModule('modC');
      await op.disable('edge1/modC');
      await expectRefused(op, modCCs, { module: true, what: 'disabled module edge1/modC' });
    });
  });
