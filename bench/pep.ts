// PEP benchmark (issue 4): one account publishes to a node that --contacts online contacts
// (mutual subscription, caps with node+notify) receive; prints p50/p99 of publish -> iq result
// and of publish -> last contact's notification (fan-out), and notifications/s delivered.
// Rosters and the contacts' caps are written to the stores before the server starts, so the
// figures measure publishing, not the subscription handshakes or disco#info round trips. The
// contacts' TLS connections run in this same process, so the figures include their side too.
//
//   npx vite-node bench/pep.ts [--contacts 200] [--publishes 100]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { RoostServer } from '../server/src/core/server.js';
import { silentLogger } from '../server/src/util/log.js';
import { inBatches } from './lib/batches.js';
import { loopbackConfig } from './lib/in-process.js';
import { RawClient } from './lib/raw-client.js';
import { pct } from './lib/stats.js';

const { values } = parseArgs({ options: { contacts: { type: 'string', default: '200' }, publishes: { type: 'string', default: '100' } } });
const CONTACTS = Number(values.contacts);
const PUBLISHES = Number(values.publishes);
const DOMAIN = 'localhost';
const PASSWORD = 'bench-password';
const NODE = 'http://jabber.org/protocol/tune';
const CAPS_NODE = 'https://roost.bench/caps';
const FEATURES = ['http://jabber.org/protocol/disco#info', NODE + '+notify'];
const VER = createHash('sha1').update(`client/phone//bench<${[...FEATURES].sort().join('<')}<`).digest('base64');

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'roost-bench-pep-'));
  try {
    const base = await loopbackConfig(dataDir, { c2sDirectTls: true });
    const config = { ...base, limits: { ...base.limits, stanzasPerSecond: 100_000, connectionsPerAddress: 100_000, maxConnections: 100_000 } };
    const server = await RoostServer.start(config, { log: silentLogger });
    const accounts = server.accounts(DOMAIN)!;
    // Rosters (mutual subscriptions) and the contacts' verified caps, straight into the stores.
    const roster = server.storage.keyval('roster');
    await accounts.create('owner', PASSWORD);
    for (let i = 0; i < CONTACTS; i++) {
      await accounts.create(`c${i}`, PASSWORD);
      await roster.set(`owner@${DOMAIN}`, `c${i}@${DOMAIN}`, { groups: [], subscription: 'both' });
      await roster.set(`c${i}@${DOMAIN}`, `owner@${DOMAIN}`, { groups: [], subscription: 'both' });
    }
    await server.storage.keyval('caps').set(DOMAIN, `sha-1 ${CAPS_NODE}#${VER}`, FEATURES);
    const port = server.ports.c2s!;
    const opts = { host: '127.0.0.1', port, domain: DOMAIN, password: PASSWORD };

    const owner = new RawClient({ ...opts, username: 'owner', resource: 'r' });
    await owner.connect();
    let pending: ((n: number) => void) | undefined;
    let got = 0;
    const contacts = await inBatches(CONTACTS, 50, async (i) => {
      const c = new RawClient({ ...opts, username: `c${i}`, resource: 'r' });
      await c.connect();
      return c;
    });
    for (const c of contacts) {
      c.onData = (d) => {
        const n = d.split('pubsub#event').length - 1;
        if (n > 0) {
          got += n;
          pending?.(got);
        }
      };
      c.write(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${CAPS_NODE}' ver='${VER}'/></presence>`);
    }
    await new Promise((r) => setTimeout(r, 500));
    got = 0;

    const result: number[] = [];
    const fanout: number[] = [];
    const started = Date.now();
    for (let n = 0; n < PUBLISHES; n++) {
      const target = got + CONTACTS;
      const t0 = process.hrtime.bigint();
      const all = new Promise<void>((resolve) => {
        pending = (g) => {
          if (g >= target) resolve();
        };
        pending(got);
      });
      const id = `p${n}`;
      const answered = new Promise<void>((resolve) => {
        let buf = '';
        owner.onData = (d) => {
          buf += d;
          if (buf.includes(`id="${id}"`) || buf.includes(`id='${id}'`)) resolve();
        };
      });
      owner.write(`<iq type='set' id='${id}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${NODE}'><item id='h${n}'><tune xmlns='${NODE}'><title>t${n}</title></tune></item></publish></pubsub></iq>`);
      await answered;
      result.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await all;
      fanout.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`PEP publish to ${CONTACTS} online contacts, ${PUBLISHES} publishes (SQLite, one process)`);
    console.log(`  publish -> iq result        p50 ${pct(result, 50).toFixed(2)} ms   p99 ${pct(result, 99).toFixed(2)} ms`);
    console.log(`  publish -> all notified     p50 ${pct(fanout, 50).toFixed(2)} ms   p99 ${pct(fanout, 99).toFixed(2)} ms`);
    console.log(`  notifications delivered     ${Math.round((PUBLISHES * CONTACTS) / seconds)} /s`);
    for (const c of contacts) c.destroy();
    owner.destroy();
    await server.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
