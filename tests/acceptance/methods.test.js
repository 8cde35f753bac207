'use strict';
// Issue 10, direct methods over MQTT: `outpost method invoke` (the admin API's
// `POST /twins/{d}[/modules/{m}]/methods`, IoT Hub's service shape) reaches the unmodified
// SDK's onDeviceMethod handler on a device and on a module; status and payload round-trip.
// A target that is not connected gets 404 (404103), after the connect timeout when one is
// given; a connected target without a handler gets 504 (504101) within the response timeout;
// a call parked for a target that connects is delivered when it subscribes; `$edgeAgent`'s
// methods answer by the same path.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withOutpost, waitFor, echoHandler } = require('./lib/outpost');

/// Runs `outpost method invoke ...` and returns {code, json, stderr, ms}.
async function invoke(op, args) {
  const t0 = Date.now();
  const r = await op.cli(['method', 'invoke', ...args], { timeoutMs: 60000 });
  let json = null;
  try { json = JSON.parse(r.stdout); } catch { /* an error: stderr says why */ }
  return { code: r.code, json, stderr: r.stderr, ms: Date.now() - t0 };
}

test('direct methods reach a device and a module; 404 when away, 504 when silent',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'methods' }, async (op) => {
      const devCs = await op.addDevice('dev1');
      const modCs = await op.addModule('modM');
      const dev = await op.openDevice(devCs);
      const mod = await op.openModule(modCs);
      const devCalls = echoHandler(dev);
      const modCalls = echoHandler(mod, 'reset', 200);
      // The SDK subscribes to $iothub/methods/POST/# when the first handler is registered.
      await new Promise((r) => setTimeout(r, 500));

      let r = await invoke(op, ['dev1', 'echo', '--payload', '{"x":1,"s":"a/b&c"}', '--timeout', '10']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { status: 201, payload: { echoed: { x: 1, s: 'a/b&c' }, method: 'echo' } });
      assert.deepEqual(devCalls, [{ x: 1, s: 'a/b&c' }]);

      r = await invoke(op, ['edge1', 'reset', '--module', 'modM']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { status: 200, payload: { echoed: null, method: 'reset' } });
      assert.equal(modCalls.length, 1);

      // A method the device has no handler for: the SDK does not answer -> 504 in time.
      r = await invoke(op, ['dev1', 'nothing', '--timeout', '2']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /errorCode 504101/);
      assert.ok(r.ms >= 1900 && r.ms < 8000, `504 after ~2 s, took ${r.ms} ms`);

      // Not connected: 404 at once without a connect timeout, after it with one.
      const away = await op.addDevice('away');
      r = await invoke(op, ['away', 'echo']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /not online \(errorCode 404103\)/);
      r = await invoke(op, ['away', 'echo', '--connect-timeout', '2']);
      assert.match(r.stderr, /errorCode 404103/);
      assert.ok(r.ms >= 1900, `404 after the 2 s connect timeout, took ${r.ms} ms`);

      // Parked until the target connects and subscribes.
      const pending = invoke(op, ['away', 'echo', '--payload', '7', '--connect-timeout', '20']);
      await new Promise((res) => setTimeout(res, 500));
      const late = await op.openDevice(away);
      const lateCalls = echoHandler(late);
      r = await pending;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json.payload.echoed, 7);
      assert.deepEqual(lateCalls, [7]);

      // An unknown identity is 404 (device not found), a bad body 400.
      r = await invoke(op, ['nobody', 'echo']);
      assert.match(r.stderr, /errorCode 404001/);
      const bad = await op.admin('POST', '/twins/dev1/methods', { payload: 1 });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errorCode, 400004);

      // $edgeAgent's own methods by IoT Hub's path.
      r = await invoke(op, ['edge1', 'ping', '--module', '$edgeAgent']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.status, 200);

      // IoT Edge's method metrics, {from, to}.
      const metrics = (await op.cli(['metrics', '--filter', 'edgehub_direct_method'])).stdout;
      assert.match(metrics, /edgehub_direct_methods_total\{[^}]*from="admin"[^}]*to="dev1"[^}]*\} 2\n/,
        'two calls to dev1 answered (echo, and the 504)');
      assert.match(metrics, /edgehub_direct_method_duration_seconds_count\{[^}]*to="edge1\/modM"/);

      // The device's calls went to the device only.
      await waitFor(() => devCalls.length === 1, { timeoutMs: 1000, message: 'no stray calls' });
    });
  });
