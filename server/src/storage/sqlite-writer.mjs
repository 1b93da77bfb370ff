// @ts-check
// The SQLite writer: applies one batch of queued writes (storage/ops.ts) in one transaction.
//
// It runs in a worker thread with its own connection to the database file, so that INSERTs,
// their index and FTS updates, COMMIT, the fsync of the WAL and the checkpoints never stop the
// daemon's event loop: with them on the main thread, a 5,000 msg/s load spent 80% of the loop in
// SQLite, in stalls of 30-100 ms (the p99 latency of every stream followed). Reads stay on the
// main thread's connection: in WAL mode they run beside the writer and see each batch once it
// has committed, which is before its promises settle.
//
// This file is plain JavaScript (type-checked through JSDoc) because a worker thread loads a
// file as it is, and the tests run the TypeScript sources without compiling them first. It
// imports nothing of the project, so it loads the same from the sources and from dist/.
//
// Without a file (':memory:'), the same class runs inline on the storage's only connection.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** @typedef {import('./ops.js').WriteOp} WriteOp */
/** @typedef {{ code: string, message: string }} PlainError */
/** @typedef {{ ok: true, v: unknown } | { ok: false, error: PlainError }} OpResult */
/**
 * A committed batch with one result per write, or a batch of which nothing was written; `at` is
 * the write that made the whole batch fail, when one did.
 * @typedef {{ ok: true, results: OpResult[] } | { ok: false, what: string, at?: number, error: PlainError }} BatchOutcome
 */

/**
 * @param {unknown} e
 * @returns {PlainError}
 */
export function plainError(e) {
  const code = typeof (/** @type {{ code?: unknown }} */ (e)?.code) === 'string' ? /** @type {{ code: string }} */ (e).code : '';
  return { code, message: e instanceof Error ? e.message : String(e) };
}

export class SqliteWriter {
  /** @param {import('better-sqlite3').Database} db */
  constructor(db) {
    this.db = db;
    /** @type {Map<string, import('better-sqlite3').Statement>} */
    this.cache = new Map();
    /**
     * roost_fts_state.indexed_to as this transaction sees it; read at the first append.
     * @type {number | undefined}
     */
    this.indexedTo = undefined;
  }

