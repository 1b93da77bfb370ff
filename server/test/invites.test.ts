// Invitations on the daemon over real sockets: the installer's invites.json imported once (used
// and revoked tokens stay so after a restart), XEP-0445 preauth + XEP-0077 registration in
// invite mode (a use counted only on success, then the token is refused), unknown / expired /
// revoked / contact-only tokens refused with item-not-found, an inviter and the new account
// subscribed both ways (both rosters read by their own clients), XEP-0379 for an existing user,
// and open mode where a token replaces the CAPTCHA.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { createInvite, inviteUri, saveInvite } from '../../installer/src/invite.js';
import { startTestServer } from './helpers/server.js';
import {
  condition,
  errorText,
  formFields,
  iqGet,
  NS_IBR_TOKEN,
  NS_PARS,
  NS_REGISTER,
  NS_REGISTER_FEATURE,
  preAuth,
  preauth,
  registerLegacy,
  type Srv,
} from './helpers/registration.js';

const DAY = 86_400_000;

async function record(srv: Srv, token: string): Promise<any> {
  return srv.server.storage.keyval('invites').get(srv.host, token);
}

async function putRecord(srv: Srv, token: string, r: Record<string, unknown>): Promise<void> {
  const now = Date.now();
  await srv.server.storage.keyval('invites').set(srv.host, token, {
    type: 'register',
    created: new Date(now).toISOString(),
    expires: new Date(now + DAY).toISOString(),
    uses: 1,
    usedBy: [],
    source: 'test',
    ...r,
  } as any);
}

async function rosterOf(srv: Srv, user: string, password: string): Promise<Map<string, string>> {
  const c = await srv.client(user, password);
  const q = await c.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
  await c.stop();
  return new Map(q.getChildren('item').map((i: any) => [i.attrs.jid, i.attrs.subscription]));
}

