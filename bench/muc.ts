// Group chat benchmark (issue 5): `roost serve` in its own process, load generators in others,
// TLS on every connection. One room with 100 and one with 500 occupants; for each: the time the
// last occupant's join takes (self-presence, and the whole welcome up to the subject) while
// everyone else is in, delivered groupchat stanzas/s at saturation (a few senders keep a window
// of messages in flight; every occupant counts what it receives), and p50/p99 latency of a
// delivered message at half that rate. Medians of several runs.
//
//   npm run build && node dist/bench/muc.js [--runs 3] [--seconds 8] [--sizes 100,500] [--senders 4] [--window 16]
//                                           [--profile <dir>]  (V8 CPU profile of the server)
//                                           [--archive off]    (rooms without archive writes)
import os from 'node:os';
import { parseArgs } from 'node:util';
import { inBatches } from './lib/batches.js';
import { eachBody, pace, runIfWorker, worker } from './lib/loadgen.js';
import { RawClient } from './lib/raw-client.js';
import { cpuSeconds, DOMAIN, LOAD_LIMITS, PASSWORD, startServe } from './lib/server-process.js';
import { machineLine, median, pct, RunFigures, sample } from './lib/stats.js';

const SERVICE = `conference.${DOMAIN}`;
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- load-generator side

type Job =
  | { kind: 'occupants'; port: number; room: string; from: number; count: number }
  | { kind: 'senders'; port: number; room: string; from: number; count: number; mode: 'flood' | 'paced'; seconds: number; window: number; rate: number }
  | { kind: 'joins'; port: number; room: string; user: number; times: number };

/** A bound raw client whose incoming text is scanned for markers (no XML parser: thousands fit). */
class Occupant {
  readonly c: RawClient;
  private tail = '';
  private waiters: { marker: string; resolve: () => void }[] = [];
  bodies = 0;
  latencies: number[] | undefined;
  /** Called with each body's text (senders count their own reflections). */
  onBody?: (body: string) => void;

  constructor(port: number, readonly user: number, readonly nick: string) {
    this.c = new RawClient({ host: '127.0.0.1', port, domain: DOMAIN, username: `u${user}`, password: PASSWORD, resource: nick });
  }

  async connect(): Promise<void> {
    await this.c.connect();
    this.c.onData = (chunk) => this.scan(chunk);
  }

  private scan(chunk: string): void {
    const text = this.tail + chunk;
    const at = eachBody(text, (body) => {
      this.bodies++;
      if (this.latencies) {
        const sent = parseFloat(body);
        if (sent > 0) this.latencies.push(now() - sent);
      }
      this.onBody?.(body);
    });
    if (this.waiters.length > 0) {
      for (const w of [...this.waiters]) {
        if (text.includes(w.marker)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
    // Keep enough to find a marker or a body split between two reads.
    const cut = Math.max(at, text.length - 256);
    this.tail = text.slice(cut);
  }

  waitFor(marker: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ marker, resolve }));
  }

