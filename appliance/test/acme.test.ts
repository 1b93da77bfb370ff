// ACME against a real pebble on loopback; names resolve through a local dns2 server to 127.0.0.1.
import { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcmeError,
  checkDns,
  needsRenewal,
  obtainCertificate,
  renewIfDue,
  selectCertificateNames,
  startRenewalTimer,
  createChallengeStore,
  type AcmeProgress,
  type ObtainOptions,
} from '../src/index.js';
import { readRenewalStatus } from '../src/acme/renew.js';
import { startDnsServer, type TestDns } from './helpers/dns-server.js';
import { freePort, tempDir } from './helpers/infra.js';
import { startPebble, type Pebble } from './helpers/pebble.js';

const D = 'acme.test';
const NAMES = [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`, `proxy.${D}`];
let dns: TestDns;
let pebble: Pebble;
let dir: string;

beforeAll(async () => {
  dns = await startDnsServer();
  for (const n of NAMES) dns.set(n, [{ type: 'A', address: '127.0.0.1' }]);
  pebble = await startPebble(dns.port);
  dir = await tempDir('acme');
});
afterAll(async () => {
  await pebble?.stop();
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function base(outDir: string): ObtainOptions {
  return {
    directoryUrl: pebble.directoryUrl,
    caBundle: pebble.listenerCa,
    email: `admin@${D}`,
    names: NAMES,
    challenge: 'http-01',
    httpPort: pebble.httpPort,
    httpAddress: '127.0.0.1',
    // One ACME account per output directory: pebble reuses a valid authorization of the same
    // account for about 1 % of identifiers even with PEBBLE_AUTHZREUSE=0 (it tests
    // rand.Intn(100) > percent), and a reused one asks for no challenge, which would make the
    // challenge counts below fail now and then.
    accountKeyPath: `${outDir}.account.key`,
    outDir,
  };
}

/** The certificate verifies against pebble's root for each name (leaf + chain as served). */
async function verifyChain(certPem: string, keyPem: string, names: string[]): Promise<void> {
  const root = await pebble.root();
  const srv = createServer({ cert: certPem, key: keyPem }, (s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    for (const servername of names)
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, servername, ca: root }, () => {
          expect(s.authorized).toBe(true);
          s.end();
          resolve();
        });
        s.on('error', reject);
      });
  } finally {
    srv.close();
  }
}

describe('ACME with pebble', () => {
  it('HTTP-01: one certificate with all names, chain verifies against pebble\'s root', async () => {
    const out = join(dir, 'http');
    const steps: AcmeProgress[] = [];
    const res = await obtainCertificate({ ...base(out), onProgress: (p) => steps.push(p) });
    const sans = new X509Certificate(res.certPem).subjectAltName ?? '';
    for (const n of NAMES) expect(sans).toContain(`DNS:${n}`);
    expect(res.certPath).toBe(join(out, 'cert.pem'));
    const [cert, key] = [await readFile(res.certPath, 'utf8'), await readFile(res.keyPath, 'utf8')];
    expect(key).toContain('PRIVATE KEY');
    await verifyChain(cert, key, NAMES);
    expect(steps.map((s) => s.step)).toEqual(expect.arrayContaining(['account', 'order', 'challenge', 'validate', 'write', 'done']));
  });

  it('DNS-01: shows the TXT records, checks them in DNS, then gets the certificate', async () => {
    const out = join(dir, 'dns');
    const shown: string[] = [];
    const res = await obtainCertificate({
      ...base(out),
      challenge: 'dns-01',
      dnsResolver: { nameServers: ['127.0.0.1'], port: dns.port },
      dnsTxt: {
        show: (record, value) => {
          shown.push(record.zoneLine);
          // The "admin" adds the record a moment later, so the visibility check has to wait.
          setTimeout(() => dns.set(record.name, [{ type: 'TXT', data: value }]), 200);
        },
        remove: (record) => dns.remove(record.name),
      },
    });
    expect(shown).toHaveLength(NAMES.length);
    expect(shown[0]).toMatch(/^_acme-challenge\.[a-z.]+\. 60 IN TXT "[A-Za-z0-9_-]{43}"$/);
    const sans = new X509Certificate(res.certPem).subjectAltName ?? '';
    for (const n of NAMES) expect(sans).toContain(`DNS:${n}`);
    await verifyChain(res.certPem, await readFile(res.keyPath, 'utf8'), NAMES);
  });

  it('HTTP-01 through a running daemon\'s HTTP listener that mounts the challenge store', async () => {
    const store = createChallengeStore();
    let other = 0;
    const daemon = createHttpServer((req, res) => {
      if (store.handle(req, res)) return;
      other++;
      res.writeHead(200).end('the daemon\'s own page');
    });
    await new Promise<void>((r) => daemon.listen(pebble.httpPort, '127.0.0.1', r));
    try {
      const res = await obtainCertificate({ ...base(join(dir, 'mounted')), names: [D, `upload.${D}`], challengeStore: store });
      expect(new X509Certificate(res.certPem).subjectAltName).toBe(`DNS:${D}, DNS:upload.${D}`);
      expect(other).toBe(0);
      expect(store.get('anything')).toBeUndefined();
    } finally {
      await new Promise((r) => daemon.close(r));
    }
  });

  it('a failing challenge gives a clear error and leaves the old certificate in place', async () => {
    const out = join(dir, 'http');
    const before = [await readFile(join(out, 'cert.pem'), 'utf8'), await readFile(join(out, 'key.pem'), 'utf8')];
    // The tokens go into a store nobody serves: pebble finds nothing on the HTTP-01 port.
    const err = await obtainCertificate({ ...base(out), challengeStore: createChallengeStore() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as Error).message).toMatch(/could not verify that this machine serves the names \(HTTP-01\).*port 80/s);
    expect([await readFile(join(out, 'cert.pem'), 'utf8'), await readFile(join(out, 'key.pem'), 'utf8')]).toEqual(before);
  });

  it('DNS-01 with the caller\'s own visibility check (the installer\'s "re-check" key)', async () => {
    const checks = new Map<string, number>();
    const res = await obtainCertificate({
      ...base(join(dir, 'dns-check')),
      names: [D, `pubsub.${D}`],
      challenge: 'dns-01',
      dnsTxt: {
        show: (record, value) => dns.set(record.name, [{ type: 'TXT', data: value }]),
        // Not visible on the first look: obtainCertificate must keep asking.
        check: async (record) => {
          const n = (checks.get(record.name) ?? 0) + 1;
          checks.set(record.name, n);
          return n >= 2;
        },
      },
    });
    expect([...checks.values()]).toEqual([2, 2]);
    expect(new X509Certificate(res.certPem).subjectAltName).toBe(`DNS:${D}, DNS:pubsub.${D}`);
  });

  it('DNS-01: a TXT record that never shows up is reported before asking the CA', async () => {
    const err = await obtainCertificate({
      ...base(join(dir, 'dns-missing')),
      names: [D],
      challenge: 'dns-01',
      dnsWaitMs: 500,
      dnsResolver: { nameServers: ['127.0.0.1'], port: dns.port },
      dnsTxt: { show: () => {} },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/TXT record _acme-challenge\.acme\.test with value .* is not visible in DNS yet/);
  });

  it('an unreachable ACME server gives a clear error', async () => {
    const port = await freePort();
    const err = await obtainCertificate({ ...base(join(dir, 'none')), directoryUrl: `https://127.0.0.1:${port}/dir` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as Error).message).toBe(`could not reach the certificate authority at 127.0.0.1:${port}: the connection was refused`);
  });

  it('renewal: only when due or a name is missing; failures are recorded, the old certificate kept', async () => {
    const out = join(dir, 'http');
    const pem = await readFile(join(out, 'cert.pem'), 'utf8');
    expect(needsRenewal(pem, 30)).toBe(false);
    expect(needsRenewal(pem, 30, new Date(Date.now() + 10 * 365 * 86_400_000))).toBe(true);
    expect((await renewIfDue(base(out))).renewed).toBe(false);
    const due = await renewIfDue({ ...base(out), now: new Date(Date.now() + 10 * 365 * 86_400_000) });
    expect(due).toMatchObject({ renewed: true });
    expect(await readFile(join(out, 'cert.pem'), 'utf8')).not.toBe(pem);
    expect(await readFile(join(out, 'cert.pem.bak'), 'utf8')).toBe(pem);
    // A new name is not covered -> renewal, which fails here (nothing serves the challenge).
    const current = await readFile(join(out, 'cert.pem'), 'utf8');
    dns.set(`extra.${D}`, [{ type: 'A', address: '127.0.0.1' }]);
    const failed = await renewIfDue({ ...base(out), names: [...NAMES, `extra.${D}`], challengeStore: createChallengeStore() });
    expect(failed).toMatchObject({ renewed: false, reason: `the certificate does not cover extra.${D}` });
    expect(failed.error).toMatch(/could not verify/);
    expect(await readFile(join(out, 'cert.pem'), 'utf8')).toBe(current);
    expect(await readRenewalStatus(out)).toMatchObject({ ok: false, message: expect.stringMatching(/^renewal failed/) });
  });

  it('renewal timer (daemon side): renews a due certificate at start and hands it over for reloading', async () => {
    const out = join(dir, 'timer');
    await obtainCertificate({ ...base(out), names: [D] });
    const first = await readFile(join(out, 'cert.pem'), 'utf8');
    const reloaded: string[] = [];
    // Pebble issues 5-year certificates: "due within 10 years" forces a renewal.
    const timer = startRenewalTimer({ ...base(out), names: [D], days: 3650 }, { onRenewed: (r) => void reloaded.push(r.result?.certPem ?? '') });
    try {
      await new Promise<void>((resolve) => {
        const t = setInterval(() => reloaded.length > 0 && (clearInterval(t), resolve()), 20);
      });
      expect(reloaded[0]).not.toBe(first);
      expect(reloaded[0]).toBe(await readFile(join(out, 'cert.pem'), 'utf8'));
      // Not due with the normal 30 days: nothing happens.
      const quiet = startRenewalTimer({ ...base(out), names: [D] }, { onRenewed: () => void reloaded.push('unexpected') });
      expect(await quiet.runNow()).toMatchObject({ renewed: false });
      quiet.stop();
      expect(reloaded).toHaveLength(1);
    } finally {
      timer.stop();
    }
  });

  it('selects the names whose DNS checked out', async () => {
    dns.remove(`proxy.${D}`);
    try {
      const report = await checkDns({ domain: D }, { nameServers: ['127.0.0.1'], port: dns.port });
      const sel = selectCertificateNames(D, report);
      expect(sel.names).toEqual([D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`]);
      expect(sel.warnings).toEqual([expect.stringMatching(/^proxy\.acme\.test is left out of the certificate because its DNS record is not right \(missing/)]);
    } finally {
      dns.set(`proxy.${D}`, [{ type: 'A', address: '127.0.0.1' }]);
    }
  });
});
