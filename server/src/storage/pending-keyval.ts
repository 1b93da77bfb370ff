// Read-your-writes for keyval stores within the process. A set is committed in a later batch
// (group-commit.ts), on SQLite by the writer thread after a WAL sync: milliseconds during which
// the database still has the old value. Code that writes without waiting and then reads, or
// another module that reads meanwhile (XEP-0012 asked right after a logout wrote the last
// activity), must see the new value, as it did when writes were applied on the spot. So each
// backend records its keyval writes here until they settle and consults them before the
// database. A write that fails leaves the record, and later reads see the database again.
import type { WriteOp } from './ops.js';

interface OwnerPending {
  /** Sequence of the newest pending deleteOwner, if any. */
  deletedAt?: number;
  /** Per key, the newest pending set (a serialized value) or delete (undefined). */
  keys: Map<string, { seq: number; value: string | undefined }>;
}

/** What the pending writes say of one key: a value, gone, or nothing (ask the database). */
export type PendingRead = { value: string | undefined } | undefined;

export class PendingKeyval {
  private seq = 0;
  private readonly owners = new Map<string, OwnerPending>();

  /** Records a keyval write until `settled` resolves or rejects; other ops are ignored. */
  track(op: WriteOp, settled: Promise<unknown>): void {
    if (op.t !== 'kv-set' && op.t !== 'kv-del' && op.t !== 'kv-del-owner') return;
    const seq = ++this.seq;
    const id = ownerId(op.store, op.owner);
    let o = this.owners.get(id);
    if (!o) {
      o = { keys: new Map() };
      this.owners.set(id, o);
    }
    const entry = o;
    if (op.t === 'kv-del-owner') entry.deletedAt = seq;
    else entry.keys.set(op.key, { seq, value: op.t === 'kv-set' ? op.value : undefined });
    const done = () => {
      if (op.t === 'kv-del-owner') {
        if (entry.deletedAt === seq) delete entry.deletedAt;
      } else if (entry.keys.get(op.key)?.seq === seq) entry.keys.delete(op.key);
      if (entry.deletedAt === undefined && entry.keys.size === 0 && this.owners.get(id) === entry) this.owners.delete(id);
    };
    settled.then(done, done);
  }

  get(store: string, owner: string, key: string): PendingRead {
    const o = this.owners.get(ownerId(store, owner));
    if (!o) return undefined;
    const k = o.keys.get(key);
    if (k && (o.deletedAt === undefined || k.seq > o.deletedAt)) return { value: k.value };
    return o.deletedAt === undefined ? undefined : { value: undefined };
  }

  /** The database's rows of one owner (key -> serialized value) with the pending writes applied, in key order. */
  overlay(store: string, owner: string, rows: [string, string][]): [string, string][] {
    const o = this.owners.get(ownerId(store, owner));
    if (!o) return rows;
    const out = new Map(o.deletedAt === undefined ? rows : []);
    for (const [key, k] of o.keys) {
      if (o.deletedAt !== undefined && k.seq < o.deletedAt) continue;
      if (k.value === undefined) out.delete(key);
      else out.set(key, k.value);
    }
    // Byte order of UTF-8, which is what both databases sort keys by.
    return [...out].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }
}

function ownerId(store: string, owner: string): string {
  return `${store}\u0000${owner}`;
}
