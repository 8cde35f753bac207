'use strict';
// The HTTPS listener's IoT Hub service REST API, driven by the unmodified azure-iothub 1.16.6
// (Registry, Client) and azure-iot-device's ModuleClient.invokeMethod: the registry (devices and
// modules; a deleted device loses its session), twins (a desired patch reaches the connected
// device; If-Match etags), direct methods from the service and from a module of this edge device
// (round trip, 404 when the target is away, 504 when it is silent), 401 for every token that is
// not the service's (device and module SAS, a module claiming another edge device, a wrong key,
// none), and applyConfigurationContent deploying like the manifest file.
//
// The SDKs only know https://<host>:443; lib/outpost.js's redirectHttps sends this process's
// https connections for localhost to the daemon's [listen] https port, the SDKs untouched.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Registry, Client: ServiceClient } = require('azure-iothub');
const {
  withOutpost, withTimeout, waitFor, Message, manifest, sasToken, serviceSasToken, withWrongKey,
  ConnectionString, getTwin, report, watchDesired, echoHandler,
} = require('./lib/outpost');

const EDGE = 'edge1'; // lib/outpost.js's device_id
const API = 'api-version=2021-04-12'; // what azure-iothub 1.16.6 sends

/// The service SDK's clients, after redirectHttps.
async function service(op) {
  await op.redirectHttps();
  const cs = await op.serviceConnectionString();
  return { cs, registry: Registry.fromConnectionString(cs), client: ServiceClient.fromConnectionString(cs) };
}

/// The error `promise` rejects with (fails if it resolves), within `ms`.
async function rejection(promise, ms, what) {
  let result;
  try {
    result = await withTimeout(promise, ms, what);
  } catch (err) {
    return err;
  }
  assert.fail(`${what}: expected an error, got ${JSON.stringify(result && (result.responseBody || result.result || result))}`);
}

/// The HTTP status of an SDK error (azure-iothub and azure-iot-http-base set err.response).
function statusOf(err) {
  return err && err.response ? err.response.statusCode : undefined;
}

function describe(err) {
  return `${err && err.constructor && err.constructor.name}: ${err && err.message}; status ${statusOf(err)}; ` +
    `body ${JSON.stringify(err && err.responseBody)}`;
}

function connectionString(deviceId, key, moduleId) {
  return `HostName=localhost;DeviceId=${deviceId};${moduleId ? `ModuleId=${moduleId};` : ''}SharedAccessKey=${key}`;
}

