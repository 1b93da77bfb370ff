// `roost check`: certificates, DNS, listeners, config; human and JSON output, exit codes.
import { X509Certificate } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoostConfig } from '../../server/src/config/types.js';
import { runCheck, runChecks, selfSignedFallback, selfSignedWarning, type SectionResult } from '../src/index.js';
import { startDnsServer, type TestDns } from './helpers/dns-server.js';
import { freePort, tempDir } from './helpers/infra.js';

const D = 'check.test';
let dir: string;
let dns: TestDns;
let c2s: Server;
let c2sPort: number;

function config(over: Partial<RoostConfig> = {}): RoostConfig {
  const off = { address: '127.0.0.1', port: 1, enabled: false };
  return {
    hosts: [D],
    dataDir: dir,
    storage: { type: 'sqlite', path: join(dir, 'roost.db') },
    tls: { certificate: join(dir, 'certs', 'cert.pem'), key: join(dir, 'certs', 'key.pem') },
    listeners: { c2s: { address: '127.0.0.1', port: c2sPort, enabled: true }, c2sDirectTls: off, s2s: off, http: off, https: off },
    limits: {} as RoostConfig['limits'],
    registration: { enabled: false },
    admins: [],
    log: { level: 'info', format: 'text' },
    modules: { disabled: ['proxy65'] },
    ...over,
  };
}

const find = (rs: SectionResult[], id: string): SectionResult => {
  const r = rs.find((x) => x.id === id);
  if (!r) throw new Error(`no result ${id} in ${rs.map((x) => x.id).join(', ')}`);
  return r;
};

