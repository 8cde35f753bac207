'use strict';
// Issue 4, "must show", end to end through the daemon with the Azure SDK MQTT clients:
// - a WHERE on an app property, on $body and on $connectionModuleId routes only the right
//   messages (and what no route takes is counted as no_route);
// - with priority routes and the consumer offline, the backlog arrives in priority order;
// - a message whose TTL ran out while the consumer was offline never arrives and is counted;
// - a changed manifest applies without restart, without losing or duplicating messages, and a
//   bad one is rejected with 400 (visible in `outpost check`) while the previous routes stay.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, Message, propsOf, bodyOf, withTimeout, waitFor, sleep } = require('./lib/outpost');

const sink = (input) => `BrokeredEndpoint("/modules/sink/inputs/${input}")`;

function msg(id, { props = {}, body = `body-${id}`, json = false } = {}) {
  const m = new Message(typeof body === 'string' ? body : JSON.stringify(body));
  m.messageId = id;
  for (const [k, v] of Object.entries(props)) m.properties.add(k, v);
  if (json) {
    m.contentType = 'application/json';
    m.contentEncoding = 'utf-8';
  }
  return m;
}

async function send(client, m, output) {
  const what = `send ${m.messageId}${output ? ` on ${output}` : ''} (PUBACK)`;
  await withTimeout(output ? client.sendOutputEvent(output, m) : client.sendEvent(m), 15000, what);
}

function ids(client, input) {
  return client.inbox.on(input).map((i) => i.msg.messageId);
}

test('WHERE on an app property, on $body and on $connectionModuleId routes only the right messages',
  { timeout: 120000 }, async () => {
    const routes = {
      hot: `FROM /messages/* WHERE as_number(temperature) > 30 INTO ${sink('hot')}`,
      high: `FROM /messages/* WHERE $body.reading.level = 'high' INTO ${sink('high')}`,
      fromA: `FROM /messages/* WHERE $connectionModuleId = 'modA' INTO ${sink('fromA')}`,
    };
    await withOutpost({ name: 'where', routes }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const sinkCs = await op.addModule('sink');
      const modACs = await op.addModule('modA');
      const modCCs = await op.addModule('modC');
      const s = await op.openModule(sinkCs);
      const dev = await op.openDevice(devCs);
      const modA = await op.openModule(modACs);
      const modC = await op.openModule(modCCs);
      const noRouteBefore = await op.metricSum('edgehub_messages_dropped_total', { reason: 'no_route' });

      await send(dev, msg('t25', { props: { temperature: '25' } }));
      await send(dev, msg('t35', { props: { temperature: '35' } }));
      await send(dev, msg('t-text', { props: { temperature: 'warm' } })); // as_number -> undefined
      await send(dev, msg('json-high', { body: { reading: { level: 'high' } }, json: true }));
      await send(dev, msg('json-low', { body: { reading: { level: 'low' } }, json: true }));
      // The same body without content type/encoding: $body is undefined (IoT Hub semantics).
      await send(dev, msg('plain-high', { body: { reading: { level: 'high' } } }));
      await send(modA, msg('a-1'), 'out1');
      await send(modC, msg('c-1'), 'out1');

      await s.inbox.waitCount(null, 3, 20000);
      await sleep(1500); // anything misrouted arrives now
      assert.deepEqual(ids(s, 'hot'), ['t35'], 'as_number(temperature) > 30');
      assert.deepEqual(ids(s, 'high'), ['json-high'], "$body.reading.level = 'high' (JSON content type only)");
      assert.deepEqual(ids(s, 'fromA'), ['a-1'], "$connectionModuleId = 'modA'");
      assert.equal(s.inbox.items.length, 3, `exactly three deliveries: ${JSON.stringify(s.inbox.items.map((i) => i.input))}`);
      const p = propsOf(s.inbox.on('hot')[0].msg);
      assert.equal(p.temperature, '35');
      assert.equal(p['$.cdid'], 'dev1');
      assert.equal(bodyOf(s.inbox.on('high')[0].msg).toString(), JSON.stringify({ reading: { level: 'high' } }));

      const noRoute = await op.metricSum('edgehub_messages_dropped_total', { reason: 'no_route' });
      assert.equal(noRoute - noRouteBefore, 5, 't25, t-text, json-low, plain-high and c-1 matched no route');
    });
  });

test('with priority routes and the consumer offline, the backlog arrives in priority order',
  { timeout: 120000 }, async () => {
    const routes = {
      low: { route: `FROM /messages/* WHERE level = 'low' INTO ${sink('in')}`, priority: 7, timeToLiveSecs: 0 },
      mid: { route: `FROM /messages/* WHERE level = 'mid' INTO ${sink('in')}`, priority: 3, timeToLiveSecs: 0 },
      high: { route: `FROM /messages/* WHERE level = 'high' INTO ${sink('in')}`, priority: 0, timeToLiveSecs: 0 },
    };
    await withOutpost({ name: 'priority', routes }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const sinkCs = await op.addModule('sink');
      let s = await op.openModule(sinkCs); // subscribes once (persistent session), then leaves
      await op.closeClient(s);

      const dev = await op.openDevice(devCs);
      const sent = { low: [], mid: [], high: [] };
      for (let i = 0; i < 90; i++) { // interleaved, more than one delivery window (64) in all
        const level = ['low', 'mid', 'high'][i % 3];
        const id = `${level}-${i}`;
        sent[level].push(id);
        await send(dev, msg(id, { props: { level } }));
      }
      await waitFor(async () => (await op.metricSum('edgehub_queue_length', { endpoint: 'edge1/sink/in' })) === 90,
        { timeoutMs: 5000, message: 'edgehub_queue_length: all 90 wait in the three priority queues of sink/in' });

      s = await op.openModule(sinkCs);
      await s.inbox.waitCount('in', 90, 30000);
      await sleep(1000);
      assert.deepEqual(ids(s, 'in'), [...sent.high, ...sent.mid, ...sent.low],
        'priority 0 first, then 3, then 7; FIFO within each; none twice');

      // Live messages after the backlog still flow.
      await send(dev, msg('late-low', { props: { level: 'low' } }));
      await s.inbox.waitCount('in', 91, 10000);
      assert.equal(ids(s, 'in')[90], 'late-low');
    });
  });

