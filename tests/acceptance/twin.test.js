'use strict';
// Issue 10, twins over MQTT: the unmodified azure-iot-device(-mqtt) SDK gets a device's and a
// module's twin, patches reported properties (the reported $version grows, durably: the
// change survives an outpostd restart), and receives a desired patch that `outpost twin
// update` sets while it is connected; after it reconnects, getTwin shows the newest desired.
// A bad reported patch is refused with IoT Hub's error and the connection stays. An accepted
// one is routed as a twin change notification (FROM /twinChangeNotifications).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const {
  withOutpost, waitFor, propsOf, getTwin, report, watchDesired,
} = require('./lib/outpost');

test('a device and a module get their twins, report properties and receive desired patches',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'twin' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modCs = await op.addModule('modT');
      let dev = await op.openDevice(devCs);
      const mod = await op.openModule(modCs);

      // A fresh twin: empty desired and reported, both at version 1 (what IoT Hub answers).
      let twin = await getTwin(dev);
      assert.equal(twin.properties.desired.$version, 1);
      assert.equal(twin.properties.reported.$version, 1);

      // Reported patches: merge semantics, null deletes, $version grows by one each time.
      await report(twin, { fw: '1.0', nested: { a: 1, b: 2 } });
      await report(twin, { nested: { b: null, c: 3 } });
      twin = await getTwin(dev);
      assert.equal(twin.properties.reported.$version, 3);
      assert.equal(twin.properties.reported.fw, '1.0');
      assert.deepEqual(JSON.parse(JSON.stringify(twin.properties.reported.nested)), { a: 1, c: 3 });

      // A module has a twin of its own.
      const modTwin = await getTwin(mod);
      await report(modTwin, { started: true });
      assert.equal((await getTwin(mod)).properties.reported.$version, 2);
      const shown = JSON.parse(await op.cliOk(['twin', 'show', 'edge1', '--module', 'modT']));
      assert.equal(shown.moduleId, 'modT');
      assert.equal(shown.properties.reported.started, true);
      assert.equal(shown.properties.reported.$version, 2);

      // A desired patch from the CLI (the service side) reaches the connected device at once.
      const seen = watchDesired(twin);
      await waitFor(() => seen.length >= 1, { timeoutMs: 10000, message: 'current desired emitted' });
      const updated = JSON.parse(await op.cliOk(['twin', 'update', 'dev1',
        '--desired', '{"interval":5,"mode":{"fast":true}}', '--tags', '{"site":"north"}']));
      assert.equal(updated.properties.desired.$version, 2);
      assert.equal(updated.tags.site, 'north');
      assert.equal(updated.properties.desired.$metadata.interval.$lastUpdatedVersion, 2);
      await waitFor(() => seen.some((p) => p.interval === 5 && p.$version === 2),
        { timeoutMs: 10000, message: `desired patch pushed (seen ${JSON.stringify(seen)})` });
      assert.equal(twin.properties.desired.interval, 5, 'the SDK merged the patch');

      // While the device is away, desired changes again; getTwin after reconnecting shows it.
      await op.closeClient(dev);
      await op.cliOk(['twin', 'update', 'dev1', '--desired', '{"interval":10,"mode":null}']);
      dev = await op.openDevice(devCs);
      twin = await getTwin(dev);
      assert.equal(twin.properties.desired.interval, 10);
      assert.equal(twin.properties.desired.mode, undefined, 'null deleted the key');
      assert.equal(twin.properties.desired.$version, 3);

      // IoT Edge's twin metrics, per identity.
      const metrics = await op.cliOk(['metrics', '--filter', 'edgehub_']);
      assert.match(metrics, /edgehub_gettwin_total\{[^}]*id="dev1"[^}]*\} [1-9]/);
      assert.match(metrics, /edgehub_reported_properties_total\{[^}]*id="dev1"[^}]*\} 2\n/);
      assert.match(metrics, /edgehub_reported_properties_total\{[^}]*id="edge1\/modT"[^}]*\} 1\n/);
      assert.match(metrics, /edgehub_gettwin_duration_seconds_count\{[^}]*id="dev1"/);

      // Durable: the reported and desired properties survive a restart.
      await op.closeAllClients();
      await op.stop();
      await op.start();
      dev = await op.openDevice(devCs);
      twin = await getTwin(dev);
      assert.equal(twin.properties.reported.$version, 3);
      assert.equal(twin.properties.reported.fw, '1.0');
      assert.equal(twin.properties.desired.$version, 3);
    });
  });

