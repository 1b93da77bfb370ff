// What the archive benchmarks (storage.ts: the stores directly; mam.ts: XEP-0313 over a real
// server) share: one user's archive of synthetic chat filled through the store's group commit,
// and the choice of backend (SQLite file, a throwaway PostgreSQL cluster, or a given URL).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StorageConfig } from '../../server/src/storage/index.js';
import type { ArchiveStore } from '../../server/src/storage/types.js';
import { startPostgres, type PgCluster } from '../../server/test/helpers/postgres.js';

/** The marker word in 0.1% of the bodies, for full-text queries. */
export const RARE = 'Zebrafinch';

// Deterministic pseudo-random text: a fixed vocabulary, the rare word in every 1000th body.
// One sequence per process, drawn only while filling: every fill writes the same bodies.
let seed = 42;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
export const VOCAB = Array.from({ length: 3000 }, (_, i) => (i * 2654435761).toString(36).slice(0, 3 + (i % 6)));
function body(n: number): string {
  const words = Array.from({ length: 4 + Math.floor(rand() * 12) }, () => VOCAB[Math.floor(rand() * VOCAB.length)]!);
  if (n % 1000 === 500) words.push(RARE);
  return words.join(' ');
}

export interface ArchiveFill {
  owner: string;
  rows: number;
  contacts: string[];
  /** The stored stanza of message `n` with `body`, exchanged with `contact`. */
  xml(n: number, body: string, contact: string): string;
}

/** `rows` messages one second apart, ending now, 5,000 appends per event-loop turn. */
async function fill(ar: ArchiveStore, f: ArchiveFill): Promise<void> {
  const t0 = performance.now();
  const start = Date.now() - f.rows * 1000;
  for (let n = 0; n < f.rows; ) {
    const batch: Promise<string>[] = [];
    for (let k = 0; k < 5000 && n < f.rows; k++, n++) {
      const b = body(n);
      const c = f.contacts[n % f.contacts.length]!;
      batch.push(ar.append(f.owner, { when: start + n * 1000, with: c, body: b, xml: f.xml(n, b, c) }));
    }
    await Promise.all(batch);
  }
  console.log(`  filled ${f.rows.toLocaleString('en')} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Keeps an archive of exactly `rows` messages (a kept SQLite file); otherwise empties it, runs
 * `beforeFill` (on the empty store) and fills it.
 */
export async function ensureFilled(ar: ArchiveStore, f: ArchiveFill, beforeFill?: () => Promise<void>): Promise<void> {
  if ((await ar.count(f.owner)) === f.rows) {
    console.log(`  reusing the ${f.rows.toLocaleString('en')} messages already there`);
    return;
  }
  await ar.delete(f.owner);
  await beforeFill?.();
  await fill(ar, f);
}

/**
 * What autovacuum does within a minute of a bulk load: without it a fresh table has no
 * statistics and the plans are poor. `what`: a table, or the whole database.
 */
export async function analyze(cfg: StorageConfig, what = ''): Promise<void> {
  if (cfg.type !== 'postgres') return;
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: cfg.url });
  await c.connect();
  await c.query(what ? `ANALYZE ${what}` : 'ANALYZE');
  await c.end();
}

export interface BackendFlags {
  /** sqlite, postgres or both. */
  backend?: string | undefined;
  'pg-url'?: string | undefined;
  /** Keep the SQLite file here; a later run with the same --rows reuses the filled archive. */
  'sqlite-path'?: string | undefined;
}

/** Runs `run` on SQLite (a temporary file unless --sqlite-path) and/or PostgreSQL (a throwaway cluster unless --pg-url). */
export async function eachBackend(flags: BackendFlags, run: (name: string, cfg: StorageConfig) => Promise<void>): Promise<void> {
  const which = flags.backend;
  if (which === 'sqlite' || which === 'both') {
    const keep = flags['sqlite-path'];
    const dir = keep ? undefined : mkdtempSync(join(tmpdir(), 'roost-bench-'));
    try {
      await run('SQLite (WAL, each commit synced)', { type: 'sqlite', path: keep ?? join(dir!, 'bench.sqlite') });
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  if (which === 'postgres' || which === 'both') {
    let cluster: PgCluster | undefined;
    try {
      let url = flags['pg-url'];
      if (!url) {
        cluster = await startPostgres();
        url = await cluster.createDatabase('bench');
      }
      await run('PostgreSQL', { type: 'postgres', url });
    } finally {
      await cluster?.stop();
    }
  }
}