test('a message whose TTL ran out while the consumer was offline never arrives and is counted',
  { timeout: 120000 }, async () => {
    const routes = {
      short: { route: `FROM /messages/* WHERE kind = 'short' INTO ${sink('in')}`, priority: 0, timeToLiveSecs: 2 },
      long: { route: `FROM /messages/* WHERE kind = 'long' INTO ${sink('in')}`, priority: 1, timeToLiveSecs: 3600 },
    };
    await withOutpost({ name: 'ttl', routes }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const sinkCs = await op.addModule('sink');
      let s = await op.openModule(sinkCs);
      await op.closeClient(s);
      const before = await op.metricSum('edgehub_messages_dropped_total', { reason: 'ttl_expiry' });

      const dev = await op.openDevice(devCs);
      for (let i = 0; i < 3; i++) await send(dev, msg(`short-${i}`, { props: { kind: 'short' } }));
      for (let i = 0; i < 2; i++) await send(dev, msg(`long-${i}`, { props: { kind: 'long' } }));
      await sleep(3500); // the short ones expire (TTL 2 s) while sink is away

      s = await op.openModule(sinkCs);
      await s.inbox.waitCount('in', 2, 20000);
      await send(dev, msg('short-fresh', { props: { kind: 'short' } }));
      await s.inbox.waitCount('in', 3, 10000);
      await sleep(1000);
      assert.deepEqual(ids(s, 'in'), ['long-0', 'long-1', 'short-fresh'],
        'expired messages are never delivered; fresh ones are');
      await waitFor(async () => (await op.metricSum('edgehub_messages_dropped_total',
        { reason: 'ttl_expiry' })) - before === 3, { timeoutMs: 5000, message: 'ttl_expiry counted 3 times' })
        .catch(async (err) => {
          err.message += `: ${(await op.metricsText()).split('\n').filter((l) => l.includes('dropped')).join('\n')}`;
          throw err;
        });
    });
  });

test('a changed manifest applies live without loss or duplicates; a bad one is rejected with 400',
  { timeout: 150000 }, async () => {
    const v1 = { toA: `FROM /messages/* INTO ${sink('a')}` };
    const v2 = { ...v1, toB: `FROM /messages/* WHERE kind = 'b' INTO ${sink('b')}` };
    await withOutpost({ name: 'reconfigure', routes: v1 }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const sinkCs = await op.addModule('sink');
      let s = await op.openModule(sinkCs);
      const dev = await op.openDevice(devCs);
      let check = await op.check();
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /✓ \$edgeHub routes: 1 in force/);

      // Messages flow while the routes change underneath.
      const sent = [];
      let n = 0;
      const sendSome = async (count) => {
        for (let i = 0; i < count; i++, n++) {
          const id = `m${n}`;
          sent.push(id);
          await send(dev, msg(id, { props: { kind: 'b' } }));
        }
      };
      await sendSome(10);
      op.writeManifest(v2);
      const applied = sendSome(30); // concurrently with the swap
      await waitFor(async () => /2 in force/.test((await op.check()).stdout),
        { timeoutMs: 10000, message: '`outpost check` shows the two routes of the new manifest' });
      await applied;
      const afterSwap = n;
      await sendSome(5);
      await s.inbox.waitCount('a', sent.length, 20000);
      await s.inbox.waitCount('b', 5, 20000);

      // A backlog queued while sink is away survives a reconfiguration.
      await op.closeClient(s);
      await sendSome(5);
      op.writeManifest({ ...v2, extra: `FROM /messages/modules/* INTO ${sink('c')}` });
      await waitFor(async () => /3 in force/.test((await op.check()).stdout),
        { timeoutMs: 10000, message: 'three routes in force' });
      const received = ids(s, 'a');
      s = await op.openModule(sinkCs);
      await s.inbox.waitCount('a', sent.length - received.length, 20000);
      await sleep(1000);
      assert.deepEqual([...received, ...ids(s, 'a')], sent, 'route toA: every message once, in order, across two reconfigurations and a reconnect');

      // A bad manifest: 400 with the route's name and column, previous routes stay in force.
      op.writeManifest({ ...v2, alerts: `FROM /messages/* WHERE temperature > 30 INTO ${sink('alerts')}` });
      await waitFor(async () => (await op.check()).code === 1,
        { timeoutMs: 10000, message: '`outpost check` reports the rejected manifest' });
      check = await op.check();
      assert.match(check.stdout, /✗ \$edgeHub routes: 400 route 'alerts': column \d+: .*temperature/, check.stdout);
      const before = ids(s, 'a').length;
      await send(dev, msg('after-bad', { props: { kind: 'b' } }));
      await s.inbox.waitCount('a', before + 1, 10000);
      assert.equal(ids(s, 'a').at(-1), 'after-bad', 'the previous routes still route');
      assert.equal(s.inbox.on('alerts').length, 0);
      assert.ok(afterSwap >= 10);
    });
  });
