// SQLite backend (better-sqlite3), the embedded default.
//
// Writes: queued for group commit (group-commit.ts) and committed by the writer thread
// (sqlite-writer.mjs), which has its own connection: INSERTs with their indexes and FTS, COMMIT
// with its WAL fsync (synchronous=FULL: a resolved write survives power loss) and checkpoints
// all run beside the event loop instead of stopping it. Reads run here, on this thread's
// connection: better-sqlite3 is synchronous, so each query blocks the event loop while it runs,
// which is the trade for its speed; queries are bounded by indexes and page limits. In WAL mode
// readers never wait for the writer, and a batch is committed before its promises settle, so a
// read issued after a write resolved sees it.
//
// Several processes share the file (the daemon and `roost user add`): WAL lets readers run
// while one writer commits; a writer waits for the lock up to the busy timeout, then the write
// rejects with code 'busy'. Write transactions are BEGIN IMMEDIATE so the lock is taken up
// front and a transaction never fails half-way on a lock upgrade. Without WAL (a file system
// without shared memory) readers wait while a batch commits.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { StorageError, fromSqliteError, newerSchema } from './errors.js';
import { WriteQueue, type Pending } from './group-commit.js';
import { DELETE_CHUNK, deleteInChunks, type WriteOp } from './ops.js';
import { PendingKeyval } from './pending-keyval.js';
import { SQLITE_MIGRATIONS, type Migration } from './sqlite-schema.js';
import { WriterThread, inlineWriter, revive, type BatchWriter } from './sqlite-writer-thread.js';
import type { ArchiveItem, ArchiveQuery, ArchiveResult, ArchiveStore, JsonValue, KeyValStore, Storage, StorageStats } from './types.js';
import {
  checkItem, checkName, checkQuery, lowerBound, parseStored, serializeJson, textMatches, upperBound,
  type CheckedQuery, type Key,
} from './validate.js';

/**
 * Writes per transaction. The cost per archive row falls with the rows per transaction (100:
 * 109 us, 2,000: 63, 5,000: 58, measured with the archive schema), and the writer thread's
 * batches no longer stall streams; the cap bounds what one message to the thread carries.
 */
const MAX_BATCH = 5000;

export interface SqliteOptions {
  path: string;
  /** How long a write waits for another process's lock before rejecting 'busy'. Default 5000. */
  busyTimeoutMs?: number;
  /** Largest page a query returns, whatever its limit. Default 1000. */
  maxPage?: number;
  /** Migrations to apply; tests pass extra ones. Default: the released schema. */
  migrations?: readonly Migration[];
  /** Text queries with up to this many FTS matches (all owners) are driven from the FTS index. Default 20000. */
  ftsDriveMax?: number;
  /**
   * Archive rows the full-text index may lag behind by. Rows are indexed when the writer is
   * idle; past this many, every batch of appends also indexes. Text queries scan the unindexed
   * rows, so this bounds their extra cost. Default 100000.
   */
  searchIndexLag?: number;
  /** Index rows while the writer is idle. Default true; benchmarks turn it off to time searches over unindexed rows. */
  indexWhenIdle?: boolean;
}

interface ArchiveRow {
  id: string;
  at: number;
  with_jid: string;
  body: string | null;
  xml: string;
}

type Db = Database.Database;
type Stmt = Database.Statement;

/** Trigram FTS matches only needles of three characters (code points) or more. */
const FTS_MIN = 3;


