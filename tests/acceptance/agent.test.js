'use strict';
// Issue 5, the edge agent, end to end through outpostd: the quickstart's two Azure IoT SDK
// modules (ModuleClient.fromEnvironment → workload API → MQTT/TLS), restart policies with
// back-off, verification before start, deployment changes, bad manifests, the workload API's
// caller check, logs/restart/methods, the last good deployment across a restart, graceful stop.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { withOutpost, waitFor, sleep, paths } = require('./lib/outpost');

const quickstart = path.join(paths.repoRoot, 'deploy', 'quickstart');

function digestOf(file) {
  return `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}

/// A process module running `body` (sh); the script lives in the test's own (0700) folder.
function shModule(op, name, body, spec = {}) {
  const dir = path.join(op.dir, 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.sh`);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return {
    version: '1.0',
    type: 'process',
    status: 'running',
    restartPolicy: 'always',
    ...spec,
    settings: { path: file, digest: digestOf(file), ...(spec.settings || {}) },
  };
}

/// The quickstart's manifest modules, as deploy/quickstart/render-manifest.sh renders them.
function quickstartModules() {
  const text = fs.readFileSync(path.join(quickstart, 'manifest.template.json'), 'utf8')
    .replaceAll('@MODULES_DIR@', path.join(quickstart, 'modules'))
    .replaceAll('@FILTER_DIGEST@', digestOf(path.join(quickstart, 'modules', 'filter.js')))
    .replaceAll('@TEMP_SENSOR_DIGEST@', digestOf(path.join(quickstart, 'modules', 'temp-sensor.js')));
  const doc = JSON.parse(text).modulesContent;
  return { modules: doc.$edgeAgent['properties.desired'].modules, routes: doc.$edgeHub['properties.desired'].routes };
}

async function waitModule(op, name, pred, what, timeoutMs = 15000) {
  let last;
  await waitFor(async () => {
    last = (await op.modules())[name];
    return last && pred(last);
  }, { timeoutMs, message: `${name}: ${what}` }).catch((err) => {
    err.message += `; last seen ${JSON.stringify(last)}`;
    throw err;
  });
  return last;
}

