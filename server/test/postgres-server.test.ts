// The whole server on PostgreSQL (storage: { type: postgres, url }) against a real throwaway
// cluster (helpers/postgres.ts): accounts made by the real `roost user` command on the same
// database, logins, roster and subscription, offline delivery after reconnect, vCard, account
// deletion, each checked in the database's own tables too; then the database dies under a
// connected client: requests that need storage get an error answer, nothing crashes, and the
// same session works again once PostgreSQL is back.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { ensureBuilt, listenersOnlyConfig, runRoost, startDaemon } from './helpers/cli.js';
import { loggedIn } from './helpers/raw.js';
import { startPostgres, type PgCluster } from './helpers/postgres.js';
import { startTestServer } from './helpers/server.js';
import { login, ROSTER } from './helpers/im.js';

const VCARD = 'vcard-temp';
const DELAY = 'urn:xmpp:delay';
type Srv = Awaited<ReturnType<typeof startTestServer>>;
let cluster: PgCluster;
let url: string;
let srv: Srv;
let dir: string;
let domain: string;
const J = (u: string): string => `${u}@${domain}`;

const connect = (user: string, resource?: string) => login(srv, user, resource, { password: `${user}-pw`, quiet: false });

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

const condition = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'result',
    (e: { condition?: string; message?: string }) => e.condition ?? `no stanza error: ${e.message}`,
  );

/** `roost user ...` as a real process on a roost.yaml that points at the same database. */
const roostUser = (args: string[], input?: string) =>
  runRoost(['user', ...args, '--config', join(dir, 'roost.yaml')], { cwd: dir, env: { ROOST_DATA: join(dir, 'state') }, ...(input !== undefined ? { input } : {}) });

beforeAll(async () => {
  ensureBuilt();
  cluster = await startPostgres();
  url = await cluster.createDatabase('roost');
  dir = await mkdtemp(join(tmpdir(), 'roost-pgsrv-'));
  await writeFile(join(dir, 'roost.yaml'), `storage:\n  type: postgres\n  url: ${url}\n`);
  // A short connect timeout: a dead server is noticed in 2 s, not 5.
  srv = await startTestServer({ dataDir: join(dir, 'state'), storage: { type: 'postgres', url, connectTimeoutMs: 2000 } as never });
  domain = srv.host;
}, 180_000);

