// Random bytes for ids on hot paths (archive ids: two per delivered message). Each
// crypto.randomBytes call is a round trip into OpenSSL's generator costing ~15 us, which a
// message flood showed as 6% of the server's CPU; taking small slices of one 4 KiB fill
// costs almost nothing. Same generator, same unpredictability: a slice is never handed out twice.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `n` (at most 256) fresh random bytes, as a new Buffer. */
export function pooledRandomBytes(n: number): Buffer {
  if (n > 256) throw new RangeError('pooledRandomBytes: at most 256 bytes');
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  // A copy: the pool is refilled in place later.
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}
