#!/usr/bin/env node
'use strict';
// Forwards the readings of input `input1` whose machine temperature is above
// TEMPERATURE_THRESHOLD (default 25) to output `alertOutput`, with app property
// MessageType=Alert (IoT Edge's filter-module tutorial). Uses ModuleClient.fromEnvironment.

const { ModuleClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const threshold = Number(process.env.TEMPERATURE_THRESHOLD || 25);

async function main() {
  const client = await ModuleClient.fromEnvironment(Mqtt);
  client.on('error', (err) => console.error(`client error: ${err.message}`));
  client.on('inputMessage', async (input, msg) => {
    await client.complete(msg).catch(() => {});
    if (input !== 'input1') return;
    let reading;
    try {
      reading = JSON.parse(msg.getBytes().toString('utf8'));
    } catch {
      console.error('input1: not JSON, dropped');
      return;
    }
    const t = reading && reading.machine && reading.machine.temperature;
    if (!(t > threshold)) return;
    const alert = new Message(JSON.stringify(reading));
    alert.contentType = 'application/json';
    alert.contentEncoding = 'utf-8';
    alert.properties.add('MessageType', 'Alert');
    try {
      await client.sendOutputEvent('alertOutput', alert);
      console.log(`alert: ${t} > ${threshold}`);
    } catch (err) {
      console.error(`alert not sent: ${err.message}`);
    }
  });
  await client.open();
  console.log(`connected as ${process.env.IOTEDGE_DEVICEID}/${process.env.IOTEDGE_MODULEID}, ` +
    `threshold ${threshold}`);
  process.on('SIGTERM', async () => {
    console.log('SIGTERM: closing');
    await client.close().catch(() => {});
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(`filter failed: ${err.stack || err}`);
  process.exit(1);
});