afterAll(async () => {
  await srv?.stop();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the server on PostgreSQL', () => {
  it('accounts made by `roost user add` on the same database log in at once; credentials are in roost_keyval, no password', async () => {
    for (const u of ['alice', 'bob', 'carol']) {
      const r = await roostUser(['add', u], `${u}-pw\n`);
      expect(r).toMatchObject({ code: 0, stdout: `created ${u}@localhost\n` });
    }
    const rows = await sql<{ owner: string; value: string }>("SELECT owner, value FROM roost_keyval WHERE store = 'accounts' ORDER BY owner");
    expect(rows.map((r) => r.owner)).toEqual(['alice@localhost', 'bob@localhost', 'carol@localhost']);
    for (const r of rows) expect(r.value).not.toContain('-pw');
    expect((await roostUser(['list'])).stdout).toBe('alice@localhost\nbob@localhost\ncarol@localhost\n');
    const { c } = await connect('alice');
    expect(c.jid.toString()).toMatch(/^alice@localhost\//);
    await c.stop();
    await expect(srv.client('alice', 'wrong')).rejects.toMatchObject({ condition: 'not-authorized' });
  });

  it('roster and subscription handshake, persisted in PostgreSQL', async () => {
    const a = await connect('alice', 'a');
    const b = await connect('bob', 'b');
    await a.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    await b.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    await a.c.send(xml('presence'));
    await b.c.send(xml('presence'));
    await a.c.iqCaller.set(xml('query', { xmlns: ROSTER }, xml('item', { jid: J('bob'), name: 'Bob' }, xml('group', {}, 'Work'))));
    await a.c.send(xml('presence', { to: J('bob'), type: 'subscribe' }));
    await b.inbox.wait((s) => s.name === 'presence' && s.attrs.type === 'subscribe' && s.attrs.from === J('alice'));
    await b.c.send(xml('presence', { to: J('alice'), type: 'subscribed' }));
    // alice's push: bob is now "to"; bob's: alice is "from".
    await a.inbox.wait((s) => s.name === 'iq' && s.getChild('query', ROSTER)?.getChild('item')?.attrs.subscription === 'to');
    await a.inbox.wait((s) => s.name === 'presence' && s.attrs.from === b.c.jid.toString() && !s.attrs.type);
    const ra = await a.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    const item = ra.getChild('item');
    expect(item.attrs).toMatchObject({ jid: J('bob'), name: 'Bob', subscription: 'to' });
    expect(item.getChildText('group')).toBe('Work');
    const rb = await b.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    expect(rb.getChild('item').attrs).toMatchObject({ jid: J('alice'), subscription: 'from' });
    const stored = await sql<{ owner: string; key: string }>("SELECT owner, key FROM roost_keyval WHERE store = 'roster' ORDER BY owner");
    expect(stored).toEqual([
      { owner: 'alice@localhost', key: 'bob@localhost' },
      { owner: 'bob@localhost', key: 'alice@localhost' },
    ]);
    await a.c.stop();
    await b.c.stop();
  });

  it('a message to an offline account is stored in roost_archive and delivered with a delay stamp after it reconnects', async () => {
    const a = await connect('alice', 'a');
    await a.c.send(xml('message', { to: J('carol'), type: 'chat' }, xml('body', {}, 'while you were out')));
    // Answered after the message (in order): it is stored by then.
    await a.c.iqCaller.request(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    const rows = await sql<{ owner: string; body: string }>("SELECT owner, body FROM roost_archive WHERE store = 'offline'");
    expect(rows).toEqual([{ owner: 'carol@localhost', body: 'while you were out' }]);
    const c = await connect('carol');
    await c.c.send(xml('presence'));
    const m = await c.inbox.wait((s) => s.name === 'message');
    expect(m.getChildText('body')).toBe('while you were out');
    expect(m.attrs.from).toBe(a.c.jid.toString());
    expect(m.getChild('delay', DELAY)?.attrs.from).toBe(domain);
    // Delivered: removed from the database.
    for (let i = 0; i < 50 && (await sql("SELECT 1 FROM roost_archive WHERE store = 'offline'")).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await sql("SELECT 1 FROM roost_archive WHERE store = 'offline'")).toEqual([]);
    await a.c.stop();
    await c.c.stop();
  });

  it('vCard set and read back, stored in PostgreSQL', async () => {
    const a = await connect('alice');
    await a.c.iqCaller.set(xml('vCard', { xmlns: VCARD }, xml('FN', {}, 'Alice on Postgres')));
    const b = await connect('bob');
    const got = await b.c.iqCaller.get(xml('vCard', { xmlns: VCARD }), J('alice'));
    expect(got.getChildText('FN')).toBe('Alice on Postgres');
    const rows = await sql<{ owner: string; value: string }>("SELECT owner, value FROM roost_keyval WHERE store = 'vcard'");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.owner).toBe('alice@localhost');
    expect(rows[0]!.value).toContain('Alice on Postgres');
    await a.c.stop();
    await b.c.stop();
  });

  it('`roost user del` removes the account and everything stored for it (roster, vCard, offline, FAST clients) from PostgreSQL', async () => {
    const c = await connect('carol');
    await c.c.iqCaller.set(xml('vCard', { xmlns: VCARD }, xml('FN', {}, 'Carol')));
    await c.c.iqCaller.set(xml('query', { xmlns: ROSTER }, xml('item', { jid: J('alice') })));
    await c.c.stop();
    const a = await connect('alice');
    await a.c.send(xml('message', { to: J('carol'), type: 'chat' }, xml('body', {}, 'never read')));
    await a.c.iqCaller.request(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    const owned = () => sql<{ store: string }>("SELECT store FROM roost_keyval WHERE owner = 'carol@localhost' UNION ALL SELECT store FROM roost_archive WHERE owner = 'carol@localhost' ORDER BY store");
    expect((await owned()).map((r) => r.store)).toEqual(expect.arrayContaining(['accounts', 'offline', 'roster', 'vcard']));

    const r = await roostUser(['del', 'carol']);
    expect(r).toMatchObject({ code: 0, stdout: 'deleted carol@localhost\n' });
    expect(await owned()).toEqual([]);
    await expect(srv.client('carol', 'carol-pw')).rejects.toMatchObject({ condition: 'not-authorized' });
    expect((await roostUser(['list'])).stdout).toBe('alice@localhost\nbob@localhost\n');
    await a.c.stop();
  });
});

describe('`roost serve` on PostgreSQL (a real process)', () => {
  it('serves accounts from the database and exits 0 on SIGTERM; a database that cannot be reached stops the start with exit 1', async () => {
    const { yaml } = await listenersOnlyConfig();
    await writeFile(join(dir, 'serve.yaml'), `${yaml}storage:\n  type: postgres\n  url: ${url}\n`);
    const env = { ROOST_DATA: join(dir, 'serve-state') };
    const d = await startDaemon(['--config', 'serve.yaml'], { cwd: dir, env });
    try {
      expect(d.ports.c2s, d.log()).toBeGreaterThan(0);
      const ca = await readFile(join(dir, 'serve-state', 'tls', 'cert.pem'), 'utf8');
      const { s } = await loggedIn({ port: d.ports.c2s!, domain: 'localhost', ca }, 'alice', 'alice-pw');
      s.write('<presence/>');
      expect((await s.iq('get', `<vCard xmlns='${VCARD}'/>`)).getChild('vCard', VCARD).getChildText('FN')).toBe('Alice on Postgres');
      d.signal('SIGTERM');
      expect(await s.streamError()).toBe('system-shutdown');
      expect(await d.exited).toEqual({ code: 0, signal: null });
    } finally {
      await d.stop();
    }

    await writeFile(join(dir, 'dead.yaml'), `${yaml}storage:\n  type: postgres\n  url: postgres://roost@127.0.0.1:1/roost\n`);
    const dead = await startDaemon(['--config', 'dead.yaml'], { cwd: dir, env });
    expect(await dead.exited).toEqual({ code: 1, signal: null });
    expect(dead.log()).toMatch(/error .*cannot start .*PostgreSQL server is unavailable/);
  });
});

describe('PostgreSQL dies under a connected client', () => {
  it('requests that need storage get an error answer, nothing crashes, the same session works again after the restart', async () => {
    const a = await connect('alice', 'survivor');
    const jid = a.c.jid.toString();
    let disconnected = false;
    a.c.on('disconnect', () => (disconnected = true));
    await a.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    await a.c.send(xml('presence'));
    const ping = () => a.c.iqCaller.request(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 10_000);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      cluster.kill();
      const storageErrors = ['internal-server-error', 'resource-constraint'];
      // Each request that reads or writes the database gets exactly one error answer.
      expect(storageErrors).toContain(await condition(a.c.iqCaller.get(xml('query', { xmlns: ROSTER }), undefined, 10_000)));
      expect(storageErrors).toContain(await condition(a.c.iqCaller.set(xml('vCard', { xmlns: VCARD }, xml('FN', {}, 'not stored')), undefined, 10_000)));
      expect(storageErrors).toContain(await condition(a.c.iqCaller.get(xml('vCard', { xmlns: VCARD }), J('bob'), 10_000)));
      // A message that would have to be stored is not silently lost: the sender hears of it.
      await a.c.send(xml('message', { to: J('bob'), type: 'chat', id: 'lost-1' }, xml('body', {}, 'cannot be stored now')));
      const bounced = await a.inbox.wait((s) => s.name === 'message' && s.attrs.id === 'lost-1' && s.attrs.type === 'error', 10_000);
      expect(storageErrors).toContain(bounced.getChild('error')?.getChildElements()[0]?.name);
      // What needs no storage still works in the same session.
      expect(await condition(ping())).toBe('result');
      // A new login cannot check its password: refused, not hung, and the server lives on.
      const login = await srv.client('bob', 'bob-pw').then(
        () => 'logged in',
        (e: { condition?: string }) => e.condition,
      );
      expect(login).toBe('temporary-auth-failure');
      expect(await condition(ping())).toBe('result');

      cluster.start();
      // The pool reconnects by itself; the first request after the restart may still meet a dead connection.
      let roster = 'none';
      for (let i = 0; i < 60 && roster !== 'result'; i++) {
        roster = await condition(a.c.iqCaller.get(xml('query', { xmlns: ROSTER }), undefined, 10_000));
        if (roster !== 'result') await new Promise((r) => setTimeout(r, 250));
      }
      expect(roster).toBe('result');
      await a.c.iqCaller.set(xml('vCard', { xmlns: VCARD }, xml('FN', {}, 'after the restart')));
      expect((await a.c.iqCaller.get(xml('vCard', { xmlns: VCARD }))).getChildText('FN')).toBe('after the restart');
      await a.c.send(xml('message', { to: J('bob'), type: 'chat' }, xml('body', {}, 'stored again')));
      expect(await condition(ping())).toBe('result');
      expect(await sql("SELECT body FROM roost_archive WHERE store = 'offline' AND owner = 'bob@localhost'")).toEqual([{ body: 'stored again' }]);
      // Still the same stream: never dropped, same JID.
      expect(disconnected).toBe(false);
      expect(a.c.jid.toString()).toBe(jid);
      const b = await connect('bob');
      expect(b.c.jid.toString()).toMatch(/^bob@localhost\//);
      await b.c.stop();
      expect(unhandled).toEqual([]);
    } finally {
      process.removeListener('unhandledRejection', onUnhandled);
      cluster.start();
      await a.c.stop().catch(() => {});
    }
  }, 60_000);
});
