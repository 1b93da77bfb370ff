// `roost check clients` and `roost reports` as real processes (bin/roost.js) against a running
// test server: the check logs in over the network (temporary account in the server's database,
// or a given one), the report listing reads what the spam-reporting module stored.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { ensureBuilt, runRoost } from './helpers/cli.js';
import { startTestServer } from './helpers/server.js';
import { BLOCKING, chat, isBody, online, stanzaId } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let dir: string;
let configFile: string;

const writeConfig = (file: string, port: number) =>
  writeFile(file, [`hosts: [${srv.host}]`, `dataDir: ${srv.dataDir}`, 'listeners:', `  c2s: { address: 127.0.0.1, port: ${port} }`, ''].join('\n'));

beforeAll(async () => {
  ensureBuilt();
  srv = await startTestServer();
  await srv.addUser('alice', 'alicepw');
  await srv.addUser('bob', 'bobpw');
  dir = await mkdtemp(join(tmpdir(), 'roost-check-clients-'));
  configFile = join(dir, 'roost.yaml');
  await writeConfig(configFile, srv.port);
}, 180_000);

afterAll(async () => {
  await srv?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Items this part of issue 4 (and the core) provide: green with the default config. */
const MINE = [
  'XEP-0191 Blocking Command',
  'XEP-0215 External Service Discovery (STUN/TURN)',
  'XEP-0237 Roster Versioning',
  'XEP-0280 Message Carbons',
  'XEP-0280 Message Carbons (enabled)',
  'XEP-0313 Message Archive Management',
  'XEP-0313 Message Archive Management (mam:2)',
  'XEP-0359 Unique and Stable Stanza IDs',
  'XEP-0377 Spam Reporting',
  'XEP-0199 XMPP Ping',
  'XEP-0379 / RFC 6121 roster pre-approval',
  'XEP-0440 SASL channel-binding types',
  'XEP-0054 vcard-temp',
  'XEP-0077 In-Band Registration (password change)',
];

describe('roost check clients', () => {
  it('with a temporary account: every client listed, my items green, the account gone afterwards', async () => {
    const r = await runRoost(['check', 'clients', '--config', configFile, '--json'], { cwd: dir, timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.temporaryAccount).toBe(true);
    expect(out.account).toMatch(new RegExp(`^roost-check-[0-9a-f]+@${srv.host}/`));
    expect(out.clients.map((c: any) => c.client)).toEqual(['Conversations', 'Monal', 'Gajim']);
    const items = out.clients.flatMap((c: any) => c.items);
    for (const name of MINE) {
      const found = items.filter((i: any) => i.name === name);
      expect(found.length, name).toBeGreaterThan(0);
      for (const i of found) expect(i.ok, name).toBe(true);
    }
    // TURN is off in the default config: green, with a note saying calls may fail behind NAT.
    expect(items.find((i: any) => i.name.startsWith('XEP-0215')).note).toMatch(/no STUN\/TURN server configured/);
    expect(items.find((i: any) => i.name === 'XEP-0258 Security Labels').notPlanned).toBe(true);
    expect(out.summary.green + out.summary.red).toBe(items.filter((i: any) => !i.notPlanned).length);
    expect(r.code).toBe(out.summary.red === 0 ? 0 : 1);
    const accounts = await srv.server.accounts(srv.host)!.list();
    expect(accounts.filter((a: string) => a.startsWith('roost-check-'))).toEqual([]);
  });

  it('with --user: the text report, green and red marks, and what a red item looks for', async () => {
    const r = await runRoost(['check', 'clients', '--config', configFile, '--user', 'alice', '--password', 'alicepw'], { cwd: dir, timeoutMs: 60_000 });
    expect(r.stdout).toContain(`logged in as alice@${srv.host}/`);
    for (const c of ['Conversations', 'Monal', 'Gajim']) expect(r.stdout).toMatch(new RegExp(`^${c}$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}✔ XEP-0280 Message Carbons$/m);
    expect(r.stdout).toMatch(/^ {2}✔ XEP-0313 Message Archive Management$/m);
    expect(r.stdout).toMatch(/items green/);
    for (const line of r.stdout.split('\n').filter((l) => l.startsWith('  ✘'))) expect(line).toMatch(/\(looks for .+\)/);
  });

  it('a wrong password or a closed port: exit 69 with the reason', async () => {
    const bad = await runRoost(['check', 'clients', '--config', configFile, '--user', 'alice', '--password', 'wrong'], { cwd: dir, timeoutMs: 60_000 });
    expect(bad.code).toBe(69);
    expect(bad.stderr).toMatch(/login refused/);
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const closed = await runRoost(['check', 'clients', '--config', configFile, '--user', 'alice', '--password', 'alicepw', '--port', String(free)], { cwd: dir, timeoutMs: 60_000 });
    expect(closed.code).toBe(69);
    expect(closed.stderr).toMatch(/cannot connect to 127\.0\.0\.1/);
    const usage = await runRoost(['check', 'clients', '--config', configFile, 'extra'], { cwd: dir });
    expect(usage.code).toBe(2);
  });
});

describe('roost reports', () => {
  it('lists the reports sent with blocks, newest first, as text and JSON', async () => {
    const empty = await runRoost(['reports', '--config', configFile], { cwd: dir });
    expect(empty.stdout).toBe('no reports\n');
    const alice = await online(srv, 'alice', 'r');
    const bob = await online(srv, 'bob', 'r');
    await bob.c.send(chat(alice.bare, 'win a free cruise'));
    const m = await alice.inbox.wait(isBody('win a free cruise'));
    const report = xml('report', { xmlns: 'urn:xmpp:reporting:1', reason: 'urn:xmpp:reporting:spam' }, xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: alice.bare, id: stanzaId(m, alice.bare)! }), xml('text', {}, 'cruise spam'));
    await alice.c.iqCaller.set(xml('block', { xmlns: BLOCKING }, xml('item', { jid: bob.bare }, report)));
    await new Promise((r) => setTimeout(r, 20));
    await alice.c.iqCaller.set(xml('block', { xmlns: BLOCKING }, xml('item', { jid: 'troll@other.example' }, xml('report', { xmlns: 'urn:xmpp:reporting:1', reason: 'urn:xmpp:reporting:abuse' }))));
    const text = await runRoost(['reports', '--config', configFile], { cwd: dir });
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`abuse {2}troll@other\\.example {2}reported by ${alice.bare}`));
    const spamAt = lines.findIndex((l) => l.includes(`spam  ${bob.bare}  reported by ${alice.bare}`));
    expect(spamAt).toBeGreaterThan(0);
    expect(lines[spamAt + 1]).toBe('    says: cruise spam');
    expect(lines[spamAt + 2]).toMatch(/^ {4}message .*: win a free cruise$/);
    const json = JSON.parse((await runRoost(['reports', '--config', configFile, '--json', '--limit', '1'], { cwd: dir })).stdout);
    expect(json.total).toBe(2);
    expect(json.reports).toHaveLength(1);
    expect(json.reports[0].reported).toBe('troll@other.example');
    expect((await runRoost(['reports', '--config', configFile, '--limit', 'x'], { cwd: dir })).code).toBe(2);
  });
});
