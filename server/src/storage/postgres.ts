// PostgreSQL backend (node-postgres Pool).
//
// Durability: a write resolves after COMMIT returns, and with PostgreSQL's default
// synchronous_commit=on the commit record is flushed to the WAL first. Group commit
// (storage/group-commit.ts): the writes of one event-loop turn go into one transaction, with
// consecutive appends as ONE multi-row INSERT and consecutive keyval sets as ONE upsert, so a
// burst costs a few round trips and one WAL flush. Reads use the pool in parallel.
//
// A dead server: every call rejects with StorageError 'unavailable' (the pool's 'error' events
// are handled, so nothing crashes); the pool opens fresh connections once the server is back.
// A connection lost during COMMIT leaves the outcome unknown: the write rejects 'unavailable'
// although it may have been applied (it is never half-applied).
import pg from 'pg';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { StorageError, fromPgError, newerSchema } from './errors.js';
import { WriteQueue, type Pending } from './group-commit.js';
import { DELETE_CHUNK, deleteInChunks, type WriteOp } from './ops.js';
import { PendingKeyval } from './pending-keyval.js';
import { PG_MIGRATIONS } from './postgres-schema.js';
import type { Migration } from './sqlite-schema.js';
import type { ArchiveItem, ArchiveQuery, ArchiveResult, ArchiveStore, JsonValue, KeyValStore, Storage, StorageStats } from './types.js';
import { checkItem, checkName, checkQuery, lowerBound, parseStored, serializeJson, upperBound, type CheckedQuery, type Key } from './validate.js';

export interface PostgresOptions {
  /** postgres://user:password@host:port/database (libpq URL; sslmode etc. as query string). */
  url: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Connect timeout: how long a call waits for an unreachable server. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Client-side timeout per statement; a hung server rejects 'unavailable'. Default 30000 ms. */
  queryTimeoutMs?: number;
  /** Largest page a query returns, whatever its limit. Default 1000. */
  maxPage?: number;
  /** Migrations to apply; tests pass extra ones. Default: the released schema. */
  migrations?: readonly Migration[];
}

interface ArchiveRow {
  id: string;
  at: string;
  with_jid: string;
  body: string | null;
  xml: string;
}

/** pg_advisory_xact_lock key serializing migrations: "Roost" in ASCII. */
const MIGRATION_LOCK = '353283936116';

/** Writes per transaction: one round trip and one WAL flush for all of them. */
const MAX_BATCH = 5000;

