// The room archive over real sockets: XEP-0313 on the room's bare JID (queries with with/start/
// end/ids/before-id/after-id/full text, RSM paging, flip-page, metadata, the query form), stanza
// ids (XEP-0359) matching archive ids, privacy (members-only archives for members, outcasts
// refused, real JIDs only to moderators in semi-anonymous rooms), retention per room and by
// default; room avatars through vcard-temp (XEP-0486).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mucServices } from '../src/modules/muc/index.js';
import {
  NS,
  adminSet,
  configure,
  createRoom,
  discoInfo,
  groupchat,
  iqError,
  isMsg,
  join,
  roomStanzaId as sid,
  startMucServer,
  uniq,
  xml,
  type Srv,
  type User,
} from './helpers/muc.js';

let srv: Srv;
let svc: string;
let alice: User;
let bob: User;
let carol: User;

beforeAll(async () => {
  ({ srv, svc, users: [alice, bob, carol] } = await startMucServer({ muc: { archivePageSize: 50, archiveRetentionDays: 30 } }, ['alice', 'bob', 'carol']));
});

afterAll(async () => {
  await srv?.stop();
});

const room = (p: string) => `${uniq(p)}@${svc}`;

interface Page {
  results: any[];
  fin: any;
  bodies: (string | undefined)[];
}

async function mam(u: User, r: string, fields: Record<string, string | string[]> = {}, rsm: any[] = [], extra: any[] = []): Promise<Page> {
  const queryid = uniq('q');
  const results: any[] = [];
  const on = (s: any) => {
    const res = s.getChild('result', NS.mam);
    if (s.name === 'message' && res?.attrs.queryid === queryid) {
      expect(s.attrs.from).toBe(r);
      results.push(res);
    }
  };
  u.c.on('stanza', on);
  try {
    const x =
      Object.keys(fields).length === 0
        ? undefined
        : xml(
            'x',
            { xmlns: NS.data, type: 'submit' },
            xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS.mam)),
            ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, ...(Array.isArray(v) ? v : [v]).map((val) => xml('value', {}, val)))),
          );
    const res = await u.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.mam, queryid }, x, rsm.length ? xml('set', { xmlns: NS.rsm }, ...rsm) : undefined, ...extra)));
    const fin = res.getChild('fin', NS.mam);
    return { results, fin, bodies: results.map((x2) => x2.getChild('forwarded', NS.forward).getChild('message').getChildText('body')) };
  } finally {
    u.c.off('stanza', on);
  }
}

/** A room with messages m1..mN from alice (and "bob says" from bob); returns their stanza ids. */
async function roomWithMessages(n: number, fields: Record<string, string | boolean> = {}): Promise<{ r: string; ids: string[] }> {
  const r = room('arch');
  await createRoom(alice, r, 'alice', fields);
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    await groupchat(alice, r, `m${i}`);
    ids.push(sid(await alice.inbox.wait(isMsg(`m${i}`))));
  }
  return { r, ids };
}

