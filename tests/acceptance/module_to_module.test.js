'use strict';
// Issue 3, "must show": module A's output reaches module B's input through a route
// (r1 = FROM /messages/modules/modA/outputs/out1 INTO BrokeredEndpoint("/modules/modB/inputs/in1")).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, Message, propsOf, bodyOf, withTimeout, sleep } = require('./lib/outpost');

test('modA sendOutputEvent(out1) reaches modB on in1 with $.cdid=edge1 and $.cmid=modA',
  { timeout: 120000 }, async (t) => {
    await withOutpost({ name: 'm2m' }, async (op) => {
      const modACs = await op.addModule('modA');
      const modBCs = await op.addModule('modB');
      const modB = await op.openModule(modBCs);
      const modA = await op.openModule(modACs); // modA listens too: nothing may come back to it

      const sent = [];
      for (let i = 0; i < 5; i++) {
        const m = new Message(JSON.stringify({ seq: i, from: 'modA' }));
        m.messageId = `m2m-${i}`;
        m.correlationId = `corr-${i}`;
        m.contentType = 'application/json';
        m.contentEncoding = 'utf-8';
        m.properties.add('seq', String(i));
        m.properties.add('path/with spaces', 'a&b=c');
        sent.push(m);
        await withTimeout(modA.sendOutputEvent('out1', m), 15000, `sendOutputEvent #${i} (PUBACK)`);
      }
      // An output no route takes (only r2 could, and its WHERE excludes module messages).
      await withTimeout(modA.sendOutputEvent('unrouted', new Message('nobody')), 15000,
        'sendOutputEvent on an unrouted output');

      await modB.inbox.waitCount('in1', sent.length, 20000);
      const got = modB.inbox.on('in1').map((i) => i.msg);
      assert.deepEqual(got.map((m) => m.messageId), sent.map((m) => m.messageId),
        'every output message arrives on in1, in order, once');
      got.forEach((m, i) => {
        assert.equal(bodyOf(m).toString(), JSON.stringify({ seq: i, from: 'modA' }), `body #${i}`);
        assert.equal(m.correlationId, `corr-${i}`, `correlationId #${i}`);
        assert.equal(m.contentType, 'application/json', `contentType #${i}`);
        assert.equal(m.contentEncoding, 'utf-8', `contentEncoding #${i}`);
        const p = propsOf(m);
        assert.equal(p.seq, String(i), `app property seq #${i}: ${JSON.stringify(p)}`);
        assert.equal(p['path/with spaces'], 'a&b=c', `app property with / and space #${i}: ${JSON.stringify(p)}`);
        assert.equal(p['$.cdid'], 'edge1', `$.cdid = the sender's device (the edge device): ${JSON.stringify(p)}`);
        assert.equal(p['$.cmid'], 'modA', `$.cmid = the sending module: ${JSON.stringify(p)}`);
        assert.equal(p['$.on'], undefined, `$.on must not be forwarded: ${JSON.stringify(p)}`);
      });

      await sleep(1500); // let anything misrouted arrive
      await t.test('nothing else is delivered: not the unrouted output, not to modA, not on fromDevices', () => {
        assert.deepEqual(modB.inbox.items.map((i) => i.input), sent.map(() => 'in1'),
          'modB must receive exactly the five in1 messages (r2\'s WHERE NOT IS_DEFINED($connectionModuleId) ' +
          'keeps module output off fromDevices; "unrouted" has no route)');
        assert.deepEqual(modA.inbox.items.map((i) => i.input), [], 'modA must receive nothing');
      });
    });
  });
