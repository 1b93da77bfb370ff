// The daemon's side of renewal, from the loaded configuration: renewalOptions() against pebble,
// with the challenge answered through a store served the way the daemon's port-80 listener does.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../server/src/config/index.js';
import { challengeDir, createChallengeStore, renewIfDue, renewalOptions, startChallengeResponder } from '../src/index.js';
import { startDnsServer, type TestDns } from './helpers/dns-server.js';
import { tempDir } from './helpers/infra.js';
import { startPebble, type Pebble } from './helpers/pebble.js';

const D = 'renew-daemon.test';
let dns: TestDns;
let pebble: Pebble;
let dir: string;

beforeAll(async () => {
  dns = await startDnsServer();
  for (const n of [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`, `proxy.${D}`]) dns.set(n, [{ type: 'A', address: '127.0.0.1' }]);
  pebble = await startPebble(dns.port);
  dir = await tempDir('renew-daemon');
});
afterAll(async () => {
  await pebble?.stop();
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function config(challenge: 'http-01' | 'dns-01', caFile: string) {
  const data = join(dir, 'data');
  return parseConfigText(
    [
      `hosts: [${D}]`,
      `dataDir: ${data}`,
      'tls:',
      `  certificate: ${join(data, 'certs', D, 'cert.pem')}`,
      `  key: ${join(data, 'certs', D, 'key.pem')}`,
      'acme:',
      '  enabled: true',
      `  directoryUrl: ${pebble.directoryUrl}`,
      `  email: admin@${D}`,
      `  challenge: ${challenge}`,
      `  httpPort: ${pebble.httpPort}`,
      `  caBundle: ${caFile}`,
      '',
    ].join('\n'),
    join(dir, 'roost.yaml'),
  );
}

describe('renewalOptions', () => {
  it("renews with the names setup chose (setup.json), through the daemon's challenge store", async () => {
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, pebble.listenerCa);
    const cfg = config('http-01', caFile);
    await mkdir(cfg.dataDir, { recursive: true });
    // proxy.<domain> had no DNS at setup time: it is not in the certificate, nor in the renewal.
    await writeFile(join(cfg.dataDir, 'setup.json'), JSON.stringify({ certificateNames: [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`] }));
    const store = createChallengeStore({ dir: challengeDir(cfg.dataDir) });
    const plan = await renewalOptions(cfg, store);
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.options).toMatchObject({ names: [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`], outDir: join(cfg.dataDir, 'certs', D), days: 30, challenge: 'http-01' });
    // The daemon's port-80 listener, reduced to the store it mounts.
    const listener = await startChallengeResponder(store, { port: pebble.httpPort, address: '127.0.0.1' });
    try {
      const r = await renewIfDue(plan.options);
      expect(r.error).toBeUndefined();
      expect(r.renewed).toBe(true);
      const pem = await readFile(cfg.tls.certificate, 'utf8');
      const sans = new X509Certificate(pem).subjectAltName ?? '';
      expect(sans).toContain(`DNS:upload.${D}`);
      expect(sans).not.toContain(`proxy.${D}`);
      // Due again only near expiry.
      expect((await renewIfDue(plan.options)).renewed).toBe(false);
    } finally {
      await listener.close();
    }
  });

  it('says why there is nothing to renew automatically (DNS-01, ACME off)', async () => {
    const caFile = join(dir, 'ca.pem');
    const dnsPlan = await renewalOptions(config('dns-01', caFile));
    expect(dnsPlan).toMatchObject({ ok: false, reason: expect.stringContaining('DNS-01 certificates are renewed with `roost setup`') });
    const off = parseConfigText(`hosts: [${D}]\n`, join(dir, 'off.yaml'));
    expect(await renewalOptions(off)).toMatchObject({ ok: false, reason: 'automatic certificates (acme) are off' });
  });
});
