'use strict';
// Issue 3, "must show": token renewal (the SDK's DISCONNECT + new CONNECT with CleanSession=0 and
// a fresh SAS token, and NO new SUBSCRIBE — azure-sdk-wire.md §2.7) keeps input delivery working.
//
// The SDK renews every (tokenValidTimeInSeconds - tokenRenewalMarginInSeconds) seconds
// (azure-iot-device SharedAccessKeyAuthenticationProvider._scheduleNextExpiryTimeout, set through
// Mqtt.setOptions({tokenRenewal}) → setTokenRenewalValues), so {20, 15} renews every 5 s.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, Message, withTimeout, sleep } = require('./lib/outpost');

const RENEWAL = { tokenValidTimeInSeconds: 20, tokenRenewalMarginInSeconds: 15 };
const RENEWALS_WANTED = 2;

function tokenExpiry(password) {
  const m = /[?&\s]se=(\d+)/.exec(` ${password}`);
  return m ? Number(m[1]) : NaN;
}

test('SAS token renewal reconnects with CleanSession=0, does not re-subscribe, and input delivery keeps working',
  { timeout: 150000 }, async (t) => {
    await withOutpost({ name: 'renewal' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modCs = await op.addModule('modB');
      const modB = await op.openModule(modCs, { tokenRenewal: RENEWAL });
      const dev = await op.openDevice(devCs);

      // Publish continuously (one message every 250 ms) until modB has renewed its token at least
      // RENEWALS_WANTED times, then a few more.
      let seq = 0;
      const send = async () => {
        const m = new Message(`seq ${seq}`);
        m.messageId = String(seq);
        seq += 1;
        await withTimeout(dev.sendEvent(m), 15000, `sendEvent #${m.messageId} (PUBACK)`);
      };
      const connected = () => modB.wire.connections.filter((c) => c.received.some((p) => p.cmd === 'connack' && p.returnCode === 0));
      const deadline = Date.now() + 60000;
      while (connected().length < 1 + RENEWALS_WANTED) {
        assert.ok(Date.now() < deadline,
          `modB should have renewed its token ${RENEWALS_WANTED} times within 60 s; connections: ` +
          JSON.stringify(modB.wire.connections.map((c) => c.sent.concat(c.received))));
        await send();
        await sleep(250);
      }
      for (let i = 0; i < 8; i++) {
        await send();
        await sleep(100);
      }

      await modB.inbox.waitCount('fromDevices', seq, 30000).catch((err) => {
        const ids = new Set(modB.inbox.on('fromDevices').map((i) => i.msg.messageId));
        const missing = [...Array(seq).keys()].map(String).filter((id) => !ids.has(id));
        err.message += `; missing message ids: ${missing.join(',')}`;
        throw err;
      });
      const ids = modB.inbox.on('fromDevices').map((i) => i.msg.messageId);
      const firstSeen = [...new Set(ids)];
      assert.deepEqual(firstSeen, [...Array(seq).keys()].map(String),
        'every message sent across the renewals reaches modB, in order');
      if (ids.length !== firstSeen.length) {
        t.diagnostic(`${ids.length - firstSeen.length} redelivered duplicate(s) (allowed, at-least-once): ${ids.join(',')}`);
      }

      // The wire: what the SDK did, and what the hub answered.
      const conns = modB.wire.connections;
      const connects = conns.map((c) => c.sent.find((p) => p.cmd === 'connect'));
      assert.ok(conns.length >= 1 + RENEWALS_WANTED, `at least ${1 + RENEWALS_WANTED} connections`);
      connects.forEach((c, i) => {
        assert.ok(c, `connection #${i + 1} sent a CONNECT`);
        assert.equal(c.clean, false, `connection #${i + 1}: the SDK connects with CleanSession=0`);
        assert.equal(c.clientId, 'edge1/modB', `connection #${i + 1}: client id`);
      });
      const expiries = connects.map((c) => tokenExpiry(c.password));
      assert.equal(new Set(connects.map((c) => c.password)).size, connects.length,
        `each reconnect presents a new SAS token; expiries ${expiries.join(',')}`);
      const subscribes = conns.map((c) => c.sent.filter((p) => p.cmd === 'subscribe').length);
      assert.equal(subscribes[0], 1, 'the first connection subscribes to the inputs once');
      assert.deepEqual(subscribes.slice(1), subscribes.slice(1).map(() => 0),
        `renewal reconnects send no SUBSCRIBE (the hub keeps the session); SUBSCRIBEs per connection: ${subscribes}`);
      const connackCodes = conns.map((c) => (c.received.find((p) => p.cmd === 'connack') || {}).returnCode);
      assert.deepEqual(connackCodes.slice(0, 1 + RENEWALS_WANTED), Array(1 + RENEWALS_WANTED).fill(0),
        `every renewal CONNECT is accepted; CONNACK codes: ${connackCodes}`);
      const deliveredAfterRenewal = conns.slice(1).some((c) => c.received.some((p) => p.cmd === 'publish'));
      assert.ok(deliveredAfterRenewal, 'input messages were delivered on a post-renewal connection');
      assert.equal(modB.lastError, undefined, `modB client emitted no error: ${modB.lastError}`);

      await t.test('CONNACK reports sessionPresent=1 on renewal reconnects (MQTT-3.2.2-2)', () => {
        const present = conns.slice(1).map((c) => (c.received.find((p) => p.cmd === 'connack') || {}).sessionPresent);
        assert.ok(present.length > 0 && present.every((p) => p === true),
          `sessionPresent on reconnects: ${JSON.stringify(present)} (the SDK ignores it, the spec requires it)`);
      });

    });
  });