beforeAll(async () => {
  dir = await tempDir('check');
  dns = await startDnsServer();
  for (const n of [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`]) dns.set(n, [{ type: 'A', address: '203.0.113.5' }]);
  dns.set(`_xmpp-client._tcp.${D}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5222, target: D }]);
  c2s = createServer((s) =>
    s.once('data', () =>
      s.write(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='x' from='check.test'>" +
          "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
      ),
    ),
  );
  await new Promise<void>((r) => c2s.listen(0, '127.0.0.1', r));
  c2sPort = (c2s.address() as { port: number }).port;
});
afterAll(async () => {
  c2s?.close();
  await dns?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('runChecks', () => {
  it('certificates: expiry, names covered (only served subdomains), self-signed warning with fingerprint', async () => {
    const made = await selfSignedFallback({ outDir: join(dir, 'certs'), names: [D, `conference.${D}`, `pubsub.${D}`] });
    expect(made.fingerprint).toBe(new X509Certificate(await import('node:fs').then((f) => f.readFileSync(made.certPath, 'utf8'))).fingerprint256);
    expect(made.warning).toBe(selfSignedWarning(D, made.fingerprint));
    expect(made.warning).toMatch(/Conversations asks whether to trust the certificate.*Gajim shows an "untrusted certificate" warning/);
    const { results, ok } = await runChecks({ configPath: 'unused', config: config(), sections: ['certs'] });
    expect(ok).toBe(false);
    expect(find(results, 'certs:expiry')).toMatchObject({ ok: true, message: expect.stringMatching(/valid until .* \(824 days\)/) });
    // proxy65 is disabled, so proxy.check.test is not required; upload is.
    expect(find(results, 'certs:names')).toMatchObject({ ok: false, message: expect.stringMatching(/^the certificate does not cover upload\.check\.test \(/) });
    expect(find(results, 'certs:trust').ok).toBe('warn');
    const all = await selfSignedFallback({ outDir: join(dir, 'certs'), names: [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`] });
    const again = await runChecks({ configPath: 'unused', config: config(), sections: ['certs'] });
    expect(find(again.results, 'certs:names').ok).toBe(true);
    expect(again.results.some((r) => r.id === 'certs:key')).toBe(false); // key matches
    // A key that belongs to another certificate is red.
    await selfSignedFallback({ outDir: join(dir, 'other'), names: [D] });
    const mismatch = await runChecks({ configPath: 'unused', config: config({ tls: { certificate: all.certPath, key: join(dir, 'other', 'key.pem') } }), sections: ['certs'] });
    expect(find(mismatch.results, 'certs:key')).toMatchObject({ ok: false, message: expect.stringMatching(/does not belong to the certificate/) });
    const missing = await runChecks({ configPath: 'unused', config: config({ tls: { certificate: join(dir, 'nope.pem') } }), sections: ['certs'] });
    expect(find(missing.results, 'certs:file')).toMatchObject({ ok: false, message: expect.stringMatching(/cannot read the certificate .*nope\.pem: ENOENT/) });
  });

  it('ports: the c2s listener answers with stream features; a dead listener is red', async () => {
    const dead = await freePort();
    const cfg = config();
    cfg.listeners.s2s = { address: '0.0.0.0', port: dead, enabled: true };
    const { results } = await runChecks({ configPath: 'unused', config: cfg, sections: ['ports'] });
    expect(find(results, 'ports:c2s')).toMatchObject({ ok: true, message: `chat apps: port ${c2sPort} answers (features: starttls)` });
    expect(find(results, 'ports:s2s')).toMatchObject({ ok: false, message: `s2s: nothing listens on port ${dead}`, fix: expect.stringContaining('systemctl status roost') });
  });

  it('dns: per-record results from the resolver given', async () => {
    // The SRV record must name the port the c2s listener really uses.
    dns.set(`_xmpp-client._tcp.${D}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5222, target: D }]);
    const wrong = await runChecks({ configPath: 'unused', config: config(), sections: ['dns'], resolver: { nameServers: ['127.0.0.1'], port: dns.port } });
    expect(find(wrong.results, `dns:SRV:_xmpp-client._tcp.${D}`)).toMatchObject({ ok: false, message: expect.stringContaining(`wrong port: points to port 5222; Roost listens on ${c2sPort}`) });
    dns.set(`_xmpp-client._tcp.${D}`, [{ type: 'SRV', priority: 0, weight: 5, port: c2sPort, target: D }]);
    const { results } = await runChecks({ configPath: 'unused', config: config(), sections: ['dns'], resolver: { nameServers: ['127.0.0.1'], port: dns.port } });
    expect(find(results, `dns:A:${D}`).ok).toBe(true);
    expect(find(results, `dns:SRV:_xmpp-client._tcp.${D}`).ok).toBe(true);
    // s2s and direct TLS are disabled in this config: no SRV record expected for them.
    expect(results.some((r) => r.id.includes('_xmpp-server'))).toBe(false);
    expect(results.some((r) => r.id === `dns:A:proxy.${D}`)).toBe(false);
  });
});

describe('runCheck (CLI)', () => {
  const capture = (): { out: string[]; err: string[]; io: { stdout: (s: string) => void; stderr: (s: string) => void } } => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) } };
  };

  it('usage errors exit 2, --help exits 0', async () => {
    let c = capture();
    expect(await runCheck(['bogus'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/unknown argument "bogus"[\s\S]*usage: roost check/);
    c = capture();
    expect(await runCheck(['dns', '--resolver', 'not-an-ip'], c.io)).toBe(2);
    c = capture();
    expect(await runCheck(['--help'], c.io)).toBe(0);
    expect(c.out.join('')).toContain('--json');
  });

  it('an invalid config file is red: exit 1, JSON for scripts, words for people', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'hosts: [unclosed\n  listeners: {{\n');
    let c = capture();
    expect(await runCheck(['config', '--config', file, '--json'], c.io)).toBe(1);
    const report = JSON.parse(c.out.join('')) as { ok: boolean; results: SectionResult[] };
    expect(report.ok).toBe(false);
    expect(report.results[0]).toMatchObject({ section: 'config', id: 'config', ok: false });
    c = capture();
    expect(await runCheck(['config', `--config=${file}`], c.io)).toBe(1);
    expect(c.out.join('')).toMatch(/^config\n\[ FAIL \] .+\n {9}fix: Fix .*broken\.yaml/);
  });
});