/// A process module running `body` (sh), as agent.test.js makes them.
function shModule(op, name, body) {
  const dir = path.join(op.dir, 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.sh`);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const digest = `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
  return {
    version: '1.0', type: 'process', status: 'running', restartPolicy: 'always',
    settings: { path: file, digest },
  };
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

test('registry: create, get, list and delete devices and modules; a deleted device is disconnected',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'svc-registry' }, async (op) => {
      const { registry } = await service(op);

      // Create without keys: the hub generates them (the SDK sends primaryKey "" and secondaryKey "").
      const created = (await registry.create({ deviceId: 'svc-dev' })).responseBody;
      assert.equal(created.deviceId, 'svc-dev');
      const key = created.authentication && created.authentication.symmetricKey
        && created.authentication.symmetricKey.primaryKey;
      assert.match(String(key), /^[A-Za-z0-9+/]{40,}={0,2}$/, `a generated primary key: ${JSON.stringify(created)}`);
      assert.match(String(created.authentication.symmetricKey.secondaryKey), /^[A-Za-z0-9+/]{40,}={0,2}$/);
      assert.notEqual(created.authentication.symmetricKey.secondaryKey, key);

      // PUT without If-Match on an existing device: 409.
      const again = await rejection(registry.create({ deviceId: 'svc-dev' }), 15000, 'create svc-dev twice');
      assert.equal(statusOf(again), 409, describe(again));
      assert.equal(again.constructor.name, 'DeviceAlreadyExistsError', describe(again));

      // Keys given in the request are the device's keys.
      const given = crypto.randomBytes(32).toString('base64');
      const withKeys = (await registry.create({
        deviceId: 'svc-dev2',
        authentication: { symmetricKey: { primaryKey: given, secondaryKey: crypto.randomBytes(32).toString('base64') } },
      })).responseBody;
      assert.equal(withKeys.authentication.symmetricKey.primaryKey, given);

      const got = (await registry.get('svc-dev')).responseBody;
      assert.equal(got.deviceId, 'svc-dev');
      assert.equal(got.authentication.symmetricKey.primaryKey, key);

      // Registry.update: the status changes (and back); new keys are refused, not ignored.
      const disabled = (await registry.update({ ...got, status: 'disabled' })).responseBody;
      assert.equal(disabled.status, 'disabled');
      assert.match(await op.cliOk(['identity', 'list']), /^svc-dev2?\tdevice\tsas\tdisabled$/m);
      assert.equal((await registry.update({ ...disabled, status: 'enabled' })).responseBody.status, 'enabled');
      const rekey = await rejection(registry.update({
        ...got, authentication: { symmetricKey: { primaryKey: given, secondaryKey: given } },
      }), 15000, 'update with other keys');
      assert.equal(statusOf(rekey), 400, describe(rekey));
      assert.equal((await registry.get('svc-dev')).responseBody.authentication.symmetricKey.primaryKey, key);
      const listed = (await registry.list()).responseBody.map((d) => d.deviceId);
      assert.ok(listed.includes('svc-dev') && listed.includes('svc-dev2'), `GET /devices/: ${JSON.stringify(listed)}`);
      // The CLI sees the service API's device.
      assert.match(await op.cliOk(['identity', 'list']), /^svc-dev\tdevice\tsas\tenabled$/m);

      // The key works over MQTT/TLS.
      const dev = await op.openDevice(connectionString('svc-dev', key), { retry: false });
      await withTimeout(dev.sendEvent(new Message('hello from svc-dev')), 15000, 'sendEvent (PUBACK)');
      const disconnected = new Promise((resolve) => dev.once('disconnect', resolve));

      // DELETE: gone from the registry, and the connected client is disconnected.
      await registry.delete('svc-dev');
      const missing = await rejection(registry.get('svc-dev'), 15000, 'get after delete');
      assert.equal(statusOf(missing), 404, describe(missing));
      assert.equal(missing.constructor.name, 'DeviceNotFoundError',
        'azure-iothub makes DeviceNotFoundError only of a body {"Message":"ErrorCode:DeviceNotFound;..."}: ' +
        describe(missing));
      await withTimeout(disconnected, 10000, 'the deleted device\'s session ends (SDK \'disconnect\')');
      const refused = await rejection(dev.sendEvent(new Message('after delete')), 20000,
        'sendEvent of the deleted device');
      assert.equal(refused.name, 'UnauthorizedError',
        `the deleted device cannot connect again (CONNACK 5): ${refused.name}: ${refused.message}`);
      assert.ok(!(await registry.list()).responseBody.some((d) => d.deviceId === 'svc-dev'));

      // Modules of the edge device: create (keys generated), get, connect, delete.
      const mod = (await registry.addModule({ deviceId: EDGE, moduleId: 'svcmod' })).responseBody;
      assert.equal(mod.deviceId, EDGE);
      assert.equal(mod.moduleId, 'svcmod');
      const modKey = mod.authentication.symmetricKey.primaryKey;
      assert.match(String(modKey), /^[A-Za-z0-9+/]{40,}={0,2}$/, JSON.stringify(mod));
      assert.equal((await registry.getModule(EDGE, 'svcmod')).responseBody.authentication.symmetricKey.primaryKey, modKey);
      const modClient = await op.openModule(connectionString(EDGE, modKey, 'svcmod'));
      await op.closeClient(modClient);
      await registry.removeModule(EDGE, 'svcmod');
      const modMissing = await rejection(registry.getModule(EDGE, 'svcmod'), 15000, 'getModule after delete');
      assert.equal(statusOf(modMissing), 404, describe(modMissing));
    });
  });

