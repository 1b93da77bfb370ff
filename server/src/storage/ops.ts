// The write operations both backends queue for group commit (storage/group-commit.ts), already
// validated (storage/validate.ts). Each resolves to the value noted.
import type { CheckedItem } from './validate.js';

export type WriteOp =
  /** -> undefined */
  | { t: 'kv-set'; store: string; owner: string; key: string; value: string }
  /** -> undefined */
  | { t: 'kv-del'; store: string; owner: string; key: string }
  /** -> undefined */
  | { t: 'kv-del-owner'; store: string; owner: string }
  /** -> the item's id */
  | { t: 'append'; store: string; owner: string; item: CheckedItem }
  /** -> number of items deleted */
  | { t: 'ar-delete-ids'; store: string; owner: string; ids: string[] }
  /** Up to `chunk` items of one owner (the caller repeats until fewer come back). -> count */
  | { t: 'ar-delete-owner'; store: string; owner: string; chunk: number }
  /** Up to `chunk` items older than `before`, all owners. -> count */
  | { t: 'ar-purge'; store: string; before: number; chunk: number };

/** Rows deleted per transaction by whole-owner deletes and purges, so one never stalls writes. */
export const DELETE_CHUNK = 5000;

/** Repeats a chunked delete until a chunk comes back short; returns the total. */
export async function deleteInChunks(runChunk: () => Promise<number>, chunk: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await runChunk();
    total += n;
    if (n < chunk) return total;
  }
}
