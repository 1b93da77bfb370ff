// XEP-0313 Message Archive Management (urn:xmpp:mam:2 and #extended), XEP-0359 stanza ids,
// XEP-0441 preferences and XEP-0059 paging, over real sockets with @xmpp/client.
// Scenario (2) of issue 4: two devices of one user with carbons both ways, then a third device
// that logs in later pages the whole history back through the archive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import {
  befriend,
  bodies,
  CARBONS,
  chat,
  DATA,
  DISCO_INFO,
  enableCarbons,
  errorOf,
  forwardedOf,
  HINTS,
  isBody,
  isCarbon,
  MAM,
  mam,
  mamQuery,
  online,
  SID,
  stanzaId,
  type Peer,
} from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let phone: Peer, laptop: Peer, bob: Peer, carol: Peer;
/** Bodies of the conversation in the order the server saw them. */
const history: string[] = [];
const carolLines: string[] = [];

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of ['alice', 'bob', 'carol', 'dave']) await srv.addUser(u, u + 'pw');
  phone = await online(srv, 'alice', 'phone', { priority: 5 });
  laptop = await online(srv, 'alice', 'laptop', { priority: 1 });
  bob = await online(srv, 'bob', 'desk');
  carol = await online(srv, 'carol', 'home');
  await befriend(phone, bob);
  await befriend(phone, carol);
  await enableCarbons(phone);
  await enableCarbons(laptop);
  for (const p of [phone, laptop, bob, carol]) p.inbox.clear();
}, 60_000);

afterAll(async () => {
  await srv?.stop();
});