test('twins: a service desired patch reaches the device, getTwin after a reconnect shows it; etags',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'svc-twin' }, async (op) => {
      const { registry } = await service(op);
      const devCs = await op.addDevice('dev1');
      let dev = await op.openDevice(devCs);
      let twin = await getTwin(dev);
      await report(twin, { fw: '2.0' });
      const seen = watchDesired(twin);
      await waitFor(() => seen.length >= 1, { timeoutMs: 10000, message: 'current desired emitted' });

      const updated = (await registry.updateTwin('dev1', { properties: { desired: { svc: 1 } } }, '*')).responseBody;
      assert.equal(updated.properties.desired.svc, 1, JSON.stringify(updated));
      await waitFor(() => seen.some((p) => p.svc === 1),
        { timeoutMs: 10000, message: `the service's desired patch pushed to dev1 (seen ${JSON.stringify(seen)})` });

      // The service sees what the device reported.
      const svcTwin = (await registry.getTwin('dev1')).responseBody;
      assert.equal(svcTwin.deviceId, 'dev1');
      assert.equal(svcTwin.properties.reported.fw, '2.0', JSON.stringify(svcTwin));
      assert.equal(svcTwin.properties.desired.svc, 1);
      assert.ok(svcTwin.etag, 'a twin has an etag');

      // If-Match: the twin's own etag works (Twin.update sends it), the old one is then 412.
      const oldEtag = svcTwin.etag;
      await svcTwin.update({ tags: { site: 'north' } });
      assert.notEqual(svcTwin.etag, oldEtag, 'an update changes the etag');
      assert.equal(svcTwin.tags.site, 'north');
      const stale = await rejection(registry.updateTwin('dev1', { tags: { site: 'south' } }, oldEtag), 15000,
        'updateTwin with a stale etag');
      assert.equal(statusOf(stale), 412, describe(stale));
      assert.equal((await registry.getTwin('dev1')).responseBody.tags.site, 'north', 'the 412 changed nothing');

      // After reconnecting, getTwin shows the desired properties set while away.
      await op.closeClient(dev);
      await registry.updateTwin('dev1', { properties: { desired: { svc: 2, away: true } } }, '*');
      dev = await op.openDevice(devCs);
      twin = await getTwin(dev);
      assert.equal(twin.properties.desired.svc, 2);
      assert.equal(twin.properties.desired.away, true);

      // A module: its reported patch raises $version, the service's desired patch reaches it.
      const modCs = await op.addModule('modT');
      const mod = await op.openModule(modCs);
      const modTwin = await getTwin(mod);
      const before = modTwin.properties.reported.$version;
      await report(modTwin, { state: 'ok' });
      await report(modTwin, { state: 'better' });
      const modSeen = watchDesired(modTwin);
      await registry.updateModuleTwin(EDGE, 'modT', { properties: { desired: { m: 2 } } }, '*');
      await waitFor(() => modSeen.some((p) => p.m === 2),
        { timeoutMs: 10000, message: `the service's desired patch pushed to modT (seen ${JSON.stringify(modSeen)})` });
      const modView = (await registry.getModuleTwin(EDGE, 'modT')).responseBody;
      assert.equal(modView.properties.desired.m, 2);
      assert.equal(modView.properties.reported.state, 'better');
      assert.ok(modView.properties.reported.$version >= before + 2,
        `reported $version grew: ${before} -> ${modView.properties.reported.$version}`);
      await op.closeClient(mod);
      const shown = JSON.parse(await op.cliOk(['twin', 'show', EDGE, '--module', 'modT']));
      assert.equal(shown.properties.desired.m, 2);
    });
  });

test('direct methods from the service Client reach a device and a module; status and payload round-trip',
  { timeout: 60000 }, async () => {
    await withOutpost({ name: 'svc-methods' }, async (op) => {
      const { client } = await service(op);
      const dev = await op.openDevice(await op.addDevice('dev1'));
      const mod = await op.openModule(await op.addModule('modM'));
      const devCalls = echoHandler(dev);
      const modCalls = echoHandler(mod, 'reset', 200);
      await new Promise((r) => setTimeout(r, 500)); // the SDKs' SUBSCRIBE to $iothub/methods/POST/#

      const { result } = await withTimeout(client.invokeDeviceMethod('dev1',
        { methodName: 'echo', payload: { a: 1, s: 'a/b&c' }, responseTimeoutInSeconds: 5 }), 15000, 'invokeDeviceMethod dev1');
      assert.deepEqual(result, { status: 201, payload: { echoed: { a: 1, s: 'a/b&c' }, method: 'echo' } });
      assert.deepEqual(devCalls, [{ a: 1, s: 'a/b&c' }]);

      const modResult = (await withTimeout(client.invokeDeviceMethod(EDGE, 'modM',
        { methodName: 'reset', payload: 7, responseTimeoutInSeconds: 5 }), 15000, 'invokeDeviceMethod edge1/modM')).result;
      assert.deepEqual(modResult, { status: 200, payload: { echoed: 7, method: 'reset' } });
      assert.deepEqual(modCalls, [7]);
    });
  });