  /** @param {string} sql */
  stmt(sql) {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /**
   * One transaction for the whole batch, tried first without savepoints (two statements less
   * per write: a third of the commit path's CPU in a message flood). If one write fails, the
   * transaction is rolled back and the batch runs again with a savepoint per write, so a write
   * that fails on its own (a duplicate id) is rolled back alone while the others still commit.
   * If SQLite abandons the whole transaction (disk full, I/O error), nothing of the batch stays.
   * @param {WriteOp[]} ops
   * @returns {BatchOutcome}
   */
  run(ops) {
    const db = this.db;
    /** @type {(what: string, e: unknown, at?: number) => BatchOutcome} */
    const failed = (what, e, at) => (at === undefined ? { ok: false, what, error: plainError(e) } : { ok: false, what, at, error: plainError(e) });
    this.indexedTo = undefined;
    try {
      this.stmt('BEGIN IMMEDIATE').run();
    } catch (e) {
      return failed('write', e);
    }
    /** @type {OpResult[]} */
    let results = [];
    try {
      for (const op of ops) results.push({ ok: true, v: this.apply(op) });
    } catch (e) {
      this.indexedTo = undefined;
      if (!db.inTransaction) return failed('write', e);
      try {
        db.exec('ROLLBACK');
        this.stmt('BEGIN IMMEDIATE').run();
      } catch (e2) {
        if (db.inTransaction) db.exec('ROLLBACK');
        return failed('write', e2);
      }
      results = [];
      for (let i = 0; i < ops.length; i++) {
        try {
          this.stmt('SAVEPOINT roost_op').run();
          const v = this.apply(/** @type {WriteOp} */ (ops[i]));
          this.stmt('RELEASE roost_op').run();
          results.push({ ok: true, v });
        } catch (e3) {
          this.indexedTo = undefined;
          if (!db.inTransaction) return failed('write', e3, i);
          try {
            this.stmt('ROLLBACK TO roost_op').run();
            this.stmt('RELEASE roost_op').run();
          } catch (e4) {
            // Could not undo this one write: nothing of the batch may stay.
            if (db.inTransaction) db.exec('ROLLBACK');
            return failed('write', e4, i);
          }
          results.push({ ok: false, error: plainError(e3) });
        }
      }
    }
    try {
      this.stmt('COMMIT').run();
    } catch (e) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // The connection rolls back on its own when ROLLBACK itself fails.
      }
      return failed('commit', e);
    }
    return { ok: true, results };
  }

  /** @returns {number} */
  readIndexedTo() {
    const row = /** @type {{ n: number } | undefined} */ (this.stmt('SELECT indexed_to AS n FROM roost_fts_state').get());
    return row?.n ?? 0;
  }

  /**
   * Archive rows not in the full-text index yet (an upper bound: deleted rows count).
   * @returns {number}
   */
  searchIndexLag() {
    const row = /** @type {{ n: number | null }} */ (this.stmt('SELECT max(seq) AS n FROM roost_archive').get());
    return Math.max(0, (row.n ?? 0) - this.readIndexedTo());
  }

  /**
   * Adds up to `limit` archive rows past indexed_to to the full-text index, in one transaction.
   * @param {number} limit
   * @returns {number} the rows looked at; fewer than `limit` means the index has caught up
   */
  indexSome(limit) {
    this.stmt('BEGIN IMMEDIATE').run();
    try {
      const rows = /** @type {{ seq: number, body: string | null }[]} */ (
        this.stmt('SELECT seq, body FROM roost_archive WHERE seq > (SELECT indexed_to FROM roost_fts_state) ORDER BY seq LIMIT ?').all(limit)
      );
      const add = this.stmt('INSERT INTO roost_archive_fts (rowid, body) VALUES (?, ?)');
      for (const r of rows) if (r.body) add.run(r.seq, r.body);
      const last = rows.at(-1);
      if (last) this.stmt('UPDATE roost_fts_state SET indexed_to = ?').run(last.seq);
      this.stmt('COMMIT').run();
      return rows.length;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * @param {WriteOp} op
   * @returns {unknown}
   */
  apply(op) {
    switch (op.t) {
      case 'kv-set':
        this.stmt('INSERT INTO roost_keyval (store, owner, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (store, owner, key) DO UPDATE SET value = excluded.value')
          .run(op.store, op.owner, op.key, op.value);
        return undefined;
      case 'kv-del':
        this.stmt('DELETE FROM roost_keyval WHERE store = ? AND owner = ? AND key = ?').run(op.store, op.owner, op.key);
        return undefined;
      case 'kv-del-owner':
        this.stmt('DELETE FROM roost_keyval WHERE store = ? AND owner = ?').run(op.store, op.owner);
        return undefined;
      case 'append': {
        const i = op.item;
        const seq = Number(
          this.stmt('INSERT INTO roost_archive (store, owner, id, at, with_jid, body, xml) VALUES (?, ?, ?, ?, ?, ?, ?)')
            .run(op.store, op.owner, i.id, i.when, i.with, i.body, i.xml).lastInsertRowid,
        );
        // A reused seq (the newest rows were deleted): no row lies between it and indexed_to,
        // so lowering the mark loses nothing and gets this row indexed.
        this.indexedTo ??= this.readIndexedTo();
        if (seq <= this.indexedTo) {
          this.indexedTo = seq - 1;
          this.stmt('UPDATE roost_fts_state SET indexed_to = ?').run(this.indexedTo);
        }
        return i.id;
      }
      case 'ar-delete-ids':
        return this.stmt('DELETE FROM roost_archive WHERE store = ? AND owner = ? AND id IN (SELECT value FROM json_each(?))')
          .run(op.store, op.owner, JSON.stringify(op.ids)).changes;
      case 'ar-delete-owner':
        return this.stmt('DELETE FROM roost_archive WHERE seq IN (SELECT seq FROM roost_archive WHERE store = ? AND owner = ? LIMIT ?)')
          .run(op.store, op.owner, op.chunk).changes;
      case 'ar-purge':
        return this.stmt('DELETE FROM roost_archive WHERE seq IN (SELECT seq FROM roost_archive WHERE store = ? AND at < ? LIMIT ?)')
          .run(op.store, op.before, op.chunk).changes;
    }
  }
}

/**
 * The writer's own connection. synchronous=FULL: in WAL mode each COMMIT syncs the WAL before
 * it returns, so a batch is on disk when its outcome is posted; the sync waits in this thread,
 * and the writes queued meanwhile make the next, larger batch.
 * @param {string} path
 * @param {number} busyTimeoutMs
 */
export function openWriterConnection(path, busyTimeoutMs) {
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    db.pragma('synchronous = FULL');
    // The WAL is truncated back to this size after checkpoints instead of staying at its peak.
    db.pragma('journal_size_limit = 67108864');
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** Rows indexed per transaction while idle: a few ms of FTS work (about 11 us a row in bulk here), so a batch that arrives waits little. */
const INDEX_CHUNK = 500;
/**
 * Most rows one batch indexes when past the lag: as many as a batch can append (MAX_BATCH in
 * sqlite.ts), so the lag cannot grow, yet a lag lowered in the config is worked off over several
 * batches instead of in one transaction that would hold every write.
 */
const CATCH_UP_MAX = 5000;
/** The writer counts as idle once no batch has come for this long. */
const IDLE_MS = 200;
/** After a failed indexing transaction (disk full, lock held), the next try waits this long. */
const RETRY_MS = 5000;

/**
 * The worker's protocol. In: { t: 'batch', id, ops } and { t: 'close' }. Out: { t: 'ready' },
 * { t: 'open-failed', error }, { t: 'batch', id, outcome }, { t: 'index-failed', error }.
 *
 * Full-text indexing waits until no batch has come for IDLE_MS, then runs chunk by chunk,
 * stopping when a batch comes: under load the writer spends its time on the writes. The lag
 * is bounded: past `searchIndexLag` rows, each batch with appends also indexes enough rows to
 * get back under it, so text queries never scan more than that many unindexed rows.
 */
function serveWorker() {
  const port = parentPort;
  const data = /** @type {{ roostSqliteWriter?: { path: string, busyTimeoutMs: number, searchIndexLag: number, indexWhenIdle: boolean } } | undefined} */ (workerData);
  if (!port || !data?.roostSqliteWriter) return;
  const { path, busyTimeoutMs, searchIndexLag, indexWhenIdle } = data.roostSqliteWriter;
  /** @type {import('better-sqlite3').Database} */
  let db;
  try {
    db = openWriterConnection(path, busyTimeoutMs);
  } catch (e) {
    port.postMessage({ t: 'open-failed', error: plainError(e) });
    port.close();
    return;
  }
  const writer = new SqliteWriter(db);
  /** @type {NodeJS.Timeout | undefined} */
  let idleTimer;
  let batchSeen = false;
  let closed = false;

  /** @param {() => void} fn */
  const guarded = (fn) => {
    try {
      fn();
      return true;
    } catch (e) {
      port.postMessage({ t: 'index-failed', error: plainError(e) });
      arm(RETRY_MS);
      return false;
    }
  };
  const indexWhileIdle = () => {
    idleTimer = undefined;
    if (closed) return;
    batchSeen = false;
    let n = 0;
    if (!guarded(() => (n = writer.indexSome(INDEX_CHUNK)))) return;
    if (n < INDEX_CHUNK) return;
    // More to do: go on after whatever the port has delivered meanwhile.
    setImmediate(() => {
      if (closed) return;
      if (batchSeen) arm(IDLE_MS);
      else indexWhileIdle();
    });
  };
  /** @param {number} ms */
  const arm = (ms) => {
    if (!indexWhenIdle) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(indexWhileIdle, ms);
  };

  port.on('message', (/** @type {{ t: 'batch', id: number, ops: WriteOp[] } | { t: 'close' }} */ m) => {
    if (m.t === 'batch') {
      batchSeen = true;
      const outcome = writer.run(m.ops);
      port.postMessage({ t: 'batch', id: m.id, outcome });
      const indexed =
        !(outcome.ok && m.ops.some((op) => op.t === 'append')) ||
        guarded(() => {
          const lag = writer.searchIndexLag();
          if (lag > searchIndexLag) writer.indexSome(Math.min(lag - searchIndexLag + INDEX_CHUNK, CATCH_UP_MAX));
        });
      // After a failure guarded() has set the retry delay: keep it, or a full disk would be
      // tried (and logged) again after every batch's idle time.
      if (indexed) arm(IDLE_MS);
      return;
    }
    closed = true;
    if (idleTimer) clearTimeout(idleTimer);
    try {
      db.pragma('optimize');
    } catch {
      // Only statistics; a busy or full database still closes.
    }
    db.close();
    port.close();
  });
  port.postMessage({ t: 'ready' });
  // Rows a previous run left unindexed.
  arm(IDLE_MS);
}

if (!isMainThread) serveWorker();
