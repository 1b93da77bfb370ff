// JID parsing benchmark (server/src/core/jid.ts): parseJid() runs for every stanza's to/from.
// Prints parses per second, median of several runs, for:
//   - printable-ASCII JIDs (the fast path),
//   - non-ASCII JIDs answered from the LRU cache (the same few hundred addresses again and again),
//   - non-ASCII JIDs with the JID cache off (PRECIS every time; domains from their own cache),
//   - non-ASCII JIDs with both caches off (full PRECIS + IDNA preparation every time).
//
//   npm run build && node dist/bench/jid.js [--runs 5] [--ms 500]
import { parseArgs } from 'node:util';
import { configureJidCache, jidCacheStats, parseJid } from '../server/src/core/jid.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    ms: { type: 'string', default: '500' },
  },
});
const RUNS = Number(values.runs);
const MS = Number(values.ms);

const N = 256;
const ascii: string[] = [];
const nonAscii: string[] = [];
for (let i = 0; i < N; i++) {
  ascii.push(
    i % 4 === 0 ? `User${i}@Example.org` : i % 4 === 1 ? `user${i}@example.org/phone-${i}` : i % 4 === 2 ? `conf.example.org/nick ${i}` : `u.${i}@a.b.example.org/x`,
  );
  nonAscii.push(
    i % 4 === 0
      ? `jürgen${i}@bücher.example/Téléphone`
      : i % 4 === 1
        ? `σοφία${i}@παράδειγμα.example/κινητό`
        : i % 4 === 2
          ? `用户${i}@例え.テスト/手机`
          : `ÄRGER${i}@xn--rger-koa.example/ＰＣ`,
  );
}

function measure(inputs: readonly string[], ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    for (const s of inputs) parseJid(s);
    n += inputs.length;
    t = performance.now();
  } while (t - t0 < ms);
  return n / ((t - t0) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function report(name: string, runs: number[]): void {
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(12);
  console.log(`${name.padEnd(34)} ${fmt(median(runs))} parses/s   (min ${fmt(Math.min(...runs)).trim()}, max ${fmt(Math.max(...runs)).trim()})`);
}

// Every input must be a valid JID: a benchmark of error paths would measure nothing useful.
for (const s of [...ascii, ...nonAscii]) parseJid(s);

const scenarios: { name: string; inputs: string[]; jidCache: number; domainCache: number }[] = [
  { name: 'ASCII (fast path)', inputs: ascii, jidCache: 4096, domainCache: 1024 },
  { name: 'non-ASCII, JID cache hits', inputs: nonAscii, jidCache: 4096, domainCache: 1024 },
  { name: 'non-ASCII, JID cache off', inputs: nonAscii, jidCache: 0, domainCache: 1024 },
  { name: 'non-ASCII, all caches off', inputs: nonAscii, jidCache: 0, domainCache: 0 },
];

console.log(`parseJid: ${N} distinct JIDs per set, ${RUNS} runs of ${MS} ms, median (Node ${process.version}, Unicode ${process.versions.unicode})`);
for (const sc of scenarios) {
  configureJidCache({ maxEntries: sc.jidCache, maxDomainEntries: sc.domainCache });
  measure(sc.inputs, Math.min(200, MS)); // warm-up: JIT, memo tables, cache fill
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(measure(sc.inputs, MS));
  report(sc.name, runs);
}
configureJidCache({ maxEntries: 4096, maxDomainEntries: 1024 });
const stats = jidCacheStats();
console.log(`cache: maxEntries ${stats.maxEntries}, maxKeyLength ${stats.maxKeyLength}, hits ${stats.hits}, misses ${stats.misses}`);
