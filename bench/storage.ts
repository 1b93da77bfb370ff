// Storage benchmark: archive appends/s (group commit vs one commit per append) and archive
// query latency on one user's archive of --rows messages, for SQLite and PostgreSQL.
// The targets (checked by a later issue on 1,000,000 rows): p99 < 20 ms for the last 50,
// by-with, and paging back 20 pages; p99 < 200 ms for a full-text query.
//
//   npx vite-node bench/storage.ts [--rows 100000] [--backend sqlite|postgres|both] [--pg-url URL]
//                                  [--sqlite-path FILE] [--runs 50]
//   (or after `npm run build`: node dist/bench/storage.js ...)
//
// Without --pg-url a throwaway PostgreSQL cluster is started (server/test/helpers/postgres.ts).
import { parseArgs } from 'node:util';
import { createStorage, type StorageConfig } from '../server/src/storage/index.js';
import type { ArchiveQuery, ArchiveStore, Storage } from '../server/src/storage/types.js';
import { analyze, eachBackend, ensureFilled, VOCAB, type ArchiveFill } from './lib/archive-bench.js';
import { pct } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    backend: { type: 'string', default: 'both' },
    'pg-url': { type: 'string' },
    /** Keep the SQLite file here; a later run with the same --rows reuses the filled archive. */
    'sqlite-path': { type: 'string' },
    runs: { type: 'string', default: '50' },
  },
});
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
const OWNER = 'alice@bench.localhost';
const CONTACTS = Array.from({ length: 50 }, (_, i) => `contact${i}@bench.localhost`);

const xml = (b: string): string => `<message type="chat" to="${OWNER}" from="x@bench.localhost/r"><body>${b}</body></message>`;
const archive: ArchiveFill = { owner: OWNER, rows: ROWS, contacts: CONTACTS, xml: (_n, b) => xml(b) };

async function timeIt(fn: () => Promise<unknown>, runs = RUNS): Promise<string> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return `p50 ${pct(t, 50).toFixed(2)} ms  p99 ${pct(t, 99).toFixed(2)} ms`;
}

async function appendRate(s: Storage): Promise<void> {
  const ar = s.archive('bench-rate');
  // Many writers at once, as chat traffic: each turn issues a burst, one commit per turn.
  for (const burst of [1, 100, 1000]) {
    const total = burst === 1 ? 500 : 20_000;
    const t0 = performance.now();
    for (let done = 0; done < total; done += burst)
      await Promise.all(Array.from({ length: burst }, (_, i) => ar.append(`u${i % 100}@b`, { when: Date.now(), with: 'p@b', body: 'hello there', xml: xml('hello there') })));
    const secs = (performance.now() - t0) / 1000;
    console.log(`  appends, ${String(burst).padStart(4)} per turn${burst === 1 ? ' (a commit each)' : ''}: ${Math.round(total / secs).toLocaleString('en')} /s`);
  }
  const kv = s.keyval('bench-kv');
  const t0 = performance.now();
  for (let r = 0; r < 20; r++) await Promise.all(Array.from({ length: 1000 }, (_, i) => kv.set(`u${i}@b`, 'k', { r, i })));
  console.log(`  keyval sets, 1000 per turn: ${Math.round(20_000 / ((performance.now() - t0) / 1000)).toLocaleString('en')} /s`);
}

async function queries(ar: ArchiveStore): Promise<void> {
  const q = (query: ArchiveQuery) => () => ar.query(OWNER, query);
  console.log(`  last 50:                 ${await timeIt(q({ limit: 50, reverse: true }))}`);
  console.log(`  last 50 with count:      ${await timeIt(q({ limit: 50, reverse: true, count: true }))}`);
  console.log(`  last 50 by with:         ${await timeIt(q({ limit: 50, reverse: true, with: CONTACTS[7]! }))}`);
  console.log(`  a day, start/end:        ${await timeIt(q({ limit: 50, start: Date.now() - ROWS * 500, end: Date.now() - ROWS * 500 + 86_400_000 }))}`);
  const back20 = async (): Promise<void> => {
    let before: string | undefined;
    for (let p = 0; p < 20; p++) {
      const r = await ar.query(OWNER, { limit: 50, reverse: true, ...(before ? { before } : {}) });
      before = r.items[0]!.id;
    }
  };
  console.log(`  paging back 20 pages:    ${await timeIt(back20, Math.max(5, RUNS / 5))} (all 20)`);
  console.log(`  text, rare word:         ${await timeIt(q({ limit: 50, reverse: true, text: 'zebrafinch' }), 10)}`);
  console.log(`  text, common trigram:    ${await timeIt(q({ limit: 50, reverse: true, text: VOCAB[11]! }), 10)}`);
  console.log(`  text, no match:          ${await timeIt(q({ limit: 50, reverse: true, text: 'qqqxqqq' }), 10)}`);
  console.log(`  text rare, with count:   ${await timeIt(q({ limit: 50, reverse: true, text: 'zebrafinch', count: true }), 10)}`);
  console.log(`  count all:               ${await timeIt(() => ar.count(OWNER), 10)}`);
}

async function run(name: string, cfg: StorageConfig): Promise<void> {
  console.log(`${name}:`);
  const s = createStorage(cfg);
  await s.open();
  try {
    const ar = s.archive('bench-archive');
    await ensureFilled(ar, archive, () => appendRate(s));
    await analyze(cfg, 'roost_archive');
    await queries(ar);
  } finally {
    await s.close();
  }
}

await eachBackend(values, run);