export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  private pool: pg.Pool | undefined;
  private queue: WriteQueue<WriteOp> | undefined;
  private readonly counters: StorageStats = { writes: 0, commits: 0, maxBatch: MAX_BATCH };
  /** Keyval writes not committed yet, which reads must see (pending-keyval.ts). */
  private readonly pendingKv = new PendingKeyval();
  private readonly maxPage: number;
  private readonly migrations: readonly Migration[];
  private readonly log: Logger;

  constructor(
    private readonly opts: PostgresOptions,
    log: Logger = silentLogger,
  ) {
    this.maxPage = opts.maxPage ?? 1000;
    this.migrations = opts.migrations ?? PG_MIGRATIONS;
    this.log = log.child('postgres');
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const pool = new pg.Pool({
      connectionString: this.opts.url,
      max: this.opts.poolSize ?? 10,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 5000,
      query_timeout: this.opts.queryTimeoutMs ?? 30_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'roost',
    });
    // An idle connection whose server went away emits 'error' on the pool; unhandled, that
    // would kill the process. The pool drops the connection; the next call opens a new one.
    pool.on('error', (err) => this.log.warn('PostgreSQL connection lost', { error: err.message }));
    try {
      await this.migrate(pool);
    } catch (e) {
      await pool.end().catch(() => {});
      throw fromPgError(e, 'cannot open the PostgreSQL database');
    }
    this.pool = pool;
    this.queue = new WriteQueue<WriteOp>((batch) => this.runBatch(batch), MAX_BATCH);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await this.queue?.close();
    this.pool = undefined;
    await pool.end().catch(() => {});
  }

  stats(): StorageStats {
    return { ...this.counters };
  }

  // ------------------------------------------------------------------ migrations

  private async migrate(pool: pg.Pool): Promise<void> {
    const known = this.migrations.length ? this.migrations[this.migrations.length - 1]!.version : 0;
    const c = await pool.connect();
    const onError = (): void => {};
    c.on('error', onError);
    let broken: Error | undefined;
    try {
      for (;;) {
        await c.query('BEGIN');
        try {
          // Held to the end of this transaction: a second daemon starting now waits here, then
          // reads the version this one wrote.
          await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          await c.query('CREATE TABLE IF NOT EXISTS roost_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
          const v = Number((await c.query<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM roost_schema')).rows[0]?.v ?? 0);
          if (v > known) throw newerSchema(v, known);
          const next = this.migrations.find((m) => m.version > v);
          if (!next) {
            await c.query('COMMIT');
            return;
          }
          try {
            await c.query(next.sql);
          } catch (e) {
            throw migrationError(next, e);
          }
          await c.query('INSERT INTO roost_schema (version, name, applied_at) VALUES ($1, $2, $3)', [next.version, next.name, Date.now()]);
          await c.query('COMMIT');
          this.log.info('applied schema migration', { version: next.version, name: next.name });
        } catch (e) {
          await c.query('ROLLBACK').catch((e2: Error) => (broken = e2));
          throw e;
        }
      }
    } finally {
      c.removeListener('error', onError);
      c.release(broken);
    }
  }

  // ------------------------------------------------------------------ plumbing

  private live(): pg.Pool {
    if (!this.pool) throw new StorageError('closed', 'the storage is not open');
    return this.pool;
  }

  private async read<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<R[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.live().query<R>(sql, params)).rows;
      } catch (e) {
        // An idle connection that died with a server restart: reads are safe to send again.
        if (attempt === 0 && isStaleConnection(e)) continue;
        throw fromPgError(e, what);
      }
    }
  }

  private write<R>(op: WriteOp): Promise<R> {
    if (!this.queue || !this.pool) return Promise.reject(new StorageError('closed', 'the storage is not open'));
    this.counters.writes++;
    const p = this.queue.push<R>(op);
    this.pendingKv.track(op, p);
    return p;
  }

  private async runBatch(batch: Pending<WriteOp>[]): Promise<void> {
    const pool = this.pool;
    if (!pool) {
      for (const p of batch) p.reject(new StorageError('closed', 'the storage is closed'));
      return;
    }
    // While checked out, a dying connection emits 'error' on the client too (the pool listens
    // only while it is idle); the query that was running rejects with it, handled below.
    const onError = (): void => {};
    let c: pg.PoolClient;
    for (let attempt = 0; ; attempt++) {
      try {
        c = await pool.connect();
      } catch (e) {
        const err = fromPgError(e, 'write');
        this.log.warn('write batch failed', { code: err.code, error: err.message, writes: batch.length });
        for (const p of batch) p.reject(err);
        return;
      }
      c.on('error', onError);
      try {
        await c.query('BEGIN');
        break;
      } catch (e) {
        c.removeListener('error', onError);
        c.release(e as Error);
        // A connection left over from before a server restart; nothing was sent yet: once more.
        if (attempt === 0 && isStaleConnection(e)) continue;
        const err = fromPgError(e, 'write');
        this.log.warn('write batch failed', { code: err.code, error: err.message, writes: batch.length });
        for (const p of batch) p.reject(err);
        return;
      }
    }
    let broken: Error | undefined;
    try {
      try {
        const results = await this.applyGrouped(c, batch);
        await c.query('COMMIT');
        this.counters.commits++;
        batch.forEach((p, i) => p.resolve(results[i]));
        return;
      } catch (e) {
        const err = fromPgError(e, 'write');
        if (err.code === 'unavailable') {
          this.log.warn('write batch failed', { code: err.code, error: err.message, writes: batch.length });
          broken = e as Error;
          for (const p of batch) p.reject(err);
          return;
        }
        await c.query('ROLLBACK').catch((e2: Error) => (broken = e2));
        if (broken) {
          for (const p of batch) p.reject(err);
          return;
        }
      }
      // One write spoiled the batch (a duplicate id...): again, each write in a savepoint, so
      // only the guilty one is rejected.
      broken = await this.applyIsolated(c, batch);
    } finally {
      c.removeListener('error', onError);
      c.release(broken);
    }
  }

  /** Returns the error that broke the connection, if one did. */
  private async applyIsolated(c: pg.PoolClient, batch: Pending<WriteOp>[]): Promise<Error | undefined> {
    const done: [Pending<WriteOp>, unknown][] = [];
    try {
      await c.query('BEGIN');
      for (const p of batch) {
        await c.query('SAVEPOINT roost_op');
        try {
          done.push([p, await this.applyOne(c, p.op)]);
          await c.query('RELEASE SAVEPOINT roost_op');
        } catch (e) {
          const err = fromPgError(e, describe(p.op));
          if (err.code === 'unavailable') throw e;
          await c.query('ROLLBACK TO SAVEPOINT roost_op');
          p.reject(err);
        }
      }
      await c.query('COMMIT');
      this.counters.commits++;
      for (const [p, r] of done) p.resolve(r);
      return undefined;
    } catch (e) {
      const err = fromPgError(e, 'write');
      let broken: Error | undefined = err.code === 'unavailable' ? (e as Error) : undefined;
      if (!broken) await c.query('ROLLBACK').catch((e2: Error) => (broken = e2));
      for (const p of batch) p.reject(err);
      return broken;
    }
  }

  /** Consecutive appends become one INSERT, consecutive sets of distinct keys one upsert. */
  private async applyGrouped(c: pg.PoolClient, batch: Pending<WriteOp>[]): Promise<unknown[]> {
    const results: unknown[] = new Array(batch.length);
    let i = 0;
    while (i < batch.length) {
      const op = batch[i]!.op;
      let j = i + 1;
      if (op.t === 'append') {
        while (j < batch.length && batch[j]!.op.t === 'append') j++;
        const ops = batch.slice(i, j).map((p) => p.op as Extract<WriteOp, { t: 'append' }>);
        if (ops.length === 1) await this.applyOne(c, op);
        else
          await c.query(
            `INSERT INTO roost_archive (store, owner, id, at, with_jid, body, xml)
             SELECT store, owner, id, at, with_jid, body, xml
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])
               WITH ORDINALITY AS t(store, owner, id, at, with_jid, body, xml, ord)
             ORDER BY ord`,
            [ops.map((o) => o.store), ops.map((o) => o.owner), ops.map((o) => o.item.id), ops.map((o) => o.item.when),
             ops.map((o) => o.item.with), ops.map((o) => o.item.body), ops.map((o) => o.item.xml)],
          );
        ops.forEach((o, k) => (results[i + k] = o.item.id));
      } else if (op.t === 'kv-set') {
        // ON CONFLICT may not touch one row twice in a statement: a repeated key starts a new group.
        const seen = new Set([kvKey(op)]);
        while (j < batch.length) {
          const next = batch[j]!.op;
          if (next.t !== 'kv-set' || seen.has(kvKey(next))) break;
          seen.add(kvKey(next));
          j++;
        }
        const ops = batch.slice(i, j).map((p) => p.op as Extract<WriteOp, { t: 'kv-set' }>);
        await c.query(
          `INSERT INTO roost_keyval (store, owner, key, value)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
           ON CONFLICT (store, owner, key) DO UPDATE SET value = EXCLUDED.value`,
          [ops.map((o) => o.store), ops.map((o) => o.owner), ops.map((o) => o.key), ops.map((o) => o.value)],
        );
      } else {
        results[i] = await this.applyOne(c, op);
      }
      i = j;
    }
    return results;
  }

  private async applyOne(c: pg.PoolClient, op: WriteOp): Promise<unknown> {
    switch (op.t) {
      case 'kv-set':
        await c.query(
          'INSERT INTO roost_keyval (store, owner, key, value) VALUES ($1, $2, $3, $4) ON CONFLICT (store, owner, key) DO UPDATE SET value = EXCLUDED.value',
          [op.store, op.owner, op.key, op.value],
        );
        return undefined;
      case 'kv-del':
        await c.query('DELETE FROM roost_keyval WHERE store = $1 AND owner = $2 AND key = $3', [op.store, op.owner, op.key]);
        return undefined;
      case 'kv-del-owner':
        await c.query('DELETE FROM roost_keyval WHERE store = $1 AND owner = $2', [op.store, op.owner]);
        return undefined;
      case 'append': {
        const i = op.item;
        await c.query('INSERT INTO roost_archive (store, owner, id, at, with_jid, body, xml) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          op.store, op.owner, i.id, i.when, i.with, i.body, i.xml,
        ]);
        return i.id;
      }
      case 'ar-delete-ids':
        return (await c.query('DELETE FROM roost_archive WHERE store = $1 AND owner = $2 AND id = ANY($3::text[])', [op.store, op.owner, op.ids])).rowCount ?? 0;
      case 'ar-delete-owner':
        return (
          await c.query('DELETE FROM roost_archive WHERE seq IN (SELECT seq FROM roost_archive WHERE store = $1 AND owner = $2 LIMIT $3)', [op.store, op.owner, op.chunk])
        ).rowCount ?? 0;
      case 'ar-purge':
        return (
          await c.query('DELETE FROM roost_archive WHERE seq IN (SELECT seq FROM roost_archive WHERE store = $1 AND at < $2 LIMIT $3)', [op.store, op.before, op.chunk])
        ).rowCount ?? 0;
    }
  }

  // ------------------------------------------------------------------ keyval

  keyval(store: string): KeyValStore {
    checkName('store name', store);
    return {
      get: async <T extends JsonValue = JsonValue>(owner: string, key: string): Promise<T | undefined> => {
        checkName('owner', owner);
        checkName('key', key);
        let pending = this.pendingKv.get(store, owner, key);
        let value: string | undefined;
        if (pending) value = pending.value;
        else {
          const rows = await this.read<{ value: string }>('keyval get', 'SELECT value FROM roost_keyval WHERE store = $1 AND owner = $2 AND key = $3', [store, owner, key]);
          // A write issued while the query was on the wire is newer than its answer.
          pending = this.pendingKv.get(store, owner, key);
          value = pending ? pending.value : rows[0]?.value;
        }
        return value === undefined ? undefined : parseStored<T>(value, `${store}/${owner}/${key}`);
      },
      set: async (owner: string, key: string, value: JsonValue | undefined): Promise<void> => {
        checkName('owner', owner);
        checkName('key', key);
        if (value === undefined) return this.write({ t: 'kv-del', store, owner, key });
        return this.write({ t: 'kv-set', store, owner, key, value: serializeJson(value) });
      },
      getAll: async <T extends JsonValue = JsonValue>(owner: string): Promise<Map<string, T>> => {
        // COLLATE "C": byte order, the same order SQLite gives, whatever the database locale.
        const rows = await this.read<{ key: string; value: string }>('keyval getAll',
          'SELECT key, value FROM roost_keyval WHERE store = $1 AND owner = $2 ORDER BY key COLLATE "C"', [store, checkName('owner', owner)]);
        const current = this.pendingKv.overlay(store, owner, rows.map((r) => [r.key, r.value]));
        return new Map(current.map(([k, v]) => [k, parseStored<T>(v, `${store}/${owner}/${k}`)]));
      },
      owners: async (): Promise<string[]> =>
        (await this.read<{ owner: string }>('keyval owners', 'SELECT DISTINCT owner COLLATE "C" AS owner FROM roost_keyval WHERE store = $1 ORDER BY 1', [store])).map(
          (r) => r.owner,
        ),
      deleteOwner: async (owner: string): Promise<void> => this.write({ t: 'kv-del-owner', store, owner: checkName('owner', owner) }),
    };
  }

  // ------------------------------------------------------------------ archive

  archive(store: string): ArchiveStore {
    checkName('store name', store);
    return {
      append: async (owner, item) => this.write<string>({ t: 'append', store, owner: checkName('owner', owner), item: checkItem(item) }),
      query: async (owner, q) => this.query(store, checkName('owner', owner), checkQuery(q, this.maxPage)),
      count: async (owner, q) => {
        const f = filters(store, checkName('owner', owner), checkQuery(q as ArchiveQuery | undefined, this.maxPage), undefined, undefined);
        const rows = await this.read<{ n: string }>('archive count', `SELECT count(*) AS n FROM roost_archive a WHERE ${f.where}`, f.params);
        return Number(rows[0]?.n ?? 0);
      },
      delete: async (owner, ids) => {
        checkName('owner', owner);
        if (ids === undefined)
          return deleteInChunks(() => this.write<number>({ t: 'ar-delete-owner', store, owner, chunk: DELETE_CHUNK }), DELETE_CHUNK);
        if (!Array.isArray(ids)) throw new StorageError('invalid', 'ids must be an array');
        if (ids.length === 0) return 0;
        return this.write<number>({ t: 'ar-delete-ids', store, owner, ids: ids.map((id) => checkName('id', id)) });
      },
      purgeBefore: async (before) => {
        if (typeof before !== 'number' || !Number.isFinite(before)) throw new StorageError('invalid', 'purgeBefore needs a time in milliseconds');
        const t = Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.ceil(before)));
        return deleteInChunks(() => this.write<number>({ t: 'ar-purge', store, before: t, chunk: DELETE_CHUNK }), DELETE_CHUNK);
      },
    };
  }

  private async keyOf(store: string, owner: string, id: string): Promise<Key> {
    const rows = await this.read<{ at: string; seq: string }>('archive query', 'SELECT at, seq FROM roost_archive WHERE store = $1 AND owner = $2 AND id = $3', [
      store, owner, id,
    ]);
    const row = rows[0];
    if (!row) throw new StorageError('not-found', `no archive item with id ${JSON.stringify(id)}`);
    return [Number(row.at), Number(row.seq)];
  }

  private async query(store: string, owner: string, q: CheckedQuery): Promise<ArchiveResult> {
    const after = q.after === undefined ? undefined : await this.keyOf(store, owner, q.after);
    const before = q.before === undefined ? undefined : await this.keyOf(store, owner, q.before);
    const f = filters(store, owner, q, after, before);
    const dir = q.reverse ? 'DESC' : 'ASC';
    const page = this.read<ArchiveRow>(
      'archive query',
      `SELECT a.id, a.at, a.with_jid, a.body, a.xml FROM roost_archive a WHERE ${f.where} ORDER BY a.at ${dir}, a.seq ${dir} LIMIT $${f.params.length + 1}`,
      [...f.params, q.limit + 1],
    );
    let total: Promise<{ n: string }[]> | undefined;
    if (q.count) {
      const c = filters(store, owner, q, undefined, undefined);
      total = this.read<{ n: string }>('archive count', `SELECT count(*) AS n FROM roost_archive a WHERE ${c.where}`, c.params);
    }
    const [rows, counted] = await Promise.all([page, total]);
    const complete = rows.length <= q.limit;
    if (!complete) rows.pop();
    if (q.reverse) rows.reverse();
    const result: ArchiveResult = { items: rows.map(toItem), complete };
    if (counted) result.count = Number(counted[0]?.n ?? 0);
    return result;
  }
}

