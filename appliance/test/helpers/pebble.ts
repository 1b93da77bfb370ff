// A throwaway pebble (Let's Encrypt's test CA, Debian package) on loopback, resolving names
// through a DNS server given by the test. Its own HTTPS listener gets a certificate made here.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Agent, get } from 'node:https';
import { join } from 'node:path';
import { ensureDebianPackage, freePort, tempDir, waitFor } from './infra.js';

export interface Pebble {
  directoryUrl: string;
  /** CA of pebble's own HTTPS listener (for the ACME API). */
  listenerCa: string;
  /** Port pebble connects to for HTTP-01. */
  httpPort: number;
  /** Root that signs the issued certificates (changes on every start). */
  root(): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: new Agent({ ca, keepAlive: false }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

export async function startPebble(dnsPort: number): Promise<Pebble> {
  const bin = ensureDebianPackage('pebble', ['pebble']);
  const dir = await tempDir('pebble');
  const ssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=pebble listener test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'req.csr']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl(['x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'cert.pem']);
  const [acmePort, mgmtPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let log = '';
  const child: ChildProcess = spawn(bin, ['-config', join(dir, 'config.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
    cwd: dir,
    // No random validation sleeps, no injected badNonce, and (nearly always: pebble still reuses a
    // valid authorization of the same account for ~1 % of identifiers) a fresh challenge per order.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const listenerCa = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  try {
    await waitFor(async () => (await httpsGet(directoryUrl, listenerCa)).status === 200, 10_000, `pebble to start:\n${log}`);
  } catch (e) {
    child.kill();
    throw e;
  }
  return {
    directoryUrl,
    listenerCa,
    httpPort,
    root: async () => (await httpsGet(`https://127.0.0.1:${mgmtPort}/roots/0`, listenerCa)).body,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
