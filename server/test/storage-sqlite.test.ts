// The storage contract against a real SQLite file (better-sqlite3), plus what only a file
// database has: several processes on one file, a lock held too long, a full disk (a real
// 4 MiB tmpfs), a damaged file.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage } from '../src/storage/index.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../src/storage/sqlite-schema.js';
import type { ArchiveResult } from '../src/storage/types.js';
import { rejection, storageContract, type Backend, type TestDatabase } from './storage-contract.js';

const here = dirname(fileURLToPath(import.meta.url));
let dir = '';
let files = 0;

function database(path: string): TestDatabase {
  return {
    make: (opts) => new SqliteStorage({ path, ...opts }),
    exec: async (sql) => {
      const db = new Database(path, { timeout: 5000 });
      try {
        const st = db.prepare(sql);
        return st.reader ? (st.all() as Record<string, unknown>[]) : (st.run(), []);
      } finally {
        db.close();
      }
    },
  };
}

const nextPath = (): string => join(dir, `db${++files}`, 'roost.sqlite');

let backend: Backend | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-sqlite-'));
  backend = {
    migrations: SQLITE_MIGRATIONS,
    shared: database(nextPath()),
    fresh: async () => database(nextPath()),
  };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The full-text index as the file holds it (schema v2: rows past indexed_to wait for the writer).
