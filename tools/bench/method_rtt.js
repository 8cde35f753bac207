'use strict';
// Direct method round trips: one device (the unmodified azure-iot-device-mqtt SDK) answers
// `echo`; N calls are made one after another and timed from request to answer, either through
// outpostd's admin API (`POST /twins/{d}/methods`, IoT Hub's service shape) or, given a module's
// connection string and the [listen] https port, from that module with the SDK's
// ModuleClient.invokeMethod (HTTPS to the gateway; Node 20's agent keeps the connection).
//   node tools/bench/method_rtt.js ADMIN_SOCKET CONNECTION_STRING TLS_PORT CA_FILE [N]
//        [MODULE_CONNECTION_STRING HTTPS_PORT]
// The clients connect over TLS to 127.0.0.1:TLS_PORT (GatewayHostName), trusting CA_FILE; the
// module's HTTPS calls to localhost:443 go to HTTPS_PORT (tests/acceptance/lib's redirectHttps).
// With RTT_EXTERNAL_DEVICE=<id> no SDK device is opened: the calls go to that device, answered
// by another process (tools/bench/method_device.py).
// Prints one JSON line: {"calls", "p50_ms", "p99_ms", "max_ms", "failed"}.
// Modules: tests/acceptance/node_modules (NODE_PATH), as the acceptance tests install them.

const http = require('node:http');
const path = require('node:path');
const { Client, ModuleClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const fs = require('node:fs');

const [socketPath, connectionString, tlsPort, caFile, countText, moduleCs, httpsPort] =
  process.argv.slice(2);
const count = Number(countText || 1000);

function call(deviceId, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({
      socketPath, method: 'POST', path: `/twins/${encodeURIComponent(deviceId)}/methods`,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function main() {
  const external = process.env.RTT_EXTERNAL_DEVICE;
  const deviceId = external || /DeviceId=([^;]+)/.exec(connectionString)[1];
  let client;
  if (!external) {
    client = Client.fromConnectionString(
      `${connectionString};GatewayHostName=localhost:${tlsPort}`, Mqtt);
    await client.setOptions({ ca: fs.readFileSync(caFile, 'utf8') });
    await client.open();
    client.onDeviceMethod('echo', (req, res) => res.send(200, req.payload, () => {}));
    await new Promise((r) => setTimeout(r, 500)); // the SDK subscribes to the methods topic
  }
  let invoke = async (body) => call(deviceId, body);
  let module;
  if (moduleCs) {
    const { redirectHttps } = require(path.join(__dirname, '..', '..', 'tests', 'acceptance', 'lib', 'outpost'));
    redirectHttps(Number(httpsPort), fs.readFileSync(caFile, 'utf8'));
    module = ModuleClient.fromConnectionString(`${moduleCs};GatewayHostName=localhost:${tlsPort}`, Mqtt);
    await module.setOptions({ ca: fs.readFileSync(caFile, 'utf8') });
    await module.open();
    invoke = async (body) => {
      try {
        const r = await module.invokeMethod(deviceId, body);
        return { status: 200, body: JSON.stringify(r) };
      } catch (e) {
        return { status: (e.response && e.response.statusCode) || 0, body: '{}' };
      }
    };
  }
  const times = [];
  let failed = 0;
  for (let i = 0; i < count; i += 1) {
    const t0 = process.hrtime.bigint();
    const r = await invoke({ methodName: 'echo', payload: { i }, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 0 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 200 || JSON.parse(r.body).payload.i !== i) failed += 1;
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(JSON.stringify({
    calls: count, p50_ms: +at(0.5).toFixed(3), p99_ms: +at(0.99).toFixed(3),
    max_ms: +times[times.length - 1].toFixed(3), failed,
  }));
  if (client) await client.close();
  if (module) await module.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
