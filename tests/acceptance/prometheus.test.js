'use strict';
// Issue 13, item 2: Prometheus and Grafana for real. Debian's `prometheus` scrapes outpostd on
// loopback every second while a device sends, a module runs and a message finds no route; the
// test asks Prometheus's HTTP API for IoT Edge's series with their labels. Then every query of
// the Grafana dashboard (deploy/grafana/outpost.json) is run by that Prometheus: each must be
// valid PromQL, name only series outpostd exports, and return data.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { withOutpost, waitFor, Message, freePorts, sleep, paths } = require('./lib/outpost');

const PROMETHEUS = '/usr/bin/prometheus';
const DASHBOARD = path.join(paths.repoRoot, 'deploy', 'grafana', 'outpost.json');

function digestOf(file) {
  return `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}

/// PromQL's own words, which are not series names.
const PROMQL_WORDS = new Set(['sum', 'max', 'min', 'avg', 'count', 'by', 'without', 'rate', 'increase',
  'irate', 'histogram_quantile', 'topk', 'bottomk', 'on', 'ignoring', 'group_left', 'group_right',
  'and', 'or', 'unless', 'offset', 'bool']);

/// The series names a PromQL expression reads (label names and values, functions and
/// durations left out).
function seriesNames(expr) {
  const noLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '');
  const names = new Set();
  for (const m of noLabels.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = noLabels.slice(m.index + m[0].length).trimStart();
    if (PROMQL_WORDS.has(m[0]) || after.startsWith('(')) continue;
    // `by (id, to)`: label names inside a grouping clause
    const before = noLabels.slice(0, m.index);
    if (/\b(?:by|without|on|ignoring)\s*\([^)]*$/.test(before)) continue;
    names.add(m[0]);
  }
  return [...names];
}

/// The metric families outpostd's /metrics declares (summaries' _sum/_count belong to theirs).
function exported(text) {
  const names = new Set();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!m) continue;
    names.add(m[1]);
    if (m[2] === 'summary' || m[2] === 'histogram') {
      names.add(`${m[1]}_sum`);
      names.add(`${m[1]}_count`);
    }
    if (m[2] === 'histogram') names.add(`${m[1]}_bucket`);
  }
  return names;
}

class Prometheus {
  constructor(port, target, dir) {
    this.port = port;
    this.dir = dir;
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: outpost',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'));
  }

  async start() {
    const log = fs.openSync(path.join(this.dir, 'prometheus.log'), 'w');
    this.child = spawn(PROMETHEUS, [
      `--config.file=${path.join(this.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(this.dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${this.port}`,
    ], { stdio: ['ignore', log, log] });
    this.child.exited = new Promise((resolve) => this.child.once('exit', resolve));
    await waitFor(async () => {
      try { return (await fetch(`http://127.0.0.1:${this.port}/-/ready`)).status === 200; } catch { return false; }
    }, { timeoutMs: 30000, message: 'Prometheus ready' });
  }

  async query(q) {
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = await res.json();
    return body;
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await this.child.exited;
    }
  }

  logTail() {
    try { return fs.readFileSync(path.join(this.dir, 'prometheus.log'), 'utf8').split('\n').slice(-20).join('\n'); } catch { return ''; }
  }
}

