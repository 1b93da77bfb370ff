// What an idle TLS connection costs a bare Node TLS server (no XMPP), as the floor under the
// c2s benchmark's "RSS per idle TLS session". The server writes one burst to each new
// connection, then nothing; the figure is its RSS growth per connection once all are idle.
// It shows Node's TLS output buffer (NodeBIO, src/crypto/crypto_bio.cc): it starts at 1 KiB,
// and the first time more than that waits in it, it adds a 16 KiB buffer that it keeps for the
// life of the connection. Written in the handshake's own turn, the burst shares the buffer with
// the session tickets and about 450 bytes already overflow it.
//
//   npm run build && node dist/bench/tls-idle.js [--connections 10000] [--runs 3]
// Bursts (all one event-loop turn after the handshake, as Roost answers, except the first):
// 500 bytes in the handshake's turn; one write of 400, 1,000 and 1,400 bytes (about Roost's
// stream features after STARTTLS); 1,400 bytes sliced as Roost's output does it (960 bytes, the
// rest when that write completed); 1,400 bytes as 14 writes of 100 in separate turns.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { createEcdsaSelfSigned } from '../appliance/src/acme/ecdsa-cert.js';
import { machineLine, RunFigures } from './lib/stats.js';

type Burst = 'handshake500' | 'w400' | 'w1000' | 'w1400' | 'sliced1400' | 'turns14x100';
const BURSTS: Burst[] = ['handshake500', 'w400', 'w1000', 'w1400', 'sliced1400', 'turns14x100'];

function rssBytes(): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** The server side, in a child process of its own: listens, bursts, reports its RSS on request. */
async function serve(burst: Burst): Promise<void> {
  // The same kind of key Roost makes by default (ECDSA P-256).
  const { keyPem: key, certPem: cert } = createEcdsaSelfSigned({ names: ['localhost'] });
  const keep: unknown[] = [];
  const server = createServer({ key, cert }, (c) => {
    keep.push(c);
    c.on('error', () => {});
    c.on('data', () => {});
    if (burst === 'handshake500') c.write('x'.repeat(500));
    else setImmediate(() => {
      if (burst === 'turns14x100') {
        let k = 0;
        const next = (): void => {
          if (k++ < 14) {
            c.write('x'.repeat(100));
            setImmediate(next);
          }
        };
        next();
      } else if (burst === 'sliced1400') c.write('x'.repeat(960), () => c.write('x'.repeat(440)));
      else c.write('x'.repeat(Number(burst.slice(1))));
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    process.send!({ port: typeof a === 'object' && a ? a.port : 0 });
  });
  process.on('message', (m) => {
    if (m === 'rss') process.send!({ rss: rssBytes() });
  });
}

async function measure(burst: Burst, n: number): Promise<number> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', burst], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
    const rss = () => new Promise<number>((r) => (child.once('message', (m: { rss: number }) => r(m.rss)), child.send('rss')));
    await new Promise((r) => setTimeout(r, 500));
    const before = await rss();
    const conns: ReturnType<typeof connect>[] = [];
    for (let i = 0; i < n; i += 100)
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, () =>
          new Promise<void>((res, rej) => {
            const c = connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
            c.once('data', () => res());
            c.once('error', rej);
            conns.push(c);
          }),
        ),
      );
    await new Promise((r) => setTimeout(r, 2000));
    const after = await rss();
    for (const c of conns) c.destroy();
    return (after - before) / n / 1024;
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { serve: { type: 'string' }, connections: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' } } });
  if (values.serve) return serve(values.serve as Burst);
  const n = Number(values.connections);
  const runs = Number(values.runs);
  const figures = new RunFigures();
  for (let r = 0; r < runs; r++) for (const b of BURSTS) figures.add(`RSS KiB per idle TLS connection, burst ${b}`, await measure(b, n));
  console.log(machineLine(`bare Node TLS server, ${n.toLocaleString('en')} idle connections`, runs));
  figures.print(52, 10, (x) => x.toFixed(1));
}

await main();
