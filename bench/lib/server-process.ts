// `roost serve` in its own process for the benchmarks that measure it from outside (c2s, muc,
// sm): a temporary data directory, a config with loopback c2s only, the accounts, and the
// process's CPU time and RSS read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inBatches } from './batches.js';

export const DOMAIN = 'bench.localhost';
export const PASSWORD = 'bench-password';

/** Limits out of the way of load generators: thousands of sessions from one address, no throttle. */
export const LOAD_LIMITS = {
  maxConnections: 100000,
  connectionsPerAddress: 100000,
  maxSessionsPerAccount: 1000,
  loginFailuresPerAddress: 100000,
  loginFailuresPerAccount: 100000,
  stanzasPerSecond: 1000000,
};

// bench/lib/ in the sources, dist/bench/lib/ when compiled: the repository is above either.
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', here.includes(`${path.sep}dist${path.sep}`) ? '..' : '.');
const roost = path.join(repo, 'bin', 'roost.js');

export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

/** User + system CPU seconds a process has used. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime + stime, in clock ticks (USER_HZ is 100 on Linux).
  return (Number(f[11]) + Number(f[12])) / 100;
}

export function rssBytes(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m![1]) * 1024;
}

function runRoost(args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [roost, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', (c) => (c === 0 ? res() : rej(new Error(`${args.join(' ')} exited ${c}`))));
  });
}

/** Accounts through the real CLI, 50 at a time. */
async function accountsByCli(file: string, names: string[]): Promise<void> {
  await inBatches(names.length, 50, (i) => runRoost(['user', 'add', `${names[i]}@${DOMAIN}`, '--password', PASSWORD, '--config', file]));
}

/** Accounts made with the daemon's own code in this process (much faster for hundreds), before `roost serve` runs. */
async function accountsInProcess(file: string, names: string[]): Promise<void> {
  // Loaded only here: the load-generator processes import this file too and need none of it.
  const [{ loadConfig }, { RoostServer }, { silentLogger }] = await Promise.all([
    import('../../server/src/config/load.js'),
    import('../../server/src/core/server.js'),
    import('../../server/src/util/log.js'),
  ]);
  const config = await loadConfig({ path: file });
  const l = config.listeners;
  const off = { ...config, listeners: { c2s: { ...l.c2s, enabled: false }, c2sDirectTls: { ...l.c2sDirectTls, enabled: false }, s2s: { ...l.s2s, enabled: false }, http: { ...l.http, enabled: false }, https: { ...l.https, enabled: false } } };
  const server = await RoostServer.start(off, { log: silentLogger });
  const accounts = server.accounts(DOMAIN)!;
  await inBatches(names.length, 16, (i) => accounts.create(names[i]!, PASSWORD));
  await server.stop();
}

export interface ServeOptions {
  /** Prefix of the temporary data directory's name. */
  tmpPrefix: string;
  /** Config sections besides hosts, dataDir, listeners and log (limits, muc, ...). */
  config: Record<string, unknown>;
  /** Usernames on DOMAIN with PASSWORD. */
  accounts: string[];
  /** 'in-process' for many accounts; 'cli' (default) runs `roost user add`. */
  createAccounts?: 'cli' | 'in-process';
  /** Extra node options for the server (a CPU profile). */
  nodeArgs?: string[];
}

export interface ServeProcess {
  proc: ChildProcess;
  port: number;
  dir: string;
  /** SIGTERM, wait for the exit, remove the data directory. */
  stop(): Promise<void>;
}

/** A fresh data directory, its accounts, and `roost serve` listening for c2s on loopback. */
export async function startServe(o: ServeOptions): Promise<ServeProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), o.tmpPrefix));
  const port = await freePort();
  const config = {
    hosts: [DOMAIN],
    dataDir: dir,
    listeners: {
      c2s: { address: '127.0.0.1', port },
      c2sDirectTls: { enabled: false },
      s2s: { enabled: false },
      http: { enabled: false },
      https: { enabled: false },
    },
    ...o.config,
    log: { level: 'warn' },
  };
  const file = path.join(dir, 'roost.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  if (o.createAccounts === 'in-process') await accountsInProcess(file, o.accounts);
  else await accountsByCli(file, o.accounts);
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), roost, 'serve', '--config', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  const stop = async () => {
    proc.kill('SIGTERM');
    await new Promise((res) => proc.once('exit', res));
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), res(true))).on('error', () => res(false));
    });
    if (ok) return { proc, port, dir, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}
