'use strict';
// Issue 3, item 2: X.509 client certificates are verified against the identity: a self-signed
// certificate by its registered thumbprint, a CA-signed one by its chain to the hub's CA and its
// subject CN. The SDK connects with `x509=true` and its certificate, no SAS token.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { errors } = require('azure-iot-common');
const { Client } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { withOutpost, Message, withTimeout, propsOf, transportOf } = require('./lib/outpost');

function openssl(args) {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/// A key and certificate for CN=`cn`: self-signed, or signed by `signer` {cert, key}.
function makeCert(dir, cn, signer) {
  const key = path.join(dir, `${cn}.key.pem`);
  const cert = path.join(dir, `${cn}.pem`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  if (signer) {
    const csr = path.join(dir, `${cn}.csr`);
    openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
    const ext = path.join(dir, `${cn}.ext`);
    fs.writeFileSync(ext, 'extendedKeyUsage=clientAuth\n');
    openssl(['x509', '-req', '-in', csr, '-CA', signer.cert, '-CAkey', signer.key,
      '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', cert]);
  } else {
    openssl(['req', '-new', '-x509', '-key', key, '-subj', `/CN=${cn}`, '-days', '2', '-out', cert]);
  }
  const fingerprint = openssl(['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']);
  return {
    key: fs.readFileSync(key, 'utf8'),
    cert: fs.readFileSync(cert, 'utf8'),
    thumbprint: fingerprint.split('=')[1].trim().replace(/:/g, ''),
  };
}

/// The SDK's X.509 provider ignores GatewayHostName, so the TLS port goes into HostName (the
/// username's host segment is not checked, and no token audience exists with X.509).
async function x509Client(op, deviceId, { cert, key }) {
  const client = Client.fromConnectionString(
    `HostName=localhost:${op.tlsPort};DeviceId=${deviceId};x509=true`, Mqtt);
  await op._prepare(client, { retry: false, label: deviceId });
  await client.setOptions({ ca: await op.caPem(), cert, key });
  return client;
}

async function sendThrough(op, client, modB, label) {
  await withTimeout(client.open(), 20000, `${label}: open()`);
  const before = modB.inbox.on('fromDevices').length;
  const m = new Message(label);
  m.messageId = label;
  await withTimeout(client.sendEvent(m), 15000, `${label}: sendEvent (PUBACK)`);
  await modB.inbox.waitCount('fromDevices', before + 1, 20000);
  return propsOf(modB.inbox.on('fromDevices').at(-1).msg);
}

async function expectRefused(client, what) {
  let error = null;
  try {
    await withTimeout(client.open(), 20000, `${what}: open()`);
  } catch (err) {
    error = err;
  }
  assert.ok(error, `${what}: open() must fail`);
  assert.ok(error instanceof errors.UnauthorizedError || error.name === 'UnauthorizedError',
    `${what}: expected UnauthorizedError, got ${error.name}: ${error.message}`);
}

test('a self-signed certificate authenticates by thumbprint; another certificate is refused',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'x509-thumb' }, async (op) => {
      const modB = await op.openModule(await op.addModule('modB'));
      const good = makeCert(op.dir, 'cam1');
      const other = makeCert(op.dir, 'cam1-other');
      await op.cliOk(['identity', 'add', 'device', 'cam1', '--auth', 'x509_thumbprint',
        '--primary-thumbprint', good.thumbprint]);

      const props = await sendThrough(op, await x509Client(op, 'cam1', good), modB, 'thumbprint');
      assert.equal(props['$.cdid'], 'cam1');
      await expectRefused(await x509Client(op, 'cam1', other), 'cam1 with an unregistered certificate');
    });
  });

test('a certificate signed by the edge CA authenticates an x509_ca identity by its CN',
  { timeout: 120000 }, async () => {
    await withOutpost({ name: 'x509-ca' }, async (op) => {
      const modB = await op.openModule(await op.addModule('modB'));
      const certs = path.join(op.dataDir, 'certs');
      const ca = { cert: path.join(certs, 'edge-ca.pem'), key: path.join(certs, 'edge-ca.key.pem') };
      const signed = makeCert(op.dir, 'sensor7', ca);
      const selfSigned = makeCert(op.dir, 'sensor8');
      await op.cliOk(['identity', 'add', 'device', 'sensor7', '--auth', 'x509_ca']);
      await op.cliOk(['identity', 'add', 'device', 'sensor8', '--auth', 'x509_ca']);

      const props = await sendThrough(op, await x509Client(op, 'sensor7', signed), modB, 'ca-signed');
      assert.equal(props['$.cdid'], 'sensor7');
      await expectRefused(await x509Client(op, 'sensor8', selfSigned),
        'sensor8 with a certificate not issued by the CA');
      await expectRefused(await x509Client(op, 'sensor8', signed),
        'sensor8 presenting sensor7\'s certificate (CN mismatch)');
    });
  });

// The same certificates over the other transports: AMQP on 5671 (no CBS: the certificate is
// the credential) and both WebSocket transports on the HTTPS listener, which asks for a client
// certificate during its handshake.
for (const transport of ['Amqp', 'MqttWs', 'AmqpWs']) {
  test(`${transport}: a self-signed certificate authenticates by thumbprint; another is refused`,
    { timeout: 120000 }, async () => {
      await withOutpost({ name: `x509-${transport}` }, async (op) => {
        const modB = await op.openModule(await op.addModule('modB'), { transport: 'Mqtt' });
        const good = makeCert(op.dir, 'cam2');
        const other = makeCert(op.dir, 'cam2-other');
        await op.cliOk(['identity', 'add', 'device', 'cam2', '--auth', 'x509_thumbprint',
          '--primary-thumbprint', good.thumbprint]);
        const client = async ({ cert, key }) => {
          const host = transport.endsWith('Ws') ? 'localhost' : `localhost:${op.amqpPort}`;
          const c = Client.fromConnectionString(`HostName=${host};DeviceId=cam2;x509=true`,
            transportOf(transport));
          await op._prepare(c, { retry: false, label: 'cam2', transport });
          await c.setOptions({ ca: await op.caPem(), cert, key });
          return c;
        };
        const props = await sendThrough(op, await client(good), modB, `thumbprint over ${transport}`);
        assert.equal(props['$.cdid'], 'cam2');
        // AMQP opens the connection before anything is authorized: the refusal comes with the
        // first link (the events link of sendEvent), MQTT's with CONNACK.
        let refused = null;
        const stranger = await client(other);
        try {
          await withTimeout(stranger.open(), 20000, `${transport}: open() with another certificate`);
          const m = new Message('stranger');
          m.messageId = 'stranger';
          await withTimeout(stranger.sendEvent(m), 20000,
            `${transport}: sendEvent with another certificate`);
        } catch (err) {
          refused = err;
        }
        assert.ok(refused, `${transport}: an unregistered certificate must be refused`);
        await new Promise((r) => setTimeout(r, 300));
        assert.ok(!modB.inbox.on('fromDevices').some((m) => m.msg.messageId === 'stranger'),
          'nothing from the stranger is routed');
      });
    });
}
