// Pre-flight checks of the machine before setup: OS, architecture, memory, disk, ports, clock.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statfsSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, totalmem, userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { CheckResult } from './types.js';

const run = promisify(execFile);

/** Ports Roost may serve: HTTP-01/redirect, HTTPS, c2s, c2s direct TLS, s2s, HTTP, HTTPS (BOSH/WS/upload), SOCKS5 proxy. */
export const ROOST_PORTS = [80, 443, 5222, 5223, 5269, 5280, 5281, 5000] as const;

const PORT_USE: Record<number, string> = {
  80: 'certificate checks (Let\'s Encrypt HTTP-01)',
  443: 'HTTPS (web clients, file sharing)',
  5222: 'chat apps',
  5223: 'chat apps over direct TLS',
  5269: 'other chat servers (federation)',
  5280: 'HTTP (web clients, file sharing)',
  5281: 'HTTPS (web clients, file sharing)',
  5000: 'file transfer proxy',
};

/** Certificates and TLS break when the clock is far behind; no release of Roost predates this year. */
export const MIN_CLOCK_YEAR = 2026;

export interface PreflightOptions {
  ports?: readonly number[];
  /** Where data will live (free disk is measured there, or its nearest existing parent). */
  dataDir?: string;
  /** Address the port probe binds (default all IPv4 addresses, as the daemon will). */
  bindAddress?: string;
  /** Decides whether a process holding a port is Roost (default: its command line mentions roost). */
  isRoost?: (proc: ProcessInfo) => boolean;
  osReleasePath?: string;
  /** What each port is for, in plain words, when it is not the usual number (e.g. moved by the admin). */
  portUses?: Record<number, string>;
}

export interface ProcessInfo {
  pid: number;
  name: string;
  cmdline: string[];
}

export interface PortOwner {
  /** Processes holding a listening socket on the port (empty when they can't be seen). */
  processes: ProcessInfo[];
}

export function defaultIsRoost(p: ProcessInfo): boolean {
  return p.name === 'roost' || p.cmdline.some((a) => /(^|\/)roost(\.js)?$/.test(a));
}

function checkOs(path: string): CheckResult {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // os-release(5): /usr/lib/os-release is the fallback when /etc has none.
    try {
      text = path === '/etc/os-release' ? readFileSync('/usr/lib/os-release', 'utf8') : '';
    } catch {
      text = '';
    }
  }
  if (!text) {
    return { id: 'os', ok: 'warn', message: 'unknown operating system (no /etc/os-release)', fix: 'Roost is tested on Debian 12 and Raspberry Pi OS; other Linux systems may work.' };
  }
  const field = (k: string): string => /^(\w+)=(.*)$/m.exec(text.split('\n').find((l) => l.startsWith(`${k}=`)) ?? '')?.[2]?.replace(/^"|"$/g, '') ?? '';
  const id = field('ID');
  const like = field('ID_LIKE');
  const pretty = field('PRETTY_NAME') || id || 'unknown';
  if (['debian', 'raspbian'].includes(id) || like.split(' ').includes('debian'))
    return { id: 'os', ok: true, message: `operating system: ${pretty}` };
  return { id: 'os', ok: 'warn', message: `operating system: ${pretty} (not tested)`, fix: 'Roost is tested on Debian 12 and Raspberry Pi OS; other Linux systems may work.' };
}

function checkArch(): CheckResult {
  const a = arch();
  if (a === 'x64' || a === 'arm64') return { id: 'arch', ok: true, message: `architecture: ${a}` };
  if (a === 'arm') return { id: 'arch', ok: 'warn', message: 'architecture: 32-bit ARM (not tested)', fix: 'Install the 64-bit Raspberry Pi OS if the board supports it (Pi 3 and newer).' };
  return { id: 'arch', ok: 'warn', message: `architecture: ${a} (not tested)` };
}

function checkMemory(): CheckResult {
  const mb = Math.round(totalmem() / 1048576);
  if (mb >= 512) return { id: 'memory', ok: true, message: `memory: ${mb} MB` };
  if (mb >= 256) return { id: 'memory', ok: 'warn', message: `memory: ${mb} MB (enough for a few users)`, fix: 'For more than about 20 users use a machine with at least 512 MB.' };
  return { id: 'memory', ok: false, message: `memory: only ${mb} MB`, fix: 'Roost needs at least 256 MB of memory.' };
}

function checkDisk(dataDir: string): CheckResult {
  let dir = resolve(dataDir);
  while (!existsSync(dir) && dir !== dirname(dir)) dir = dirname(dir);
  try {
    const s = statfsSync(dir);
    const mb = Math.floor((Number(s.bavail) * Number(s.bsize)) / 1048576);
    const where = `free disk space at ${dir}`;
    if (mb >= 1024) return { id: 'disk', ok: true, message: `${where}: ${(mb / 1024).toFixed(1)} GB` };
    if (mb >= 200) return { id: 'disk', ok: 'warn', message: `${where}: ${mb} MB`, fix: 'Shared files and message archives need space: free up at least 1 GB, or lower the upload limits.' };
    return { id: 'disk', ok: false, message: `${where}: only ${mb} MB`, fix: 'Free up disk space (at least 200 MB) before installing.' };
  } catch (e) {
    return { id: 'disk', ok: 'warn', message: `could not measure free disk space: ${(e as Error).message}` };
  }
}