async function waitFor(fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** preauth + legacy registration on a fresh stream. */
async function registerWith(srv: Srv, token: string, username: string, password: string): Promise<{ pre: any; reg?: any }> {
  const s = await preAuth(srv);
  const pre = await preauth(s, token, srv.host);
  if (pre.attrs.type !== 'result') {
    s.destroy();
    return { pre };
  }
  const reg = await registerLegacy(s, username, password);
  s.destroy();
  return { pre, reg };
}

describe('invite mode', () => {
  let srv: Srv;
  let dataDir: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'roost-invites-'));
    // What `roost setup` writes: one account invitation from the admin, one plain, one
    // expired, one for another domain.
    const now = new Date();
    const fromAdmin = createInvite('localhost', 'admin@localhost', now, 7);
    const plain = createInvite('localhost', undefined, now, 7);
    const expired = createInvite('localhost', undefined, new Date(now.getTime() - 8 * DAY), 7);
    const other = createInvite('elsewhere.example', undefined, now, 7);
    for (const inv of [expired, other, fromAdmin, plain]) await saveInvite(dataDir, inv, null);
    // saveInvite drops expired entries itself; put one back by hand to see the daemon skip it.
    const { readFile, writeFile } = await import('node:fs/promises');
    const file = JSON.parse(await readFile(join(dataDir, 'invites.json'), 'utf8'));
    file.invites.push(expired, { token: 'short', domain: 'localhost' });
    await writeFile(join(dataDir, 'invites.json'), JSON.stringify(file));
    Object.assign(tokens, { fromAdmin: fromAdmin.token, plain: plain.token, expired: expired.token, other: other.token });
    expect(inviteUri(fromAdmin)).toBe(`xmpp:admin@localhost?roster;preauth=${fromAdmin.token};ibr=y`);
    srv = await startTestServer({ dataDir, registration: { mode: 'invite', enabled: true }, limits: { registrationsPerAddress: 50 } });
    await srv.addUser('admin', 'admin-pw');
    await srv.addUser('taken', 'pw');
  });
  afterAll(async () => {
    await srv?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('imports invites.json: usable entries only, as records of the store', async () => {
    expect(await record(srv, tokens.fromAdmin!)).toMatchObject({ type: 'register', inviter: 'admin@localhost', uses: 1, usedBy: [], source: 'roost setup' });
    expect(await record(srv, tokens.plain!)).toMatchObject({ type: 'register', uses: 1 });
    expect((await record(srv, tokens.plain!)).inviter).toBeUndefined();
    expect(await record(srv, tokens.expired!)).toBeUndefined();
    expect(await record(srv, tokens.other!)).toBeUndefined();
  });

  it('features; without a token: not-allowed for the form and the registration', async () => {
    const s = await preAuth(srv);
    expect(s.features.getChild('register', NS_IBR_TOKEN)).toBeDefined();
    expect(s.features.getChild('register', NS_REGISTER_FEATURE)).toBeDefined();
    const get = await iqGet(s, xml('query', { xmlns: NS_REGISTER }));
    expect(condition(get)).toBe('not-allowed');
    expect(errorText(get)).toMatch(/invitation/);
    expect(condition(await registerLegacy(s, 'intruder', 'pw'))).toBe('not-allowed');
    s.destroy();
    expect(await srv.server.accounts(srv.host)!.exists('intruder')).toBe(false);
  });

  it('unknown, expired, revoked, used-up and contact-only tokens: item-not-found, and still no registration', async () => {
    await putRecord(srv, 'expiredToken0000000001', { expires: new Date(Date.now() - 1000).toISOString() });
    await putRecord(srv, 'revokedToken0000000001', { revoked: new Date().toISOString(), uses: 0 });
    await putRecord(srv, 'usedUpToken00000000001', { uses: 0, usedBy: [{ jid: 'x@localhost', when: new Date().toISOString() }] });
    await putRecord(srv, 'contactOnly00000000001', { type: 'roster', inviter: 'admin@localhost' });
    const s = await preAuth(srv);
    for (const t of ['noSuchToken00000000001', 'expiredToken0000000001', 'revokedToken0000000001', 'usedUpToken00000000001', 'contactOnly00000000001', tokens.expired!, 'bad token!']) {
      const r = await preauth(s, t, srv.host);
      expect(condition(r), t).toBe('item-not-found');
      expect(r.getChild('error').attrs.type).toBe('cancel');
      expect(errorText(r)).toBe('The provided token is invalid or expired');
    }
    // No token attribute at all: bad-request; the stream goes on.
    expect(condition(await s.iq('set', `<preauth xmlns='${NS_PARS}'/>`))).toBe('bad-request');
    expect(condition(await registerLegacy(s, 'intruder', 'pw'))).toBe('not-allowed');
    s.destroy();
  });

  it('a token lets one account register (a failed try uses nothing); then it is used up', async () => {
    const s = await preAuth(srv);
    expect((await preauth(s, tokens.plain!, srv.host)).attrs.type).toBe('result');
    // With a token the plain XEP-0077 form comes back.
    const form = await iqGet(s, xml('query', { xmlns: NS_REGISTER }));
    expect(form.getChild('query', NS_REGISTER).getChild('username')).toBeDefined();
    expect(formFields(form).get('FORM_TYPE')!.values).toEqual([NS_REGISTER]);
    expect(condition(await registerLegacy(s, 'taken', 'whatever'))).toBe('conflict');
    expect((await record(srv, tokens.plain!)).uses).toBe(1);
    expect((await registerLegacy(s, 'newbie', 'newbie-pw')).attrs.type).toBe('result');
    // One account per shown token: a second one on the same stream needs another preauth.
    expect(condition(await registerLegacy(s, 'second', 'pw'))).toBe('not-allowed');
    s.destroy();
    expect(await record(srv, tokens.plain!)).toMatchObject({ uses: 0, usedBy: [{ jid: 'newbie@localhost' }] });
    const c = await srv.client('newbie', 'newbie-pw');
    await c.stop();
    const again = await registerWith(srv, tokens.plain!, 'another', 'pw');
    expect(condition(again.pre)).toBe('item-not-found');
  });

  it('two streams holding the last use of one token: only one account', async () => {
    await putRecord(srv, 'raceToken0000000000001', { uses: 1 });
    const a = await preAuth(srv);
    const b = await preAuth(srv);
    expect((await preauth(a, 'raceToken0000000000001')).attrs.type).toBe('result');
    expect((await preauth(b, 'raceToken0000000000001')).attrs.type).toBe('result');
    const [ra, rb] = await Promise.all([registerLegacy(a, 'racer-a', 'pw'), registerLegacy(b, 'racer-b', 'pw')]);
    expect([ra.attrs.type, rb.attrs.type].sort()).toEqual(['error', 'result']);
    expect(condition(ra.attrs.type === 'error' ? ra : rb)).toBe('not-allowed');
    a.destroy();
    b.destroy();
    expect((await record(srv, 'raceToken0000000000001')).usedBy).toHaveLength(1);
  });

  it('a token of several uses creates that many accounts', async () => {
    await putRecord(srv, 'threeUses000000000001', { uses: 3 });
    for (const u of ['team1', 'team2', 'team3']) expect((await registerWith(srv, 'threeUses000000000001', u, 'pw')).reg.attrs.type).toBe('result');
    expect(condition((await registerWith(srv, 'threeUses000000000001', 'team4', 'pw')).pre)).toBe('item-not-found');
    expect((await record(srv, 'threeUses000000000001')).usedBy.map((u: any) => u.jid)).toEqual(['team1@localhost', 'team2@localhost', 'team3@localhost']);
  });

  it('an invitation from the admin: the new account and the admin are contacts both ways', async () => {
    // The admin is online and has fetched the roster: the push arrives.
    const admin = await srv.client('admin', 'admin-pw');
    await admin.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
    const pushed = new Promise<any>((resolve) => {
      admin.on('stanza', (st: any) => {
        const item = st.is('iq') && st.getChild('query', 'jabber:iq:roster')?.getChild('item');
        if (item?.attrs.jid === 'juliet@localhost') resolve(item);
      });
    });
    expect((await registerWith(srv, tokens.fromAdmin!, 'juliet', 'juliet-pw')).reg.attrs.type).toBe('result');
    expect((await pushed).attrs.subscription).toBe('both');
    await admin.stop();
    expect((await rosterOf(srv, 'juliet', 'juliet-pw')).get('admin@localhost')).toBe('both');
    expect((await rosterOf(srv, 'admin', 'admin-pw')).get('juliet@localhost')).toBe('both');
    // The same link used by someone who has an account already (XEP-0445 §2.3): used up now.
    expect(await record(srv, tokens.fromAdmin!)).toMatchObject({ uses: 0, usedBy: [{ jid: 'juliet@localhost' }] });
  });

  it('invites.json again at a restart: used and revoked tokens are not brought back; a token added while running is found', async () => {
    await srv.stop();
    srv = await startTestServer({ dataDir, registration: { mode: 'invite', enabled: true }, limits: { registrationsPerAddress: 50 } });
    expect(await record(srv, tokens.plain!)).toMatchObject({ uses: 0 });
    expect(await record(srv, tokens.fromAdmin!)).toMatchObject({ uses: 0 });
    expect(condition((await registerWith(srv, tokens.plain!, 'ghost', 'pw')).pre)).toBe('item-not-found');
    // The installer runs again and only reloads the daemon: the new token works at once.
    await new Promise((r) => setTimeout(r, 20)); // a different modification time
    const late = createInvite('localhost', undefined, new Date(), 1);
    await saveInvite(dataDir, late, null);
    expect((await registerWith(srv, late.token, 'latecomer', 'pw')).reg.attrs.type).toBe('result');
  });
});