test('quickstart: the agent runs the two SDK modules; readings flow to the filter, alerts queue for $upstream',
  { timeout: 120000 }, async () => {
    const qs = quickstartModules();
    qs.modules.tempSensor.env.MESSAGE_INTERVAL_MS.value = '200';
    await withOutpost({ name: 'agent-qs', routes: qs.routes, modules: qs.modules, agent: { cool_off_secs: 1 } }, async (op) => {
      for (const name of ['filter', 'tempSensor']) {
        await waitModule(op, name, (m) => m.runtimeStatus === 'running', 'running');
      }
      await waitFor(async () => (await op.metricSum('edgehub_messages_received_total', { id: 'edge1/tempSensor', route_output: 'temperatureOutput' })) >= 5,
        { timeoutMs: 20000, message: 'tempSensor readings reach the hub (fromEnvironment, workload sign, MQTT/TLS)' });
      await waitFor(async () => (await op.metricSum('edgehub_queue_length', { endpoint: 'iothub' })) >= 2,
        { timeoutMs: 20000, message: 'the filter\'s alerts accumulate in the $upstream mailbox' });
      assert.ok(await op.metricSum('edgehub_messages_sent_total', { to: 'edge1/filter', to_route_input: 'input1' }) >= 3);

      const list = await op.cliOk(['list']);
      assert.match(list, /^NAME\s+STATUS\s+DESCRIPTION\s+CONFIG$/m);
      assert.match(list, /^filter\s+running\s+Up \d+ seconds?\s+\S+filter\.js$/m, list);
      assert.match(list, /^tempSensor\s+running\s+Up \d+ seconds?\s+\S+temp-sensor\.js$/m, list);
      const logs = await op.cliOk(['logs', 'filter', '--tail', '50']);
      assert.match(logs, /connected as edge1\/filter, threshold 25/);
      assert.match(logs, /alert: \d+(\.\d+)? > 25/);
      const check = await op.check();
      assert.equal(check.code, 0, check.stdout);
      assert.match(check.stdout, /✓ \$edgeAgent deployment: 2 modules/);

      // Their identities exist, with a generation id, and the reported properties say running.
      const ids = await op.cliOk(['identity', 'list']);
      assert.match(ids, /^edge1\/filter\tmodule\tsas\tenabled$/m);
      const reported = (await op.admin('GET', '/status/edgeagent')).body;
      assert.equal(reported.lastDesiredStatus.code, 200);
      assert.equal(reported.modules.tempSensor.runtimeStatus, 'running');
      assert.equal(reported.modules.filter.env.TEMPERATURE_THRESHOLD.value, '25');
      assert.equal(reported.systemModules.edgeHub.runtimeStatus, 'running');
      assert.ok(await op.metricSum('edgeAgent_module_start_total', { module_name: 'filter' }) >= 1);
      assert.ok(await op.metricSum('edgeAgent_used_memory_bytes', { module_name: 'tempSensor' }) > 1e6);

      // `outpost monitor` shows the alerts as they are routed to $upstream.
      const mon = await op.cli(['monitor', '--module', 'filter', '--count', '1', '--timeout', '20'], { timeoutMs: 30000 });
      assert.equal(mon.code, 0, mon.stderr);
      const event = JSON.parse(mon.stdout.slice(mon.stdout.indexOf('{'))).event;
      assert.deepEqual(event.endpoints, ['$upstream']);
      assert.equal(event.origin, 'edge1');
      assert.equal(event.output, 'alertOutput');
      assert.equal(event.properties.application.MessageType, 'Alert');
      assert.equal(event.properties.system.contentType, 'application/json');
      assert.ok(event.payload.machine.temperature > 25, JSON.stringify(event.payload));

      // SIGKILL the filter: restarted after the back-off (always, cool-off 1 s), and the
      // alerts flow again through the new process.
      const killed = (await op.modules()).filter;
      process.kill(killed.pid, 'SIGKILL');
      const back = await waitModule(op, 'filter', (m) => m.runtimeStatus === 'running' && m.pid !== killed.pid,
        'restarted after SIGKILL');
      assert.equal(back.restartCount, 1);
      assert.ok(back.lastStartMs - killed.lastStartMs >= 1000, 'not before the 1 s cool-off');
      const queued = await op.metricSum('edgehub_queue_length', { endpoint: 'iothub' });
      await waitFor(async () => (await op.metricSum('edgehub_queue_length', { endpoint: 'iothub' })) > queued,
        { timeoutMs: 20000, message: 'alerts flow again after the restart' });
      assert.equal((await op.admin('GET', '/status/edgeagent')).body.modules.filter.exitCode, 137);

      // outpostd restarts, manifest unchanged: both modules back in < 1 s, counters kept.
      await op.stop();
      const t0 = Date.now();
      await op.start();
      for (const name of ['filter', 'tempSensor']) {
        const m = await waitModule(op, name, (x) => x.runtimeStatus === 'running', 'running after the restart');
        // < 1 s is the product's promise; a sanitizer build starts several times slower.
        const limitMs = process.env.OUTPOST_SANITIZED ? 3000 : 1000;
        assert.ok(m.lastStartMs - t0 < limitMs, `${name} started ${m.lastStartMs - t0} ms after outpostd`);
        console.log(`${name} running again ${m.lastStartMs - t0} ms after outpostd was started`);
      }
      assert.equal((await op.modules()).filter.restartCount, 1, 'restart counters survive the restart');
    });
  });

