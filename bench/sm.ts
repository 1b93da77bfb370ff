// Stream management benchmark (issue 4): starts `roost serve` in its own process; a session
// enables resumable XEP-0198, receives N messages without acknowledging them, loses its TCP
// connection, and a new connection resumes it. Measured: from writing <resume/> to receiving the
// last replayed message (TLS on loopback), as the median of several runs. Target: under 50 ms
// for 500 queued stanzas.
//
//   npm run build && node dist/bench/sm.js [--runs 7] [--queued 500]
import { parseArgs } from 'node:util';
import { RawClient } from './lib/raw-client.js';
import { DOMAIN, PASSWORD, startServe } from './lib/server-process.js';
import { machineLine, RunFigures } from './lib/stats.js';

/** Resolves once `n` closing </message> tags have arrived through `c.onData`. */
function countMessages(c: RawClient, n: number): Promise<number> {
  return new Promise((resolve) => {
    let seen = 0;
    let tail = '';
    c.onData = (chunk) => {
      const text = tail + chunk;
      let at = text.indexOf('</message>');
      while (at >= 0) {
        seen++;
        at = text.indexOf('</message>', at + 10);
      }
      tail = text.slice(-9);
      if (seen >= n) resolve(performance.now());
    };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, queued: { type: 'string', default: '500' } } });
  const runs = Number(values.runs);
  const queued = Number(values.queued);
  const server = await startServe({
    tmpPrefix: 'roost-bench-sm-',
    config: {
      limits: { stanzasPerSecond: 1000000, loginFailuresPerAddress: 100000, loginFailuresPerAccount: 100000 },
      streamManagement: { hibernation: 60 },
    },
    accounts: ['alice', 'bob'],
  });
  const base = { host: '127.0.0.1', port: server.port, domain: DOMAIN, password: PASSWORD };
  const figures = new RunFigures();
  try {
    const bob = new RawClient({ ...base, username: 'bob', resource: 'sender' });
    await bob.connect();
    await bob.enableResumption();
    for (let r = 0; r < runs; r++) {
      const phone = new RawClient({ ...base, username: 'alice', resource: `phone${r}` });
      await phone.connect();
      await phone.enableResumption();
      const received = countMessages(phone, queued);
      let out = '';
      for (let i = 0; i < queued; i++) out += `<message type='chat' to='${phone.jid}' id='r${r}m${i}'><body>queued message ${i} of run ${r}</body></message>`;
      bob.write(out);
      await received;
      // The phone read everything but acknowledged nothing; its connection dies.
      phone.destroy();
      await new Promise((res) => setTimeout(res, 300));
      const again = new RawClient({ ...base, username: 'alice' });
      await again.authenticate();
      const replayed = countMessages(again, queued);
      const t0 = performance.now();
      again.resume(phone.smId, 0);
      const t1 = await replayed;
      figures.add(`resume with ${queued} queued stanzas, ms (target < 50)`, t1 - t0);
      figures.add('replayed stanzas per second', (queued / (t1 - t0)) * 1000);
      // Acknowledge the replay and end cleanly, so nothing is left for offline storage.
      again.write(`<a xmlns='urn:xmpp:sm:3' h='${queued}'/></stream:stream>`);
      await new Promise((res) => setTimeout(res, 200));
      again.destroy();
    }
    bob.destroy();
  } finally {
    await server.stop();
  }
  console.log(machineLine('roost stream-management benchmark', runs));
  figures.print(56, 10, (x, figure) => x.toFixed(figure.startsWith('resume') ? 1 : 0));
}

await main();