test('ModuleClient.invokeMethod from a module of this edge device: round trip, 404 away, 504 silent',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'svc-module-invoke' }, async (op) => {
      await op.redirectHttps();
      const dev = await op.openDevice(await op.addDevice('dev1'));
      await op.addDevice('away'); // registered, never connected
      // modA invokes over HTTPS (https://<GatewayHostName>/twins/...; redirectHttps) while connected.
      const modA = await op.openModule(await op.addModule('modA'));
      const modB = await op.openModule(await op.addModule('modB'));
      const devCalls = echoHandler(dev);
      const modBCalls = echoHandler(modB);
      modB.onMethod('silent', () => { /* never answers */ });
      await new Promise((r) => setTimeout(r, 500));

      const params = (payload) => ({ methodName: 'echo', payload, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 2 });
      const toDevice = await withTimeout(modA.invokeMethod('dev1', params({ a: 1 })), 15000, 'modA -> dev1');
      assert.deepEqual(toDevice, { status: 201, payload: { echoed: { a: 1 }, method: 'echo' } });
      assert.deepEqual(devCalls, [{ a: 1 }]);
      const toModule = await withTimeout(modA.invokeMethod(EDGE, 'modB', params([1, 2])), 15000, 'modA -> edge1/modB');
      assert.deepEqual(toModule, { status: 201, payload: { echoed: [1, 2], method: 'echo' } });
      assert.deepEqual(modBCalls, [[1, 2]]);

      // Not connected: 404 (404103) after the 2 s connect timeout.
      let t0 = Date.now();
      const away = await rejection(modA.invokeMethod('away', params(null)), 15000, 'modA -> away');
      let ms = Date.now() - t0;
      assert.equal(statusOf(away), 404, describe(away));
      assert.match(String(away.responseBody), /404103/, describe(away));
      assert.ok(ms >= 1900 && ms < 6000, `404 after the 2 s connect timeout; took ${ms} ms`);

      // Connected, subscribed, never answers: 504 (504101) after the 1 s response timeout (the
      // SDK's own HTTP timeout is connect + response = 6 s, so the answer must be the hub's).
      t0 = Date.now();
      const silent = await rejection(modA.invokeMethod(EDGE, 'modB',
        { methodName: 'silent', payload: {}, responseTimeoutInSeconds: 1, connectTimeoutInSeconds: 5 }),
      15000, 'modA -> modB silent');
      ms = Date.now() - t0;
      assert.equal(statusOf(silent), 504, describe(silent));
      assert.match(String(silent.responseBody), /504101/, describe(silent));
      assert.ok(ms >= 900 && ms < 4000, `504 after the 1 s response timeout; took ${ms} ms`);
    });
  });