test('restart policies with IoT Edge semantics and back-off; failed after max_restarts',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'agent-policy', agent: { cool_off_secs: 1, max_restarts: 2 } }, async (op) => {
      op.writeManifest(op.routes, {
        modules: {
          onFailure1: shModule(op, 'onFailure1', 'echo run; exit 1', { restartPolicy: 'on-failure' }),
          onFailure0: shModule(op, 'onFailure0', 'echo run; exit 0', { restartPolicy: 'on-failure' }),
          always0: shModule(op, 'always0', 'echo run; exit 0', { restartPolicy: 'always' }),
          never1: shModule(op, 'never1', 'echo run; exit 1', { restartPolicy: 'never' }),
          // Crashes (killed by a signal), not exits.
          onFailureCrash: shModule(op, 'onFailureCrash', 'echo run; kill -9 $$', { restartPolicy: 'on-failure' }),
          neverCrash: shModule(op, 'neverCrash', 'echo run; kill -SEGV $$', { restartPolicy: 'never' }),
        },
      });
      // 1 s, then 2 s of back-off, then no more: failed with 2 restarts.
      await waitModule(op, 'onFailure1', (m) => m.runtimeStatus === 'failed' && m.restartCount === 2,
        'failed after 2 restarts', 20000);
      const mods = await op.modules();
      assert.equal(mods.onFailure0.runtimeStatus, 'stopped', 'on-failure: a clean exit is final');
      assert.equal(mods.onFailure0.restartCount, 0);
      assert.equal(mods.never1.runtimeStatus, 'failed', 'never: not restarted');
      assert.equal(mods.never1.restartCount, 0);
      assert.equal(mods.always0.restartCount, 2, 'always: restarted after clean exits too');
      await waitModule(op, 'onFailureCrash', (m) => m.runtimeStatus === 'failed' && m.restartCount === 2,
        'on-failure: a crash (SIGKILL) is restarted', 10000);
      assert.equal((await op.modules()).onFailureCrash.exitCode, 137);
      assert.equal(mods.neverCrash.runtimeStatus, 'failed', 'never: a crash is not restarted');
      assert.equal(mods.neverCrash.exitCode, 128 + 11);
      assert.equal(mods.neverCrash.restartCount, 0);
      const logs = await op.cliOk(['logs', 'onFailure1']);
      assert.equal(logs.match(/ run$/gm).length, 3, 'started once, restarted twice');
      const reported = (await op.admin('GET', '/status/edgeagent')).body;
      assert.equal(reported.modules.onFailure1.runtimeStatus, 'failed');
      assert.equal(reported.modules.onFailure1.exitCode, 1);
      assert.notEqual(reported.modules.onFailure1.lastRestartTimeUtc, '0001-01-01T00:00:00');
      const check = await op.check();
      assert.equal(check.code, 1);
      assert.match(check.stdout, /✗ module onFailure1: failed/);
    });
  });

test('verification: a wrong digest or a world-writable executable is not started, and says why',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'agent-verify', agent: { cool_off_secs: 1 } }, async (op) => {
      const good = shModule(op, 'tampered', 'echo hello; exec sleep 300');
      const wrong = { ...good, settings: { ...good.settings, digest: `sha256:${'0'.repeat(64)}` } };
      const open = shModule(op, 'open', 'exec sleep 300');
      fs.chmodSync(open.settings.path, 0o777);
      op.writeManifest(op.routes, { modules: { tampered: wrong, open } });
      const t = await waitModule(op, 'tampered', (m) => /has digest sha256:/.test(m.statusDescription),
        'not started for its digest');
      assert.notEqual(t.runtimeStatus, 'running');
      assert.equal(t.pid, 0);
      const o = await waitModule(op, 'open', (m) => /writable by everyone/.test(m.statusDescription),
        'not started: world-writable');
      assert.equal(o.pid, 0);
      const reported = (await op.admin('GET', '/status/edgeagent')).body;
      assert.equal(reported.lastDesiredStatus.code, 500);
      assert.match(reported.lastDesiredStatus.description, /module (open|tampered): not started/);
      assert.equal(fs.existsSync(path.join(op.dataDir, 'modules', 'tampered', 'tampered.log'))
        && fs.readFileSync(path.join(op.dataDir, 'modules', 'tampered', 'tampered.log'), 'utf8').includes('hello'), false,
      'the tampered module never ran');

      // Fixed: the right digest, permissions back: both run, status 200.
      fs.chmodSync(open.settings.path, 0o755);
      op.writeManifest(op.routes, { modules: { tampered: { ...good, version: '1.1' }, open: { ...open, version: '1.1' } } });
      await waitModule(op, 'tampered', (m) => m.runtimeStatus === 'running', 'running once fixed');
      await waitModule(op, 'open', (m) => m.runtimeStatus === 'running', 'running once fixed');
      await waitFor(async () => (await op.admin('GET', '/status/edgeagent')).body.lastDesiredStatus.code === 200,
        { timeoutMs: 10000, message: 'deployment status back to 200' });
    });
  });