test('a bad reported patch gets IoT Hub\'s 400 error and the connection stays; unknown twins are 404',
  { timeout: 60000 }, async () => {
    await withOutpost({ name: 'twin-bad' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const dev = await op.openDevice(devCs);
      const twin = await getTwin(dev);
      await assert.rejects(report(twin, { 'bad.key': 1 }), /character IoT Hub does not allow/);
      await assert.rejects(report(twin, { big: 'x'.repeat(40000) }), /longer than 4096 bytes/);
      let deep = { v: 1 };
      for (let i = 0; i < 11; i += 1) deep = { d: deep };
      await assert.rejects(report(twin, deep), /nested deeper than 10/);
      // Still connected, and nothing changed.
      await report(twin, { ok: true });
      const again = await getTwin(dev);
      assert.equal(again.properties.reported.$version, 2);
      assert.equal(again.properties.reported.ok, true);

      // If-Match: the twin's etag updates, another one is 412 and changes nothing.
      const shown = (await op.admin('GET', '/twins/dev1')).body;
      const stale = await op.admin('PATCH', '/twins/dev1', { tags: { a: 1 } },
        { 'If-Match': '"AAAAAAAAAAE="' });
      assert.equal(stale.status, 412, JSON.stringify(stale.body));
      assert.equal(stale.body.errorCode, 412001);
      const fresh = await op.admin('PATCH', '/twins/dev1', { tags: { a: 2 } },
        { 'If-Match': `"${shown.etag}"` });
      assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
      assert.equal(fresh.body.tags.a, 2);
      assert.notEqual(fresh.body.etag, shown.etag);

      const missing = await op.cli(['twin', 'show', 'nobody']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /not registered \(errorCode 404001\)/);
      const badDesired = await op.cli(['twin', 'update', 'dev1', '--desired', '{"a.b":1}']);
      assert.notEqual(badDesired.code, 0);
      assert.match(badDesired.stderr, /errorCode 400004/);
    });
  });

test('an accepted reported patch is routed FROM /twinChangeNotifications with IoT Hub\'s properties',
  { timeout: 60000 }, async () => {
    const routes = {
      changes: 'FROM /twinChangeNotifications INTO BrokeredEndpoint("/modules/watcher/inputs/changes")',
      telemetry: 'FROM /messages/* INTO BrokeredEndpoint("/modules/watcher/inputs/telemetry")',
    };
    await withOutpost({ name: 'twin-change', routes }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const watcher = await op.openModule(await op.addModule('watcher'));
      const dev = await op.openDevice(devCs);
      const twin = await getTwin(dev);
      await report(twin, { temperature: { unit: 'C', value: 21 } });
      await assert.rejects(report(twin, { 'bad key': 1 }), /character/);
      await watcher.inbox.waitCount('changes', 1, 15000);
      const [change] = watcher.inbox.on('changes').map((i) => i.msg);
      assert.deepEqual(JSON.parse(change.data.toString()), { temperature: { unit: 'C', value: 21 } },
        'the body is the reported patch');
      assert.equal(change.contentType, 'application/json');
      assert.equal(change.contentEncoding, 'utf-8');
      const props = propsOf(change);
      assert.equal(props['$.cdid'], 'dev1', `the reporter as $.cdid; got ${JSON.stringify(props)}`);
      assert.equal(props['$.cmid'], undefined, 'a device reported: no module id');
      assert.equal(watcher.inbox.on('telemetry').length, 0, 'a twin change is not telemetry');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(watcher.inbox.on('changes').length, 1, 'the refused patch made no notification');
    });
  });

test('a device removed and created again starts with an empty twin and none of the old C2D',
  { timeout: 60000 }, async () => {
    await withOutpost({ name: 'twin-recreate' }, async (op) => {
      let dev = await op.openDevice(await op.addDevice('dev9'));
      await report(await getTwin(dev), { old: true });
      await op.closeClient(dev);
      await op.cliOk(['c2d', 'send', 'dev9', '--body', 'for the old dev9']);
      await op.cliOk(['identity', 'remove', 'dev9']);

      dev = await op.openDevice(await op.addDevice('dev9'));
      const twin = await getTwin(dev);
      assert.equal(twin.properties.reported.$version, 1, 'a fresh twin');
      assert.equal(twin.properties.reported.old, undefined);
      const got = [];
      dev.on('message', (m) => { got.push(m); dev.complete(m, () => {}); });
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(got.length, 0, 'the old device\'s C2D message is not the new one\'s');
    });
  });