test('401 for device SAS, module SAS off its route or claiming another edge device, wrong or missing keys',
  { timeout: 90000 }, async () => {
    await withOutpost({ name: 'svc-auth' }, async (op) => {
      const svcCs = await op.serviceConnectionString();
      const svcKey = ConnectionString.parse(svcCs).SharedAccessKey;
      const devCs = await op.addDevice('dev1');
      const devKey = ConnectionString.parse(devCs).SharedAccessKey;
      const modAKey = ConnectionString.parse(await op.addModule('modA')).SharedAccessKey;
      await op.addModule('modB');
      const dev = await op.openDevice(devCs);
      echoHandler(dev);
      await new Promise((r) => setTimeout(r, 500));
      const se = inAnHour();
      const get = (authorization) => op.httpsRequest('GET', `/devices/dev1?${API}`,
        { headers: authorization === undefined ? {} : { authorization } });
      const call = (authorization, moduleHeader) => op.httpsRequest('POST', '/twins/dev1/methods', {
        headers: {
          ...(authorization === undefined ? {} : { authorization }),
          ...(moduleHeader ? { 'x-ms-edge-moduleId': moduleHeader } : {}),
          'content-type': 'application/json',
        },
        body: { methodName: 'echo', payload: 'x', responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 2 },
      });
      const expect401 = (r, what) => assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);

      // Controls: the service token and modA's own token with its own header are accepted.
      let r = await get(serviceSasToken({ key: svcKey, expiry: se }));
      assert.equal(r.status, 200, `GET /devices/dev1 with the service SAS: ${r.text}`);
      assert.equal(r.body.deviceId, 'dev1');
      const modAToken = sasToken({ host: 'localhost', deviceId: EDGE, moduleId: 'modA', key: modAKey, expiry: se });
      r = await call(modAToken, `${EDGE}/modA`);
      assert.equal(r.status, 200, `modA invoking dev1: ${r.text}`);
      assert.deepEqual(r.body, { status: 201, payload: { echoed: 'x', method: 'echo' } });

      // (a) A device SAS on service routes.
      const devToken = sasToken({ host: 'localhost', deviceId: 'dev1', key: devKey, expiry: se });
      expect401(await get(devToken), 'device SAS on GET /devices/dev1');
      expect401(await call(devToken), 'device SAS on POST /twins/dev1/methods');
      expect401(await call(devToken, 'dev1/x'), 'device SAS with an x-ms-edge-moduleId');
      // (b) A module SAS whose x-ms-edge-moduleId (and token) names another edge device, signed
      // with modA's real key; modA's token claiming modB; a module SAS on a registry route.
      const otherEdge = sasToken({ host: 'localhost', deviceId: 'other-edge', moduleId: 'modA', key: modAKey, expiry: se });
      expect401(await call(otherEdge, 'other-edge/modA'), 'module of another edge device');
      expect401(await call(modAToken, 'other-edge/modA'), 'modA\'s token, header naming another edge device');
      expect401(await call(modAToken, `${EDGE}/modB`), 'modA\'s token, header naming modB');
      expect401(await call(modAToken), 'module SAS without x-ms-edge-moduleId');
      expect401(await get(modAToken), 'module SAS on GET /devices/dev1');
      // (c) No Authorization.
      expect401(await get(undefined), 'GET without Authorization');
      expect401(await call(undefined, `${EDGE}/modA`), 'method call without Authorization');
      // (d) A service SAS with a wrong key, another key name, or expired.
      const wrongKey = crypto.randomBytes(32).toString('base64');
      expect401(await get(serviceSasToken({ key: wrongKey, expiry: se })), 'service SAS with a wrong key');
      expect401(await get(serviceSasToken({ key: svcKey, keyName: 'registryRead', expiry: se })),
        'service SAS under another key name');
      expect401(await get(serviceSasToken({ key: svcKey, expiry: Math.floor(Date.now() / 1000) - 60 })),
        'expired service SAS');

      // The SDK with a wrong key: UnauthorizedError.
      await op.redirectHttps();
      const bad = Registry.fromConnectionString(withWrongKey(svcCs));
      const err = await rejection(bad.get('dev1'), 15000, 'Registry with a wrong key');
      assert.equal(statusOf(err), 401, describe(err));
      assert.equal(err.constructor.name, 'UnauthorizedError', describe(err));
    });
  });

