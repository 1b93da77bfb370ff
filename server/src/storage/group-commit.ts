// Group commit: every write issued during one event-loop turn waits for a setImmediate, then
// the whole lot is committed in ONE transaction and all their promises settle after that commit.
// A durable commit costs one fsync (SQLite WAL) or one WAL flush (PostgreSQL) whatever its size,
// so a burst of archive appends pays one sync instead of one per message.
//
// Only one batch runs at a time per storage: writes issued while a batch commits form the next
// batch (so batches grow under load), and commit order is the order writes were issued, which
// keeps archive order (insertion sequence) equal to append order.
import { StorageError } from './errors.js';

export interface Pending<Op> {
  readonly op: Op;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Set by the queue once the promise has been resolved or rejected. */
  settled: boolean;
}

/**
 * `run` commits one batch and settles each entry; anything it leaves unsettled (it threw, or
 * forgot) is rejected with the error it threw, or an internal error.
 */
export type BatchRunner<Op> = (batch: Pending<Op>[]) => void | Promise<void>;

export class WriteQueue<Op> {
  private pending: Pending<Op>[] = [];
  private scheduled = false;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  /**
   * `maxBatch` bounds one transaction (its size on the wire, and for SQLite how long one commit
   * holds the event loop); a longer queue is committed in several batches, in order.
   */
  constructor(
    private readonly run: BatchRunner<Op>,
    private readonly maxBatch = 5000,
  ) {}

  push<R>(op: Op): Promise<R> {
    if (this.closed) return Promise.reject(new StorageError('closed', 'the storage is closed'));
    return new Promise<R>((resolve, reject) => {
      const entry: Pending<Op> = {
        op,
        settled: false,
        resolve: (v) => {
          if (entry.settled) return;
          entry.settled = true;
          resolve(v as R);
        },
        reject: (e) => {
          if (entry.settled) return;
          entry.settled = true;
          reject(e);
        },
      };
      this.pending.push(entry);
      this.schedule();
    });
  }

  /** Resolves once everything queued so far has been committed (or has failed). */
  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Nothing queued or committing. */
  private isIdle(): boolean {
    return !this.running && this.pending.length === 0;
  }

  /** Refuses new writes, then waits for the queued ones. */
  close(): Promise<void> {
    this.closed = true;
    return this.flush();
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    if (this.pending.length === 0) return this.idle();
    const batch = this.pending.length <= this.maxBatch ? this.pending : this.pending.slice(0, this.maxBatch);
    this.pending = batch === this.pending ? [] : this.pending.slice(this.maxBatch);
    this.running = true;
    const unsettled = () => {
      for (const e of batch) if (!e.settled) e.reject(new StorageError('internal', 'write was not settled by the backend'));
    };
    const failed = (err: unknown) => {
      const error = err instanceof StorageError ? err : new StorageError('internal', `write batch failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      for (const e of batch) e.reject(error);
    };
    try {
      await this.run(batch);
      unsettled();
    } catch (err) {
      failed(err);
    } finally {
      this.running = false;
    }
    if (this.pending.length > 0) this.schedule();
    else this.idle();
  }

  private idle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