  /** Joins without history; resolves at the self-presence and at the subject. */
  join(room: string): { self: Promise<void>; done: Promise<void> } {
    const self = this.waitFor('code="110"');
    const done = this.waitFor('<subject');
    this.c.write(`<presence to='${room}/${this.nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
    return { self, done };
  }

  leave(room: string): Promise<void> {
    const p = this.waitFor('type="unavailable"');
    this.c.write(`<presence to='${room}/${this.nick}' type='unavailable'/>`);
    return p;
  }
}

function connectAll(job: { port: number; from: number; count: number }, prefix: string): Promise<Occupant[]> {
  return inBatches(job.count, 50, async (i) => {
    const o = new Occupant(job.port, job.from + i, `${prefix}${job.from + i}`);
    await o.connect();
    return o;
  });
}

async function runJob(job: Job): Promise<unknown> {
  if (job.kind === 'occupants') {
    const occ = await connectAll(job, 'o');
    // Sequential joins, as people arrive; each join is answered with everyone's presence.
    for (const o of occ) await o.join(job.room).done;
    process.send!({ ready: occ.length });
    const stats = { received: 0 };
    for (;;) {
      const msg = await new Promise<any>((res) => process.once('message', res));
      if (msg === 'count') {
        process.send!({ count: occ.reduce((n, o) => n + o.bodies, 0) });
      } else if (msg === 'latency-on') {
        for (const o of occ) o.latencies = [];
        process.send!({ ok: true });
      } else if (msg === 'latency-off') {
        const all = occ.flatMap((o) => o.latencies ?? []);
        for (const o of occ) o.latencies = undefined;
        process.send!({ latencies: sample(all, 20000) });
      } else if (msg === 'stop') {
        for (const o of occ) o.c.destroy();
        stats.received = occ.reduce((n, o) => n + o.bodies, 0);
        return stats;
      }
    }
  }
  if (job.kind === 'joins') {
    const [o] = await connectAll({ port: job.port, from: job.user, count: 1 }, 'late');
    const self: number[] = [];
    const done: number[] = [];
    for (let i = 0; i < job.times; i++) {
      if (i > 0) {
        await o!.leave(job.room);
        await new Promise((r) => setTimeout(r, 200));
      }
      const t0 = now();
      const j = o!.join(job.room);
      await j.self;
      self.push(now() - t0);
      await j.done;
      done.push(now() - t0);
    }
    // It stays in: the room has its full size for the message phases.
    process.send!({ ready: { self, done } });
    await new Promise((res) => process.once('message', res));
    o!.c.destroy();
    return {};
  }
  // Senders: occupants too (they receive everything, their own messages included).
  const senders = await connectAll(job, 's');
  for (const s of senders) await s.join(job.room).done;
  process.send!({ ready: senders.length });
  await new Promise((res) => process.once('message', res));
  const until = now() + job.seconds * 1000;
  let sent = 0;
  // The body: send time (epoch ms, comparable across processes) and the sender's tag.
  const msg = (tag = '') => `<message type='groupchat' to='${job.room}'><body>${now()}|${tag}</body></message>`;
  if (job.mode === 'flood') {
    // Window: a sender's own reflected messages tell it how many are still in flight.
    senders.forEach((s, i) => {
      const tag = `s${i}`;
      let inflight = 0;
      const pump = () => {
        if (now() > until) return;
        let out = '';
        while (inflight < job.window) {
          out += msg(tag);
          inflight++;
          sent++;
        }
        if (out) s.c.write(out);
      };
      s.onBody = (body) => {
        if (!body.endsWith('|' + tag)) return;
        inflight--;
        pump();
      };
      pump();
    });
  } else {
    pace(job.rate / senders.length, job.seconds, (n) => {
      for (const s of senders) {
        s.c.write(msg().repeat(n));
        sent += n;
      }
    });
  }
  await new Promise((res) => setTimeout(res, job.seconds * 1000 + 1500));
  for (const s of senders) s.c.destroy();
  return { sent };
}

// ---------------------------------------------------------------- orchestrator side

/** One room of `size` occupants: join time of the last, saturation, latency at half. */
async function measureRoom(port: number, pid: number, size: number, senders: number, window: number, seconds: number, archive: boolean, add: (k: string, v: number) => void): Promise<void> {
  const room = `room${size}-${Date.now().toString(36)}@${SERVICE}`;
  // The creator makes a reserved room and submits its configuration (archive on or off).
  const creator = new Occupant(port, 0, 'creator');
  await creator.connect();
  const created = creator.waitFor('<subject');
  creator.c.write(`<presence to='${room}/creator'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  await created;
  const configured = creator.waitFor('id="cfg"');
  const field = (v: string, val: string) => `<field var='${v}'><value>${val}</value></field>`;
  creator.c.write(
    `<iq type='set' id='cfg' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>` +
      field('FORM_TYPE', 'http://jabber.org/protocol/muc#roomconfig') +
      field('muc#roomconfig_enablearchiving', archive ? '1' : '0') +
      field('muc#roomconfig_maxusers', String(size + 10)) +
      `</x></query></iq>`,
  );
  await configured;
  // size - 1 occupants (creator included; senders among them), then the last one measured.
  const listeners = size - 1 - senders - 1;
  const halves = [Math.floor(listeners / 2), listeners - Math.floor(listeners / 2)];
  const occ = [worker(import.meta.url, { kind: 'occupants', port, room, from: 1, count: halves[0]! }), worker(import.meta.url, { kind: 'occupants', port, room, from: 1 + halves[0]!, count: halves[1]! })];
  for (const w of occ) await w.ready;
  const sendBase = 1 + listeners;
  const flood = worker(import.meta.url, { kind: 'senders', port, room, from: sendBase, count: senders, mode: 'flood', seconds, window, rate: 0 });
  await flood.ready;
  const lastUser = sendBase + senders;
  const last = worker(import.meta.url, { kind: 'joins', port, room, user: lastUser, times: 5 });
  const joins = (await last.ready).ready;
  add(`${size}: last join, self-presence ms (median of 5)`, median(joins.self));
  add(`${size}: last join, complete welcome ms (median of 5)`, median(joins.done));

  // Saturation: copies counted at the listeners over the flood, scaled to everyone in the room.
  const count = async () => (await Promise.all(occ.map((w) => w.ask('count')))).reduce((n, m) => n + m.count, 0);
  flood.child.send('go');
  await new Promise((r) => setTimeout(r, 1000));
  const c0 = await count();
  const cpu0 = cpuSeconds(pid);
  const t0 = now();
  await new Promise((r) => setTimeout(r, (seconds - 2) * 1000));
  const c1 = await count();
  const t1 = now();
  const cpu1 = cpuSeconds(pid);
  await flood.result;
  const delivered = ((c1 - c0) / listeners) * size;
  const rate = delivered / ((t1 - t0) / 1000);
  add(`${size}: delivered groupchat stanzas/s at saturation`, rate);
  add(`${size}: server CPU ms per 1000 delivered`, ((cpu1 - cpu0) / delivered) * 1e6);

  // Half the saturated rate, paced; latency measured at every listener.
  const msgRate = rate / 2 / size;
  await Promise.all(occ.map((w) => w.ask('latency-on')));
  const paced = worker(import.meta.url, { kind: 'senders', port, room, from: sendBase, count: senders, mode: 'paced', seconds, window: 0, rate: msgRate });
  await paced.ready;
  paced.child.send('go');
  await paced.result;
  const lat = (await Promise.all(occ.map((w) => w.ask('latency-off')))).flatMap((m) => m.latencies as number[]);
  add(`${size}: half saturation, groupchat messages/s sent in`, msgRate);
  add(`${size}: p50 ms at half saturation`, pct(lat, 50));
  add(`${size}: p99 ms at half saturation`, pct(lat, 99));
  for (const w of occ) w.child.send('stop');
  last.child.send('stop');
  await Promise.all([...occ.map((w) => w.result), last.result]);
  creator.c.destroy();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'string' },
      runs: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '8' },
      sizes: { type: 'string', default: '100,500' },
      senders: { type: 'string', default: '4' },
      /** Messages each sender keeps in flight during the saturation phase. */
      window: { type: 'string', default: '16' },
      /** Write a V8 CPU profile of the server into this directory. */
      profile: { type: 'string' },
      /** off: rooms without an archive (no disk write per message), to see what storage costs. */
      archive: { type: 'string', default: 'on' },
    },
  });
  if (await runIfWorker(values.worker, runJob)) return;
  const runs = Number(values.runs);
  const seconds = Number(values.seconds);
  const sizes = values.sizes!.split(',').map(Number);
  const senders = Number(values.senders);
  const users = Math.max(...sizes) + 2;
  const figures = new RunFigures();
  const add = (k: string, v: number) => figures.add(k, v);
  for (let r = 0; r < runs; r++) {
    const server = await startServe({
      tmpPrefix: 'roost-bench-muc-',
      config: {
        limits: { ...LOAD_LIMITS, sendBuffer: '16MiB' },
        muc: { maxOccupants: 5000, creators: 'all' },
      },
      accounts: Array.from({ length: users }, (_, i) => `u${i}`),
      createAccounts: 'in-process',
      nodeArgs: values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [],
    });
    try {
      for (const size of sizes) await measureRoom(server.port, server.proc.pid!, size, senders, Number(values.window), seconds, values.archive !== 'off', add);
    } finally {
      await server.stop();
    }
  }
  console.log(`${machineLine('roost MUC benchmark', runs)}, archive ${values.archive}, load average ${os.loadavg()[0]!.toFixed(1)}`);
  figures.print(60, 10);
}

await main();