export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  private db: Db | undefined;
  private queue: WriteQueue<WriteOp> | undefined;
  private readonly cache = new Map<string, Stmt>();
  private readonly counters: StorageStats = { writes: 0, commits: 0, maxBatch: MAX_BATCH };
  /** Keyval writes not committed yet, which reads must see (pending-keyval.ts). */
  private readonly pendingKv = new PendingKeyval();
  private readonly busyTimeoutMs: number;
  private writer: BatchWriter | undefined;
  private readonly maxPage: number;
  private readonly ftsDriveMax: number;
  private readonly migrations: readonly Migration[];
  private readonly log: Logger;

  constructor(
    private readonly opts: SqliteOptions,
    log: Logger = silentLogger,
  ) {
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.maxPage = opts.maxPage ?? 1000;
    this.ftsDriveMax = opts.ftsDriveMax ?? 20_000;
    this.migrations = opts.migrations ?? SQLITE_MIGRATIONS;
    this.log = log.child('sqlite');
  }

  async open(): Promise<void> {
    if (this.db) return;
    const path = this.opts.path;
    let db: Db;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { timeout: this.busyTimeoutMs });
    } catch (e) {
      throw fromSqliteError(e, `cannot open the SQLite database ${path}`);
    }
    try {
      // WAL needs shared memory beside the file; on a file system without it SQLite stays in
      // rollback-journal mode, still durable but with readers blocked during writes.
      const mode = await retryWhileBusy(() => db.pragma('journal_mode = WAL', { simple: true }), this.busyTimeoutMs);
      if (mode !== 'wal' && path !== ':memory:') this.log.warn('SQLite could not switch to WAL mode; writers will block readers', { path, mode });
      // This connection only reads (and migrates); the writer thread's connection commits.
      db.pragma('synchronous = FULL');
      db.function('roost_contains', { deterministic: true }, (body: unknown, needle: unknown) =>
        typeof body === 'string' && typeof needle === 'string' && textMatches(body, needle) ? 1 : 0,
      );
      this.migrate(db);
    } catch (e) {
      db.close();
      throw fromSqliteError(e, `cannot open the SQLite database ${path}`);
    }
    let writer: BatchWriter;
    if (path === ':memory:' || path === '') writer = inlineWriter(db);
    else {
      const thread = new WriterThread({
        path,
        busyTimeoutMs: this.busyTimeoutMs,
        searchIndexLag: this.opts.searchIndexLag ?? 100_000,
        indexWhenIdle: this.opts.indexWhenIdle ?? true,
        onIndexError: (e) => this.log.warn('full-text indexing failed; it is retried later, and searches still see every message', { error: fromSqliteError(e, 'index').message }),
      });
      try {
        await thread.start();
      } catch (e) {
        db.close();
        throw fromSqliteError(e, `cannot open the SQLite database ${path} for writing`);
      }
      writer = thread;
    }
    this.db = db;
    this.writer = writer;
    this.cache.clear();
    this.queue = new WriteQueue<WriteOp>((batch) => this.runBatch(batch), MAX_BATCH);
  }

  async close(): Promise<void> {
    const db = this.db;
    if (!db) return;
    await this.queue?.close();
    await this.writer?.close();
    this.writer = undefined;
    this.db = undefined;
    this.cache.clear();
    try {
      db.pragma('optimize');
    } catch {
      // Only statistics; a busy or full database still closes.
    }
    db.close();
  }

  stats(): StorageStats {
    return { ...this.counters };
  }

  /** Archive rows not in the full-text index yet (at most about `searchIndexLag`; deleted rows may count). */
  searchIndexLag(): number {
    const row = this.conn().prepare('SELECT coalesce(max(seq), 0) - (SELECT indexed_to FROM roost_fts_state) AS n FROM roost_archive').get() as { n: number };
    return Math.max(0, row.n);
  }

  // ------------------------------------------------------------------ migrations

  private migrate(db: Db): void {
    const known = this.migrations.at(-1)?.version ?? 0;
    const current = (): number => {
      db.exec('CREATE TABLE IF NOT EXISTS roost_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      const row = db.prepare('SELECT max(version) AS v FROM roost_schema').get() as { v: number | null };
      return row.v ?? 0;
    };
    for (;;) {
      // The version is read again under the write lock: of two processes starting at once, the
      // second waits here and then finds the migration done.
      db.exec('BEGIN IMMEDIATE');
      try {
        const v = current();
        if (v > known) throw newerSchema(v, known);
        const next = this.migrations.find((m) => m.version > v);
        if (!next) {
          db.exec('COMMIT');
          return;
        }
        try {
          db.exec(next.sql);
        } catch (e) {
          const err = fromSqliteError(e, `schema migration ${next.version} (${next.name})`);
          throw err.code === 'internal' ? new StorageError('schema', err.message, { cause: e }) : err;
        }
        db.prepare('INSERT INTO roost_schema (version, name, applied_at) VALUES (?, ?, ?)').run(next.version, next.name, Date.now());
        db.exec('COMMIT');
        this.log.info('applied schema migration', { version: next.version, name: next.name });
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
    }
  }

  // ------------------------------------------------------------------ plumbing

  private conn(): Db {
    if (!this.db) throw new StorageError('closed', 'the storage is not open');
    return this.db;
  }

  private stmt(sql: string): Stmt {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.conn().prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /** Runs a read; errors become StorageError, and nothing here can throw synchronously. */
  private read<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(fromSqliteError(e, what));
    }
  }

  private write<R>(op: WriteOp): Promise<R> {
    if (!this.queue || !this.db) return Promise.reject(new StorageError('closed', 'the storage is not open'));
    this.counters.writes++;
    const p = this.queue.push<R>(op);
    this.pendingKv.track(op, p);
    return p;
  }

  /** Sends the batch to the writer and settles each write with its own result. */
  private async runBatch(batch: Pending<WriteOp>[]): Promise<void> {
    const writer = this.writer;
    if (!writer) {
      for (const e of batch) e.reject(new StorageError('closed', 'the storage is closed'));
      return;
    }
    let outcome;
    try {
      outcome = await writer.run(batch.map((p) => p.op));
    } catch (e) {
      this.failBatch(batch, fromSqliteError(e, 'write'));
      return;
    }
    if (!outcome.ok) {
      const at = outcome.at === undefined ? undefined : batch[outcome.at];
      this.failBatch(batch, fromSqliteError(revive(outcome.error), at ? describe(at.op) : outcome.what));
      return;
    }
    this.counters.commits++;
    outcome.results.forEach((r, i) => {
      const p = batch[i]!;
      if (r.ok) p.resolve(r.v);
      else p.reject(fromSqliteError(revive(r.error), describe(p.op)));
    });
  }

  private failBatch(batch: Pending<WriteOp>[], err: StorageError): void {
    this.log.warn('write batch failed', { code: err.code, error: err.message, writes: batch.length });
    for (const p of batch) p.reject(err);
  }

  // ------------------------------------------------------------------ keyval

  keyval(store: string): KeyValStore {
    checkName('store name', store);
    return {
      get: <T extends JsonValue = JsonValue>(owner: string, key: string): Promise<T | undefined> =>
        this.read('keyval get', () => {
          checkName('owner', owner);
          checkName('key', key);
          const pending = this.pendingKv.get(store, owner, key);
          const value = pending
            ? pending.value
            : (this.stmt('SELECT value FROM roost_keyval WHERE store = ? AND owner = ? AND key = ?').get(store, owner, key) as { value: string } | undefined)?.value;
          return value === undefined ? undefined : parseStored<T>(value, `${store}/${owner}/${key}`);
        }),
      set: (owner: string, key: string, value: JsonValue | undefined): Promise<void> => {
        try {
          checkName('owner', owner);
          checkName('key', key);
          if (value === undefined) return this.write({ t: 'kv-del', store, owner, key });
          return this.write({ t: 'kv-set', store, owner, key, value: serializeJson(value) });
        } catch (e) {
          return Promise.reject(e);
        }
      },
      getAll: <T extends JsonValue = JsonValue>(owner: string): Promise<Map<string, T>> =>
        this.read('keyval getAll', () => {
          const rows = this.stmt('SELECT key, value FROM roost_keyval WHERE store = ? AND owner = ? ORDER BY key')
            .all(store, checkName('owner', owner)) as { key: string; value: string }[];
          const current = this.pendingKv.overlay(store, owner, rows.map((r) => [r.key, r.value]));
          return new Map(current.map(([k, v]) => [k, parseStored<T>(v, `${store}/${owner}/${k}`)]));
        }),
      owners: (): Promise<string[]> =>
        this.read('keyval owners', () =>
          (this.stmt('SELECT DISTINCT owner FROM roost_keyval WHERE store = ? ORDER BY owner').all(store) as { owner: string }[]).map((r) => r.owner),
        ),
      deleteOwner: (owner: string): Promise<void> => {
        try {
          return this.write({ t: 'kv-del-owner', store, owner: checkName('owner', owner) });
        } catch (e) {
          return Promise.reject(e);
        }
      },
    };
  }

  // ------------------------------------------------------------------ archive

  archive(store: string): ArchiveStore {
    checkName('store name', store);
    return {
      append: (owner, item) => {
        try {
          return this.write<string>({ t: 'append', store, owner: checkName('owner', owner), item: checkItem(item) });
        } catch (e) {
          return Promise.reject(e);
        }
      },
      query: (owner, q) => this.read('archive query', () => this.query(store, checkName('owner', owner), checkQuery(q, this.maxPage))),
      count: (owner, q) =>
        this.read('archive count', () => this.count(store, checkName('owner', owner), checkQuery(q as ArchiveQuery | undefined, this.maxPage))),
      delete: (owner, ids) => {
        try {
          checkName('owner', owner);
          if (ids === undefined)
            return deleteInChunks(() => this.write<number>({ t: 'ar-delete-owner', store, owner, chunk: DELETE_CHUNK }), DELETE_CHUNK);
          if (!Array.isArray(ids)) throw new StorageError('invalid', 'ids must be an array');
          if (ids.length === 0) return Promise.resolve(0);
          return this.write<number>({ t: 'ar-delete-ids', store, owner, ids: ids.map((id) => checkName('id', id)) });
        } catch (e) {
          return Promise.reject(e);
        }
      },
      purgeBefore: (before) => {
        if (typeof before !== 'number' || !Number.isFinite(before))
          return Promise.reject(new StorageError('invalid', 'purgeBefore needs a time in milliseconds'));
        const t = Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.ceil(before)));
        return deleteInChunks(() => this.write<number>({ t: 'ar-purge', store, before: t, chunk: DELETE_CHUNK }), DELETE_CHUNK);
      },
    };
  }

  private keyOf(store: string, owner: string, id: string): Key {
    const row = this.stmt('SELECT at, seq FROM roost_archive WHERE store = ? AND owner = ? AND id = ?').get(store, owner, id) as
      | { at: number; seq: number }
      | undefined;
    if (!row) throw new StorageError('not-found', `no archive item with id ${JSON.stringify(id)}`);
    return [row.at, row.seq];
  }

  /**
   * How to serve a `text` filter. FTS5 gives the matching rowids of every owner, in rowid order,
   * not in (at, seq) order, so there are two plans:
   *  - 'fts': few matches (a rare word): look each one up by rowid, filter, sort. Cost grows with
   *    the number of matches, never with the size of the archive.
   *  - 'scan': many matches (a common word, or a needle too short for trigrams): walk the
   *    owner's time index in page order and test each body, stopping when the page is full;
   *    common matches fill a page quickly. Testing in place avoids building the huge rowid
   *    list that a common word would give.
   * A probe counts the FTS matches up to `ftsDriveMax` to choose.
   */
  private textPlan(text: string): 'fts' | 'scan' {
    if ([...text].length < FTS_MIN) return 'scan';
    const n = (this.stmt('SELECT count(*) AS n FROM (SELECT 1 FROM roost_archive_fts WHERE roost_archive_fts MATCH ? LIMIT ?)').get(ftsPhrase(text), this.ftsDriveMax + 1) as { n: number }).n;
    return n <= this.ftsDriveMax ? 'fts' : 'scan';
  }

  /** FROM + WHERE over alias `a` for the filters of `q` plus the keyset bounds. */
  private filters(store: string, owner: string, q: CheckedQuery, lo: Key | undefined, hi: Key | undefined, plan: 'fts' | 'scan'): { sql: string; params: unknown[] } {
    const where = ['a.store = ?', 'a.owner = ?'];
    const params: unknown[] = [store, owner];
    if (q.with !== undefined) {
      where.push('a.with_jid = ?');
      params.push(q.with);
    }
    const l = lowerBound(q.start, lo);
    if (l) {
      where.push('(a.at, a.seq) > (?, ?)');
      params.push(l[0], l[1]);
    }
    const h = upperBound(q.end, hi);
    if (h) {
      where.push('(a.at, a.seq) < (?, ?)');
      params.push(h[0], h[1]);
    }
    if (q.ids !== undefined) {
      where.push('a.id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(q.ids));
    }
    let from = 'roost_archive a';
    if (q.text !== undefined) {
      if (plan === 'fts' && [...q.text].length >= FTS_MIN) {
        // NOT INDEXED keeps SQLite from walking an owner index instead; rowid lookups remain.
        // The index, plus the rows the writer has not indexed yet (schema v2): a bounded tail
        // walked by rowid, this owner's bodies tested in place. NOT INDEXED: otherwise SQLite
        // walks the owner's whole part of an index (store, owner...) to find the tail.
        from = 'roost_archive a NOT INDEXED';
        where.push(
          'a.seq IN (SELECT rowid FROM roost_archive_fts WHERE roost_archive_fts MATCH ? ' +
            'UNION ALL SELECT t.seq FROM roost_archive t NOT INDEXED WHERE t.seq > (SELECT indexed_to FROM roost_fts_state) ' +
            'AND t.store = ? AND t.owner = ? AND roost_contains(t.body, ?))',
        );
        params.push(ftsPhrase(q.text), store, owner, q.text);
      } else {
        where.push('roost_contains(a.body, ?)');
        params.push(q.text);
      }
    }
    return { sql: `FROM ${from} WHERE ${where.join(' AND ')}`, params };
  }

  private count(store: string, owner: string, q: CheckedQuery): number {
    // Counting visits every match either way; FTS-driven visits only the matches.
    const { sql, params } = this.filters(store, owner, q, undefined, undefined, 'fts');
    return (this.stmt(`SELECT count(*) AS n ${sql}`).get(...params) as { n: number }).n;
  }

  private query(store: string, owner: string, q: CheckedQuery): ArchiveResult {
    const after = q.after === undefined ? undefined : this.keyOf(store, owner, q.after);
    const before = q.before === undefined ? undefined : this.keyOf(store, owner, q.before);
    const plan = q.text === undefined ? 'scan' : this.textPlan(q.text);
    const { sql, params } = this.filters(store, owner, q, after, before, plan);
    const dir = q.reverse ? 'DESC' : 'ASC';
    const rows = this.stmt(`SELECT a.id, a.at, a.with_jid, a.body, a.xml ${sql} ORDER BY a.at ${dir}, a.seq ${dir} LIMIT ?`)
      .all(...params, q.limit + 1) as ArchiveRow[];
    const complete = rows.length <= q.limit;
    if (!complete) rows.pop();
    if (q.reverse) rows.reverse();
    const result: ArchiveResult = { items: rows.map(toItem), complete };
    if (q.count) result.count = this.count(store, owner, q);
    return result;
  }
}

/** A quoted FTS5 string is one phrase: consecutive trigrams, i.e. a substring. */
function ftsPhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

function toItem(r: ArchiveRow): ArchiveItem {
  const item: ArchiveItem = { id: r.id, when: r.at, with: r.with_jid, xml: r.xml };
  if (r.body !== null) item.body = r.body;
  return item;
}

function describe(op: WriteOp): string {
  switch (op.t) {
    case 'kv-set':
    case 'kv-del':
      return `keyval ${op.store} write`;
    case 'kv-del-owner':
      return `keyval ${op.store} deleteOwner`;
    case 'append':
      return `archive ${op.store} append`;
    default:
      return `archive ${op.store} delete`;
  }
}

/**
 * Runs `fn` again while SQLite answers SQLITE_BUSY, for up to `ms`. Switching a new file to WAL
 * needs an exclusive lock, and when another process is upgrading its own lock at that moment
 * SQLite returns BUSY at once instead of calling the busy handler (it would deadlock): three
 * processes opening one new file together met that.
 */
async function retryWhileBusy<T>(fn: () => T, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      return fn();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() + wait > until) throw e;
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}