test('applyConfigurationContent deploys like the manifest file; outpost check names the service API',
  { timeout: 90000 }, async () => {
    await withOutpost({ name: 'svc-apply' }, async (op) => {
      const { registry } = await service(op);
      const routes = {
        a: 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/a")',
        b: 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/b")',
        c: 'FROM /messages/* INTO $upstream',
      };
      const content = manifest(routes, { modules: { svcmod: shModule(op, 'svcmod', 'echo up; exec sleep 300') } });
      await registry.applyConfigurationContentOnDevice(EDGE, content);

      let last;
      await waitFor(async () => {
        last = (await op.modules()).svcmod;
        return last && last.runtimeStatus === 'running';
      }, { timeoutMs: 20000, message: 'svcmod running' }).catch((e) => {
        e.message += `; last seen ${JSON.stringify(last)}`;
        throw e;
      });
      assert.match(await op.cliOk(['list']), /^svcmod\s+running\b/m);
      await waitFor(async () => (await op.admin('GET', '/status/edgehub')).body.routes === 3,
        { timeoutMs: 10000, message: 'the hub has the applied three routes' });
      const agent = (await op.admin('GET', '/status/edgeagent')).body;
      assert.equal(agent.lastDesiredStatus.code, 200, JSON.stringify(agent.lastDesiredStatus));

      // The runtime's own twins: desired = the deployment's sections, reported = their status.
      const agentTwin = (await registry.getModuleTwin(EDGE, '$edgeAgent')).responseBody;
      assert.ok(agentTwin.properties.desired.modules.svcmod, JSON.stringify(agentTwin.properties.desired));
      assert.equal(agentTwin.properties.reported.lastDesiredStatus.code, 200);
      const hubTwin = (await registry.getModuleTwin(EDGE, '$edgeHub')).responseBody;
      assert.deepEqual(Object.keys(hubTwin.properties.desired.routes).sort(), ['a', 'b', 'c']);
      const refusedPatch = await rejection(
        registry.updateModuleTwin(EDGE, '$edgeHub', { properties: { desired: { routes: {} } } }, '*'),
        15000, 'patching $edgeHub desired directly');
      assert.equal(statusOf(refusedPatch), 400, describe(refusedPatch));

      const check = await op.check();
      assert.match(check.stdout, /service API/, `outpost check names the deployment in force:\n${check.stdout}`);
      assert.match(check.stdout, /\$edgeAgent deployment: 1 module/, check.stdout);

      // A deployment the agent would reject is refused at the door: 400, nothing changes.
      const broken = JSON.parse(JSON.stringify(content));
      delete broken.modulesContent.$edgeAgent['properties.desired'].schemaVersion;
      const refused = await rejection(registry.applyConfigurationContentOnDevice(EDGE, broken), 15000,
        'applying a manifest without schemaVersion');
      assert.equal(statusOf(refused), 400, describe(refused));
      assert.match(JSON.stringify(refused.responseBody), /schemaVersion/, describe(refused));
      assert.equal((await op.admin('GET', '/status/edgeagent')).body.lastDesiredStatus.code, 200);

      // The applied deployment is durable: after a restart it is still the one in force.
      const pidBefore = (await op.modules()).svcmod.pid;
      await op.restart();
      await waitFor(async () => {
        const m = (await op.modules()).svcmod;
        return m && m.runtimeStatus === 'running' && m.pid !== pidBefore;
      }, { timeoutMs: 20000, message: 'svcmod running again after the restart' });
      const again = await op.check();
      assert.match(again.stdout, /deployment in force: from the service API/, again.stdout);

      // The newest source wins: a changed manifest file takes over from the service's deployment.
      op.writeManifest(routes, { modules: {} });
      await waitFor(async () => !(await op.modules()).svcmod,
        { timeoutMs: 20000, message: 'svcmod removed by the newer manifest file' });
      const fileCheck = await op.check();
      assert.match(fileCheck.stdout, /deployment in force: from \S*manifest/, fileCheck.stdout);
    });
  });

