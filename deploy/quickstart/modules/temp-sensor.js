#!/usr/bin/env node
'use strict';
// A simulated temperature sensor (like IoT Edge's SimulatedTemperatureSensor): every
// MESSAGE_INTERVAL_MS (default 1000) a reading goes out on output `temperatureOutput`.
// The machine temperature swings between 15 and 35 °C, so a threshold of 25 trips half the time.
// Connects with ModuleClient.fromEnvironment: identity, SAS tokens (signed by the workload API)
// and the CA all come from the IOTEDGE_* variables the agent sets.

const { ModuleClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const intervalMs = Number(process.env.MESSAGE_INTERVAL_MS || 1000);

async function main() {
  const client = await ModuleClient.fromEnvironment(Mqtt);
  client.on('error', (err) => console.error(`client error: ${err.message}`));
  await client.open();
  console.log(`connected as ${process.env.IOTEDGE_DEVICEID}/${process.env.IOTEDGE_MODULEID}, ` +
    `one reading every ${intervalMs} ms`);
  let n = 0;
  const timer = setInterval(async () => {
    const reading = {
      machine: { temperature: Number((25 + 10 * Math.sin(n / 4)).toFixed(2)), pressure: 1.0 },
      ambient: { temperature: 21.5, humidity: 25 },
      timeCreated: new Date().toISOString(),
    };
    const msg = new Message(JSON.stringify(reading));
    msg.contentType = 'application/json';
    msg.contentEncoding = 'utf-8';
    msg.properties.add('sequenceNumber', String(n++));
    try {
      await client.sendOutputEvent('temperatureOutput', msg);
    } catch (err) {
      console.error(`send failed: ${err.message}`);
    }
  }, intervalMs);
  process.on('SIGTERM', async () => {
    console.log('SIGTERM: closing');
    clearInterval(timer);
    await client.close().catch(() => {});
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(`temp-sensor failed: ${err.stack || err}`);
  process.exit(1);
});