describe('contact invitations for existing accounts (XEP-0379)', () => {
  let srv: Srv;
  beforeAll(async () => {
    srv = await startTestServer({ registration: { mode: 'invite', enabled: true } });
    for (const u of ['alice', 'bob', 'carol']) await srv.addUser(u, `${u}-pw`);
    await putRecord(srv, 'aliceContact000000001', { type: 'roster', inviter: 'alice@localhost', uses: 1 });
  });
  afterAll(async () => srv?.stop());

  it('a subscription request with the token is approved without asking the inviter, who asks back; both end subscribed', async () => {
    const alice = await srv.client('alice', 'alice-pw');
    await alice.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
    await alice.send(xml('presence'));
    const askedAlice: any[] = [];
    alice.on('stanza', (st: any) => {
      if (st.is('presence') && st.attrs.type === 'subscribe') askedAlice.push(st);
    });
    const bob = await srv.client('bob', 'bob-pw');
    await bob.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
    await bob.send(xml('presence'));
    // What a client does with xmpp:alice@localhost?roster;preauth=TOKEN (XEP-0379 §3.4): the
    // request with the token, then a pre-approval of alice. Alice's request back meets that
    // pre-approval (or, arriving first, is approved by it), so bob is not asked either.
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }, xml('preauth', { xmlns: NS_PARS, token: 'aliceContact000000001' })));
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    const roster = srv.server.storage.keyval('roster');
    await waitFor(async () => (await roster.get('alice@localhost', 'bob@localhost') as any)?.subscription === 'both' && (await roster.get('bob@localhost', 'alice@localhost') as any)?.subscription === 'both');
    await bob.stop();
    await alice.stop();
    expect(askedAlice).toEqual([]);
    expect((await rosterOf(srv, 'alice', 'alice-pw')).get('bob@localhost')).toBe('both');
    expect((await rosterOf(srv, 'bob', 'bob-pw')).get('alice@localhost')).toBe('both');
    expect(await record(srv, 'aliceContact000000001')).toMatchObject({ uses: 0, usedBy: [{ jid: 'bob@localhost' }] });
  });

  it('a used-up or wrong token is ignored: the inviter is asked as usual', async () => {
    const alice = await srv.client('alice', 'alice-pw');
    await alice.send(xml('presence'));
    const asked = new Promise<any>((resolve) => alice.on('stanza', (st: any) => st.is('presence') && st.attrs.type === 'subscribe' && resolve(st)));
    const carol = await srv.client('carol', 'carol-pw');
    await carol.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }, xml('preauth', { xmlns: NS_PARS, token: 'aliceContact000000001' })));
    expect((await asked).attrs.from).toBe('carol@localhost');
    const item = (await srv.server.storage.keyval('roster').get('alice@localhost', 'carol@localhost')) as any;
    expect(item).toMatchObject({ subscription: 'none', pendingIn: true });
    await carol.stop();
    await alice.stop();
  });
});