/** WHERE clause over alias `a` with $n placeholders. */
function filters(store: string, owner: string, q: CheckedQuery, lo: Key | undefined, hi: Key | undefined): { where: string; params: unknown[] } {
  const params: unknown[] = [store, owner];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const where = ['a.store = $1', 'a.owner = $2'];
  if (q.with !== undefined) where.push(`a.with_jid = ${p(q.with)}`);
  const l = lowerBound(q.start, lo);
  if (l) where.push(`(a.at, a.seq) > (${p(l[0])}::bigint, ${p(l[1])}::bigint)`);
  const h = upperBound(q.end, hi);
  if (h) where.push(`(a.at, a.seq) < (${p(h[0])}::bigint, ${p(h[1])}::bigint)`);
  if (q.ids !== undefined) where.push(`a.id = ANY(${p(q.ids)}::text[])`);
  // ILIKE is served by the pg_trgm GIN index for needles of three characters or more.
  if (q.text !== undefined) where.push(`a.body ILIKE ${p('%' + q.text.replace(/[\\%_]/g, (ch) => '\\' + ch) + '%')}`);
  return { where: where.join(' AND '), params };
}

/** Errors of a connection that was fine when pooled but whose server has since gone away. */
function isStaleConnection(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : '';
  return code === 'ECONNRESET' || code === 'EPIPE' || code === '57P01' || code === '57P02' ||
    /Connection terminated unexpectedly|terminating connection|Client has encountered a connection error and is not queryable/i.test(msg);
}

