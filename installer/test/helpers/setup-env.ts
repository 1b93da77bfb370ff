// A loopback world for installer tests: a dns2 server answering for a test domain, free ports for
// every listener, a temp config + data directory readable by the service user.
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SERVICE_SUBDOMAINS } from '../../../appliance/src/dns/records.js';
import { startDnsServer, type TestDns } from '../../../appliance/test/helpers/dns-server.js';
import { freePort, tempDir } from '../../../appliance/test/helpers/infra.js';

export { freePort, tempDir };

export interface Ports {
  c2s: number;
  c2sDirectTls: number;
  s2s: number;
  http: number;
  https: number;
  proxy65: number;
}

export async function freePorts(): Promise<Ports> {
  const p: number[] = [];
  // Distinct ports even if the kernel hands the same one out twice in a row.
  while (p.length < 6) {
    const n = await freePort();
    if (!p.includes(n)) p.push(n);
  }
  const [c2s, c2sDirectTls, s2s, http, https, proxy65] = p as [number, number, number, number, number, number];
  return { c2s, c2sDirectTls, s2s, http, https, proxy65 };
}

/** `--set` flags that put every listener on loopback at the given ports. */
export function listenerFlags(p: Ports): string[] {
  const out: string[] = [];
  for (const name of ['c2s', 'c2sDirectTls', 's2s', 'http', 'https'] as const)
    out.push('--set', `listeners.${name}.port=${p[name]}`, '--set', `listeners.${name}.address=127.0.0.1`);
  out.push('--set', `modules.proxy65.port=${p.proxy65}`);
  return out;
}

/** Good records for `domain`: every name on 127.0.0.1, SRV records on the test ports. */
export function publishGoodRecords(dns: TestDns, domain: string, p: Ports): void {
  for (const n of [domain, ...SERVICE_SUBDOMAINS.map((s) => `${s}.${domain}`)]) dns.set(n, [{ type: 'A', address: '127.0.0.1' }]);
  const srv = (name: string, port: number): void =>
    dns.set(`${name}._tcp.${domain}`, [{ type: 'SRV', priority: 0, weight: 5, port, target: domain }]);
  srv('_xmpp-client', p.c2s);
  srv('_xmpps-client', p.c2sDirectTls);
  srv('_xmpp-server', p.s2s);
}

export interface Sandbox {
  dir: string;
  configPath: string;
  dataDir: string;
  close(): Promise<void>;
}

/** A temp dir the service user (nobody) can traverse: mkdtemp makes 0700 directories. */
export async function sandbox(prefix: string): Promise<Sandbox> {
  const dir = await tempDir(prefix);
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'etc'), { mode: 0o755 });
  return { dir, configPath: join(dir, 'etc', 'roost.yaml'), dataDir: join(dir, 'data'), close: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeCa(dir: string, pem: string): Promise<string> {
  const p = join(dir, 'acme-ca.pem');
  await writeFile(p, pem, { mode: 0o644 });
  return p;
}

export function captureIo(): { io: { out(s: string): void; err(s: string): void }; out(): string; err(): string } {
  let o = '';
  let e = '';
  return { io: { out: (s) => void (o += s), err: (s) => void (e += s) }, out: () => o, err: () => e };
}

export { startDnsServer, type TestDns };
