// Bad input to the group chat service over real sockets: malformed room addresses, bad nicks,
// configuration forms with wrong types or values (refused with a text naming the field, nothing
// changed), garbage admin/owner/MAM/moderation/voice/invitation payloads, spoofed forwarded-iq
// answers, and a seeded burst of random well-formed junk. After each, the room still works and
// the daemon is up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NS,
  configure,
  connect,
  createRoom,
  discoInfo,
  errorCondition,
  errorText,
  groupchat,
  iqError,
  isMsg,
  join,
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
let r: string;

beforeAll(async () => {
  ({ srv, svc, users: [alice, bob] } = await startMucServer({}, ['alice', 'bob']));
  r = `${uniq('tough')}@${svc}`;
  await createRoom(alice, r, 'alice', { 'muc#roomconfig_roomname': 'Tough room' });
  await join(bob, r, 'bob');
});

afterAll(async () => {
  await srv?.stop();
});

/** The room still answers and relays. */
async function stillWorks(): Promise<void> {
  const body = uniq('alive');
  await groupchat(alice, r, body);
  await bob.inbox.wait(isMsg(body));
  alice.inbox.clear();
  bob.inbox.clear();
}

const presenceError = (u: User, from?: string) => u.inbox.wait((s) => s.name === 'presence' && s.attrs.type === 'error' && (from === undefined || s.attrs.from === from));
const messageError = (u: User) => u.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error');

describe('malformed addresses', () => {
  it('room JIDs that are not JIDs, a presence to the service, an over-long room name: jid-malformed', async () => {
    for (const to of [`bad room@${svc}/nick`, `@${svc}/nick`, `${'x'.repeat(1100)}@${svc}/nick`, `${svc}/nick`]) {
      await bob.send(xml('presence', { to }, xml('x', { xmlns: NS.muc })));
      const e = await presenceError(bob);
      expect(errorCondition(e)).toBe('jid-malformed');
    }
    await stillWorks();
  });

  it('messages to the service or to rooms that do not exist, unknown iqs: clear errors', async () => {
    await bob.send(xml('message', { to: svc }, xml('body', {}, 'hi service')));
    expect(errorCondition(await messageError(bob))).toBe('service-unavailable');
    await bob.send(xml('message', { to: `nowhere@${svc}`, type: 'groupchat' }, xml('body', {}, 'anyone?')));
    expect(errorCondition(await messageError(bob))).toBe('item-not-found');
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: svc }, xml('query', { xmlns: 'urn:example:unknown' }))))).condition).toBe('service-unavailable');
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: 'urn:example:unknown' }))))).condition).toBe('service-unavailable');
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: `nowhere@${svc}` }, xml('query', { xmlns: NS.discoInfo }))))).condition).toBe('item-not-found');
    await stillWorks();
  });
});

describe('configuration forms with wrong types or values', () => {
  const cases: [Record<string, string | string[]>, RegExp][] = [
    [{ 'muc#roomconfig_persistentroom': 'maybe' }, /persistentroom must be a boolean/],
    [{ 'muc#roomconfig_maxusers': 'lots' }, /maxusers must be a whole number/],
    [{ 'muc#roomconfig_maxusers': '999999' }, /maxusers must be between/],
    [{ 'muc#roomconfig_whois': 'everyone' }, /whois must be moderators or anyone/],
    [{ 'muc#roomconfig_allowpm': 'friends' }, /allowpm/],
    [{ 'muc#roomconfig_presencebroadcast': ['moderator', 'king'] }, /presencebroadcast/],
    [{ 'muc#roomconfig_roomowners': ['not a jid @@'] }, /roomowners.*not a valid address/],
    [{ 'muc#roomconfig_roomowners': [] as string[] }, /cannot be empty/],
    [{ 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': '' }, /roomsecret is empty/],
    [{ 'muc#roomconfig_historylength': '5000' }, /historylength must be between/],
    [{ 'muc#roomconfig_persistentroom': ['1', '0'] }, /takes one value/],
    [{ 'muc#roomconfig_lang': 'not a language!' }, /language tag/],
    [{ '{urn:roost:muc:config}archiveretentiondays': '-3' }, /whole number/],
  ];
  it('each is refused with not-acceptable naming the field; the room keeps its settings', async () => {
    for (const [fields, text] of cases) {
      const e = await iqError(configure(alice, r, { 'muc#roomconfig_roomname': 'Changed?', ...fields }));
      expect(e.condition, JSON.stringify(fields)).toBe('not-acceptable');
      expect(e.text, JSON.stringify(fields)).toMatch(text);
    }
    expect((await discoInfo(bob, r)).form.get('muc#roomconfig_roomname')).toEqual(['Tough room']);
    await stillWorks();
  });

  it('a wrong FORM_TYPE, a form of type form, no form at all: bad-request', async () => {
    const owner = (x: any) => alice.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.owner }, x)));
    const ft = await iqError(owner(xml('x', { xmlns: NS.data, type: 'submit' }, xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'urn:example:other')))));
    expect(ft.condition).toBe('bad-request');
    expect((await iqError(owner(xml('x', { xmlns: NS.data, type: 'form' })))).condition).toBe('bad-request');
    expect((await iqError(owner(xml('nothing', {})))).condition).toBe('bad-request');
    expect((await iqError(owner(xml('destroy', { jid: 'bad jid@@' })))).condition).toBe('jid-malformed');
    await stillWorks();
  });
});