test('deployment changes: startup order, update, status change, removal; bad manifests keep the modules',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'agent-deploy', agent: { stop_grace_secs: 2 } }, async (op) => {
      const mk = (name, order, env = {}) => shModule(op, name,
        'echo "start $IOTEDGE_MODULEID $COLOUR"; trap \'echo got TERM; exit 0\' TERM; while :; do sleep 0.1; done',
        { startupOrder: order, env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, { value: v }])) });
      const v1 = { c: mk('c', 2, { COLOUR: 'red' }), a: mk('a', 0), b: mk('b', 1) };
      op.writeManifest(op.routes, { modules: v1 });
      for (const n of ['a', 'b', 'c']) await waitModule(op, n, (m) => m.runtimeStatus === 'running', 'running');
      let mods = await op.modules();
      assert.ok(mods.a.lastStartMs <= mods.b.lastStartMs && mods.b.lastStartMs <= mods.c.lastStartMs,
        `started in startupOrder: ${mods.a.lastStartMs} ${mods.b.lastStartMs} ${mods.c.lastStartMs}`);
      const pidC = mods.c.pid;
      const genBefore = (await op.cliOk(['identity', 'show', 'edge1/c'])).match(/"createdMs": (\d+)/)[1];

      // Update (env changed): stop + recreate + start; status-only change: stop; removal.
      const v2 = { a: { ...v1.a, status: 'stopped' }, c: mk('c', 2, { COLOUR: 'blue' }) };
      op.writeManifest(op.routes, { modules: v2 });
      await waitModule(op, 'c', (m) => m.runtimeStatus === 'running' && m.pid !== pidC, 'recreated');
      await waitModule(op, 'a', (m) => m.runtimeStatus === 'stopped', 'stopped by its desired status');
      await waitFor(async () => !(await op.modules()).b, { timeoutMs: 10000, message: 'b removed' });
      const logC = await op.cliOk(['logs', 'c']);
      assert.match(logC, /start c red\n.*got TERM\n.*start c blue/s, logC);
      assert.match(await op.cliOk(['logs', 'a', '--tail', '1']), /got TERM/);
      assert.doesNotMatch(await op.cliOk(['identity', 'list']), /edge1\/b\t/, 'a removed module loses its identity');
      const genAfter = (await op.cliOk(['identity', 'show', 'edge1/c'])).match(/"createdMs": (\d+)/)[1];
      assert.equal(genAfter, genBefore, 'an update keeps the module identity');

      // Bad manifests: status says why, the running modules stay as they are.
      const pidBefore = (await op.modules()).c.pid;
      const bad = JSON.parse(fs.readFileSync(op.manifestPath, 'utf8'));
      bad.modulesContent.$edgeAgent['properties.desired'].modules.c.restartPolicy = 'sometimes';
      fs.writeFileSync(op.manifestPath, JSON.stringify(bad));
      await waitFor(async () => (await op.modules()) && (await op.admin('GET', '/modules')).body.lastDesiredStatus.code === 400,
        { timeoutMs: 10000, message: '400 for a bad restartPolicy' });
      let status = (await op.admin('GET', '/modules')).body.lastDesiredStatus;
      assert.match(status.description, /modules\.c\.restartPolicy/);
      bad.modulesContent.$edgeAgent['properties.desired'].schemaVersion = '2.0';
      fs.writeFileSync(op.manifestPath, JSON.stringify(bad));
      await waitFor(async () => (await op.admin('GET', '/modules')).body.lastDesiredStatus.code === 412,
        { timeoutMs: 10000, message: '412 for schemaVersion 2.0' });
      const check = await op.check();
      assert.equal(check.code, 1);
      assert.match(check.stdout, /✗ \$edgeAgent deployment: 412 /);
      mods = await op.modules();
      assert.equal(mods.c.pid, pidBefore, 'a rejected deployment does not touch the running modules');
      status = (await op.admin('GET', '/status/edgeagent')).body.lastDesiredStatus;
      assert.equal(status.code, 412);
    });
  });

