// Many connections or accounts without opening them all at once: a few dozen at a time keeps
// the server's accept queue and the machine's two cores from turning setup into a timeout.

/** Runs fn(0) … fn(count - 1), `size` at a time; the results in order. */
export async function inBatches<T>(count: number, size: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += size) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, k) => fn(i + k)))));
  }
  return out;
}