const state = (path: string): { indexedTo: number; maxSeq: number } => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT (SELECT indexed_to FROM roost_fts_state) AS indexedTo, (SELECT coalesce(max(seq), 0) FROM roost_archive) AS maxSeq').get() as {
      indexedTo: number;
      maxSeq: number;
    };
  } finally {
    db.close();
  }
};
const waitIndexed = async (path: string): Promise<void> => {
  const until = Date.now() + 20_000;
  for (;;) {
    const s = state(path);
    if (s.indexedTo >= s.maxSeq) return;
    if (Date.now() > until) throw new Error(`the full-text index did not catch up: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
/** FTS5's own check that the index holds exactly the content table's bodies it should. */
const integrity = (path: string): void => {
  const db = new Database(path);
  try {
    db.prepare("INSERT INTO roost_archive_fts (roost_archive_fts, rank) VALUES ('integrity-check', 0)").run();
  } finally {
    db.close();
  }
};
const ftsRows = (path: string, word: string): number[] => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT rowid FROM roost_archive_fts WHERE roost_archive_fts MATCH ? ORDER BY rowid').all(`"${word}"`) as { rowid: number }[]).map((r) => r.rowid);
  } finally {
    db.close();
  }
};

describe('SQLite storage: contract', () => {
  storageContract(() => backend!);
});

describe('SQLite storage: files and processes', () => {
  it('runs in WAL mode with synchronous=FULL, schema at the released version', async () => {
    const path = nextPath();
    const s = createStorage({ type: 'sqlite', path });
    await s.open();
    await s.close();
    const db = new Database(path);
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect((db.prepare('SELECT max(version) AS v FROM roost_schema').get() as { v: number }).v).toBe(SQLITE_SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('two processes start on a new file at once and write it together with this one', async () => {
    const path = nextPath();
    mkdirSync(dirname(path), { recursive: true });
    const viteNode = join(dirname(createRequire(import.meta.url).resolve('vite-node/package.json')), 'vite-node.mjs');
    const child = join(here, 'helpers', 'storage-child.ts');
    const startAt = Date.now() + 6000;
    const run = (tag: string) => promisify(execFile)(process.execPath, [viteNode, child, path, tag, '40', '25', String(startAt)], { timeout: 150_000 });
    const children = [run('p1'), run('p2')];
    // This process opens the same new file at the same moment: three race to migrate it.
    const s = createStorage({ type: 'sqlite', path, busyTimeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, startAt - Date.now()));
    await s.open();
    const ar = s.archive('shared');
    for (let r = 0; r < 40; r++) {
      await Promise.all(Array.from({ length: 25 }, (_, i) => ar.append('p0@x', { when: r * 25 + i, with: 'peer@x', body: `p0 ${r * 25 + i}`, xml: '<m/>' })));
      await new Promise((res) => setTimeout(res, 1));
    }
    const outputs = await Promise.all(children);
    for (const o of outputs) expect(JSON.parse(o.stdout.trim()).appended).toBe(1000);
    for (const tag of ['p0', 'p1', 'p2']) {
      expect(await ar.count(`${tag}@x`)).toBe(1000);
      const page = await ar.query(`${tag}@x`, { limit: 1000 });
      expect(page.items.map((i) => i.when)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    }
    expect(await s.keyval('accounts').get('p1@x', 'progress')).toBe(39);
    await s.close();
    const db = new Database(path);
    try {
      // Each migration recorded once although three processes raced to apply it.
      expect(db.prepare('SELECT version FROM roost_schema ORDER BY version').all()).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
    } finally {
      db.close();
    }
  }, 180_000);

  it('a lock held past the busy timeout rejects writes with busy; reads go on; writes resume', async () => {
    const path = nextPath();
    const s = createStorage({ type: 'sqlite', path, busyTimeoutMs: 200 });
    await s.open();
    try {
      const kv = s.keyval('k');
      await kv.set('o', 'k', 'before');
      const other = new Database(path);
      other.exec('BEGIN IMMEDIATE');
      other.prepare("INSERT INTO roost_keyval VALUES ('k', 'o', 'theirs', '1')").run();
      const t0 = Date.now();
      const err = await rejection(kv.set('o', 'k', 'during'));
      expect(err.code).toBe('busy');
      expect(err.message).toMatch(/locked/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
      // WAL: readers are not blocked by the writer.
      expect(await kv.get('o', 'k')).toBe('before');
      other.exec('COMMIT');
      other.close();
      await kv.set('o', 'k', 'after');
      expect(await kv.get('o', 'k')).toBe('after');
      expect(await kv.get('o', 'theirs')).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('text queries give the same answers whether driven from the FTS index or by scanning', async () => {
    const path = nextPath();
    const viaFts = new SqliteStorage({ path });
    const viaScan = new SqliteStorage({ path, ftsDriveMax: 0 });
    await viaFts.open();
    await viaScan.open();
    try {
      const words = ['Alpha', 'beta', 'GAMMA', 'delta', 'Ärger', 'straße', 'x"y', '50%', 'a_b'];
      await Promise.all(
        Array.from({ length: 600 }, (_, n) =>
          viaFts.archive('t').append(n % 5 === 0 ? 'other@x' : 'me@x', {
            when: 1000 + (n % 7 === 6 ? n - 50 : n),
            with: `c${n % 4}@x`,
            body: `${words[n % words.length]} ${words[(n * 7) % words.length]} #${n}`,
            xml: `<m n="${n}"/>`,
          }),
        ),
      );
      const all = (await viaFts.archive('t').query('me@x', { limit: 1000 })).items;
      let compared = 0;
      for (const text of ['alpha', 'ÄRGER', 'gamma delta', 'x"y', '50%', 'a_b', '#12', 'nomatch', 'STRASSE', 'ße'])
        for (const extra of [{}, { with: 'c1@x' }, { reverse: true, limit: 7 }, { after: all[100]!.id, limit: 9 }, { start: 1200, end: 1400, count: true }]) {
          const q = { text, ...extra };
          const a = await viaFts.archive('t').query('me@x', q);
          const b = await viaScan.archive('t').query('me@x', q);
          expect(b, JSON.stringify(q)).toEqual(a);
          compared += a.items.length;
        }
      expect(compared).toBeGreaterThan(300);
      // The same once the writer has indexed every row (above, most were still waiting).
      await waitIndexed(path);
      for (const text of ['alpha', 'ÄRGER', 'x"y', 'STRASSE', 'nomatch'])
        for (const extra of [{}, { with: 'c1@x' }, { start: 1200, end: 1400, count: true }]) {
          const q = { text, ...extra };
          expect(await viaScan.archive('t').query('me@x', q), JSON.stringify(q)).toEqual(await viaFts.archive('t').query('me@x', q));
        }
      integrity(path);
    } finally {
      await viaFts.close();
      await viaScan.close();
    }
  });

  describe('the full-text index follows the writes (schema v2)', () => {
    it('a search finds messages not indexed yet; the index catches up when the writer is idle', async () => {
      const path = nextPath();
      // First with idle indexing off, so the rows surely wait (a loaded machine may idle 200 ms).
      const held = new SqliteStorage({ path, searchIndexLag: 1_000_000, indexWhenIdle: false });
      await held.open();
      let found: ArchiveResult | undefined;
      try {
        const ar = held.archive('t');
        await Promise.all(Array.from({ length: 300 }, (_, n) => ar.append('me@x', { when: n, with: 'c@x', body: n % 3 === 0 ? `needle ${n}` : `hay ${n}`, xml: '<m/>' })));
        expect(state(path)).toEqual({ indexedTo: 0, maxSeq: 300 });
        expect(held.searchIndexLag()).toBe(300);
        found = await ar.query('me@x', { text: 'needle', limit: 500, count: true });
        expect(found.items).toHaveLength(100);
        expect(found.count).toBe(100);
        expect(found.items.every((i) => i.body?.startsWith('needle'))).toBe(true);
        expect(ftsRows(path, 'needle')).toEqual([]);
      } finally {
        await held.close();
      }
      // Then as the daemon runs it: the idle writer indexes the rows left waiting.
      const s = new SqliteStorage({ path, searchIndexLag: 1_000_000 });
      await s.open();
      try {
        await waitIndexed(path);
        expect(s.searchIndexLag()).toBe(0);
        expect(ftsRows(path, 'needle')).toHaveLength(100);
        expect(await s.archive('t').query('me@x', { text: 'needle', limit: 500 })).toEqual({ items: found!.items, complete: true });
        integrity(path);
      } finally {
        await s.close();
      }
    });

    it('past searchIndexLag every batch indexes, so at most that many rows wait', async () => {
      const path = nextPath();
      // Idle indexing off: only the bound can bring the lag down.
      const s = new SqliteStorage({ path, searchIndexLag: 50, indexWhenIdle: false });
      await s.open();
      try {
        const ar = s.archive('t');
        for (let round = 0; round < 5; round++) {
          await Promise.all(Array.from({ length: 400 }, (_, n) => ar.append('me@x', { when: round * 400 + n, with: 'c@x', body: `word ${round} ${n}`, xml: '<m/>' })));
          // The batch indexes right after its commit (its promises settle first).
          const until = Date.now() + 10_000;
          while (s.searchIndexLag() > 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
          const st = state(path);
          expect(st.maxSeq - st.indexedTo).toBeLessThanOrEqual(50);
          expect(st.maxSeq).toBe((round + 1) * 400);
        }
        integrity(path);
      } finally {
        await s.close();
      }
    });

    it('deletes of indexed and unindexed rows and reused seqs keep the index exact', async () => {
      const path = nextPath();
      const s = new SqliteStorage({ path, searchIndexLag: 1_000_000 });
      await s.open();
      try {
        const ar = s.archive('t');
        const ids = await Promise.all(Array.from({ length: 20 }, (_, n) => ar.append('me@x', { when: n, with: 'c@x', body: `first ${n}`, xml: '<m/>' })));
        await waitIndexed(path);
        const top = state(path).maxSeq;
        // The newest rows go: SQLite hands their seqs out again to the next appends.
        expect(await ar.delete('me@x', ids.slice(15))).toBe(5);
        const again = await Promise.all(Array.from({ length: 3 }, (_, n) => ar.append('me@x', { when: 100 + n, with: 'c@x', body: `second ${n}`, xml: '<m/>' })));
        expect(state(path).maxSeq).toBeLessThanOrEqual(top);
        expect((await ar.query('me@x', { text: 'second', limit: 10 })).items.map((i) => i.id)).toEqual(again);
        // Unindexed rows deleted before the index reaches them.
        expect(await ar.delete('me@x', [again[0]!])).toBe(1);
        await waitIndexed(path);
        expect(ftsRows(path, 'second')).toHaveLength(2);
        expect(ftsRows(path, 'first')).toHaveLength(15);
        expect((await ar.query('me@x', { text: 'second', limit: 10 })).items.map((i) => i.id)).toEqual(again.slice(1));
        integrity(path);
        // A whole owner and a purge: indexed rows leave the index with them.
        await ar.append('other@x', { when: 5, with: 'c@x', body: 'first other', xml: '<m/>' });
        await waitIndexed(path);
        await ar.delete('me@x');
        expect(await ar.purgeBefore(10)).toBe(1);
        expect(ftsRows(path, 'first')).toEqual([]);
        integrity(path);
      } finally {
        await s.close();
      }
    });

    it('a version 1 database keeps its index and is searched the same after the upgrade', async () => {
      const path = nextPath();
      // A file as the release with schema 1 left it: its insert trigger indexed every row.
      mkdirSync(dirname(path), { recursive: true });
      const raw = new Database(path);
      raw.exec(SQLITE_MIGRATIONS[0]!.sql);
      raw.exec('CREATE TABLE roost_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      raw.prepare('INSERT INTO roost_schema VALUES (1, ?, 0)').run(SQLITE_MIGRATIONS[0]!.name);
      const ins = raw.prepare("INSERT INTO roost_archive (store, owner, id, at, with_jid, body, xml) VALUES ('t', 'me@x', ?, ?, 'c@x', ?, '<m/>')");
      for (let n = 0; n < 50; n++) ins.run(`id${n}`, n, `old ${n % 2 ? 'odd' : 'even'}`);
      raw.close();
      const s = new SqliteStorage({ path });
      await s.open();
      try {
        expect(state(path)).toEqual({ indexedTo: 50, maxSeq: 50 });
        const odd = await s.archive('t').query('me@x', { text: 'odd', limit: 100 });
        expect(odd.items.map((i) => i.id)).toEqual(Array.from({ length: 25 }, (_, k) => `id${2 * k + 1}`));
        expect(ftsRows(path, 'odd')).toHaveLength(25);
        integrity(path);
      } finally {
        await s.close();
      }
    });
  });

  it('a writer thread that dies fails at most its batch; the next batch gets a new thread', async () => {
    const path = nextPath();
    const s = new SqliteStorage({ path });
    await s.open();
    try {
      const kv = s.keyval('k');
      await kv.set('o', 'before', 1);
      // The thread is private; this test kills it as a crash (out of memory, a native fault) would.
      const thread = (s as unknown as { writer: { worker: import('node:worker_threads').Worker } }).writer;
      const dying = thread.worker;
      const inFlight = kv.set('o', 'during', 2).then(
        () => 'committed',
        (e: { code?: string }) => e.code,
      );
      await dying.terminate();
      // Either it had committed before the thread went, or it rejects as unavailable.
      expect(['committed', 'unavailable']).toContain(await inFlight);
      await kv.set('o', 'after', 3);
      expect(thread.worker).not.toBe(dying);
      expect(await kv.get('o', 'before')).toBe(1);
      expect(await kv.get('o', 'after')).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('a damaged file: open rejects with corrupt', async () => {
    const path = nextPath();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, Buffer.alloc(8192, 'this is not a database '));
    const err = await rejection(createStorage({ type: 'sqlite', path }).open());
    expect(err.code).toBe('corrupt');
    expect(err.message).toContain(path);
  });

  describe('a full disk (a real 4 MiB tmpfs)', () => {
    let mnt = '';
    beforeAll(async () => {
      mnt = await mkdtemp(join(tmpdir(), 'roost-full-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
      } catch (e) {
        throw new Error(`this test mounts a small tmpfs to fill it and needs root (or CAP_SYS_ADMIN): ${(e as Error).message}`);
      }
    });
    afterAll(() => {
      if (!mnt) return;
      try {
        execFileSync('umount', [mnt], { stdio: 'pipe' });
      } finally {
        rmSync(mnt, { recursive: true, force: true });
      }
    });

    it('writes reject with full, nothing half-written, reads go on, writes resume once there is space', async () => {
      const path = join(mnt, 'roost.sqlite');
      // Room to give back later.
      writeFileSync(join(mnt, 'ballast'), Buffer.alloc(1024 * 1024));
      const s = createStorage({ type: 'sqlite', path });
      await s.open();
      const ar = s.archive('a');
      const kv = s.keyval('k');
      await kv.set('o', 'k', 'safe');
      const xml = `<message><body>${'x'.repeat(8000)}</body></message>`;
      let accepted = 0;
      let failure: unknown;
      for (let round = 0; round < 200 && !failure; round++) {
        const r = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => ar.append('o', { when: round * 10 + i, with: 'w', body: `n${round}`, xml })));
        for (const x of r) {
          if (x.status === 'fulfilled') accepted++;
          else failure = x.reason;
        }
        // A batch is all or nothing.
        expect(r.every((x) => x.status === r[0]!.status)).toBe(true);
      }
      expect(failure, 'the 4 MiB file system never filled up').toBeDefined();
      const err = failure as Error & { code?: string };
      expect(err.code).toBe('full');
      expect(err.message).toMatch(/disk .* is full/);
      expect((await rejection(kv.set('o', 'big', 'y'.repeat(2_000_000)))).code).toBe('full');
      // Everything that was accepted is there, nothing that was refused.
      expect(await ar.count('o')).toBe(accepted);
      expect(await kv.get('o', 'k')).toBe('safe');
      expect(await kv.get('o', 'big')).toBeUndefined();
      rmSync(join(mnt, 'ballast'));
      await ar.append('o', { when: 1e9, with: 'w', xml: '<after/>' });
      expect(await ar.count('o')).toBe(accepted + 1);
      await s.close();
      const again = createStorage({ type: 'sqlite', path });
      await again.open();
      expect(await again.archive('a').count('o')).toBe(accepted + 1);
      await again.close();
    });
  });
});