describe('querying the room archive', () => {
  it('returns the messages in order with ids equal to the stanza-ids, from room/nick, no to, with delay', async () => {
    const { r, ids } = await roomWithMessages(4);
    const p = await mam(bob, r);
    expect(p.bodies).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(p.results.map((x) => x.attrs.id)).toEqual(ids);
    const fwd = p.results[0].getChild('forwarded', NS.forward);
    expect(fwd.getChild('delay', NS.delay).attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    const m = fwd.getChild('message');
    expect(m.attrs.from).toBe(`${r}/alice`);
    expect(m.attrs.to).toBeUndefined();
    expect(m.getChild('occupant-id', NS.oid)).toBeDefined();
    expect(p.fin.attrs.complete).toBe('true');
    expect(p.fin.getChild('set', NS.rsm).getChildText('first')).toBe(ids[0]);
    expect(p.fin.getChild('set', NS.rsm).getChildText('last')).toBe(ids[3]);
    expect(p.fin.getChild('set', NS.rsm).getChildText('count')).toBe('4');
    // The room advertises MAM.
    expect((await discoInfo(bob, r)).features).toEqual(expect.arrayContaining([NS.mam, 'urn:xmpp:mam:2#extended', NS.sid]));
  });

  it('RSM paging forwards and backwards, before-id/after-id/ids, flip-page, with, start/end, full text, metadata', async () => {
    const { r, ids } = await roomWithMessages(7);
    await join(bob, r, 'bob');
    await groupchat(bob, r, 'bob says hi');
    await bob.inbox.wait(isMsg('bob says hi'));
    const first = await mam(carol, r, {}, [xml('max', {}, '3')]);
    expect(first.bodies).toEqual(['m1', 'm2', 'm3']);
    expect(first.fin.attrs.complete).toBeUndefined();
    const next = await mam(carol, r, {}, [xml('max', {}, '3'), xml('after', {}, ids[2]!)]);
    expect(next.bodies).toEqual(['m4', 'm5', 'm6']);
    const last = await mam(carol, r, {}, [xml('max', {}, '2'), xml('before')]);
    expect(last.bodies).toEqual(['m7', 'bob says hi']);
    const before = await mam(carol, r, {}, [xml('max', {}, '2'), xml('before', {}, ids[4]!)]);
    expect(before.bodies).toEqual(['m3', 'm4']);
    const window = await mam(carol, r, { 'after-id': ids[1]!, 'before-id': ids[5]! });
    expect(window.bodies).toEqual(['m3', 'm4', 'm5']);
    const picked = await mam(carol, r, { ids: [ids[0]!, ids[6]!] });
    expect(picked.bodies).toEqual(['m1', 'm7']);
    const flipped = await mam(carol, r, {}, [xml('max', {}, '3')], [xml('flip-page')]);
    expect(flipped.bodies).toEqual(['m3', 'm2', 'm1']);
    const byBob = await mam(carol, r, { with: `${r}/bob` });
    expect(byBob.bodies).toEqual(['bob says hi']);
    const future = await mam(carol, r, { start: new Date(Date.now() + 3600_000).toISOString() });
    expect(future.bodies).toEqual([]);
    const past = await mam(carol, r, { end: new Date(Date.now() - 3600_000).toISOString() });
    expect(past.bodies).toEqual([]);
    const text = await mam(carol, r, { '{urn:xmpp:fulltext:0}fulltext': 'says' });
    expect(text.bodies).toEqual(['bob says hi']);
    const md = await carol.iq(xml('iq', { type: 'get', to: r }, xml('metadata', { xmlns: NS.mam })));
    const meta = md.getChild('metadata', NS.mam);
    expect(meta.getChild('start').attrs.id).toBe(ids[0]);
    const form = await carol.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.mam })));
    expect(form.getChild('query', NS.mam).getChild('x', NS.data).getChildren('field').map((f: any) => f.attrs.var)).toEqual(expect.arrayContaining(['with', 'start', 'end', 'before-id', 'after-id', 'ids']));
    // Bad queries: unknown id, unknown field, bad date.
    expect((await iqError(mam(carol, r, {}, [xml('after', {}, 'no-such-id')]))).condition).toBe('item-not-found');
    expect((await iqError(mam(carol, r, { 'urn:example:field': 'x' }))).condition).toBe('feature-not-implemented');
    expect((await iqError(mam(carol, r, { start: 'yesterday' }))).condition).toBe('bad-request');
  });

  it('pages are capped by archivePageSize', async () => {
    const r = room('big');
    await createRoom(alice, r, 'alice');
    for (let i = 0; i < 60; i++) await groupchat(alice, r, `b${i}`);
    await alice.inbox.wait(isMsg('b59'));
    const p = await mam(bob, r, {}, [xml('max', {}, '500')]);
    expect(p.results).toHaveLength(50);
    expect(p.fin.attrs.complete).toBeUndefined();
  });
});

