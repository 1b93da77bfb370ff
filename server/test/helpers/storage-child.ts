// Child process for the multi-process SQLite test (storage-sqlite.test.ts): opens the given
// database file (running migrations if it is new, as `roost user add` would next to the
// daemon), then appends and sets in many small turns while the parent does the same.
//   vite-node storage-child.ts <path> <tag> <rounds> <perRound> <startAt ms since epoch>
import { createStorage } from '../../src/storage/index.js';

const [path, tag, rounds, perRound, startAt] = process.argv.slice(2);
if (!path || !tag) throw new Error('usage: storage-child.ts <path> <tag> <rounds> <perRound>');
const storage = createStorage({ type: 'sqlite', path, busyTimeoutMs: 20_000 });
// All processes open at the same moment, so they race to apply the migrations.
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
await storage.open();
const ar = storage.archive('shared');
const kv = storage.keyval('accounts');
let n = 0;
for (let r = 0; r < Number(rounds); r++) {
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < Number(perRound); i++, n++) writes.push(ar.append(`${tag}@x`, { when: n, with: 'peer@x', body: `${tag} ${n}`, xml: `<m n="${n}"/>` }));
  writes.push(kv.set(`${tag}@x`, 'progress', r));
  await Promise.all(writes);
  await new Promise((res) => setTimeout(res, 1));
}
await storage.close();
process.stdout.write(JSON.stringify({ tag, appended: n }) + '\n');
