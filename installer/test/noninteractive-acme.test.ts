// `roost setup --non-interactive` end to end on a loopback domain: a local dns2 server points the
// names at 127.0.0.1, a real pebble issues the certificate over HTTP-01 and DNS-01 (the TXT record
// published by a --dns-hook command through the test DNS server's HTTP API), and a failing
// challenge leaves the previous certificate in place with a clear error.
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTxtApi } from '../../appliance/test/helpers/dns-server.js';
import { startPebble, type Pebble } from '../../appliance/test/helpers/pebble.js';
import { runSetup } from '../src/index.js';
import { captureIo, freePorts, listenerFlags, type Ports, publishGoodRecords, sandbox, startDnsServer, type TestDns, writeCa } from './helpers/setup-env.js';

const D = 'roost-ni.test';
const NAMES = [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`, `proxy.${D}`];
let dns: TestDns;
let pebble: Pebble;
let txtApi: { url: string; close(): Promise<void> };
let ports: Ports;

beforeAll(async () => {
  dns = await startDnsServer();
  ports = await freePorts();
  publishGoodRecords(dns, D, ports);
  pebble = await startPebble(dns.port);
  txtApi = await startTxtApi(dns);
});
afterAll(async () => {
  await txtApi?.close();
  await pebble?.stop();
  await dns?.close();
});

async function baseArgs(sb: { dir: string; configPath: string; dataDir: string }): Promise<string[]> {
  return [
    '--non-interactive',
    '--domain', D,
    '--config', sb.configPath,
    '--data-dir', sb.dataDir,
    '--user', 'nobody',
    '--resolver', `127.0.0.1:${dns.port}`,
    '--acme-directory', pebble.directoryUrl,
    '--ca-bundle', await writeCa(sb.dir, pebble.listenerCa),
    '--http-port', String(pebble.httpPort),
    '--email', `admin@${D}`,
    '--no-systemd',
    '--no-start',
    ...listenerFlags(ports),
  ];
}

function sans(pem: string): string {
  return new X509Certificate(pem).subjectAltName ?? '';
}

// Each run spawns hooks and talks to pebble: allow for a loaded 2-core CI machine.
describe('roost setup --non-interactive with pebble', { timeout: 120_000 }, () => {
  it('HTTP-01: one certificate with every name, config written and valid, data dir owned by the service user', async () => {
    const sb = await sandbox('ni-http');
    try {
      const cap = captureIo();
      const code = await runSetup([...(await baseArgs(sb)), '--challenge', 'http-01', '--invite-days', '3'], cap.io);
      expect(cap.err()).toBe('');
      expect(code, cap.out()).toBe(0);
      const cfg = YAML.parse(await readFile(sb.configPath, 'utf8')) as Record<string, any>;
      expect(cfg.hosts).toEqual([D]);
      const pem = await readFile(cfg.tls.certificate, 'utf8');
      for (const n of NAMES) expect(sans(pem)).toContain(`DNS:${n}`);
      expect(new X509Certificate(pem).issuer).not.toBe(new X509Certificate(pem).subject);
      expect(cfg.acme).toMatchObject({ enabled: true, challenge: 'http-01', directoryUrl: pebble.directoryUrl });
      expect(cfg.listeners.c2s.port).toBe(ports.c2s);
      // The key must be readable by the daemon's user, and by nobody else.
      const key = await stat(cfg.tls.key);
      expect(key.mode & 0o777).toBe(0o600);
      expect(key.uid).toBe((await stat(sb.dataDir)).uid);
      expect((await stat(sb.dataDir)).uid).not.toBe(0);
      expect(cap.out()).toContain('Users type: roost-ni.test');
      expect(cap.out()).toMatch(/xmpp:roost-ni\.test\?register;preauth=[A-Za-z0-9_-]{24}/);
      // The invitation is stored for the daemon.
      const inv = JSON.parse(await readFile(join(sb.dataDir, 'invites.json'), 'utf8')) as { invites: Array<{ token: string; created: string; expires: string; uses: number }> };
      expect(cap.out()).toContain(inv.invites[0]?.token);
      expect(Date.parse(inv.invites[0]?.expires ?? '') - Date.parse(inv.invites[0]?.created ?? '')).toBe(3 * 86_400_000);
      expect(inv.invites[0]?.uses).toBe(1);
    } finally {
      await sb.close();
    }
  });

  it('DNS-01: the TXT records go out through --dns-hook, are checked in DNS, and the certificate has every name', async () => {
    const sb = await sandbox('ni-dns');
    try {
      const cap = captureIo();
      const hook = `node -e "fetch(process.argv[1],{method:'POST',body:JSON.stringify({name:process.env.ROOST_TXT_NAME,value:process.env.ROOST_TXT_VALUE})}).then(r=>process.exit(r.ok?0:1))" ${txtApi.url}`;
      const cleanup = `node -e "fetch(process.argv[1],{method:'DELETE',body:JSON.stringify({name:process.env.ROOST_TXT_NAME})}).then(r=>process.exit(r.ok?0:1))" ${txtApi.url}`;
      const code = await runSetup([...(await baseArgs(sb)), '--challenge', 'dns-01', '--dns-hook', hook, '--dns-cleanup-hook', cleanup, '--dns-wait', '20'], cap.io);
      expect(code, cap.out() + cap.err()).toBe(0);
      const cfg = YAML.parse(await readFile(sb.configPath, 'utf8')) as Record<string, any>;
      const pem = await readFile(cfg.tls.certificate, 'utf8');
      for (const n of NAMES) expect(sans(pem)).toContain(`DNS:${n}`);
      expect(cap.out()).toContain('_acme-challenge');
      expect(cfg.acme.challenge).toBe('dns-01');
    } finally {
      await sb.close();
    }
  });

  it('a failing challenge: clear error, exit 1, the old certificate and the old configuration stay', async () => {
    const sb = await sandbox('ni-fail');
    try {
      const first = captureIo();
      expect(await runSetup([...(await baseArgs(sb)), '--challenge', 'http-01'], first.io), first.out() + first.err()).toBe(0);
      const cfgBefore = await readFile(sb.configPath, 'utf8');
      const certPath = (YAML.parse(cfgBefore) as { tls: { certificate: string } }).tls.certificate;
      const certBefore = await readFile(certPath, 'utf8');
      // DNS-01 where nobody publishes the TXT record: the wait times out.
      const cap = captureIo();
      const code = await runSetup([...(await baseArgs(sb)), '--challenge', 'dns-01', '--dns-wait', '2'], cap.io);
      expect(code).toBe(1);
      expect(cap.err()).toMatch(/no certificate: the TXT record _acme-challenge\..* is not visible in DNS yet/);
      expect(cap.err()).toContain('the current configuration (if any) is untouched');
      expect(await readFile(certPath, 'utf8')).toBe(certBefore);
      expect(await readFile(sb.configPath, 'utf8')).toBe(cfgBefore);
    } finally {
      await sb.close();
    }
  });

  it('unreachable ACME server: plain-words error, nothing written', async () => {
    const sb = await sandbox('ni-unreach');
    try {
      const cap = captureIo();
      const args = (await baseArgs(sb)).map((a) => (a === pebble.directoryUrl ? 'https://127.0.0.1:1/dir' : a));
      const code = await runSetup(args, cap.io);
      expect(code).toBe(1);
      expect(cap.err()).toMatch(/could not reach the certificate authority at 127\.0\.0\.1:1: the connection was refused/);
      await expect(stat(sb.configPath)).rejects.toThrow(/ENOENT/);
    } finally {
      await sb.close();
    }
  });
});