describe('open mode with an invitation', () => {
  let srv: Srv;
  beforeAll(async () => {
    srv = await startTestServer({ registration: { mode: 'open', enabled: true } });
    await putRecord(srv, 'openModeToken00000001', {});
  });
  afterAll(async () => srv?.stop());

  it('a valid token replaces the CAPTCHA; a bad one leaves it in place', async () => {
    const s = await preAuth(srv);
    expect(condition(await preauth(s, 'wrongToken00000000001'))).toBe('item-not-found');
    expect(condition(await registerLegacy(s, 'bot', 'pw'))).toBe('not-acceptable');
    expect((await preauth(s, 'openModeToken00000001')).attrs.type).toBe('result');
    const form = await iqGet(s, xml('query', { xmlns: NS_REGISTER }));
    expect(formFields(form).get('FORM_TYPE')!.values).toEqual([NS_REGISTER]);
    expect(formFields(form).has('ocr')).toBe(false);
    expect((await registerLegacy(s, 'friend', 'friend-pw')).attrs.type).toBe('result');
    s.destroy();
    const c = await srv.client('friend', 'friend-pw');
    await c.stop();
    expect((await record(srv, 'openModeToken00000001')).usedBy).toEqual([expect.objectContaining({ jid: 'friend@localhost' })]);
  });
});

describe('a broken invites.json', () => {
  it('is reported and skipped: the daemon starts and refuses tokens as unknown', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roost-invites-bad-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dataDir, 'invites.json'), '{"version": 1, "invites": [ {"token": ');
    const srv = await startTestServer({ dataDir, registration: { mode: 'invite', enabled: true } });
    try {
      const s = await preAuth(srv);
      expect(condition(await preauth(s, 'whateverToken00000001'))).toBe('item-not-found');
      s.destroy();
      // Fixed by the installer while running: the next unknown token reads it again.
      const inv = createInvite('localhost', undefined, new Date(), 1);
      await saveInvite(dataDir, inv, null);
      expect((await registerWith(srv, inv.token, 'fixed', 'pw')).reg.attrs.type).toBe('result');
    } finally {
      await srv.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
