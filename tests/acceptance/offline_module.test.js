'use strict';
// Issue 3, "must show": messages sent while module B was offline arrive after it reconnects,
// also across an outpostd restart — in order, none lost. A PUBACK to the device means the
// message is durably in modB's mailbox (durability = "fsync"), so SIGTERM + restart on the same
// storage dir must not lose any of them, and messages modB already received must not come again.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, Message, withTimeout, sleep } = require('./lib/outpost');

const N = 25;

async function sendBatch(op, devCs, from, count) {
  const dev = await op.openDevice(devCs);
  for (let i = from; i < from + count; i++) {
    const m = new Message(JSON.stringify({ seq: i }));
    m.messageId = String(i);
    m.properties.add('seq', String(i));
    await withTimeout(dev.sendEvent(m), 15000, `sendEvent #${i} (PUBACK = stored)`);
  }
  await op.closeClient(dev);
}

function range(from, count) {
  return [...Array(count).keys()].map((i) => String(from + i));
}

async function expectExactly(modB, input, expected, what) {
  await modB.inbox.waitCount(input, expected.length, 30000).catch((err) => {
    err.message += `; ${what}: received ${JSON.stringify(modB.inbox.on(input).map((i) => i.msg.messageId))}`;
    throw err;
  });
  await sleep(1000); // anything extra (duplicates, redelivery of acked messages) shows up now
  const ids = modB.inbox.on(input).map((i) => i.msg.messageId);
  assert.deepEqual(ids, expected, `${what}: every message exactly once, in order`);
  modB.inbox.on(input).forEach(({ msg }) => {
    assert.equal(msg.getData().toString(), JSON.stringify({ seq: Number(msg.messageId) }), `body of #${msg.messageId}`);
    assert.equal(msg.properties.getValue('seq'), msg.messageId, `app property of #${msg.messageId}`);
    assert.equal(msg.properties.getValue('$.cdid'), 'dev1', `$.cdid of #${msg.messageId}`);
  });
}

test('messages sent while modB is offline arrive after it reconnects, in order, none lost',
  { timeout: 150000 }, async () => {
    await withOutpost({ name: 'offline' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modCs = await op.addModule('modB');

      // modB was here once (it subscribed to its inputs, CleanSession=0), then went away.
      let modB = await op.openModule(modCs);
      await sendBatch(op, devCs, 0, 3);
      await expectExactly(modB, 'fromDevices', range(0, 3), 'while online');
      await op.closeClient(modB);

      await sendBatch(op, devCs, 3, N);

      modB = await op.openModule(modCs);
      await expectExactly(modB, 'fromDevices', range(3, N), 'after reconnecting');

      // And live delivery continues behind the backlog.
      await sendBatch(op, devCs, 3 + N, 3);
      await expectExactly(modB, 'fromDevices', range(3, N + 3), 'backlog then live');
    });
  });

test('messages queued for an offline modB survive an outpostd restart (SIGTERM, same storage) and arrive in order',
  { timeout: 150000 }, async () => {
    await withOutpost({ name: 'offline-restart' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modCs = await op.addModule('modB');

      let modB = await op.openModule(modCs);
      await sendBatch(op, devCs, 0, 3);
      await expectExactly(modB, 'fromDevices', range(0, 3), 'before the restart');
      await op.closeClient(modB);

      await sendBatch(op, devCs, 3, N);
      await op.restart(); // SIGTERM (exit code 0 checked), then start on the same storage dir
      // The ports are ephemeral: clients made from now on use the new ports.json.

      modB = await op.openModule(modCs);
      await expectExactly(modB, 'fromDevices', range(3, N), 'after the restart (no loss, no redelivery of acked messages)');

      await sendBatch(op, devCs, 3 + N, 3);
      await expectExactly(modB, 'fromDevices', range(3, N + 3), 'after the restart, backlog then live');

      // Once more: a second backlog and a second restart (the checkpoint of what modB already
      // acknowledged must have been persisted too, or the first backlog comes again).
      await op.closeClient(modB);
      await sendBatch(op, devCs, 6 + N, 5);
      await op.restart();
      modB = await op.openModule(modCs);
      await expectExactly(modB, 'fromDevices', range(6 + N, 5), 'second restart');
    });
  });