describe('garbage payloads', () => {
  it('admin, MAM, moderation, vCard, voice and invitation junk gets errors, changes nothing', async () => {
    const iq = (payload: any, type = 'set') => alice.iq(xml('iq', { type, to: r }, payload));
    expect((await iqError(iq(xml('query', { xmlns: NS.admin })))).condition).toBe('bad-request');
    expect((await iqError(iq(xml('query', { xmlns: NS.admin }, xml('item', { nick: 'bob', role: 'emperor' }))))).condition).toBe('bad-request');
    expect((await iqError(iq(xml('query', { xmlns: NS.admin }, xml('item', { nick: 'bob' }))))).condition).toBe('bad-request');
    expect((await iqError(iq(xml('query', { xmlns: NS.admin }, xml('item', { affiliation: 'none' }))))).condition).toBe('bad-request');
    expect((await iqError(iq(xml('query', { xmlns: NS.admin }, xml('item', {})), 'get'))).condition).toBe('bad-request');
    expect((await iqError(iq(xml('query', { xmlns: NS.mam }, xml('set', { xmlns: NS.rsm }, xml('max', {}, '-1')))))).condition).toBe('bad-request');
    expect((await iqError(iq(xml('query', { xmlns: NS.mam }, xml('set', { xmlns: NS.rsm }, xml('index', {}, '3')))))).condition).toBe('feature-not-implemented');
    expect((await iqError(iq(xml('moderate', { xmlns: NS.moderate }, xml('retract', { xmlns: NS.retract }))))).condition).toBe('bad-request');
    expect((await iqError(iq(xml('moderate', { xmlns: NS.moderate, id: 'x' })))).condition).toBe('feature-not-implemented');
    expect((await iqError(iq(xml('vCard', { xmlns: NS.vcard }, xml('PHOTO', {}, xml('BINVAL', {}, '***')))))).condition).toBe('bad-request');
    // Voice approvals with a non-boolean, invitations to bad addresses or too many at once.
    await alice.send(
      xml('message', { to: r }, xml('x', { xmlns: NS.data, type: 'submit' }, xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#request')), xml('field', { var: 'muc#request_allow' }, xml('value', {}, 'perhaps')))),
    );
    expect(errorCondition(await messageError(alice))).toBe('bad-request');
    await alice.send(xml('message', { to: r }, xml('x', { xmlns: NS.user }, xml('invite', { to: 'not valid@@' }))));
    expect(errorCondition(await messageError(alice))).toBe('jid-malformed');
    await alice.send(xml('message', { to: r }, xml('x', { xmlns: NS.user }, ...Array.from({ length: 25 }, (_, i) => xml('invite', { to: `user${i}@localhost` })))));
    const tooMany = await messageError(alice);
    expect(errorCondition(tooMany)).toBe('policy-violation');
    expect(errorText(tooMany)).toMatch(/at most 20/);
    // A spoofed answer to a forwarded iq is dropped; an error presence from an occupant is a ghost removed.
    await bob.send(xml('iq', { type: 'result', to: `${r}/alice`, id: 'mucfwd.AAAA.ZmFrZQ' }));
    await bob.send(xml('iq', { type: 'result', to: `${r}/alice`, id: 'mucfwd.garbage' }));
    await stillWorks();
  });

  it('a seeded burst of random well-formed junk to the room, its occupants and the service leaves everything working', async () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T,>(a: T[]): T => a[rand(a.length)]!;
    const targets = [r, `${r}/alice`, `${r}/bob`, `${r}/nobody`, svc, `${svc}/x`, `other@${svc}`];
    const nss = [NS.muc, NS.user, NS.admin, NS.owner, NS.mam, NS.data, NS.vcard, NS.moderate, NS.retract, NS.discoInfo, NS.discoItems, NS.ping, 'urn:xmpp:fasten:0', 'urn:example:x'];
    const names = ['x', 'query', 'item', 'invite', 'decline', 'destroy', 'history', 'moderate', 'retract', 'field', 'set', 'vCard', 'subject', 'body', 'ping', 'apply-to', 'metadata'];
    const attrs = ['id', 'jid', 'nick', 'role', 'affiliation', 'to', 'type', 'var', 'maxstanzas', 'since', 'code'];
    const vals = ['', 'owner', 'outcast', 'moderator', 'none', 'bob', '1', '-1', 'x'.repeat(300), 'a@b', '2024-13-45T99:99:99Z', '\u00e9\u00e8', 'submit', 'cancel'];
    const junk = (depth: number): any => {
      const a: Record<string, string> = {};
      for (let i = rand(3); i > 0; i--) a[pick(attrs)] = pick(vals);
      if (rand(2)) a.xmlns = pick(nss);
      const el = xml(pick(names), a);
      if (depth > 0) for (let i = rand(3); i > 0; i--) el.append(rand(4) === 0 ? pick(vals) : junk(depth - 1));
      return el;
    };
    for (let i = 0; i < 300; i++) {
      const kind = pick(['message', 'presence', 'iq']);
      const a: Record<string, string> = { to: pick(targets), id: `j${i}` };
      if (kind === 'iq') a.type = pick(['get', 'set', 'result', 'error']);
      else if (rand(2)) a.type = pick(kind === 'message' ? ['groupchat', 'chat', 'normal', 'error', 'headline'] : ['unavailable', 'error', 'subscribe', 'probe']);
      const el = xml(kind, a, junk(3));
      if (kind === 'iq' && (a.type === 'get' || a.type === 'set')) await bob.iq(el).catch(() => undefined);
      else await bob.send(el);
    }
    // bob may have left or changed nick through the junk: enter again, then the room works.
    await bob.send(xml('presence', { to: `${r}/bob`, type: 'unavailable' }));
    await new Promise((res) => setTimeout(res, 200));
    bob.inbox.clear();
    await join(bob, r, 'bob');
    await stillWorks();
    const fresh = await connect(srv, 'bob', 'fresh');
    expect((await discoInfo(fresh, r)).form.get('muc#roomconfig_roomname')).toEqual(['Tough room']);
  });
});