describe('scenario: two devices with carbons, a third one syncs the history', () => {
  it('carbons both ways while 30 messages are exchanged from both devices', async () => {
    const fruit = ['apple', 'Banana split', 'cherry', 'date', 'elderberry'];
    for (let i = 0; i < 30; i++) {
      const body = `m${String(i).padStart(2, '0')} ${fruit[i % fruit.length]}`;
      if (i % 10 === 9) {
        await carol.c.send(chat(phone.bare, body));
        await phone.inbox.wait(isBody(body));
        await laptop.inbox.wait(isCarbon('received', body));
        carolLines.push(body);
      } else if (i % 3 === 0) {
        await bob.c.send(chat(phone.bare, body));
        // The phone has the higher priority: it gets the message, the laptop a received carbon.
        const m = await phone.inbox.wait(isBody(body));
        const c = await laptop.inbox.wait(isCarbon('received', body));
        expect(stanzaId(forwardedOf(c, 'received'), phone.bare)).toBe(stanzaId(m, phone.bare));
      } else if (i % 3 === 1) {
        await phone.c.send(chat(bob.bare, body));
        await bob.inbox.wait(isBody(body));
        await laptop.inbox.wait(isCarbon('sent', body));
      } else {
        await laptop.c.send(chat(bob.bare, body));
        await bob.inbox.wait(isBody(body));
        await phone.inbox.wait(isCarbon('sent', body));
      }
      history.push(body);
    }
  });

  it('the third device pages back through everything with RSM <before/>; complete only on the last page', async () => {
    const tablet = await online(srv, 'alice', 'tablet', { priority: -1 });
    const got: string[][] = [];
    let before = '';
    const completes: boolean[] = [];
    for (let n = 0; n < 10; n++) {
      const page = await mam(tablet, { max: 7, before });
      got.unshift(bodies(page));
      completes.push(page.complete);
      expect(page.first).toBe(page.results[0]!.id);
      expect(page.last).toBe(page.results[page.results.length - 1]!.id);
      if (page.complete) break;
      before = page.first!;
    }
    expect(got.flat()).toEqual(history);
    expect(got.map((p) => p.length)).toEqual([2, 7, 7, 7, 7]);
    expect(completes).toEqual([false, false, false, false, true]);
    // Forward from the start with <after/> gives the same sequence.
    const fwd: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await mam(tablet, { max: 12, ...(after ? { after } : {}) });
      fwd.push(...bodies(page));
      if (page.complete) break;
      after = page.last!;
    }
    expect(fwd).toEqual(history);
    // Timestamps are ordered and carried in <delay/>.
    const all = await mam(tablet, { max: 100 });
    expect(all.complete).toBe(true);
    expect(all.count).toBe(30);
    const stamps = all.results.map((r) => Date.parse(r.stamp));
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    await tablet.c.stop();
  });

  it('with, full text (withtext and fulltext), before-id/after-id, ids, flip-page', async () => {
    const all = await mam(laptop, { max: 100 });
    const ids = all.results.map((r) => r.id);
    expect(bodies(await mam(laptop, { with: carol.bare }))).toEqual(carolLines);
    expect(bodies(await mam(laptop, { with: bob.bare, max: 100 }))).toEqual(history.filter((b) => !carolLines.includes(b)));
    expect(bodies(await mam(laptop, { text: 'banana' }))).toEqual(history.filter((b) => b.includes('Banana')));
    expect(bodies(await mam(laptop, { text: 'BANANA', textField: '{urn:xmpp:fulltext:0}fulltext', with: carol.bare }))).toEqual(
      carolLines.filter((b) => b.includes('Banana')),
    );
    // after-id and before-id bound the window (exclusive), paging stays forward.
    const window = await mam(laptop, { afterId: ids[4]!, beforeId: ids[10]!, max: 3 });
    expect(bodies(window)).toEqual(history.slice(5, 8));
    expect(window.complete).toBe(false);
    const rest = await mam(laptop, { afterId: ids[4]!, beforeId: ids[10]!, max: 3, after: window.last! });
    expect(bodies(rest)).toEqual(history.slice(8, 10));
    expect(rest.complete).toBe(true);
    // The tighter bound wins when the form and RSM bound the same side.
    expect(bodies(await mam(laptop, { afterId: ids[20]!, after: ids[25]! }))).toEqual(history.slice(26));
    expect(bodies(await mam(laptop, { afterId: ids[25]!, after: ids[20]! }))).toEqual(history.slice(26));
    expect(bodies(await mam(laptop, { beforeId: ids[3]!, before: ids[6]! }))).toEqual(history.slice(0, 3));
    // Paging back inside a before-id window.
    const back = await mam(laptop, { beforeId: ids[12]!, before: '', max: 4 });
    expect(bodies(back)).toEqual(history.slice(8, 12));
    const picked = await mam(laptop, { ids: [ids[17]!, ids[2]!] });
    expect(bodies(picked)).toEqual([history[2], history[17]]);
    expect(picked.complete).toBe(true);
    // flip-page: the same page, sent newest first; first/last still name the oldest/newest.
    const plain = await mam(laptop, { max: 5, before: '' });
    const flipped = await mam(laptop, { max: 5, before: '', flip: true });
    expect(flipped.results.map((r) => r.id)).toEqual(plain.results.map((r) => r.id).reverse());
    expect([flipped.first, flipped.last]).toEqual([plain.first, plain.last]);
  });

  it('live messages carry the archive id as <stanza-id by=account/>; metadata names the ends', async () => {
    await bob.c.send(chat(phone.bare, 'stamped'));
    const m = await phone.inbox.wait(isBody('stamped'));
    const id = stanzaId(m, phone.bare);
    const last = await mam(phone, { max: 1, before: '' });
    expect(last.results[0]!.id).toBe(id);
    expect(last.results[0]!.message.getChildText('body')).toBe('stamped');
    history.push('stamped');
    const md = await phone.c.iqCaller.get(xml('metadata', { xmlns: MAM }));
    const first = await mam(phone, { max: 1 });
    expect(md.getChild('start').attrs.id).toBe(first.results[0]!.id);
    expect(md.getChild('end').attrs.id).toBe(id);
    expect(Date.parse(md.getChild('end').attrs.timestamp)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('archive rules', () => {
  it('advertises mam:2, #extended and sid:0 on the account; the query form lists the fields', async () => {
    const info = await phone.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), phone.bare);
    const f = info.getChildren('feature').map((x: any) => x.attrs.var);
    for (const ns of [MAM, 'urn:xmpp:mam:2#extended', SID]) expect(f).toContain(ns);
    const form = (await phone.c.iqCaller.get(xml('query', { xmlns: MAM }))).getChild('x', DATA);
    const vars = form.getChildren('field').map((x: any) => x.attrs.var);
    for (const v of ['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids', 'withtext']) expect(vars).toContain(v);
  });

  it('chat states alone, groupchat, headline, no-store and no-permanent-store are not archived; store, OMEMO and outgoing are', async () => {
    const before = (await mam(phone, { max: 1, before: '' })).last!;
    await bob.c.send(xml('message', { to: phone.bare, type: 'chat' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await bob.c.send(xml('message', { to: phone.bare, type: 'headline' }, xml('body', {}, 'news')));
    await bob.c.send(chat(phone.bare, 'nostore', [xml('no-store', { xmlns: HINTS })]));
    await bob.c.send(chat(phone.bare, 'nopermanent', [xml('no-permanent-store', { xmlns: HINTS })]));
    await bob.c.send(xml('message', { to: phone.bare, id: 'kept' }, xml('store', { xmlns: HINTS }), xml('x', { xmlns: 'urn:example:state' })));
    await bob.c.send(xml('message', { to: phone.bare, type: 'chat', id: 'omemo' }, xml('encrypted', { xmlns: 'urn:xmpp:omemo:2' }, xml('payload', {}, 'AAAA'))));
    await phone.inbox.wait((s) => s.attrs.id === 'omemo');
    await phone.c.send(chat(bob.bare, 'outgoing one'));
    await bob.inbox.wait(isBody('outgoing one'));
    const page = await mam(phone, { after: before });
    expect(page.results.map((r) => r.message.getChildText('body') ?? r.message.attrs.id)).toEqual(['kept', 'omemo', 'outgoing one']);
    const out = page.results[2]!.message;
    expect(out.attrs.from).toBe(phone.jid);
    expect(out.attrs.to).toBe(bob.bare);
    // The same message is in bob's archive as incoming.
    expect(bodies(await mam(bob, { with: phone.bare, max: 1, before: '' }))).toEqual(['outgoing one']);
  });

  it('a forged stanza-id claiming the recipient archive is removed; others stay', async () => {
    await bob.c.send(chat(phone.bare, 'forged', [xml('stanza-id', { xmlns: SID, by: phone.bare, id: 'evil' }), xml('stanza-id', { xmlns: SID, by: 'room@elsewhere.example', id: 'keep' })]));
    const m = await phone.inbox.wait(isBody('forged'));
    const mine = m.getChildren('stanza-id', SID).filter((s: any) => s.attrs.by === phone.bare);
    expect(mine).toHaveLength(1);
    expect(mine[0].attrs.id).not.toBe('evil');
    expect(m.getChildren('stanza-id', SID).some((s: any) => s.attrs.id === 'keep')).toBe(true);
  });

  it('a message resent with the same origin-id is archived once', async () => {
    const oid = xml('origin-id', { xmlns: SID, id: 'resend-1' });
    await phone.c.send(chat(bob.bare, 'resent', [oid]));
    await phone.c.send(chat(bob.bare, 'resent', [oid]));
    await bob.inbox.wait(isBody('resent'));
    await bob.inbox.wait(isBody('resent'));
    const sent = await laptop.inbox.wait(isCarbon('sent', 'resent'));
    const sent2 = await laptop.inbox.wait(isCarbon('sent', 'resent'));
    expect(stanzaId(forwardedOf(sent2, 'sent'), phone.bare)).toBe(stanzaId(forwardedOf(sent, 'sent'), phone.bare));
    const page = await mam(phone, { text: 'resent' });
    expect(page.results).toHaveLength(1);
    expect(page.results[0]!.message.getChild('origin-id', SID).attrs.id).toBe('resend-1');
  });

  it('messages that went to offline storage are in the archive with the same id', async () => {
    await srv.addUser('erin', 'erinpw');
    await bob.c.send(chat('erin@' + srv.host, 'while you were away'));
    await new Promise((r) => setTimeout(r, 300));
    const peer = await online(srv, 'erin', 'new');
    const off = await peer.inbox.wait(isBody('while you were away'));
    expect(off.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    const page = await mam(peer, {});
    expect(bodies(page)).toEqual(['while you were away']);
    expect(stanzaId(off, peer.bare)).toBe(page.results[0]!.id);
  });

  it('errors: unknown ids, unknown field, bad date, bad with, other account, index paging', async () => {
    const set = (a: Parameters<typeof mamQuery>[0]) => phone.c.iqCaller.set(mamQuery(a, 'e'));
    expect(await errorOf(set({ after: 'no-such-id' }))).toBe('item-not-found');
    expect(await errorOf(set({ before: 'no-such-id' }))).toBe('item-not-found');
    expect(await errorOf(set({ afterId: 'no-such-id' }))).toBe('item-not-found');
    expect(await errorOf(set({ ids: ['no-such-id'] }))).toBe('item-not-found');
    expect(await errorOf(set({ extraFields: { 'urn:example:unknown': 'x' } }))).toBe('feature-not-implemented');
    expect(await errorOf(set({ start: 'yesterday' }))).toBe('bad-request');
    expect(await errorOf(set({ start: '2021-02-30T00:00:00Z' }))).toBe('bad-request');
    expect(await errorOf(set({ with: 'a@b@c' }))).toBe('jid-malformed');
    expect(await errorOf(phone.c.iqCaller.set(mamQuery({}, 'x'), bob.bare))).toBe('forbidden');
    const idx = xml('query', { xmlns: MAM }, xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('index', {}, '3')));
    expect(await errorOf(phone.c.iqCaller.set(idx))).toBe('feature-not-implemented');
    const badMax = xml('query', { xmlns: MAM }, xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '-1')));
    expect(await errorOf(phone.c.iqCaller.set(badMax))).toBe('bad-request');
    // start/end in XEP-0082 form select a time window.
    expect((await mam(phone, { start: '2000-01-01T00:00:00Z', end: '2000-01-02T00:00:00.5+02:00' })).results).toEqual([]);
  });

  it('max=0 returns the count only; pages are capped at 250', async () => {
    const store = srv.server.storage.archive('mam');
    const owner = 'dave@' + srv.host;
    const t0 = Date.now() - 3_600_000;
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        store.append(owner, { when: t0 + i, with: 'bob@' + srv.host, body: `bulk ${i}`, xml: `<message type="chat" from="bob@${srv.host}/x" to="${owner}"><body>bulk ${i}</body></message>` }),
      ),
    );
    // Stored text of another shape (a namespace on the message) is parsed and sent all the same.
    await store.append(owner, { when: t0 + 300, with: 'bob@' + srv.host, body: 'odd shape', xml: `<message xmlns="jabber:client" type="chat" from="bob@${srv.host}/x"><body>odd shape</body></message>` });
    const dave = await online(srv, 'dave', 'x');
    const count = await mam(dave, { max: 0 });
    expect(count.results).toEqual([]);
    expect(count.count).toBe(301);
    expect(bodies(await mam(dave, { max: 1, before: '' }))).toEqual(['odd shape']);
    const big = await mam(dave, { max: 100000 });
    expect(big.results).toHaveLength(250);
    expect(big.complete).toBe(false);
    const dflt = await mam(dave, {});
    expect(dflt.results).toHaveLength(50);
    expect(bodies(dflt)[0]).toBe('bulk 0');
    await dave.c.stop();
  });

  it('preferences: get, never/always lists, roster default', async () => {
    const get = () => phone.c.iqCaller.get(xml('prefs', { xmlns: MAM }));
    const p0 = await get();
    expect(p0.attrs.default).toBe('always');
    const setPrefs = (def: string, always: string[], never: string[]) =>
      phone.c.iqCaller.set(xml('prefs', { xmlns: MAM, default: def }, xml('always', {}, ...always.map((j) => xml('jid', {}, j))), xml('never', {}, ...never.map((j) => xml('jid', {}, j)))));
    await setPrefs('always', [], [carol.bare]);
    expect((await get()).getChild('never').getChildText('jid')).toBe(carol.bare);
    await carol.c.send(chat(phone.bare, 'not kept'));
    await bob.c.send(chat(phone.bare, 'kept with bob'));
    await phone.inbox.wait(isBody('kept with bob'));
    await phone.inbox.wait(isBody('not kept'));
    expect(bodies(await mam(phone, { max: 2, before: '' })).at(-1)).toBe('kept with bob');
    expect(bodies(await mam(phone, { text: 'not kept' }))).toEqual([]);
    // roster: contacts only (dave is not in alice's roster); never: nothing except 'always'.
    await setPrefs('roster', [], []);
    const dave = await online(srv, 'dave', 'y');
    await dave.c.send(chat(phone.bare, 'from a stranger'));
    await carol.c.send(chat(phone.bare, 'from a contact'));
    await phone.inbox.wait(isBody('from a contact'));
    await phone.inbox.wait(isBody('from a stranger'));
    expect(bodies(await mam(phone, { text: 'from a' }))).toEqual(['from a contact']);
    await setPrefs('never', [bob.bare], []);
    await carol.c.send(chat(phone.bare, 'never carol'));
    await bob.c.send(chat(phone.bare, 'always bob'));
    await phone.inbox.wait(isBody('always bob'));
    await phone.inbox.wait(isBody('never carol'));
    expect(bodies(await mam(phone, { text: 'always bob' }))).toEqual(['always bob']);
    expect(bodies(await mam(phone, { text: 'never carol' }))).toEqual([]);
    expect(await errorOf(phone.c.iqCaller.set(xml('prefs', { xmlns: MAM, default: 'sometimes' })))).toBe('bad-request');
    await setPrefs('always', [], []);
    await dave.c.stop();
  });
});

describe('retention', () => {
  it('the daemon purges messages older than archive.retentionDays, keeps the rest', async () => {
    const s2 = await startTestServer({ archive: { retentionDays: 1 }, modules: { mam: { purgeInterval: 1 } } } as never);
    try {
      await s2.addUser('zoe', 'zoepw');
      const owner = 'zoe@' + s2.host;
      const store = s2.server.storage.archive('mam');
      const old = Date.now() - 2 * 86_400_000;
      for (let i = 0; i < 5; i++)
        await store.append(owner, { when: old + i, with: 'x@' + s2.host, body: 'old', xml: `<message type="chat" from="x@${s2.host}/r"><body>old ${i}</body></message>` });
      await store.append(owner, { when: Date.now() - 3_600_000, with: 'x@' + s2.host, body: 'recent', xml: `<message type="chat" from="x@${s2.host}/r"><body>recent</body></message>` });
      const deadline = Date.now() + 10_000;
      while ((await store.count(owner)) > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const zoe = await online(s2, 'zoe', 'r');
      expect(bodies(await mam(zoe, {}))).toEqual(['recent']);
    } finally {
      await s2.stop();
    }
  });
});

describe('backpressure', () => {
  it.each([
    ['maxPendingWrites', { maxPendingWrites: 1 }],
    ['maxPendingBytes', { maxPendingBytes: 1 }],
  ])('past modules.mam.%s a sender waits for its archive writes: a burst still arrives whole, in order, and is archived on both sides', async (_, mamOptions) => {
    const s3 = await startTestServer({ modules: { mam: mamOptions } } as never);
    try {
      for (const u of ['erin', 'frank']) await s3.addUser(u, u + 'pw');
      const erin = await online(s3, 'erin', 'r');
      const frank = await online(s3, 'frank', 'r');
      await befriend(erin, frank);
      const sent = Array.from({ length: 120 }, (_, i) => `burst ${i}`);
      const commitsBefore = s3.server.storage.stats!().commits;
      // All in one go: without waiting for each other.
      await Promise.all(sent.map((b) => erin.c.send(chat(frank.bare, b))));
      const got = await frank.inbox.waitN((s: any) => s.is('message') && s.getChildText('body')?.startsWith('burst '), sent.length, 20_000);
      expect(got.map((s: any) => s.getChildText('body'))).toEqual(sent);
      // Each delivered message already carries the id of its (durable) archive row.
      for (const m of got) expect(stanzaId(m, frank.bare)).toBeDefined();
      expect(bodies(await mam(frank, { max: 250 })).filter((b: string | undefined) => b?.startsWith('burst '))).toEqual(sent);
      expect(bodies(await mam(erin, { max: 250 })).filter((b: string | undefined) => b?.startsWith('burst '))).toEqual(sent);
      // Waiting one by one: many more commits than a free-running burst would need.
      expect(s3.server.storage.stats!().commits - commitsBefore).toBeGreaterThan(20);
    } finally {
      await s3.stop();
    }
  });
});
