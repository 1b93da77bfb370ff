// The daemon renews its Let's Encrypt certificate by itself (issue 3, step 4): against a real
// ACME server (pebble, Debian) resolving the test names through a local dns2 server, with the
// HTTP-01 challenge answered by the daemon's own port-80 listener; the new certificate is served
// to new connections while an open session goes on.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEcdsaSelfSigned } from '../../appliance/src/acme/ecdsa-cert.js';
import { startDnsServer, type TestDns } from '../../appliance/test/helpers/dns-server.js';
import { tempDir, waitFor } from '../../appliance/test/helpers/infra.js';
import { startPebble, type Pebble } from '../../appliance/test/helpers/pebble.js';
import { startTestServer } from './helpers/server.js';
import { loggedIn } from './helpers/raw.js';

const D = 'renew.roost.test';
const NAMES = [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`];
let dns: TestDns;
let pebble: Pebble;
let dir: string;

beforeAll(async () => {
  dns = await startDnsServer();
  // Without the installer's setup.json every served name is renewed, proxy.<domain> included.
  for (const n of [...NAMES, `proxy.${D}`]) dns.set(n, [{ type: 'A', address: '127.0.0.1' }]);
  pebble = await startPebble(dns.port);
  dir = await tempDir('acme-renewal');
});

afterAll(async () => {
  await pebble?.stop();
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Serial number of the certificate a new TLS connection is served. */
async function servedSerial(port: number, ca: string): Promise<string> {
  const s = tls.connect({ host: '127.0.0.1', port, servername: D, ca });
  await new Promise<void>((res, rej) => s.once('secureConnect', res).once('error', rej));
  const serial = s.getPeerCertificate().serialNumber;
  s.destroy();
  return serial;
}

describe('automatic renewal in the daemon', () => {
  it('renews a certificate close to expiry through its own challenge listener, without dropping sessions', async () => {
    const data = join(dir, 'data');
    const certDir = join(data, 'certs', D);
    await mkdir(certDir, { recursive: true });
    const expiring = () => {
      const c = createEcdsaSelfSigned({ names: NAMES, days: 5 });
      return Promise.all([writeFile(join(certDir, 'cert.pem'), c.certPem), writeFile(join(certDir, 'key.pem'), c.keyPem, { mode: 0o600 })]);
    };
    await expiring();
    const caFile = join(dir, 'acme-ca.pem');
    await writeFile(caFile, pebble.listenerCa);
    const srv = await startTestServer({
      dataDir: data,
      hosts: [D],
      tls: { certificate: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') },
      acme: { enabled: true, directoryUrl: pebble.directoryUrl, email: `admin@${D}`, challenge: 'http-01', httpPort: pebble.httpPort, caBundle: caFile },
    });
    try {
      const root = await pebble.root();
      // The check at start finds 5 days left (< 30): a new certificate from the CA, in place.
      await waitFor(async () => new X509Certificate(await readFile(join(certDir, 'cert.pem'))).issuer.includes('Pebble'), 30_000, 'the renewed certificate');
      // ...and served (a connection verifies against the CA's root only once it is reloaded).
      await waitFor(() => servedSerial(srv.directTlsPort, root).then(() => true), 10_000, 'the new certificate being served');
      const first = await servedSerial(srv.directTlsPort, root);

      await srv.addUser('alice', 'alice-secret');
      const { s } = await loggedIn({ port: srv.port, domain: D, ca: root }, 'alice', 'alice-secret');

      // Again due (a short-lived certificate put back): renewed and reloaded while alice stays.
      await expiring();
      const r = await srv.server.renewNow();
      expect(r?.renewed).toBe(true);
      const second = await servedSerial(srv.directTlsPort, root);
      expect(second).not.toBe(first);
      const ping = await s.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, D);
      expect(ping.attrs.type).toBe('result');
      s.destroy();
    } finally {
      await srv.stop();
    }
  }, 90_000);
});