function kvKey(op: { store: string; owner: string; key: string }): string {
  return JSON.stringify([op.store, op.owner, op.key]);
}

function toItem(r: ArchiveRow): ArchiveItem {
  const item: ArchiveItem = { id: r.id, when: Number(r.at), with: r.with_jid, xml: r.xml };
  if (r.body !== null) item.body = r.body;
  return item;
}

function describe(op: WriteOp): string {
  return op.t.startsWith('kv') ? `keyval ${op.store} write` : `archive ${op.store} ${op.t === 'append' ? 'append' : 'delete'}`;
}

function migrationError(m: Migration, e: unknown): StorageError {
  const msg = e instanceof Error ? e.message : String(e);
  const ext = /extension "([^"]+)"/.exec(msg)?.[1];
  if (ext)
    return new StorageError(
      'schema',
      `schema migration ${m.version} (${m.name}) needs the PostgreSQL extension ${ext}, which the server cannot provide: ` +
        `install the postgresql-contrib package on the database server (Debian/Ubuntu: apt install postgresql-contrib), ` +
        `or have a superuser run CREATE EXTENSION ${ext} in this database. The server said: ${msg}`,
      { cause: e },
    );
  const err = fromPgError(e, `schema migration ${m.version} (${m.name})`);
  return err.code === 'internal' ? new StorageError('schema', err.message, { cause: e }) : err;
}
