// The real `roost` command as a separate process (bin/roost.js -> dist/), for tests of what only
// a real process has: exit codes, signals, stdin/stdout/stderr, environment, the working folder.
// The compiled code is rebuilt when server/src or appliance/src is newer than dist (CI builds it
// first: npm ci and npm test run tsc).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../appliance/test/helpers/infra.js';

export { freePort };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const ROOST_BIN = join(ROOT, 'bin', 'roost.js');
const CLI_MAIN = join(ROOT, 'dist', 'server', 'src', 'cli', 'main.js');

/** Touched after each tsc run here: tsc may skip a source whose content it has seen built. */
const STAMP = join(ROOT, 'dist', '.test-build-stamp');

/**
 * Sources whose compiled file is missing or older than them and than the last build from here
 * (tsc re-emits only what changed, so one file's time says nothing about the others).
 */
function stale(dir: string, since: number): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) out.push(...stale(rel, since));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) {
      const js = join(ROOT, 'dist', rel.replace(/\.tsx?$/, '.js'));
      const src = statSync(join(ROOT, rel)).mtimeMs;
      if (!existsSync(js) || (statSync(js).mtimeMs < src && since < src)) out.push(rel);
    }
  }
  return out;
}

/** Runs tsc when a source of the daemon is newer than its compiled file. */
export function ensureBuilt(): void {
  const since = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
  if (stale('server/src', since).length + stale('appliance/src', since).length > 0) {
    const started = new Date();
    // tsc writes the JavaScript even when some file has type errors; those fail the type check, not these tests.
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
    } catch {
      /* emitted anyway */
    }
    // The time tsc started: a file saved while it ran is built next time.
    writeFileSync(STAMP, '');
    utimesSync(STAMP, started, started);
  }
  if (!existsSync(CLI_MAIN)) throw new Error(`the compiled roost CLI (${CLI_MAIN}) is missing after running tsc`);
}

/** The environment for a child `roost`: this one without variables that would steer it elsewhere. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['ROOST_CONFIG', 'ROOST_DATA', 'NOTIFY_SOCKET', 'NODE_OPTIONS', 'VITEST', 'VITEST_WORKER_ID', 'VITEST_POOL_ID']) delete env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `roost ARGS` to completion; `input` is piped to its stdin, which is then closed (or, with
 * `keepStdinOpen`, left open until the command ends, as a program feeding it might).
 */
export function runRoost(
  args: string[],
  opts: { cwd: string; env?: Record<string, string | undefined>; input?: string; keepStdinOpen?: boolean; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ROOST_BIN, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`roost ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 20_000} ms; stdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    if (opts.keepStdinOpen) child.stdin.write(opts.input ?? '');
    else child.stdin.end(opts.input ?? '');
  });
}

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the daemon wrote to stderr so far (its log). */
  log(): string;
  stdout(): string;
  /** Resolves with the log once `re` matches a line written after `from` characters of it. */
  waitForLog(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Ports from the daemon's 'server started' line. */
  ports: { c2s?: number; directTls?: number };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM and wait; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
// A test process that dies without its afterAll must not leave daemons behind.
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Starts `roost serve ARGS` and waits for the 'server started' log line (or the process's end:
 * then the promise still resolves, with `exited` settled, so tests can look at why).
 */
export async function startDaemon(args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<Daemon> {
  const child = spawn(process.execPath, [ROOST_BIN, 'serve', ...args], { cwd: opts.cwd, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let err = '';
  let out = '';
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    for (const l of [...listeners]) l();
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      running.delete(child);
      resolve({ code, signal });
      for (const l of [...listeners]) l();
    });
  });
  const waitForLog = (re: RegExp, timeoutMs = 15_000, from = 0): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (re.test(err.slice(from))) {
          finish();
          resolve(err);
        } else if (done) {
          finish();
          reject(new Error(`the daemon exited before logging ${re}; its log:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`the daemon did not log ${re} within ${timeoutMs} ms; its log:\n${err}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  const daemon: Daemon = {
    child,
    pid: child.pid!,
    log: () => err,
    stdout: () => out,
    waitForLog,
    ports: {},
    exited,
    signal: (sig) => void child.kill(sig),
    async stop(timeoutMs = 10_000) {
      if (!done) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  try {
    await waitForLog(/server started/, opts.timeoutMs ?? 20_000);
    const m = /server started .*c2s=(\d+)(?: directTls=(\d+))?/.exec(err);
    if (m) {
      daemon.ports.c2s = Number(m[1]);
      if (m[2]) daemon.ports.directTls = Number(m[2]);
    }
  } catch {
    // Exited (bad config, port in use): the caller looks at exited and log().
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  return daemon;
}

/** A roost.yaml that keeps the embedded default and only moves the listeners to free loopback ports. */
export async function listenersOnlyConfig(): Promise<{ yaml: string; c2s: number; directTls: number }> {
  const [c2s, directTls, s2s, http, https] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const l = (port: number): string => `{ address: 127.0.0.1, port: ${port} }`;
  const yaml = [
    '# Only the listeners differ from the embedded default: free loopback ports for this test.',
    'listeners:',
    `  c2s: ${l(c2s)}`,
    `  c2sDirectTls: ${l(directTls)}`,
    `  s2s: ${l(s2s)}`,
    `  http: ${l(http)}`,
    `  https: ${l(https)}`,
    '',
  ].join('\n');
  return { yaml, c2s, directTls };
}
