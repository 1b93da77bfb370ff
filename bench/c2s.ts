// Core server benchmark (issue 2): starts `roost serve` in its own process and drives it from
// load-generator processes over loopback with TLS on every connection. Prints, as medians of
// several runs: SCRAM-SHA-1 logins/s, RSS per idle authenticated TLS session, delivered 1:1
// messages/s at saturation, p50/p99 latency at a fixed offered load, and server CPU-seconds per
// 10,000 messages (with the archive on, also counting the search indexing SQLite does after the
// flood, behind the writes, and how long that took).
//
//   npm run build && node dist/bench/c2s.js [--runs 3] [--idle 10000] [--seconds 8] [--rate 5000]
//                                           [--pairs 50] [--profile <dir>]  (V8 CPU profile of the server)
//                                           [--no-archive]  (message history off)
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { inBatches } from './lib/batches.js';
import { eachBody, pace, runIfWorker, worker } from './lib/loadgen.js';
import { RawClient } from './lib/raw-client.js';
import { cpuSeconds, DOMAIN, LOAD_LIMITS, PASSWORD, rssBytes, startServe } from './lib/server-process.js';
import { machineLine, pct, RunFigures } from './lib/stats.js';

const USERS = 200;

// ---------------------------------------------------------------- load-generator side

type Job =
  | { kind: 'logins'; port: number; seconds: number; concurrency: number }
  | { kind: 'idle'; port: number; from: number; count: number }
  | { kind: 'flood'; port: number; pairs: number; seconds: number; window: number }
  | { kind: 'paced'; port: number; pairs: number; seconds: number; rate: number };

function user(i: number): string {
  return `u${i % USERS}`;
}

