// The daemon's side of the SQLite writer (sqlite-writer.mjs): a worker thread with its own
// connection that commits the batches, or, for a database without a file, the same writer run
// inline on the storage's connection.
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { StorageError } from './errors.js';
import type { WriteOp } from './ops.js';
import { SqliteWriter, plainError, type BatchOutcome, type PlainError } from './sqlite-writer.mjs';

export type { BatchOutcome, PlainError };

export interface BatchWriter {
  run(ops: WriteOp[]): Promise<BatchOutcome>;
  close(): Promise<void>;
}

/** An error as better-sqlite3 throws it (message, SQLite's code), for fromSqliteError. */
export function revive(e: PlainError): Error {
  return Object.assign(new Error(e.message), { code: e.code });
}

/**
 * The writer on the caller's own connection (':memory:' has no file a thread could open). Such a
 * database serves tests and one-off tools, so its full-text index is brought up to date with
 * every batch instead of when idle.
 */
export function inlineWriter(db: Database.Database): BatchWriter {
  const w = new SqliteWriter(db);
  return {
    run: (ops) => {
      const outcome = w.run(ops);
      if (outcome.ok && ops.some((op) => op.t === 'append')) while (w.indexSome(5000) === 5000);
      return Promise.resolve(outcome);
    },
    close: () => Promise.resolve(),
  };
}

type FromWorker =
  | { t: 'ready' }
  | { t: 'open-failed'; error: PlainError }
  | { t: 'batch'; id: number; outcome: BatchOutcome }
  | { t: 'index-failed'; error: PlainError };

export interface WriterThreadOptions {
  path: string;
  busyTimeoutMs: number;
  /** Unindexed archive rows past which each batch also indexes (sqlite-writer.mjs). */
  searchIndexLag: number;
  /** Index while no batch comes (default); off only to measure searches over unindexed rows. */
  indexWhenIdle: boolean;
  /** Told when a full-text indexing transaction failed (it is retried later). */
  onIndexError(e: Error): void;
}

/**
 * The writer thread. One batch at a time is in flight (the write queue waits for each), so a
 * thread that dies fails at most that batch: SQLite rolls back what it had not committed, and
 * the next batch starts a new thread. The thread keeps the process alive only while a batch is
 * in flight, so a command that forgets to close its storage still exits.
 */
export class WriterThread implements BatchWriter {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private nextId = 1;
  private readonly inFlight = new Map<number, { resolve(o: BatchOutcome): void; reject(e: unknown): void }>();
  private closed = false;

  constructor(private readonly opts: WriterThreadOptions) {}

  /** Starts the thread and waits until its connection is open (errors surface at open()). */
  start(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.starting) return this.starting;
    const started = new Promise<Worker>((resolve, reject) => {
      const w = new Worker(new URL('./sqlite-writer.mjs', import.meta.url), {
        workerData: { roostSqliteWriter: { path: this.opts.path, busyTimeoutMs: this.opts.busyTimeoutMs, searchIndexLag: this.opts.searchIndexLag, indexWhenIdle: this.opts.indexWhenIdle } },
      });
      let ready = false;
      w.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          ready = true;
          this.worker = w;
          w.unref();
          resolve(w);
        } else if (m.t === 'open-failed') reject(revive(m.error));
        else if (m.t === 'index-failed') this.opts.onIndexError(revive(m.error));
        else this.settle(m.id, m.outcome);
      });
      w.on('error', (e) => {
        if (!ready) reject(e);
        this.lost(w, e);
      });
      w.on('exit', (code) => {
        if (!ready) reject(new Error(`the SQLite writer thread exited (${code}) before opening the database`));
        this.lost(w, new Error(`the SQLite writer thread exited (${code})`));
      });
    });
    this.starting = started;
    const clear = () => {
      if (this.starting === started) this.starting = undefined;
    };
    started.then(clear, clear);
    return started;
  }

  async run(ops: WriteOp[]): Promise<BatchOutcome> {
    if (this.closed) throw new StorageError('closed', 'the storage is closed');
    let w: Worker;
    try {
      w = await this.start();
    } catch (e) {
      return { ok: false, what: 'write', error: plainError(e) };
    }
    const id = this.nextId++;
    return new Promise<BatchOutcome>((resolve, reject) => {
      this.inFlight.set(id, { resolve, reject });
      if (this.inFlight.size === 1) w.ref();
      w.postMessage({ t: 'batch', id, ops });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker ?? (await this.starting?.catch(() => undefined));
    if (!w) return;
    w.ref();
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.postMessage({ t: 'close' });
    await exited;
  }

  private settle(id: number, outcome: BatchOutcome): void {
    const p = this.inFlight.get(id);
    if (!p) return;
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.worker?.unref();
    p.resolve(outcome);
  }

  private lost(w: Worker, e: unknown): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    for (const [, p] of this.inFlight)
      p.reject(new StorageError('unavailable', `write: the SQLite writer thread stopped (${e instanceof Error ? e.message : String(e)}); the batch may not have been committed`, { cause: e }));
    this.inFlight.clear();
  }
}