/** Listening sockets on `port` from /proc/net/tcp{,6}, mapped to processes by socket inode. */
export function findPortOwners(port: number): PortOwner {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the inode.
      const local = f[1];
      if (!local || f[3] !== '0A') continue;
      if (parseInt(local.split(':')[1] ?? '', 16) === port && f[9]) inodes.add(f[9]);
    }
  }
  const processes: ProcessInfo[] = [];
  if (inodes.size === 0) return { processes };
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return { processes };
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // not ours to see (not root) or gone
    }
    const holds = fds.some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m !== null && inodes.has(m[1] as string);
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    let name = '?';
    let cmdline: string[] = [];
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      /* process ended meanwhile */
    }
    processes.push({ pid: Number(pid), name, cmdline });
  }
  return { processes };
}

/** Tries to bind the port; if busy, says who holds it and whether that is Roost. */
export async function checkPort(port: number, opts: Pick<PreflightOptions, 'bindAddress' | 'isRoost' | 'portUses'> = {}): Promise<CheckResult> {
  const id = `port-${port}`;
  const what = opts.portUses?.[port] ?? PORT_USE[port];
  const use = what ? ` (${what})` : '';
  const err = await new Promise<NodeJS.ErrnoException | undefined>((res) => {
    const srv = createServer();
    srv.once('error', (e) => res(e));
    srv.listen({ port, host: opts.bindAddress ?? '0.0.0.0', exclusive: true }, () => srv.close(() => res(undefined)));
  });
  if (!err) return { id, ok: true, message: `port ${port}${use} is free` };
  if (err.code === 'EACCES')
    return { id, ok: 'warn', message: `cannot test port ${port}${use}: only root may use ports below 1024`, fix: 'Run the setup as root (sudo roost setup).' };
  if (err.code !== 'EADDRINUSE') return { id, ok: 'warn', message: `cannot test port ${port}: ${err.message}` };
  const owners = findPortOwners(port).processes;
  const isRoost = opts.isRoost ?? defaultIsRoost;
  if (owners.length > 0 && owners.every(isRoost))
    return { id, ok: true, message: `port ${port}${use} is used by Roost itself (pid ${owners.map((o) => o.pid).join(', ')})` };
  const other = owners.find((o) => !isRoost(o));
  if (other)
    return {
      id,
      ok: false,
      message: `port ${port}${use} is used by another program: ${other.name} (pid ${other.pid})`,
      fix: /^[\w@.-]+$/.test(other.name)
        ? `Stop that program or move it to another port (if it is a system service: systemctl disable --now ${other.name}).`
        : 'Stop that program or move it to another port.',
    };
  const root = userInfo().uid === 0;
  return {
    id,
    ok: false,
    message: `port ${port}${use} is used by another program${root ? '' : ' (run as root to see which)'}`,
    fix: root ? 'Find it with: ss -ltnp' : 'Run the setup as root to see which program holds it, or check with: sudo ss -ltnp',
  };
}

async function checkClock(): Promise<CheckResult> {
  const now = new Date();
  if (now.getUTCFullYear() < MIN_CLOCK_YEAR)
    return {
      id: 'clock',
      ok: false,
      message: `the system clock says ${now.toISOString()}, which is in the past`,
      fix: 'Set the right date and time (timedatectl set-time "YYYY-MM-DD HH:MM:SS") and turn on time sync (timedatectl set-ntp true); certificates fail with a wrong clock.',
    };
  // timedatectl answers only when systemd runs; chrony has its own tool.
  const synced = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 3000 })
    .then((r) => r.stdout.trim())
    .catch(() => undefined);
  if (synced === 'yes') return { id: 'clock', ok: true, message: `clock: ${now.toISOString()} (synchronized)` };
  const chrony = await run('chronyc', ['-n', 'tracking'], { timeout: 3000 })
    .then((r) => /Leap status\s*:\s*Normal/.test(r.stdout))
    .catch(() => undefined);
  if (chrony) return { id: 'clock', ok: true, message: `clock: ${now.toISOString()} (synchronized by chrony)` };
  return {
    id: 'clock',
    ok: 'warn',
    message: `clock: ${now.toISOString()} (could not confirm it is synchronized)`,
    fix: 'Turn on automatic time sync (timedatectl set-ntp true, or install chrony); a clock that drifts breaks certificates.',
  };
}

export async function runPreflight(opts: PreflightOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [checkOs(opts.osReleasePath ?? '/etc/os-release'), checkArch(), checkMemory(), checkDisk(opts.dataDir ?? '/var/lib/roost')];
  for (const port of opts.ports ?? ROOST_PORTS) results.push(await checkPort(port, opts));
  results.push(await checkClock());
  return results;
}