async function runJob(job: Job): Promise<unknown> {
  const base = { host: '127.0.0.1', port: job.port, domain: DOMAIN, password: PASSWORD };
  if (job.kind === 'logins') {
    let done = 0;
    let failed = 0;
    const until = Date.now() + job.seconds * 1000;
    await Promise.all(
      Array.from({ length: job.concurrency }, async (_, w) => {
        for (let n = 0; Date.now() < until; n++) {
          const c = new RawClient({ ...base, username: user(w * 7 + n), resource: `l${w}` });
          try {
            await c.connect();
            done++;
          } catch {
            failed++;
          }
          c.destroy();
        }
      }),
    );
    return { perSecond: done / job.seconds, failed };
  }
  if (job.kind === 'idle') {
    const clients = await inBatches(job.count, 100, async (i) => {
      const c = new RawClient({ ...base, username: user(job.from + i), resource: `idle${job.from + i}` });
      await c.connect();
      return c;
    });
    process.send!({ ready: clients.length });
    await new Promise<void>((res) => process.once('message', () => res()));
    for (const c of clients) c.destroy();
    return { opened: clients.length };
  }
  // Message phases: pairs of sessions; sender i writes to receiver i's full JID.
  const senders: RawClient[] = [];
  const receivers: RawClient[] = [];
  for (let i = 0; i < job.pairs; i++) {
    const s = new RawClient({ ...base, username: user(2 * i), resource: `s${i}` });
    const r = new RawClient({ ...base, username: user(2 * i + 1), resource: `r${i}` });
    await Promise.all([s.connect(), r.connect()]);
    senders.push(s);
    receivers.push(r);
  }
  let delivered = 0;
  const latencies: number[] = [];
  const inflight = new Array<number>(job.pairs).fill(0);
  const pumps: (() => void)[] = [];
  receivers.forEach((r, i) => {
    let tail = '';
    r.onData = (chunk) => {
      const text = tail + chunk;
      const at = eachBody(text, (body) => {
        latencies.push(performance.now() - Number(body));
        delivered++;
        inflight[i]!--;
      });
      tail = text.slice(at).slice(-64);
      pumps[i]?.();
    };
  });
  const until = performance.now() + job.seconds * 1000;
  const msg = (i: number) =>
    `<message type='chat' to='${receivers[i]!.jid}'><body>${performance.now()}</body></message>`;
  if (job.kind === 'flood') {
    senders.forEach((s, i) => {
      pumps[i] = () => {
        if (performance.now() > until) return;
        let out = '';
        while (inflight[i]! < job.window) {
          out += msg(i);
          inflight[i]!++;
        }
        if (out) s.write(out);
      };
      pumps[i]!();
    });
  } else {
    // Paced: every 5 ms each sender writes its share of the offered rate.
    pace(job.rate / job.pairs, job.seconds, (n) => senders.forEach((s, i) => s.write(msg(i).repeat(n))));
  }
  await new Promise((res) => setTimeout(res, job.seconds * 1000 + 1000));
  for (const c of [...senders, ...receivers]) c.destroy();
  return { delivered, perSecond: delivered / job.seconds, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

// ---------------------------------------------------------------- orchestrator side

const loadgen = <T>(job: Job) => worker<T>(import.meta.url, job).result;

/** Waits until the SQLite file's full-text index holds every archive row; returns the wait and the rows first found waiting. */
async function untilIndexed(file: string): Promise<{ seconds: number; lag: number }> {
  const t0 = performance.now();
  let first: number | undefined;
  for (;;) {
    const db = new Database(file, { readonly: true, timeout: 5000 });
    let lag: number;
    try {
      lag = (db.prepare('SELECT coalesce(max(seq), 0) - (SELECT indexed_to FROM roost_fts_state) AS n FROM roost_archive').get() as { n: number }).n;
    } finally {
      db.close();
    }
    first ??= lag;
    if (lag <= 0) return { seconds: (performance.now() - t0) / 1000, lag: first };
    if (performance.now() - t0 > 300_000) throw new Error(`the search index is still ${lag} rows behind after 300 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'string' },
      runs: { type: 'string', default: '3' },
      idle: { type: 'string', default: '10000' },
      seconds: { type: 'string', default: '8' },
      rate: { type: 'string', default: '5000' },
      pairs: { type: 'string', default: '50' },
      /** Write a V8 CPU profile of the server into this directory. */
      profile: { type: 'string' },
      /** Archive off (the core server of issue 2, before message history existed). */
      'no-archive': { type: 'boolean', default: false },
    },
  });
  if (await runIfWorker(values.worker, runJob)) return;
  const runs = Number(values.runs);
  const seconds = Number(values.seconds);
  const idle = Number(values.idle);
  const pairs = Number(values.pairs);
  const figures = new RunFigures();
  const add = (k: string, v: number) => figures.add(k, v);
  for (let r = 0; r < runs; r++) {
    const server = await startServe({
      tmpPrefix: 'roost-bench-',
      config: { limits: LOAD_LIMITS, ...(values['no-archive'] ? { archive: { enabled: false } } : {}) },
      accounts: Array.from({ length: USERS }, (_, i) => `u${i}`),
      nodeArgs: values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [],
    });
    const { port } = server;
    const pid = server.proc.pid!;
    try {
      const cpuL0 = cpuSeconds(pid);
      const logins = await loadgen<{ perSecond: number; failed: number }>({ kind: 'logins', port, seconds, concurrency: 32 });
      add('SCRAM-SHA-1 logins/s over STARTTLS', logins.perSecond);
      // The load generator shares the two cores (its TLS handshakes cost about what the
      // server's do): the server's own CPU per login says what one core of it can take.
      add('server CPU-ms per login', ((cpuSeconds(pid) - cpuL0) * 1000) / (logins.perSecond * seconds));

      await new Promise((res) => setTimeout(res, 1000));
      const before = rssBytes(pid);
      const halves = [Math.floor(idle / 2), idle - Math.floor(idle / 2)];
      const idlers = halves.map((count, h) => worker(import.meta.url, { kind: 'idle', port, from: h * halves[0]!, count } satisfies Job));
      for (const w of idlers) w.result.catch((e) => console.error(e));
      await Promise.all(idlers.map((w) => w.ready));
      await new Promise((res) => setTimeout(res, 2000));
      add(`RSS KiB per idle TLS session (${idle})`, (rssBytes(pid) - before) / idle / 1024);
      for (const w of idlers) w.child.send('stop');
      await new Promise((res) => setTimeout(res, 2000));

      const cpu0 = cpuSeconds(pid);
      const flood = await loadgen<{ delivered: number; perSecond: number; p50: number; p99: number }>({
        kind: 'flood', port, pairs, seconds, window: 64,
      });
      const cpu1 = cpuSeconds(pid);
      add('delivered messages/s at saturation (TLS both legs)', flood.perSecond);
      add('server CPU-seconds per 10,000 messages', ((cpu1 - cpu0) / flood.delivered) * 10000);
      if (!values['no-archive']) {
        // SQLite indexes archived text behind the writes (storage/sqlite-writer.mjs): the CPU
        // it spends catching up after the flood belongs to these messages too.
        const lagged = await untilIndexed(join(server.dir, 'roost.sqlite'));
        add('  the same, with the search index caught up', ((cpuSeconds(pid) - cpu0) / flood.delivered) * 10000);
        add('  rows waiting for the search index after it', lagged.lag);
        add('  seconds for the search index to catch up', lagged.seconds);
      }

      const paced = await loadgen<{ perSecond: number; p50: number; p99: number }>({
        kind: 'paced', port, pairs, seconds, rate: Number(values.rate),
      });
      add(`p50 ms at ${values.rate} msg/s`, paced.p50);
      add(`p99 ms at ${values.rate} msg/s`, paced.p99);
    } finally {
      await server.stop();
    }
  }
  console.log(machineLine(values['no-archive'] ? 'roost c2s benchmark (archive off)' : 'roost c2s benchmark (default modules, archive on)', runs));
  figures.print(52, 12);
}

await main();
