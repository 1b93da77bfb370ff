// XEP-0191 Blocking Command and XEP-0377 spam reports over real sockets: the list and its
// pushes, and what a block does to presence, messages and iqs in both directions (§3.3-§3.5).
// https://xmpp.org/extensions/xep-0191.html
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { befriend, BLOCKING, bodies, chat, DISCO_INFO, errorOf, isBody, mam, online, stanzaId, STANZAS, type Peer } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let alice1: Peer, alice2: Peer, alice3: Peer, bob: Peer, carol: Peer, carol2: Peer;

const blocklist = async (p: Peer): Promise<string[]> =>
  (await p.c.iqCaller.get(xml('blocklist', { xmlns: BLOCKING }))).getChildren('item').map((i: any) => i.attrs.jid);
const block = (p: Peer, jids: string[], items?: any[]) => p.c.iqCaller.set(xml('block', { xmlns: BLOCKING }, ...(items ?? jids.map((j) => xml('item', { jid: j })))));
const unblock = (p: Peer, jids: string[]) => p.c.iqCaller.set(xml('unblock', { xmlns: BLOCKING }, ...jids.map((j) => xml('item', { jid: j }))));
const isBlockPush = (kind: 'block' | 'unblock', jid?: string) => (s: any) =>
  s.name === 'iq' && s.attrs.type === 'set' && s.getChild(kind, BLOCKING) && (jid === undefined ? s.getChild(kind, BLOCKING).getChildren('item').length === 0 : s.getChild(kind, BLOCKING).getChildren('item').some((i: any) => i.attrs.jid === jid));
const errCond = (s: any) => s.getChild('error')?.children.find((c: any) => typeof c !== 'string' && c.attrs.xmlns === STANZAS)?.name;

beforeAll(async () => {
  srv = await startTestServer({ modules: { blocking: { maxItems: 20 } } });
  for (const u of ['alice', 'bob', 'carol']) await srv.addUser(u, u + 'pw');
  alice1 = await online(srv, 'alice', 'one', { priority: 2 });
  alice2 = await online(srv, 'alice', 'two', { priority: 1 });
  alice3 = await online(srv, 'alice', 'three', { presence: false });
  bob = await online(srv, 'bob', 'desk');
  carol = await online(srv, 'carol', 'home');
  carol2 = await online(srv, 'carol', 'work');
  await befriend(alice1, bob);
  await befriend(alice1, carol);
  for (const p of [alice1, alice2, alice3, bob, carol, carol2]) p.inbox.clear();
}, 60_000);

afterAll(async () => {
  await srv?.stop();
});