test('workload API: sign, encrypt/decrypt and a server certificate for the module itself; 403 for anyone else',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'agent-workload' }, async (op) => {
      // A module that calls the workload API as the SDK does and prints what it got.
      const probe = path.join(op.dir, 'bin', 'probe.js');
      fs.mkdirSync(path.dirname(probe), { recursive: true });
      fs.writeFileSync(probe, `#!/usr/bin/env node
const http = require('http');
const sock = process.env.IOTEDGE_WORKLOADURI.replace('unix://', '');
const base = '/modules/' + process.env.IOTEDGE_MODULEID + '/genid/' + process.env.IOTEDGE_MODULEGENERATIONID;
function call(method, p, body) {
  return new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : undefined;
    const req = http.request({ socketPath: sock, method, path: p + '?api-version=2018-06-28',
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
    (res) => { let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(t) })); });
    req.on('error', reject); if (data) req.write(data); req.end();
  });
}
(async () => {
  const data = Buffer.from('hub/devices/edge1/modules/probe\\n1795701941').toString('base64');
  const sign = await call('POST', base + '/sign', { keyId: 'primary', algo: 'HMACSHA256', data });
  const iv = Buffer.from('iv-1').toString('base64');
  const enc = await call('POST', base + '/encrypt', { plaintext: Buffer.from('secret').toString('base64'), initializationVector: iv });
  const dec = await call('POST', base + '/decrypt', { ciphertext: enc.body.ciphertext, initializationVector: iv });
  const cert = await call('POST', base + '/certificate/server', { commonName: 'probe.local', expiration: new Date(Date.now() + 864e5).toISOString() });
  const trust = await call('GET', '/trust-bundle');
  console.log('RESULT ' + JSON.stringify({ sign, dec: Buffer.from(dec.body.plaintext, 'base64').toString(), encStatus: enc.status,
    certStatus: cert.status, certHasKey: /PRIVATE KEY/.test(cert.body.privateKey.bytes), certChain: (cert.body.certificate.match(/BEGIN CERTIFICATE/g) || []).length,
    trust: /BEGIN CERTIFICATE/.test(trust.body.certificate) }));
  setInterval(() => {}, 1000);
})().catch((e) => { console.log('RESULT ' + JSON.stringify({ error: String(e) })); process.exit(1); });
`, { mode: 0o755 });
      op.writeManifest(op.routes, { modules: { probe: { type: 'process', status: 'running', restartPolicy: 'never', settings: { path: probe, digest: digestOf(probe) } } } });
      const m = await waitModule(op, 'probe', (x) => x.runtimeStatus === 'running', 'running');
      let line;
      await waitFor(async () => {
        line = (await op.cliOk(['logs', 'probe'])).split('\n').find((l) => l.includes('RESULT '));
        return !!line;
      }, { timeoutMs: 15000, message: 'the probe module printed its RESULT' });
      const r = JSON.parse(line.slice(line.indexOf('RESULT ') + 7));
      assert.equal(r.sign.status, 200, JSON.stringify(r));
      const key = JSON.parse(await op.cliOk(['identity', 'show', 'edge1/probe'])).primaryKey;
      const expected = crypto.createHmac('sha256', Buffer.from(key, 'base64'))
        .update('hub/devices/edge1/modules/probe\n1795701941').digest('base64');
      assert.equal(r.sign.body.digest, expected, 'HMAC-SHA256 with the module\'s primary key');
      assert.equal(r.encStatus, 200);
      assert.equal(r.dec, 'secret', 'decrypt(encrypt(x)) = x');
      assert.equal(r.certStatus, 201);
      assert.ok(r.certHasKey);
      assert.equal(r.certChain, 2, 'leaf + edge CA');
      assert.ok(r.trust);

      // The test process is not the module: 403; unknown module: 404; no api-version: 400.
      assert.ok(m.pid > 0);
      const base = '/modules/probe/genid/';
      const gen = JSON.parse(await op.cliOk(['identity', 'show', 'edge1/probe'])).createdMs;
      const body = { keyId: 'primary', algo: 'HMACSHA256', data: 'eA==' };
      const denied = await op.workload('POST', `/modules/probe/genid/${gen}/sign?api-version=2018-06-28`, body);
      assert.equal(denied.status, 403, JSON.stringify(denied.body));
      assert.match(denied.body.message, /is not module 'probe'/);
      assert.equal((await op.workload('POST', `/modules/nobody/genid/1/sign?api-version=2018-06-28`, body)).status, 404);
      assert.equal((await op.workload('POST', `${base}${gen}/sign`, body)).status, 400);
      assert.equal((await op.workload('GET', '/trust-bundle?api-version=2018-06-28')).status, 200);
    });
  });