test('Prometheus scrapes IoT Edge\'s series with their labels, and every dashboard query finds its series',
  { timeout: 150000 }, async () => {
    assert.ok(fs.existsSync(PROMETHEUS), 'prometheus is not installed: run tools/dev.sh setup');
    await withOutpost({
      name: 'prometheus',
      routes: { tosink: 'FROM /messages/* WHERE $connectionDeviceId = \'leaf1\' INTO BrokeredEndpoint("/modules/sink/inputs/in")' },
      // A parent that is not there: the upstream link's series exist (offline).
      extra: [
        '[upstream]',
        `connection_string = "HostName=localhost;DeviceId=edge1;SharedAccessKey=${crypto.randomBytes(32).toString('base64')}"`,
        'parent_hostname = "127.0.0.1:1"',
        'parent_https = "127.0.0.1:1"',
      ].join('\n'),
    }, async (op) => {
      const [port] = await freePorts(1);
      const prom = new Prometheus(port, `127.0.0.1:${op.port('metrics')}`, op.dir);
      try {
        await prom.start();
        // A module for the agent's per-module series.
        const script = path.join(op.dir, 'sleeper.sh');
        fs.writeFileSync(script, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
        op.writeManifest(op.routes, {
          modules: {
            sleeper: { version: '1.0', type: 'process', status: 'running', restartPolicy: 'always',
              settings: { path: script, digest: digestOf(script) } },
          },
        });
        const sink = await op.openModule(await op.addModule('sink'));
        const leaf1 = await op.openDevice(await op.addDevice('leaf1'));
        const leaf2 = await op.openDevice(await op.addDevice('leaf2'));
        for (let i = 0; i < 20; i += 1) await leaf1.sendEvent(new Message(`m ${i}`));
        await leaf2.sendEvent(new Message('no route for me'));
        await sink.inbox.waitCount('in', 20, 15000);
        await op.closeClient(sink); // what comes next waits in the sink's mailbox
        for (let i = 0; i < 5; i += 1) await leaf1.sendEvent(new Message(`queued ${i}`));

        const series = async (q) => {
          const r = await prom.query(q);
          assert.equal(r.status, 'success', `${q}: ${JSON.stringify(r)}`);
          return r.data.result;
        };
        let received = [];
        await waitFor(async () => {
          received = await series('edgehub_messages_received_total{id="leaf1"}');
          return received.length > 0 && Number(received[0].value[1]) >= 25;
        }, { timeoutMs: 30000, message: 'edgehub_messages_received_total{id="leaf1"} = 25 in Prometheus' });
        assert.equal(received[0].metric.job, 'outpost');
        assert.ok('route_output' in received[0].metric || 'id' in received[0].metric, JSON.stringify(received[0].metric));
        let queue = [];
        await waitFor(async () => {
          queue = await series('edgehub_queue_length{endpoint="edge1/sink/in"}');
          return queue.some((s) => Number(s.value[1]) === 5);
        }, { timeoutMs: 30000, message: 'edgehub_queue_length of the sink\'s input = 5 in Prometheus' });
        assert.ok('priority' in queue[0].metric, `edgehub_queue_length has a priority label: ${JSON.stringify(queue[0].metric)}`);
        let agent = [];
        await waitFor(async () => {
          agent = await series('{__name__=~"edgeAgent_.*", module_name="sleeper"}');
          return agent.length > 0;
        }, { timeoutMs: 30000, message: 'edgeAgent_* series of the sleeper module in Prometheus' });
        const agentNames = new Set(agent.map((s) => s.metric.__name__));
        assert.ok(agentNames.has('edgeAgent_module_start_total'), [...agentNames].join(', '));
        assert.ok(agentNames.has('edgeAgent_used_memory_bytes'), [...agentNames].join(', '));
        const dropped = await series('edgehub_messages_dropped_total{reason="no_route"}');
        assert.ok(dropped.length > 0, 'the unrouted message counted as dropped, no_route');

        // The dashboard: every query valid, naming only exported series, returning data.
        const names = exported(await op.metricsText());
        const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
        const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
        assert.ok(exprs.length >= 10, 'the dashboard has its panels');
        await sleep(2000); // two more scrapes: rate() over the last minute has its samples
        for (const { panel, expr } of exprs) {
          for (const name of seriesNames(expr)) {
            assert.ok(names.has(name), `panel "${panel}": ${name} (in ${expr}) is not exported by outpostd`);
          }
          const result = await series(expr);
          assert.ok(result.length > 0, `panel "${panel}": ${expr} returns no data`);
        }
        await op.closeClient(leaf1);
        await op.closeClient(leaf2);
      } catch (err) {
        err.message += `\n---- prometheus log\n${prom.logTail()}`;
        throw err;
      } finally {
        await prom.stop();
      }
    });
  });
