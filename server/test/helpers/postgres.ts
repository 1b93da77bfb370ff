// A throwaway PostgreSQL cluster for tests: Debian's postgresql + postgresql-contrib (installed
// with apt when missing), initdb in a temp dir, started on a free loopback port. PostgreSQL
// refuses to run as root, so as root the cluster belongs to and runs as the `postgres` system
// user (runuser). Every call makes its own cluster (own dir, port and socket dir), so test files
// running at the same time do not meet.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../../appliance/test/helpers/infra.js';

export interface PgCluster {
  /** Loopback port the server listens on (kept across restarts). */
  readonly port: number;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Crash-like stop (pg_ctl -m immediate): backends die at once, no checkpoint. */
  kill(): void;
  /** Starts the server again on the same port and data directory. */
  start(): void;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

const PACKAGES = ['postgresql', 'postgresql-contrib'];

/** The newest installed server version with pg_trgm, installing the packages when missing. */
function findPostgres(): { bin: string } {
  const look = (): { bin: string } | undefined => {
    const root = '/usr/lib/postgresql';
    if (!existsSync(root)) return undefined;
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const bin = join(root, v, 'bin');
      if (existsSync(join(bin, 'initdb')) && existsSync(join('/usr/share/postgresql', v, 'extension', 'pg_trgm.control'))) return { bin };
    }
    return undefined;
  };
  const found = look();
  if (found) return found;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Several test files may install at once: wait for the dpkg lock instead of failing on it.
  const apt = (args: string[]): void => void execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: 'pipe', env });
  try {
    try {
      apt(['install', '-y', '--no-install-recommends', ...PACKAGES]);
    } catch {
      apt(['update']);
      apt(['install', '-y', '--no-install-recommends', ...PACKAGES]);
    }
  } catch (e) {
    throw new Error(`this test needs the Debian packages ${PACKAGES.join(' ')} (PostgreSQL server with pg_trgm); installing them failed: ${(e as Error).message}`);
  }
  const after = look();
  if (!after) throw new Error(`installed ${PACKAGES.join(' ')} but found no initdb with pg_trgm under /usr/lib/postgresql`);
  return after;
}

export async function startPostgres(): Promise<PgCluster> {
  const { bin } = findPostgres();
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'roost-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  mkdirSync(data, { mode: 0o700 });
  if (asRoot) execFileSync('chown', ['postgres:postgres', data]);
  const run = (cmd: string, args: string[]): string => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    return execFileSync(file, argv, { stdio: 'pipe', cwd: dir }).toString();
  };
  // Trust auth is fine: the server listens on loopback only, for the life of one test file.
  // C.UTF-8 gives Unicode case folding for ILIKE (archive text search) without a generated locale.
  run('initdb', ['-D', data, '-U', 'roost', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);

  let port = 0;
  let running = false;
  const pgCtlStart = (): void => {
    run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', `-h 127.0.0.1 -p ${port} -k ${dir} -c max_connections=50`, 'start']);
    running = true;
  };
  // Another process may take the port between freePort() and the bind: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      pgCtlStart();
      break;
    } catch (e) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
      if (attempt < 4 && /could not bind|address already in use/i.test(tail)) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`PostgreSQL did not start: ${(e as Error).message}\n${tail}`);
    }
  }
  const stopNow = (mode: 'fast' | 'immediate'): void => {
    if (!running) return;
    running = false;
    try {
      run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    } catch {
      // Already gone.
    }
  };
  // A test process that dies without afterAll must not leave a server behind.
  const onExit = (): void => stopNow('immediate');
  process.once('exit', onExit);

  let dbs = 0;
  return {
    port,
    async createDatabase(name = `t${++dbs}`): Promise<string> {
      const admin = new pg.Client({ host: '127.0.0.1', port, user: 'roost', database: 'postgres' });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await admin.end();
      }
      return `postgres://roost@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    kill: () => stopNow('immediate'),
    start: () => {
      if (!running) pgCtlStart();
    },
    async stop(): Promise<void> {
      process.removeListener('exit', onExit);
      stopNow('fast');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
