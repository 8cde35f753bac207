'use strict';
// Issue 13, item 4: the status page (`GET /` on the metrics listener) in Debian's headless
// Chromium. The page loads its own script, which reads status.json and /metrics; the test lets
// it run, takes a screenshot (its path is in the test's output) and the DOM, and checks the
// page's numbers against /metrics and the daemon's state: connected clients, messages received
// and delivered, a queue's length, a module's state, the routes. It also checks the page's
// headers (no script from elsewhere) and that no key is in anything it serves.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { withOutpost, Message, waitFor } = require('./lib/outpost');

const CHROMIUM = '/usr/bin/chromium';

function digestOf(file) {
  return `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}

function chromium(args) {
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
      '--virtual-time-budget=6000', ...args], { encoding: 'utf8', timeout: 90000, maxBuffer: 32 << 20 },
    (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr.slice(-2000)}`)) : resolve(stdout)));
  });
}

/// `<tag ... data-a="x" data-b="y">` rows of the dumped DOM as objects.
function rows(dom, attr) {
  const out = [];
  for (const m of dom.matchAll(new RegExp(`<tr ([^>]*data-${attr}="[^"]*"[^>]*)>`, 'g'))) {
    const o = {};
    for (const a of m[1].matchAll(/data-([a-z-]+)="([^"]*)"/g)) o[a[1]] = a[2];
    out.push(o);
  }
  return out;
}

function valueOf(dom, id) {
  const m = new RegExp(`id="${id}"[^>]*data-value="([^"]*)"`).exec(dom);
  assert.ok(m, `#${id} has a value in the page`);
  return Number(m[1]);
}

test('the status page shows modules, clients, queues, routes and the upstream, and its numbers match /metrics',
  { timeout: 150000 }, async () => {
    assert.ok(fs.existsSync(CHROMIUM), 'chromium is not installed: run tools/dev.sh setup');
    await withOutpost({
      name: 'status-page',
      routes: { tosink: 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/in")' },
    }, async (op) => {
      const script = path.join(op.dir, 'sleeper.sh');
      fs.writeFileSync(script, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
      op.writeManifest(op.routes, {
        modules: {
          sleeper: { version: '1.0', type: 'process', status: 'running', restartPolicy: 'always',
            settings: { path: script, digest: digestOf(script) } },
        },
      });
      await waitFor(async () => ((await op.modules()).sleeper || {}).runtimeStatus === 'running',
        { timeoutMs: 20000, message: 'sleeper running' });
      const sinkCs = await op.addModule('sink');
      const deviceCs = await op.addDevice('leaf1');
      const sink = await op.openModule(sinkCs);
      const leaf = await op.openDevice(deviceCs);
      for (let i = 0; i < 10; i += 1) await leaf.sendEvent(new Message(`m ${i}`));
      await sink.inbox.waitCount('in', 10, 15000);
      await op.closeClient(sink); // the next three wait in the sink's queue
      for (let i = 0; i < 3; i += 1) await leaf.sendEvent(new Message(`queued ${i}`));
      await waitFor(async () => (await op.metricSum('edgehub_queue_length', { endpoint: 'edge1/sink/in' })) === 3,
        { timeoutMs: 10000, message: 'three messages in the sink\'s queue' });

      const url = `http://127.0.0.1:${op.port('metrics')}/`;
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') || '', /default-src 'self'/);
      const html = await page.text();
      assert.doesNotMatch(html, /<script(?![^>]*src="status\.js")/, 'no inline script');
      assert.doesNotMatch(html, /https?:\/\//, 'nothing from elsewhere');

      const artifacts = process.env.OUTPOST_ARTIFACTS_DIR || os.tmpdir();
      const shot = path.join(artifacts, 'outpost-status-page.png');
      const dom = await chromium(['--dump-dom', url]);
      await chromium(['--window-size=1280,1500', `--screenshot=${shot}`, url]);
      assert.ok(fs.statSync(shot).size > 10000, 'a screenshot was taken');
      process.stdout.write(`# status page screenshot: ${shot}\n`);
      assert.match(dom, /<body data-loaded="true">/, 'the page loaded its data');

      const metric = (name, labels) => op.metricSum(name, labels);
      assert.equal(valueOf(dom, 'clients'), await metric('edgehub_connected_clients'));
      assert.equal(valueOf(dom, 'clients'), 1, 'leaf1 is connected');
      assert.equal(valueOf(dom, 'received'), await metric('edgehub_messages_received_total'));
      assert.equal(valueOf(dom, 'received'), 13);
      assert.equal(valueOf(dom, 'sent'), await metric('edgehub_messages_sent_total'));
      assert.equal(valueOf(dom, 'sent'), 10);
      const queues = rows(dom, 'endpoint');
      const sinkQueue = queues.find((q) => q.endpoint === 'edge1/sink/in');
      assert.ok(sinkQueue, `the sink's queue is listed: ${JSON.stringify(queues)}`);
      assert.equal(Number(sinkQueue.length), await metric('edgehub_queue_length', { endpoint: 'edge1/sink/in' }));
      assert.match(dom, /<td>edge1\/sink\/in<\/td><td class="num">default<\/td><td class="num">3<\/td><td>\d+\.\d s<\/td>/,
        'the queue\'s oldest entry has an age');
      const conns = rows(dom, 'protocol');
      const mqttTls = conns.find((c) => c.protocol === 'mqtt' && c.transport === 'tls');
      assert.equal(Number(mqttTls.value), await metric('outpost_connections', { protocol: 'mqtt', transport: 'tls' }));
      const modules = rows(dom, 'module');
      assert.deepEqual(modules.map((m) => [m.module, m.state]), [['sleeper', 'running']]);
      assert.match(dom, /data-route="tosink"/);
      assert.match(dom, /none configured: \$upstream keeps its messages/);

      // Nothing the page serves holds a key.
      const keys = [deviceCs, sinkCs].map((cs) => /SharedAccessKey=([^;]+)/.exec(cs)[1]);
      const json = await (await fetch(`${url}status.json`)).text();
      for (const k of keys) {
        assert.ok(!json.includes(k) && !dom.includes(k), 'no identity key in the status page');
      }
      await op.closeClient(leaf);
    });
  });
