'use strict';
// Issue 12, offline cycles: while the child edge's senders run (100 msgs/s, three priorities),
// the parent is SIGKILLed and started again three times (10 s down each), then the child is
// SIGKILLed while the parent is down. Every message the child acknowledged arrives at the
// parent's sink module; duplicates are counted and reported; within each sender and priority
// the order of first arrivals holds; messages whose TTL ran out while the parent was away are
// never sent.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Outpost, Message, propsOf, waitFor, sleep, freePorts } = require('./lib/outpost');

const DOWN_MS = Number(process.env.OUTPOST_OFFLINE_DOWN_MS || 10000);

test('nothing acknowledged is lost across parent and child crashes; order per sender and priority; nothing expired is sent',
  { timeout: 280000 }, async () => {
    const [pMqtt, pAmqp, pHttps, cMqtt, cAmqp, cHttps] = await freePorts(6);
    const parent = new Outpost({
      name: 'offline-parent',
      deviceId: 'parent1',
      routes: { all: 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/in")' },
      listen: { mqtt_tls: `127.0.0.1:${pMqtt}`, amqp_tls: `127.0.0.1:${pAmqp}`, https: `127.0.0.1:${pHttps}` },
    });
    let child;
    let failed = false;
    const arrivals = []; // {sender, prio, seq}
    try {
      await parent.start();
      const sinkCs = await parent.addModule('sink');
      // The sink is opened again after each restart of the parent: the SDK's own retries back
      // off for longer than this test waits (its messages wait in the parent's mailbox). Without
      // a retry policy, so that a client whose close() gave up does not reconnect by itself and
      // take the `sink` identity back from the new one, and again (under ASan in CI a sink
      // connected 9 times after the last restart, and the messages stayed in the mailbox).
      // Arrivals are read from the client's inbox, whose listener is there before open(): a
      // resumed session gets its backlog right after CONNACK, before a listener added after
      // open() would hear it (mqtt.js acknowledges it anyway).
      let sink = null;
      const record = (msg) => {
        const p = propsOf(msg);
        arrivals.push({ sender: p['$.cdid'], prio: p.prio, seq: Number(p.seq) });
      };
      const openSink = async () => {
        if (sink) await parent.closeClient(sink);
        for (let attempt = 1; ; attempt += 1) {
          try {
            sink = await parent.openModule(sinkCs, { retry: false });
            break;
          } catch (err) {
            if (attempt === 5) throw err;
            await sleep(1000); // the parent is still starting
          }
        }
        const { inbox } = sink;
        for (const i of inbox.items) record(i.msg);
        const push = inbox.push.bind(inbox);
        inbox.push = (input, msg) => { push(input, msg); record(msg); };
      };
      await openSink();
      const edgeCs = (await parent.cliOk(['identity', 'add', 'device', 'child1', '--edge-enabled'])).trim();
      const senders = ['s1', 's2', 's3'];
      const css = {};
      for (const s of senders) {
        css[s] = (await parent.cliOk(['identity', 'add', 'device', s, '--parent', 'child1'])).trim();
      }
      const caFile = path.join(parent.dir, 'parent-ca.pem');
      fs.writeFileSync(caFile, await parent.caPem());
      child = new Outpost({
        name: 'offline-child',
        deviceId: 'child1',
        routes: {
          high: { route: 'FROM /messages/* WHERE prio = \'high\' INTO $upstream', priority: 0, timeToLiveSecs: 86400 },
          mid: { route: 'FROM /messages/* WHERE prio = \'mid\' INTO $upstream', priority: 1, timeToLiveSecs: 86400 },
          low: { route: 'FROM /messages/* WHERE prio = \'low\' INTO $upstream', priority: 2, timeToLiveSecs: 86400 },
          // Sent only while the parent is away, and expired long before it returns.
          ttl: { route: 'FROM /messages/* WHERE prio = \'ttl\' INTO $upstream', priority: 3, timeToLiveSecs: 2 },
        },
        listen: { mqtt_tls: `127.0.0.1:${cMqtt}`, amqp_tls: `127.0.0.1:${cAmqp}`, https: `127.0.0.1:${cHttps}` },
        extra: [
          '[upstream]',
          `connection_string = "${edgeCs}"`,
          `parent_hostname = "127.0.0.1:${pAmqp}"`,
          `parent_https = "127.0.0.1:${pHttps}"`,
          `trust_bundle = "${caFile}"`,
          'scope_refresh_secs = 1',
        ].join('\n'),
      });
      await child.start();
      await waitFor(async () => (await child.cli(['identity', 'show', 's3'])).code === 0,
        { timeoutMs: 15000, message: 'the senders in the child\'s scope' });

      // Three senders on the child, ~100 msgs/s together, high/mid/low in turn.
      const acked = new Map(); // `${sender}/${prio}` -> [seq...]
      const ttlSent = []; // {sender, seq, at, outage}
      const returns = []; // when the parent was back, per outage
      let outage = -1;
      let parentDown = false;
      let running = true;
      const loops = senders.map(async (s) => {
        const dev = await child.openDevice(css[s]);
        const seqs = { high: 0, mid: 0, low: 0, ttl: 0 };
        const prios = ['high', 'mid', 'low'];
        let turn = 0;
        while (running) {
          const prio = parentDown && turn % 10 === 9 ? 'ttl' : prios[turn % 3];
          turn += 1;
          seqs[prio] += 1;
          const m = new Message(`${s} ${prio} ${seqs[prio]}`);
          m.properties.add('prio', prio);
          m.properties.add('seq', String(seqs[prio]));
          try {
            await dev.sendEvent(m); // resolves on PUBACK: durable in the child
            if (prio === 'ttl') ttlSent.push({ sender: s, seq: seqs[prio], at: Date.now(), outage });
            const key = `${s}/${prio}`;
            if (!acked.has(key)) acked.set(key, []);
            acked.get(key).push(seqs[prio]);
          } catch {
            // not acknowledged (the child was down): no promise made
          }
          await sleep(30);
        }
      });

      const parentOutage = async () => {
        await parent.kill();
        outage += 1;
        parentDown = true;
        await sleep(DOWN_MS);
        parentDown = false;
        await parent.start();
        returns[outage] = Date.now();
        await openSink();
      };
      await sleep(3000);
      for (let i = 0; i < 3; i += 1) {
        await parentOutage();
        await sleep(4000);
      }
      // The child dies while the parent is away too.
      await parent.kill();
      outage += 1;
      parentDown = true;
      await sleep(DOWN_MS / 2);
      await child.kill();
      await sleep(1000);
      await child.start();
      await sleep(DOWN_MS / 2);
      parentDown = false;
      await parent.start();
      returns[outage] = Date.now();
      await openSink();
      await sleep(3000);
      running = false;
      await Promise.all(loops);

      // Drained: every acknowledged message of high/mid/low arrived at least once.
      const wanted = [...acked.entries()].filter(([k]) => !k.endsWith('/ttl'));
      const total = wanted.reduce((n, [, seqs]) => n + seqs.length, 0);
      const missingNow = () => {
        const got = new Set(arrivals.map((a) => `${a.sender}/${a.prio}/${a.seq}`));
        return wanted.flatMap(([k, seqs]) => seqs.filter((q) => !got.has(`${k}/${q}`)).map((q) => `${k}/${q}`));
      };
      try {
        await waitFor(() => missingNow().length === 0,
          { timeoutMs: 90000, intervalMs: 500, message: `all ${total} acknowledged messages at the parent` });
      } catch (err) {
        // Where the missing ones are: still in the child's $upstream queues, in the parent's
        // sink mailbox, or nowhere.
        const missing = missingNow();
        const metric = async (op, name, labels) => { try { return await op.metricSum(name, labels); } catch (e) { return `(${e.message})`; } };
        err.message += `\n${missing.length} missing, first ${missing.slice(0, 10).join(' ')}; `
          + `child $upstream queue ${await metric(child, 'edgehub_queue_length', { endpoint: 'iothub' })}, `
          + `child link connected ${await metric(child, 'outpost_upstream_connected')}, `
          + `parent sink mailbox ${await metric(parent, 'edgehub_queue_length', { endpoint: 'parent1/sink/in' })}, `
          + `parent connected clients ${await metric(parent, 'edgehub_connected_clients')}, `
          + `${arrivals.length} arrivals`;
        throw err;
      }

      const firsts = new Map();
      const seen = new Set();
      let duplicates = 0;
      for (const a of arrivals) {
        const id = `${a.sender}/${a.prio}/${a.seq}`;
        if (seen.has(id)) { duplicates += 1; continue; }
        seen.add(id);
        const k = `${a.sender}/${a.prio}`;
        if (!firsts.has(k)) firsts.set(k, []);
        firsts.get(k).push(a.seq);
      }
      for (const [k, seqs] of firsts) {
        for (let i = 1; i < seqs.length; i += 1) {
          assert.ok(seqs[i] > seqs[i - 1], `order within ${k}: ${seqs[i - 1]} then ${seqs[i]}`);
        }
      }
      // A TTL message acknowledged more than its TTL (2 s, plus 0.5 s for the clocks) before
      // the parent came back had expired before the link could send it.
      const expired = ttlSent.filter((t) => t.at + 2500 < returns[t.outage]);
      const arrivedTtl = new Set(arrivals.filter((a) => a.prio === 'ttl').map((a) => `${a.sender}/${a.seq}`));
      const expiredArrived = expired.filter((t) => arrivedTtl.has(`${t.sender}/${t.seq}`));
      assert.ok(expired.length > 0, 'some TTL messages expired while the parent was away');
      assert.deepEqual(expiredArrived, [], 'messages whose TTL ran out while the parent was away must not be sent');
      const dropped = await child.metricSum('edgehub_messages_dropped_total', { reason: 'ttl_expiry' });
      process.stdout.write(`# offline cycles: ${total} acknowledged, ${arrivals.length} arrivals, ` +
        `${duplicates} duplicates (${(100 * duplicates / Math.max(1, total)).toFixed(2)}%), ` +
        `${expired.length} TTL messages expired while the parent was away (none sent), ${dropped} counted as ` +
        'ttl_expiry since the child\'s restart\n');
      assert.equal(await child.metricSum('outpost_upstream_connected'), 1);
    } catch (err) {
      failed = true;
      err.message += `\n${parent.stderrTail(40)}` + (child ? `\n${child.stderrTail(60)}` : '');
      throw err;
    } finally {
      if (child) await child.dispose({ failed });
      await parent.dispose({ failed });
    }
  });
