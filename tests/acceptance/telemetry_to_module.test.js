'use strict';
// Issue 3, "must show": a device's telemetry with message id, correlation id, content
// type/encoding and app properties (including `/&=` and spaces) reaches a module client on its
// input with everything intact and `$.cdid` stamped. Unmodified azure-iot-device(-mqtt) over TLS
// with the edge CA from `outpost ca`; route r2 = FROM /messages/* WHERE NOT
// IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint("/modules/modB/inputs/fromDevices").

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, Message, propsOf, bodyOf, withTimeout } = require('./lib/outpost');

// Keys and values with every character the property bag must escape.
const APP_PROPS = {
  plain: 'value',
  'with space': 'a value with spaces',
  'weird/key&=': 'v=a&b/c d',
  slash: '/leading/and/trailing/',
  amp: 'x&y&&z',
  eq: '==a=b==',
  pct: '100% sure %24.mid=not-a-system-property',
  unicode: 'Grüße, 温度 °C',
};

test('device telemetry reaches modB on fromDevices with body, system and app properties intact and $.cdid stamped',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'telemetry' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modCs = await op.addModule('modB');
      const modB = await op.openModule(modCs);
      const dev = await op.openDevice(devCs);

      const body = Buffer.from(JSON.stringify({ temperature: 21.5, unit: '°C', note: 'a/b&c=d e' }), 'utf8');
      const msg = new Message(body);
      msg.messageId = 'mid-1/with&special=chars and space';
      msg.correlationId = 'cid-1';
      msg.contentType = 'application/json';
      msg.contentEncoding = 'utf-8';
      for (const [k, v] of Object.entries(APP_PROPS)) msg.properties.add(k, v);
      await withTimeout(dev.sendEvent(msg), 15000, 'sendEvent (PUBACK from the hub)');

      // A bare message (topic `devices/dev1/messages/events/`, empty property bag) as well.
      const bare = new Message('bare body');
      await withTimeout(dev.sendEvent(bare), 15000, 'sendEvent of a message without properties');

      await modB.inbox.waitCount('fromDevices', 2, 20000);
      const [first, second] = modB.inbox.on('fromDevices').map((i) => i.msg);

      assert.deepEqual(bodyOf(first), body, 'body must arrive byte for byte');
      assert.equal(first.messageId, msg.messageId, 'messageId ($.mid)');
      assert.equal(first.correlationId, 'cid-1', 'correlationId ($.cid)');
      assert.equal(first.contentType, 'application/json', 'contentType ($.ct)');
      assert.equal(first.contentEncoding, 'utf-8', 'contentEncoding ($.ce)');
      const got = propsOf(first);
      for (const [k, v] of Object.entries(APP_PROPS)) {
        assert.equal(got[k], v, `app property ${JSON.stringify(k)} must arrive intact; got ${JSON.stringify(got)}`);
      }
      // The SDK puts every bag key it does not map to a Message field into msg.properties, so
      // edgeHub's `$.cdid` lands there (azure-iot-device-mqtt _extractPropertiesFromTopicPart).
      assert.equal(got['$.cdid'], 'dev1', `$.cdid must name the sending device; got ${JSON.stringify(got)}`);
      assert.equal(got['$.cmid'], undefined, 'a device message has no $.cmid');
      assert.equal(got['$.on'], undefined, '$.on is never forwarded');
      const unexpected = Object.keys(got).filter((k) => !(k in APP_PROPS) && !k.startsWith('$.') && !k.startsWith('iothub-'));
      assert.deepEqual(unexpected, [], `no property may appear that the device did not send (a broken bag split?); got ${JSON.stringify(got)}`);

      assert.equal(bodyOf(second).toString(), 'bare body', 'the bare message body');
      assert.equal(second.messageId, '', 'the bare message has no messageId (the SDK\'s default is \'\')');
      assert.equal(second.correlationId, '', 'the bare message has no correlationId');
      assert.equal(second.contentType, undefined, 'the bare message has no contentType');
      const bareProps = propsOf(second);
      assert.equal(bareProps['$.cdid'], 'dev1', `$.cdid on the bare message; got ${JSON.stringify(bareProps)}`);
      assert.deepEqual(Object.keys(bareProps).filter((k) => !k.startsWith('$.') && !k.startsWith('iothub-')), [],
        `the bare message must carry no app properties; got ${JSON.stringify(bareProps)}`);

      // The delivery topic is the one the SDK parses: devices/edge1/modules/modB/inputs/fromDevices/<bag>.
      const delivered = modB.wire.connections.flatMap((c) => c.received).filter((p) => p.cmd === 'publish');
      for (const p of delivered) {
        assert.match(p.topic, /^devices\/edge1\/modules\/modB\/inputs\/fromDevices\/[^/]*$/,
          `delivery topic must be devices/edge1/modules/modB/inputs/fromDevices/<bag>; got ${p.topic}`);
        assert.equal(p.qos, 1, `inputs are delivered with QoS 1; got ${JSON.stringify(p)}`);
      }
      assert.deepEqual(modB.inbox.completeErrors, [], 'complete() must succeed');
      assert.equal(modB.inbox.on('fromDevices').length, 2, 'exactly the two messages, no duplicates');
    });
  });
