'use strict';
// Issue 12: nested edges. Two outpostd on loopback: the parent, where the child edge is an
// --edge-enabled device, and the child, whose [upstream] names the parent. Whatever the child
// routes to $upstream crosses one AMQP connection (TLS verified against the parent's CA, one
// CBS token per identity signed with the child's key on behalf of it) and is routed by the
// parent's routes like any local message, keeping its original connectionDeviceId/ModuleId and
// properties.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const {
  Outpost, Message, propsOf, bodyOf, withTimeout, waitFor, sleep, echoHandler, freePorts, getTwin, report,
  watchDesired, manifest, serviceSasToken, ConnectionString, sasToken,
} = require('./lib/outpost');

/// The parent: a sink module that receives everything its children send.
async function startParent() {
  // Fixed ports: the parent is stopped and started again, and the child must find it.
  const [amqp, https, mqtt] = await freePorts(3);
  const parent = new Outpost({
    name: 'parent',
    deviceId: 'parent1',
    routes: { fromChildren: 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/in")' },
    listen: { amqp_tls: `127.0.0.1:${amqp}`, https: `127.0.0.1:${https}`, mqtt_tls: `127.0.0.1:${mqtt}` },
  });
  await parent.start();
  return parent;
}

/// The child edge `childId`, registered at `parent`, its [upstream] pointing there (over AMQP, or
/// with `protocol: 'amqpws'` over a WebSocket to the parent's HTTPS listener, which then also
/// serves the scope).
async function startChild(parent, childId, routes, { protocol = 'amqp' } = {}) {
  const edgeCs = (await parent.cliOk(['identity', 'add', 'device', childId, '--edge-enabled'])).trim();
  const caFile = path.join(parent.dir, 'parent-ca.pem');
  fs.writeFileSync(caFile, await parent.caPem());
  const child = new Outpost({
    name: childId,
    deviceId: childId,
    routes,
    extra: [
      '[upstream]',
      `connection_string = "${edgeCs}"`,
      ...(protocol === 'amqpws'
        ? ['protocol = "amqpws"', `parent_hostname = "127.0.0.1:${parent.port('https')}"`]
        : [`parent_hostname = "127.0.0.1:${parent.port('amqp_tls')}"`,
          `parent_https = "127.0.0.1:${parent.port('https')}"`]),
      `trust_bundle = "${caFile}"`,
      'scope_refresh_secs = 1',
    ].join('\n'),
  });
  await child.start();
  return child;
}

/// Runs `body({parent, child})` with a started parent; `child(id, routes)` starts a child edge
/// below it. Both are always disposed of; a failure carries the tails of their logs.
async function withEdges(body) {
  const parent = await startParent();
  const children = [];
  let failed = false;
  try {
    await body({
      parent,
      child: async (id, routes, opts) => {
        const c = await startChild(parent, id, routes, opts);
        children.push(c);
        return c;
      },
    });
  } catch (err) {
    failed = true;
    err.message += `\n${parent.stderrTail(40)}` + children.map((c) => `\n${c.stderrTail(40)}`).join('');
    throw err;
  } finally {
    for (const c of children) await c.dispose({ failed });
    await parent.dispose({ failed });
  }
}

test('a child module\'s output routed to $upstream reaches a module on the parent with its ids and properties',
  { timeout: 120000 }, async () => {
    await withEdges(async ({ parent, child: startChildBelow }) => {
      const sinkCs = await parent.addModule('sink');
      const sink = await parent.openModule(sinkCs);
      const child = await startChildBelow('child1',
        { up: 'FROM /messages/modules/filter/outputs/* INTO $upstream' });
      const filter = await child.openModule(await child.addModule('filter'));
      // The child registers its module at the parent (as edgeAgent does with IoT Hub) and
      // vouches for it with its own key.
      await waitFor(async () => (await parent.cli(['identity', 'show', 'child1/filter'])).code === 0,
        { timeoutMs: 15000, message: 'child1/filter registered at the parent by the child' });

      const sent = [];
      for (let i = 0; i < 20; i += 1) {
        const m = new Message(JSON.stringify({ n: i }));
        m.messageId = `mid-${i}`;
        m.correlationId = `cid-${i}`;
        m.contentType = 'application/json';
        m.properties.add('seq', String(i));
        m.properties.add('weird key/&=', 'v a/l&u=e');
        await withTimeout(filter.sendOutputEvent('alerts', m), 15000, 'sendOutputEvent');
        sent.push(m);
      }
      await sink.inbox.waitCount('in', 20, 30000);
      const got = sink.inbox.on('in').map((i) => i.msg);
      got.forEach((msg, i) => {
        assert.equal(bodyOf(msg).toString(), JSON.stringify({ n: i }), 'bodies arrive in order');
        assert.equal(msg.messageId, `mid-${i}`);
        assert.equal(msg.correlationId, `cid-${i}`);
        assert.equal(msg.contentType, 'application/json');
        const props = propsOf(msg);
        assert.equal(props.seq, String(i));
        assert.equal(props['weird key/&='], 'v a/l&u=e');
        assert.equal(props['$.cdid'], 'child1', `the original device; got ${JSON.stringify(props)}`);
        assert.equal(props['$.cmid'], 'filter', `the original module; got ${JSON.stringify(props)}`);
      });
      const upSent = await waitFor(async () => (await child.metricSum('edgehub_messages_sent_total',
        { to: 'upstream' })) >= 20 || null, { message: 'messages_sent{to="upstream"} on the child' });
      assert.ok(upSent);
      assert.equal(await child.metricSum('outpost_upstream_connected'), 1);

      // A direct method invoked at the parent for the child's module is answered by it.
      const calls = echoHandler(filter, 'reset', 200);
      await sleep(500);
      const r = await parent.cli(['method', 'invoke', 'child1', 'reset', '--module', 'filter', '--timeout', '10'],
        { timeoutMs: 30000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { status: 200, payload: { echoed: null, method: 'reset' } });
      assert.equal(calls.length, 1);

      // A deployment applied at the parent for the child edge (the service API's
      // applyConfigurationContent) is run by the child's agent, which reports back up.
      const binDir = path.join(child.dir, 'bin');
      fs.mkdirSync(binDir, { recursive: true });
      const script = path.join(binDir, 'fromparent.sh');
      fs.writeFileSync(script, '#!/bin/sh\necho up\nexec sleep 300\n', { mode: 0o755 });
      const digest = `sha256:${crypto.createHash('sha256').update(fs.readFileSync(script)).digest('hex')}`;
      const content = manifest({ up: 'FROM /messages/modules/filter/outputs/* INTO $upstream' }, {
        modules: {
          fromparent: {
            version: '1.0', type: 'process', status: 'running', restartPolicy: 'always',
            settings: { path: script, digest },
          },
        },
      });
      const svc = ConnectionString.parse(await parent.serviceConnectionString());
      const authorization = serviceSasToken({ key: svc.SharedAccessKey, expiry: Math.floor(Date.now() / 1000) + 3600 });
      const applied = await parent.httpsRequest('POST', '/devices/child1/applyConfigurationContent?api-version=2021-04-12',
        { headers: { authorization }, body: content });
      assert.equal(applied.status, 204, JSON.stringify(applied.body));
      await waitFor(async () => {
        const m = (await child.modules()).fromparent;
        return m && m.runtimeStatus === 'running';
      }, { timeoutMs: 30000, message: 'the module of the parent\'s deployment running on the child' });
      await waitFor(async () => {
        const t = (await parent.admin('GET', `/twins/child1/modules/${encodeURIComponent('$edgeAgent')}`)).body;
        const rep = t && t.properties && t.properties.reported;
        return rep && rep.lastDesiredStatus && rep.lastDesiredStatus.code === 200 && rep.modules && rep.modules.fromparent;
      }, { timeoutMs: 30000, message: 'the child\'s $edgeAgent reported properties at the parent' });

      // `outpost check` and `outpost list` show the link.
      const amqp = `127.0.0.1:${parent.port('amqp_tls')}`;
      let check = await child.check();
      assert.match(check.stdout, new RegExp(`upstream: connected to ${amqp} as child1, authenticated; backlog 0`),
        check.stdout);
      const list = await child.cliOk(['list']);
      assert.match(list, /\$upstream\s+connected\s+AMQP link to the parent\s+127\.0\.0\.1:\d+ as child1/, list);
      // The parent goes away: the check fails and says why; $upstream keeps what comes meanwhile.
      // (Its client first: an SDK client left retrying a stopped daemon keeps node alive.)
      await parent.closeAllClients();
      await parent.stop();
      await waitFor(async () => {
        check = await child.check();
        return /upstream: (trying|disconnected) \(127\.0\.0\.1:\d+ as child1\); backlog 0; last error: .+/.test(check.stdout);
      }, { timeoutMs: 15000, message: 'outpost check reporting the lost parent' });
      assert.notEqual(check.code, 0, 'a lost parent fails the check');
    });
  });

test('a leaf device registered at the parent below the child connects to the child, and its telemetry reaches the parent',
  { timeout: 120000 }, async () => {
    await withEdges(async ({ parent, child: startChildBelow }) => {
      const sink = await parent.openModule(await parent.addModule('sink'));
      const child = await startChildBelow('child2', { up: 'FROM /messages/* INTO $upstream' });
      // Registered at the parent only: the child learns it (with its key) from its scope.
      const leafCs = (await parent.cliOk(['identity', 'add', 'device', 'leaf1', '--parent', 'child2'])).trim();
      await waitFor(async () => (await child.cli(['identity', 'show', 'leaf1'])).code === 0,
        { timeoutMs: 15000, message: 'leaf1 in the child\'s registry (scope sync)' });
      const leaf = await child.openDevice(leafCs);
      for (let i = 0; i < 10; i += 1) {
        const m = new Message(`leaf ${i}`);
        m.properties.add('i', String(i));
        await withTimeout(leaf.sendEvent(m), 15000, 'leaf sendEvent');
      }
      await sink.inbox.waitCount('in', 10, 30000);
      sink.inbox.on('in').forEach(({ msg }, i) => {
        assert.equal(bodyOf(msg).toString(), `leaf ${i}`);
        const props = propsOf(msg);
        assert.equal(props.i, String(i));
        assert.equal(props['$.cdid'], 'leaf1');
        assert.equal(props['$.cmid'], undefined);
      });

      // A direct method invoked at the parent for the leaf is answered by the leaf, through the
      // child; a C2D message sent at the parent reaches it too.
      const calls = echoHandler(leaf);
      const c2d = [];
      leaf.on('message', (msg) => { c2d.push(bodyOf(msg).toString()); leaf.complete(msg, () => {}); });
      await sleep(500); // the SDK subscribes to methods and C2D
      const r = await parent.cli(['method', 'invoke', 'leaf1', 'echo', '--payload', '{"x":1}', '--timeout', '10'],
        { timeoutMs: 30000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { status: 201, payload: { echoed: { x: 1 }, method: 'echo' } });
      assert.deepEqual(calls, [{ x: 1 }]);
      const sent = await parent.admin('POST', '/devices/leaf1/messages/deviceBound', { body: 'down to the leaf' });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      await waitFor(() => c2d.length === 1, { timeoutMs: 15000, message: 'the C2D message at the leaf' });
      assert.deepEqual(c2d, ['down to the leaf']);

      // Twins (facts §7.3): a reported patch at the child reaches the parent's twin; a desired
      // patch set at the parent reaches the leaf; a reported patch made while the parent is
      // away reaches it once it is back.
      const twin = await getTwin(leaf);
      const desired = watchDesired(twin);
      await report(twin, { fw: '1.2' });
      const parentTwin = async () => (await parent.admin('GET', '/twins/leaf1')).body;
      await waitFor(async () => (await parentTwin()).properties.reported.fw === '1.2',
        { timeoutMs: 15000, message: 'the reported patch at the parent' });
      const set = await parent.admin('PATCH', '/twins/leaf1', { properties: { desired: { interval: 5 } } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      await waitFor(() => desired.some((p) => p.interval === 5),
        { timeoutMs: 15000, message: `the desired patch at the leaf (got ${JSON.stringify(desired)})` });
      await parent.closeAllClients();
      await parent.stop();
      await report(twin, { offline: true });
      await parent.start();
      await waitFor(async () => (await parentTwin()).properties.reported.offline === true,
        { timeoutMs: 30000, message: 'the reported patch made offline, at the parent after its return' });

      // A desired property deleted at the parent while the child is away is gone at the child
      // once it is back: the child's copy is replaced by the parent's, not merged into.
      await child.closeClient(leaf);
      await child.stop();
      const del = await parent.admin('PATCH', '/twins/leaf1', { properties: { desired: { interval: null, mode: 'eco' } } });
      assert.equal(del.status, 200, JSON.stringify(del.body));
      await child.start();
      // The child hears a leaf's twin while the leaf is connected to it (IoT Edge's cloud
      // proxies): the leaf comes back, and its twin at the child is the parent's.
      const back = await child.openDevice(leafCs);
      const childDesired = async () => (await child.admin('GET', '/twins/leaf1')).body.properties.desired;
      await waitFor(async () => { const d = await childDesired(); return d.mode === 'eco' && !('interval' in d); },
        { timeoutMs: 20000, message: 'the parent\'s desired properties, deletion included, at the child' });
      await child.closeClient(back);

      // The parent removes the device: the child forgets it and refuses it from then on.
      await parent.cliOk(['identity', 'remove', 'leaf1']);
      await waitFor(async () => (await child.cli(['identity', 'show', 'leaf1'])).code !== 0,
        { timeoutMs: 15000, message: 'leaf1 removed from the child with the parent\'s scope' });
    });
  });

test('a child edge cannot present a device of another edge\'s scope', { timeout: 120000 }, async () => {
  await withEdges(async ({ parent, child: startChildBelow }) => {
    const sink = await parent.openModule(await parent.addModule('sink'));
    // edgeB's device, unknown to child3's scope at the parent: registered on child3 locally.
    await parent.cliOk(['identity', 'add', 'device', 'edgeB', '--edge-enabled']);
    await parent.cliOk(['identity', 'add', 'device', 'leafB', '--parent', 'edgeB']);
    const child = await startChildBelow('child3', { up: 'FROM /messages/* INTO $upstream' });
    const leafB = await child.openDevice(await child.addDevice('leafB'));
    await withTimeout(leafB.sendEvent(new Message('not mine')), 15000, 'sendEvent on the child');
    await waitFor(() => /the parent refused leafB: .*leafB is not in the scope of child3/.test(child.stderrText()),
      { timeoutMs: 15000, message: 'the parent refusing child3\'s token for leafB, with the reason' });
    assert.equal(sink.inbox.on('in').length, 0, 'nothing of leafB reaches the parent');

    // Through the parent's HTTPS API, child3's own token reads child3's scope, not edgeB's,
    // and registers modules on child3 only.
    const cs = ConnectionString.parse((await parent.cliOk(['identity', 'show', 'child3', '--connection-string'])).trim());
    const headers = {
      authorization: sasToken({ host: 'localhost', deviceId: 'child3', key: cs.SharedAccessKey,
        expiry: Math.floor(Date.now() / 1000) + 3600 }),
      'x-ms-edge-moduleId': 'child3/$edgeHub',
    };
    const scope = (edge) => parent.httpsRequest('POST',
      `/devices/${edge}/modules/$edgeHub/devicesAndModulesInTargetDeviceScope?api-version=2020-06-30-preview`,
      { headers, body: { targetDeviceId: edge } });
    assert.equal((await scope('child3')).status, 200);
    const other = await scope('edgeB');
    assert.equal(other.status, 401, JSON.stringify(other.body));
    const put = await parent.httpsRequest('PUT', '/devices/edgeB/modules/intruder?api-version=2021-04-12',
      { headers, body: { deviceId: 'edgeB', moduleId: 'intruder' } });
    assert.equal(put.status, 401, JSON.stringify(put.body));
    const twins = await parent.httpsRequest('GET', '/twins/leafB?api-version=2021-04-12', { headers });
    assert.equal(twins.status, 401, JSON.stringify(twins.body));
  });
});

test('over amqpws (AMQP in a WebSocket to the parent\'s HTTPS port): a leaf\'s telemetry goes up and a method comes down',
  { timeout: 120000 }, async () => {
    await withEdges(async ({ parent, child: startChildBelow }) => {
      const sink = await parent.openModule(await parent.addModule('sink'));
      const child = await startChildBelow('childws', { up: 'FROM /messages/* INTO $upstream' },
        { protocol: 'amqpws' });
      const leafCs = (await parent.cliOk(['identity', 'add', 'device', 'leafws', '--parent', 'childws'])).trim();
      await waitFor(async () => (await child.cli(['identity', 'show', 'leafws'])).code === 0,
        { timeoutMs: 15000, message: 'leafws in the child\'s registry (scope sync over the same HTTPS port)' });
      const leaf = await child.openDevice(leafCs);
      for (let i = 0; i < 10; i += 1) {
        const m = new Message(`ws ${i}`);
        m.properties.add('i', String(i));
        await withTimeout(leaf.sendEvent(m), 15000, 'leaf sendEvent');
      }
      await sink.inbox.waitCount('in', 10, 30000);
      sink.inbox.on('in').forEach(({ msg }, i) => {
        assert.equal(bodyOf(msg).toString(), `ws ${i}`);
        assert.equal(propsOf(msg)['$.cdid'], 'leafws');
      });
      assert.equal(await parent.metricSum('outpost_connections', { protocol: 'amqp', transport: 'websocket' }), 1,
        'the child\'s link is the parent\'s one AMQP-over-WebSocket connection');
      const calls = echoHandler(leaf);
      await sleep(500);
      const r = await parent.cli(['method', 'invoke', 'leafws', 'echo', '--payload', '{"y":2}', '--timeout', '10'],
        { timeoutMs: 30000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(calls, [{ y: 2 }]);
      await child.closeClient(leaf);
    });
  });