test('C2D from azure-iothub Client.send (AMQP, service token on $cbs) reaches devices over MQTT and over AMQP',
  { timeout: 60000 }, async () => {
    await withOutpost({ name: 'svc-c2d' }, async (op) => {
      const { client } = await service(op);
      const devices = {};
      for (const [id, transport] of [['devMqtt', 'Mqtt'], ['devAmqp', 'Amqp']]) {
        const dev = await op.openDevice(await op.addDevice(id), { transport });
        const got = [];
        dev.on('message', (m) => { got.push(m); dev.complete(m, () => {}); });
        devices[id] = got;
      }
      await new Promise((r) => setTimeout(r, 500)); // the SDKs attach or subscribe on the listener
      await withTimeout(client.open(), 15000, 'service Client.open (AMQP, put-token of the service policy)');
      for (const id of Object.keys(devices)) {
        const m = new Message(`to ${id}`);
        m.messageId = `c2d-${id}`;
        m.properties.add('kind', 'greeting');
        // Resolves on the disposition `accepted`: the device's queue holds it durably.
        await withTimeout(client.send(id, m), 15000, `Client.send to ${id}`);
      }
      for (const [id, got] of Object.entries(devices)) {
        await waitFor(() => got.length === 1, { timeoutMs: 15000, message: `C2D delivered to ${id}` });
        assert.equal(got[0].data.toString(), `to ${id}`);
        assert.equal(got[0].messageId, `c2d-${id}`);
        assert.equal(got[0].properties.getValue('kind'), 'greeting');
      }
      // A full device queue (50 messages) rejects the delivery with IoT Hub's reason.
      await op.addDevice('devFull');
      for (let i = 0; i < 50; i += 1) {
        const r = await op.admin('POST', '/devices/devFull/messages/deviceBound', { body: `n${i}` });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      const full = await rejection(client.send('devFull', new Message('one too many')), 15000,
        'Client.send to a full queue');
      assert.match(`${full.message} ${JSON.stringify(full.amqpError || {})}`, /403004/,
        `the rejection says why: ${full.message}`);
      await client.close();

      // A device token is not the service policy's: the service client is refused.
      const devCs = await op.addDevice('devX');
      const p = ConnectionString.parse(devCs);
      const wrong = ServiceClient.fromSharedAccessSignature(sasToken({
        host: 'localhost', deviceId: 'devX', key: p.SharedAccessKey, expiry: inAnHour(),
      }));
      await rejection(wrong.send('devMqtt', new Message('nope')), 15000, 'send with a device token');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(devices.devMqtt.length, 1, 'nothing sent with a device token arrives');
      await wrong.close().catch(() => {});
    });
  });

test('edge devices and their scope: --edge-enabled, --parent, and IoT Hub\'s deviceScope/parentScopes',
  { timeout: 60000 }, async () => {
    await withOutpost({ name: 'svc-scope' }, async (op) => {
      const gwCs = (await op.cliOk(['identity', 'add', 'device', 'gw', '--edge-enabled'])).trim();
      assert.match(gwCs, /^HostName=localhost;DeviceId=gw;SharedAccessKey=[A-Za-z0-9+/=]+$/,
        'an edge device prints its connection string (for a child\'s [upstream])');
      await op.cliOk(['identity', 'add', 'device', 'leaf', '--parent', 'gw']);
      await op.cliOk(['identity', 'add', 'device', 'plain']);
      const missing = await op.cli(['identity', 'add', 'device', 'x1', '--parent', 'nobody']);
      assert.notEqual(missing.code, 0, 'a parent that does not exist');
      const notEdge = await op.cli(['identity', 'add', 'device', 'x2', '--parent', 'plain']);
      assert.notEqual(notEdge.code, 0, 'a parent that is not an edge device');
      const list = await op.cliOk(['identity', 'list']);
      assert.match(list, /^gw\tdevice\tsas\tenabled\tedge$/m, list);
      assert.match(list, /^leaf\tdevice\tsas\tenabled\tparent=gw$/m, list);

      const { registry } = await service(op);
      const gw = (await withTimeout(registry.get('gw'), 15000, 'get gw')).responseBody;
      assert.equal(gw.capabilities.iotEdge, true);
      assert.match(gw.deviceScope, /^ms-azure-iot-edge:\/\/gw-\d+$/);
      assert.deepEqual(gw.parentScopes, []);
      const leaf = (await withTimeout(registry.get('leaf'), 15000, 'get leaf')).responseBody;
      assert.equal(leaf.capabilities.iotEdge, false);
      assert.equal(leaf.deviceScope, gw.deviceScope, 'a leaf carries its edge\'s scope');
      assert.deepEqual(leaf.parentScopes, [gw.deviceScope]);
      const plain = (await withTimeout(registry.get('plain'), 15000, 'get plain')).responseBody;
      assert.equal(plain.deviceScope, undefined);

      // Created through the registry API with the edge's scope, as IoT Hub's tools do.
      await withTimeout(registry.create({ deviceId: 'leaf2', deviceScope: gw.deviceScope }), 15000,
        'create leaf2 in gw\'s scope');
      const leaf2 = (await withTimeout(registry.get('leaf2'), 15000, 'get leaf2')).responseBody;
      assert.deepEqual(leaf2.parentScopes, [gw.deviceScope]);
      await withTimeout(registry.create({ deviceId: 'gw2', capabilities: { iotEdge: true }, parentScopes: [gw.deviceScope] }),
        15000, 'create a child edge gw2 under gw');
      const gw2 = (await withTimeout(registry.get('gw2'), 15000, 'get gw2')).responseBody;
      assert.equal(gw2.capabilities.iotEdge, true);
      assert.match(gw2.deviceScope, /^ms-azure-iot-edge:\/\/gw2-\d+$/);
      assert.deepEqual(gw2.parentScopes, [gw.deviceScope]);
      const bad = await rejection(registry.create({ deviceId: 'lost', deviceScope: 'ms-azure-iot-edge://nope-1' }),
        15000, 'create in an unknown scope');
      assert.equal(statusOf(bad), 400, describe(bad));
    });
  });