test('logs, restart and the agent\'s direct methods; the last good deployment survives a restart without its file; graceful stop',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'agent-ops', agent: { stop_grace_secs: 1 } }, async (op) => {
      op.writeManifest(op.routes, {
        modules: {
          polite: shModule(op, 'polite', 'echo up; trap \'echo got TERM; exit 0\' TERM; while :; do sleep 0.1; done'),
          stubborn: shModule(op, 'stubborn', 'echo up; trap \'echo ignoring TERM\' TERM; while :; do sleep 0.1; done'),
        },
      });
      const before = await waitModule(op, 'stubborn', (m) => m.runtimeStatus === 'running', 'running');
      await waitModule(op, 'polite', (m) => m.runtimeStatus === 'running', 'running');
      // `outpost restart`: SIGTERM ignored, SIGKILL after the 1 s grace, started again.
      await op.cliOk(['restart', 'stubborn']);
      const after = await waitModule(op, 'stubborn', (m) => m.runtimeStatus === 'running' && m.pid !== before.pid, 'restarted');
      assert.equal(after.restartCount, 0, 'a requested restart is not a failure');
      assert.match(await op.cliOk(['logs', 'stubborn']), /ignoring TERM\n.* up\n/s);
      assert.equal((await op.cli(['restart', 'nope'])).code, 1);

      // `outpost logs --follow` prints new lines as they come.
      const follow = spawn(paths.outpostBin, ['--config', op.configPath, 'logs', 'polite', '--tail', '1', '--follow']);
      let followed = '';
      follow.stdout.on('data', (d) => { followed += d; });
      await sleep(800);
      await op.cliOk(['restart', 'polite']); // writes "got TERM", then " up"
      await waitFor(() => /got TERM\n.* up\n/s.test(followed), { timeoutMs: 10000, message: `--follow shows the new lines: ${followed}` })
        .finally(() => follow.kill());
      await waitModule(op, 'polite', (m) => m.runtimeStatus === 'running', 'running after the restart');

      const ping = await op.admin('POST', '/methods/ping', 'null');
      assert.deepEqual(ping.body, { status: 200, payload: null });
      const logs = await op.admin('POST', '/methods/GetModuleLogs', {
        schemaVersion: '1.0', items: [{ id: 'pol.*', filter: { tail: 1 } }], encoding: 'none', contentType: 'text',
      });
      assert.equal(logs.body.status, 200);
      assert.equal(logs.body.payload.length, 1);
      assert.equal(logs.body.payload[0].id, 'polite');
      assert.match(logs.body.payload[0].logs, / up\n$/);
      const restart = await op.admin('POST', '/methods/RestartModule', { schemaVersion: '1.0', id: 'polite' });
      assert.deepEqual(restart.body, { status: 200, payload: null });
      // The second "got TERM", and the new process's " up" after it (its trap is set then).
      await waitFor(async () => /got TERM\n.*got TERM\n.* up\n/s.test(await op.cliOk(['logs', 'polite'])),
        { timeoutMs: 10000, message: 'RestartModule stopped polite with SIGTERM' });
      await waitModule(op, 'polite', (m) => m.runtimeStatus === 'running', 'running again');

      // The deployment file goes away: after a restart the stored one runs the modules.
      fs.renameSync(op.manifestPath, `${op.manifestPath}.gone`);
      await op.restart();
      const politeLog = fs.readFileSync(path.join(op.dataDir, 'modules', 'polite', 'polite.log'), 'utf8');
      assert.equal(politeLog.match(/got TERM/g).length, 3,
        'outpost restart, RestartModule and then the daemon\'s SIGTERM stopped the module gracefully');
      await waitModule(op, 'polite', (m) => m.runtimeStatus === 'running', 'running from the stored deployment');
      await waitModule(op, 'stubborn', (m) => m.runtimeStatus === 'running', 'running from the stored deployment');
      await sleep(100);
    });
  });