describe('privacy', () => {
  it("members-only archives are for members; outcasts are refused; real JIDs only for those who may see them", async () => {
    const { r } = await roomWithMessages(2, { 'muc#roomconfig_membersonly': true });
    expect((await iqError(mam(bob, r))).condition).toBe('forbidden');
    await adminSet(alice, r, [{ jid: bob.bare, affiliation: 'member' }]);
    const p = await mam(bob, r);
    expect(p.bodies).toEqual(['m1', 'm2']);
    // Semi-anonymous: a member sees no real JIDs; the owner does.
    expect(p.results[0].getChild('forwarded', NS.forward).getChild('message').getChild('x', NS.user)).toBeUndefined();
    const o = await mam(alice, r);
    expect(o.results[0].getChild('forwarded', NS.forward).getChild('message').getChild('x', NS.user).getChild('item').attrs.jid).toBe(alice.jid);
    const { r: open } = await roomWithMessages(1);
    await adminSet(alice, open, [{ jid: carol.bare, affiliation: 'outcast' }]);
    expect((await iqError(mam(carol, open))).condition).toBe('forbidden');
    // A room without an archive: nothing to query, no stanza-ids.
    const { r: off } = await roomWithMessages(1, { 'muc#roomconfig_enablearchiving': false });
    expect((await iqError(mam(bob, off))).condition).toBe('service-unavailable');
    await groupchat(alice, off, 'not kept');
    expect(sid(await alice.inbox.wait(isMsg('not kept')))).toBeUndefined();
    expect((await discoInfo(bob, off)).features).not.toContain(NS.mam);
  });
});

describe('retention', () => {
  it('each room keeps its own number of days, or the default; older messages are deleted', async () => {
    const { r: short } = await roomWithMessages(2, {});
    await configure(alice, short, { '{urn:roost:muc:config}archiveretentiondays': '1' });
    const { r: deflt } = await roomWithMessages(2);
    const { r: forever } = await roomWithMessages(2);
    await configure(alice, forever, { '{urn:roost:muc:config}archiveretentiondays': '0' });
    const service = mucServices.get(svc)!;
    // Two days from now: the 1-day room expires, the default (30 days) and forever rooms keep theirs.
    await service.purgeExpired(Date.now() + 2 * 86_400_000);
    expect((await mam(bob, short)).bodies).toEqual([]);
    expect((await mam(bob, deflt)).bodies).toEqual(['m1', 'm2']);
    await service.purgeExpired(Date.now() + 31 * 86_400_000);
    expect((await mam(bob, deflt)).bodies).toEqual([]);
    expect((await mam(bob, forever)).bodies).toEqual(['m1', 'm2']);
  });
});

describe('room avatars (XEP-0486)', () => {
  const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
  it('owners set the room vCard; the hash shows in room info; occupants get 104; others may not set it; empty removes', async () => {
    const r = room('avatar');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: r }, xml('vCard', { xmlns: NS.vcard }))))).condition).toBe('item-not-found');
    const card = xml('vCard', { xmlns: NS.vcard }, xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, PNG)));
    expect((await iqError(bob.iq(xml('iq', { type: 'set', to: r }, card)))).condition).toBe('forbidden');
    await alice.iq(xml('iq', { type: 'set', to: r }, card));
    const notice = await bob.inbox.wait((s) => s.name === 'message' && s.attrs.from === r && s.getChild('x', NS.user)?.getChild('status')?.attrs.code === '104');
    expect(notice).toBeDefined();
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha1').update(Buffer.from(PNG, 'base64')).digest('hex');
    expect((await discoInfo(carol, r)).form.get('muc#roominfo_avatarhash')).toEqual([hash]);
    const got = await carol.iq(xml('iq', { type: 'get', to: r }, xml('vCard', { xmlns: NS.vcard })));
    expect(got.getChild('vCard', NS.vcard).getChild('PHOTO').getChildText('BINVAL')).toBe(PNG);
    // Not base64, too large: refused.
    const setCard = (c: any) => alice.iq(xml('iq', { type: 'set', to: r }, c));
    const notB64 = await iqError(setCard(xml('vCard', { xmlns: NS.vcard }, xml('PHOTO', {}, xml('BINVAL', {}, '<<not base64>>')))));
    expect(notB64.condition).toBe('bad-request');
    const tooBig = await iqError(setCard(xml('vCard', { xmlns: NS.vcard }, xml('DESC', {}, 'x'.repeat(70_000)))));
    expect(tooBig.condition).toBe('not-acceptable');
    await alice.iq(xml('iq', { type: 'set', to: r }, xml('vCard', { xmlns: NS.vcard })));
    expect((await discoInfo(carol, r)).form.get('muc#roominfo_avatarhash')).toBeUndefined();
  });
});
