// XEP-0363 upload benchmark: slot request latency (iq get → slot, p50/p95, each one a quota
// read and two store writes), then one large file PUT and GET over HTTPS on loopback: MB/s and
// the process's peak RSS growth during each (the body streams to disk, so it should stay far
// below the file size). Client and server share this process: the figures include both sides.
//
//   npx vite-node bench/upload.ts [--slots 300] [--mb 200]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RoostServer } from '../server/src/core/server.js';
import { silentLogger } from '../server/src/util/log.js';
import { loopbackConfig } from './lib/in-process.js';
import { RawClient } from './lib/raw-client.js';
import { pct } from './lib/stats.js';

const { values } = parseArgs({ options: { slots: { type: 'string', default: '300' }, mb: { type: 'string', default: '200' } } });
const SLOTS = Math.max(10, Number(values.slots) || 300);
const MB = Math.max(1, Number(values.mb) || 200);
const DOMAIN = 'localhost';
const SERVICE = `upload.${DOMAIN}`;

/** Peak RSS above the level at start, sampled every 20 ms while `fn` runs. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  const start = process.memoryUsage().rss;
  let peak = start;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const result = await fn();
    return { result, peakMb: (peak - start) / 1e6 };
  } finally {
    clearInterval(t);
  }
}

const lookup = (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) => (o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4));

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'roost-bench-upload-'));
  try {
    const base = await loopbackConfig(dataDir, { c2sDirectTls: true, https: true });
    const config = {
      ...base,
      limits: { ...base.limits, stanzasPerSecond: 100_000 },
      upload: { ...base.upload, maxFileSize: 4e9, dailyQuota: 1e12 },
      modules: { ...base.modules, upload: { slotsPerMinute: 1_000_000 } },
    };
    const server = await RoostServer.start(config, { log: silentLogger });
    const ca = (await import('node:fs')).readFileSync(server.tls.info.certPath, 'utf8');
    await server.accounts(DOMAIN)!.create('alice', 'bench-password');
    const c = new RawClient({ host: '127.0.0.1', port: server.ports.c2s!, domain: DOMAIN, username: 'alice', password: 'bench-password', resource: 'r' });
    await c.connect();
    let buf = '';
    let waiting: { id: string; resolve: (s: string) => void } | undefined;
    c.onData = (d) => {
      buf += d;
      if (!waiting) return;
      const m = new RegExp(`<iq[^>]*id=["']${waiting.id}["'][\\s\\S]*?</iq>`).exec(buf);
      if (m) {
        buf = buf.slice(m.index + m[0].length);
        const w = waiting;
        waiting = undefined;
        w.resolve(m[0]);
      }
    };
    const slot = (id: string, name: string, size: number) =>
      new Promise<string>((resolve) => {
        waiting = { id, resolve };
        c.write(`<iq type='get' id='${id}' to='${SERVICE}'><request xmlns='urn:xmpp:http:upload:0' filename='${name}' size='${size}' content-type='application/octet-stream'/></iq>`);
      });

    for (let i = 0; i < 20; i++) await slot(`w${i}`, 'warm.bin', 1000); // warm-up (JIT, statements)
    const times: number[] = [];
    for (let i = 0; i < SLOTS; i++) {
      const t = performance.now();
      const r = await slot(`s${i}`, `f${i}.bin`, 1000);
      times.push(performance.now() - t);
      if (!r.includes('<slot')) throw new Error('no slot: ' + r);
    }

    const size = MB * 1024 * 1024;
    const reply = await slot('big', 'big.bin', size);
    const url = /<put url=["']([^"']+)["']/.exec(reply)![1]!.replace(/&amp;/g, '&');
    const auth = /<header name=["']Authorization["']>([^<]+)</.exec(reply)![1]!;
    const chunk = randomBytes(1024 * 1024);
    const put = await withPeakRss(
      () =>
        new Promise<number>((resolve, reject) => {
          const t = performance.now();
          const req = https.request(url, { method: 'PUT', ca, lookup: lookup as never, agent: false, headers: { authorization: auth, 'content-length': String(size), 'content-type': 'application/octet-stream' } }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 201 ? resolve(performance.now() - t) : reject(new Error(`PUT ${res.statusCode}`))));
          });
          req.on('error', reject);
          let sent = 0;
          const pump = () => {
            while (sent < size) {
              sent += chunk.length;
              if (!req.write(chunk)) return void req.once('drain', pump);
            }
            req.end();
          };
          pump();
        }),
    );
    const get = await withPeakRss(
      () =>
        new Promise<number>((resolve, reject) => {
          const t = performance.now();
          https
            .get(url, { ca, lookup: lookup as never, agent: false }, (res) => {
              let n = 0;
              res.on('data', (d: Buffer) => (n += d.length));
              res.on('end', () => (n === size ? resolve(performance.now() - t) : reject(new Error(`GET got ${n} of ${size}`))));
            })
            .on('error', reject);
        }),
    );
    c.destroy();
    await server.stop();

    console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; node ${process.version}`);
    console.log(`slot requests: ${SLOTS}, p50 ${pct(times, 50).toFixed(2)} ms, p95 ${pct(times, 95).toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms`);
    console.log(`PUT ${MB} MiB over HTTPS: ${(put.result / 1000).toFixed(2)} s, ${(size / 1e6 / (put.result / 1000)).toFixed(0)} MB/s, peak RSS growth ${put.peakMb.toFixed(0)} MB`);
    console.log(`GET ${MB} MiB over HTTPS: ${(get.result / 1000).toFixed(2)} s, ${(size / 1e6 / (get.result / 1000)).toFixed(0)} MB/s, peak RSS growth ${get.peakMb.toFixed(0)} MB`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
