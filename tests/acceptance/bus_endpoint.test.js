'use strict';
// Issue 12, item 6: routes to an AMQP 1.0 broker. `[endpoints.bus]` names a private RabbitMQ
// (Debian's rabbitmq-server with its AMQP 1.0 plugin, started by the test on loopback); a route
// `INTO Endpoint("bus")` sends there. What arrives is read back with Qpid Proton's Python
// client. RabbitMQ stopped for 20 s while a device keeps sending: every message the hub
// acknowledged arrives once or is counted as a duplicate.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, Message, waitFor, sleep, freePorts } = require('./lib/outpost');
const { RabbitMq, installed } = require('./lib/rabbitmq');

const QUEUE = '/queue/telemetry';

function busConfig(port) {
  return [
    '[endpoints.bus]',
    'type = "amqp"',
    `url = "amqp://guest:guest@127.0.0.1:${port}"`,
    `address = "${QUEUE}"`,
  ].join('\n');
}

async function withRabbit(body) {
  assert.ok(installed(), 'rabbitmq-server is not installed: run tools/dev.sh setup');
  const rabbit = new RabbitMq(await freePorts(3));
  let failed = false;
  try {
    await rabbit.start();
    await body(rabbit);
  } catch (err) {
    failed = true;
    err.message += `\n${rabbit.logTail(20)}`;
    throw err;
  } finally {
    await rabbit.dispose({ keep: failed });
  }
}

test('messages routed to Endpoint("bus") arrive in the RabbitMQ queue with their ids, properties and sender',
  { timeout: 180000 }, async () => {
    await withRabbit(async (rabbit) => {
      await withOutpost({
        name: 'bus',
        routes: { tobus: 'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO Endpoint("bus")' },
        extra: busConfig(rabbit.port),
      }, async (op) => {
        const check = await op.check();
        assert.match(check.stdout + check.stderr, /tobus send to Endpoint\("\.\.\."\), an Outpost extension: this manifest is not portable to IoT Edge/,
          `outpost check must warn that the manifest is not portable:\n${check.stdout}`);
        await waitFor(async () => (await op.metricSum('outpost_endpoint_connected', { endpoint: 'bus' })) === 1,
          { timeoutMs: 30000, message: 'the endpoint link connected to RabbitMQ' });
        assert.match((await op.check()).stdout,
          new RegExp(`✓ endpoint bus: connected to amqp://127\\.0\\.0\\.1:${rabbit.port} node /queue/telemetry; backlog 0`));

        const dev = await op.openDevice(await op.addDevice('leaf1'));
        const N = 50;
        for (let i = 1; i <= N; i += 1) {
          const m = new Message(JSON.stringify({ i }));
          m.messageId = `msg-${i}`;
          m.contentType = 'application/json';
          m.contentEncoding = 'utf-8';
          m.properties.add('seq', String(i));
          await dev.sendEvent(m);
        }
        await waitFor(async () => (await op.metricSum('edgehub_messages_sent_total', { to: 'bus' })) >= N,
          { timeoutMs: 30000, message: `${N} messages settled by RabbitMQ` });
        const got = rabbit.read(QUEUE);
        assert.equal(got.length, N, `RabbitMQ's queue must hold the ${N} messages; got ${got.length}`);
        got.forEach((m, k) => {
          assert.equal(m.body, JSON.stringify({ i: k + 1 }), 'bodies in the order sent');
          assert.equal(m.properties.seq, String(k + 1));
          assert.equal(m.id, `msg-${k + 1}`);
          assert.equal(m.content_type, 'application/json');
          assert.equal(m.annotations['iothub-connection-device-id'], 'leaf1');
          assert.equal(m.durable, true, 'sent durable: RabbitMQ keeps it across its restart');
        });
        assert.equal(await op.metricSum('edgehub_queue_length', { endpoint: 'endpoint/bus' }), 0);

        // A route to an endpoint the configuration does not have: a 400 naming it, the
        // previous routes stay.
        op.writeManifest({ nope: 'FROM /messages/* INTO Endpoint("nope")' });
        await waitFor(async () => /no \[endpoints\.nope\]/.test((await op.check()).stdout),
          { timeoutMs: 15000, message: 'outpost check reports the route to an unknown endpoint' });
        const bad = await op.check();
        assert.notEqual(bad.code, 0);
        assert.match(bad.stdout, /\$edgeHub routes: 400 route 'nope' sends to Endpoint\("nope"\), but the configuration has no \[endpoints\.nope\]/);
        await op.closeClient(dev);
        assert.ok(!op.stderrText().includes('guest:guest') && !op.stderrText().includes(':guest@'),
          'the endpoint\'s password must not be logged');
      });
    });
  });

test('RabbitMQ stopped for 20 s: every acknowledged message arrives once or is counted as a duplicate',
  { timeout: 240000 }, async () => {
    await withRabbit(async (rabbit) => {
      await withOutpost({
        name: 'bus-outage',
        routes: { tobus: 'FROM /messages/* INTO Endpoint("bus")' },
        extra: busConfig(rabbit.port),
      }, async (op) => {
        await waitFor(async () => (await op.metricSum('outpost_endpoint_connected', { endpoint: 'bus' })) === 1,
          { timeoutMs: 30000, message: 'the endpoint link connected to RabbitMQ' });
        const dev = await op.openDevice(await op.addDevice('leaf1'));
        const acked = [];
        let running = true;
        let seq = 0;
        const sender = (async () => {
          while (running) {
            seq += 1;
            const m = new Message(`m ${seq}`);
            m.properties.add('seq', String(seq));
            await dev.sendEvent(m); // PUBACK: durable in the hub's store
            acked.push(seq);
            await sleep(20);
          }
        })();
        await sleep(3000);
        await rabbit.stop();
        const stoppedAt = acked.length;
        await sleep(20000);
        const duringOutage = acked.length - stoppedAt;
        const down = await op.check();
        assert.notEqual(down.code, 0, 'outpost check fails while the broker is away');
        assert.match(down.stdout, /✗ endpoint bus: not connected to amqp:\/\/127\.0\.0\.1:\d+ node \/queue\/telemetry; backlog [1-9]/);
        const waiting = await op.metricSum('edgehub_queue_length', { endpoint: 'endpoint/bus' });
        await rabbit.start();
        await sleep(5000);
        running = false;
        await sender;
        const total = acked.length;
        await waitFor(async () => (await op.metricSum('edgehub_queue_length', { endpoint: 'endpoint/bus' })) === 0,
          { timeoutMs: 90000, message: 'the endpoint mailbox drained after RabbitMQ returned' });
        const sent = await op.metricSum('edgehub_messages_sent_total', { to: 'bus' });
        const got = rabbit.read(QUEUE);
        const seen = new Map();
        for (const m of got) seen.set(Number(m.properties.seq), (seen.get(Number(m.properties.seq)) || 0) + 1);
        const missing = acked.filter((s) => !seen.has(s));
        const duplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
        console.log(`# bus outage: ${total} acknowledged (${duringOutage} while RabbitMQ was down, `
          + `${waiting} waiting in the hub then), ${got.length} in RabbitMQ, ${duplicates} duplicates, `
          + `${sent} settled accepted, ${missing.length} missing`);
        assert.ok(duringOutage > 100, `the device kept sending while RabbitMQ was down (${duringOutage})`);
        assert.ok(waiting > 0, 'the messages waited in the hub while RabbitMQ was down');
        assert.deepEqual(missing.slice(0, 20), [], `${missing.length} acknowledged messages never reached RabbitMQ`);
        assert.equal(got.length, total + duplicates);
        await op.closeClient(dev);
      });
    });
  });