describe('blocking', () => {
  it('is advertised with spam reporting; the list starts empty', async () => {
    const f = (await alice1.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), srv.host)).getChildren('feature').map((x: any) => x.attrs.var);
    for (const ns of [BLOCKING, 'urn:xmpp:reporting:1', 'urn:xmpp:reporting:reason:spam:0']) expect(f).toContain(ns);
    expect(await blocklist(alice1)).toEqual([]);
    expect(await blocklist(alice2)).toEqual([]);
  });

  it('a block is pushed to the resources that fetched the list; bob gets unavailable from each available resource', async () => {
    await bob.c.send(chat(alice1.bare, 'before the block'));
    await alice1.inbox.wait(isBody('before the block'));
    await block(alice1, [bob.bare]);
    await alice1.inbox.wait(isBlockPush('block', bob.bare));
    await alice2.inbox.wait(isBlockPush('block', bob.bare));
    await alice3.inbox.none(isBlockPush('block'));
    const un = await Promise.all([alice1.jid, alice2.jid].map((j) => bob.inbox.wait((s) => s.name === 'presence' && s.attrs.type === 'unavailable' && s.attrs.from === j)));
    expect(un).toHaveLength(2);
    expect(await blocklist(alice3)).toEqual([bob.bare]);
  });

  it('from bob: messages bounce service-unavailable and are not archived; presence and probes vanish; iqs bounce', async () => {
    await bob.c.send(chat(alice1.bare, 'blocked message'));
    const err = await bob.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error');
    expect(errCond(err)).toBe('service-unavailable');
    await bob.c.send(xml('presence', { to: alice1.bare }, xml('status', {}, 'hello?')));
    await bob.c.send(xml('presence', { to: alice1.bare, type: 'subscribe' }));
    // alice1 answers this iq when it reaches her (checked after unblocking).
    alice1.c.iqCallee.get('urn:example:echo', 'q', () => xml('q', { xmlns: 'urn:example:echo' }));
    expect(await errorOf(bob.c.iqCaller.get(xml('q', { xmlns: 'urn:example:echo' }), alice1.jid))).toBe('service-unavailable');
    expect(await errorOf(bob.c.iqCaller.get(xml('vCard', { xmlns: 'vcard-temp' }), alice1.bare))).toBe('service-unavailable');
    await alice1.inbox.none((s) => s.attrs.from?.startsWith(bob.bare));
    await bob.inbox.none((s) => s.name === 'presence' && s.attrs.type === 'error');
    expect(bodies(await mam(alice1, { with: bob.bare }))).toEqual(['before the block']);
  });

  it('to bob: not-acceptable with <blocked/>, nothing routed or archived; presence updates do not reach him', async () => {
    bob.inbox.clear();
    await alice2.c.send(chat(bob.bare, 'to a blocked contact'));
    const err = await alice2.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error');
    expect(errCond(err)).toBe('not-acceptable');
    expect(err.getChild('error').getChild('blocked', 'urn:xmpp:blocking:errors')).toBeDefined();
    expect(await errorOf(alice1.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), bob.jid))).toBe('not-acceptable');
    await alice1.c.send(xml('presence', {}, xml('status', {}, 'busy'), xml('priority', {}, '2')));
    await carol.inbox.wait((s) => s.name === 'presence' && s.attrs.from === alice1.jid && s.getChildText('status') === 'busy');
    await bob.inbox.none((s) => s.name !== 'iq' && s.attrs.from?.startsWith(alice1.bare));
    await bob.inbox.none((s) => s.name === 'iq' && s.attrs.type === 'get');
    // The sender's own archive and other devices saw nothing of it.
    expect(bodies(await mam(alice1, { with: bob.bare }))).toEqual(['before the block']);
  });

  it('unblocking pushes, sends bob the current presence, and lets messages through again', async () => {
    await unblock(alice1, [bob.bare]);
    await alice2.inbox.wait(isBlockPush('unblock', bob.bare));
    const p = await bob.inbox.wait((s) => s.name === 'presence' && s.attrs.from === alice1.jid && !s.attrs.type);
    expect(p.getChildText('status')).toBe('busy');
    // alice is probed for bob's presence again.
    await alice1.inbox.wait((s) => s.name === 'presence' && s.attrs.from === bob.jid && !s.attrs.type);
    expect((await bob.c.iqCaller.request(xml('iq', { type: 'get', to: alice1.jid }, xml('q', { xmlns: 'urn:example:echo' })))).attrs.type).toBe('result');
    await bob.c.send(chat(alice1.bare, 'after unblock'));
    const m = await alice1.inbox.wait(isBody('after unblock'));
    expect(stanzaId(m, alice1.bare)).toBeTruthy();
    await alice1.c.send(chat(bob.bare, 'reply after unblock'));
    await bob.inbox.wait(isBody('reply after unblock'));
  });

  it('a full JID blocks one resource only; a domain blocks everything at it and below', async () => {
    await block(alice1, [carol.jid, 'evil.example']);
    await carol.c.send(chat(alice1.bare, 'from home'));
    expect(errCond(await carol.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('service-unavailable');
    await carol2.c.send(chat(alice1.bare, 'from work'));
    await alice1.inbox.wait(isBody('from work'));
    for (const to of ['spammer@evil.example', 'room@conference.evil.example/nick', 'evil.example']) {
      await alice1.c.send(chat(to, 'x'));
      const e = await alice1.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.from === to);
      expect(e.getChild('error').getChild('blocked', 'urn:xmpp:blocking:errors')).toBeDefined();
    }
    // notevil.example is another domain.
    await alice1.c.send(chat('x@notevil.example', 'y'));
    const other = await alice1.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.from === 'x@notevil.example');
    expect(errCond(other)).toBe('remote-server-not-found');
    expect((await blocklist(alice1)).sort()).toEqual([carol.jid, 'evil.example'].sort());
  });

  it('an empty unblock clears the list (pushed as such); bad requests are refused with nothing changed', async () => {
    await alice1.c.iqCaller.set(xml('unblock', { xmlns: BLOCKING }));
    await alice2.inbox.wait(isBlockPush('unblock'));
    expect(await blocklist(alice1)).toEqual([]);
    expect(await errorOf(alice1.c.iqCaller.set(xml('block', { xmlns: BLOCKING })))).toBe('bad-request');
    expect(await errorOf(block(alice1, ['a@b@c']))).toBe('jid-malformed');
    expect(await errorOf(block(alice1, Array.from({ length: 21 }, (_, i) => `u${i}@many.example`)))).toBe('resource-constraint');
    expect(await blocklist(alice1)).toEqual([]);
  });

  it('a block with a report is recorded for the admin with the reported messages from the archive', async () => {
    await carol.c.send(chat(alice1.bare, 'buy cheap watches'));
    const m = await alice1.inbox.wait(isBody('buy cheap watches'));
    const sid = stanzaId(m, alice1.bare)!;
    const report = xml(
      'report',
      { xmlns: 'urn:xmpp:reporting:1', reason: 'urn:xmpp:reporting:spam' },
      xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: alice1.bare, id: sid }),
      xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: alice1.bare, id: 'not-there' }),
      xml('text', { 'xml:lang': 'en' }, 'spam all day'),
      xml('third-party'),
    );
    await block(alice1, [], [xml('item', { jid: carol.bare }, report)]);
    // The 0.2 form Conversations sends.
    await block(alice1, [], [xml('item', { jid: 'x@spam.example' }, xml('report', { xmlns: 'urn:xmpp:reporting:0' }, xml('abuse')))]);
    expect((await blocklist(alice1)).sort()).toEqual([carol.bare, 'x@spam.example'].sort());
    const all = await srv.server.storage.keyval('spam-reports').getAll(srv.host);
    const recs = [...all.values()] as any[];
    const spam = recs.find((r) => r.reported === carol.bare);
    expect(spam).toMatchObject({ reporter: alice1.bare, reason: 'urn:xmpp:reporting:spam', text: 'spam all day', optIn: ['third-party'], stanzaIds: [sid, 'not-there'] });
    expect(spam.messages).toHaveLength(1);
    expect(spam.messages[0].xml).toContain('buy cheap watches');
    expect(recs.find((r) => r.reported === 'x@spam.example')).toMatchObject({ reason: 'urn:xmpp:reporting:abuse', messages: [] });
    await alice1.c.iqCaller.set(xml('unblock', { xmlns: BLOCKING }));
  });
});
