// XEP-0045 occupants over real sockets: entering (§7.2: the presence order, status codes 100,
// 110, 170, 201, 210), nickname rules (conflict, change with 303, PRECIS, spaces), password and
// members-only rooms, the occupant limit, one user on several devices under one nick, leaving
// and disconnecting, private messages and iqs between occupants (§7.5, §7.6), occupant ids
// (XEP-0421), self-ping (XEP-0410) and a client autojoining its bookmarked rooms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropConnection } from './helpers/server.js';
import {
  NS,
  adminSet,
  connect,
  createRoom,
  errorCondition,
  groupchat,
  iqError,
  isMsg,
  isPresence,
  join,
  joinError,
  leave,
  mucItem,
  startMucServer,
  statusCodes,
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
  // Stream management: a dropped connection hibernates this long before its session ends.
  ({ srv, svc, users: [alice, bob, carol] } = await startMucServer({ streamManagement: { hibernation: 1 } }, ['alice', 'bob', 'carol'], ['dave']));
});

afterAll(async () => {
  await srv?.stop();
});

const room = (p: string) => `${uniq(p)}@${svc}`;
const oid = (s: any) => s.getChild('occupant-id', NS.oid)?.attrs.id;

describe('entering and leaving', () => {
  it("presence order: others first, then one's own with 110; others see the newcomer; status text travels", async () => {
    const r = room('order');
    await createRoom(alice, r, 'alice');
    const j = await join(bob, r, 'bob', { status: 'at my desk' });
    expect(j.others.map((p) => p.attrs.from)).toEqual([`${r}/alice`]);
    expect(statusCodes(j.self)).toEqual([110, 170]);
    // Semi-anonymous: bob (participant) does not see alice's real JID; alice (moderator) sees bob's.
    expect(mucItem(j.others[0]).attrs.jid).toBeUndefined();
    expect(j.subject.getChildText('subject')).toBe('');
    const seen = await alice.inbox.wait(isPresence(`${r}/bob`));
    expect(mucItem(seen).attrs.jid).toBe(bob.jid);
    expect(seen.getChildText('status')).toBe('at my desk');
    // Presence changes are broadcast.
    await bob.send(xml('presence', { to: `${r}/bob` }, xml('show', {}, 'away')));
    const away = await alice.inbox.wait((s) => isPresence(`${r}/bob`)(s) && s.getChildText('show') === 'away');
    expect(oid(away)).toBe(oid(seen));
    await leave(bob, r, 'bob');
    const gone = await alice.inbox.wait(isPresence(`${r}/bob`, 'unavailable'));
    expect(mucItem(gone).attrs.role).toBe('none');
  });

  it('a dropped connection stays in the room while stream management may resume it, and leaves when the session ends', async () => {
    const r = room('drop');
    await createRoom(alice, r, 'alice');
    const dave = await connect(srv, 'dave');
    await join(dave, r, 'dave');
    await alice.inbox.wait(isPresence(`${r}/dave`));
    dropConnection(dave.c);
    await alice.inbox.none(isPresence(`${r}/dave`, 'unavailable'), 300);
    await alice.inbox.wait(isPresence(`${r}/dave`, 'unavailable'), 5000);
  });

  it('an occupant whose client answers with errors is removed as a ghost (333)', async () => {
    const r = room('ghost');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    await bob.send(xml('presence', { to: `${r}/bob`, type: 'error' }, xml('error', { type: 'cancel' }, xml('service-unavailable', { xmlns: NS.stanzas }))));
    const gone = await alice.inbox.wait(isPresence(`${r}/bob`, 'unavailable'));
    expect(statusCodes(gone)).toEqual([333]);
    await join(bob, r, 'bob');
    // A delivery error for a room message does the same.
    await bob.send(xml('message', { to: `${r}/alice`, type: 'error' }, xml('error', { type: 'cancel' }, xml('recipient-unavailable', { xmlns: NS.stanzas }))));
    expect(statusCodes(await alice.inbox.wait(isPresence(`${r}/bob`, 'unavailable')))).toEqual([333]);
  });

  it('non-anonymous rooms send 100 and show real JIDs to everyone', async () => {
    const r = room('nonanon');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_whois': 'anyone' });
    const j = await join(bob, r, 'bob');
    expect(statusCodes(j.self)).toContain(100);
    expect(mucItem(j.others[0]).attrs.jid).toBe(alice.jid);
  });

  it('210 when the service changed the nick (PRECIS normalised it)', async () => {
    const r = room('norm');
    await createRoom(alice, r, 'alice');
    // 'e' + combining acute is NFC-normalised to 'é' (RFC 8265 OpaqueString).
    await bob.send(xml('presence', { to: `${r}/Jose\u0301` }, xml('x', { xmlns: NS.muc })));
    const self = await bob.inbox.wait((s) => isPresence(`${r}/Jos\u00e9`)(s) && statusCodes(s).includes(110));
    expect(statusCodes(self)).toContain(210);
    await bob.inbox.wait((s) => s.name === 'message' && s.getChild('subject'));
  });
});

describe('nicknames', () => {
  it('a taken nick is a conflict; a nick change is 303 then the new presence; the new nick is then taken', async () => {
    const r = room('nicks');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    expect((await joinError(carol, r, 'bob')).condition).toBe('conflict');
    await bob.send(xml('presence', { to: `${r}/robert` }));
    const un = await alice.inbox.wait(isPresence(`${r}/bob`, 'unavailable'));
    expect(statusCodes(un)).toEqual([303]);
    expect(mucItem(un).attrs.nick).toBe('robert');
    await alice.inbox.wait(isPresence(`${r}/robert`));
    const selfUn = await bob.inbox.wait(isPresence(`${r}/bob`, 'unavailable'));
    expect(statusCodes(selfUn)).toEqual([110, 303]);
    await bob.inbox.wait((s) => isPresence(`${r}/robert`)(s) && statusCodes(s).includes(110));
    // Nick change to a taken one: conflict, nothing changes.
    await bob.send(xml('presence', { to: `${r}/alice` }));
    const err = await bob.inbox.wait((s) => s.name === 'presence' && s.attrs.type === 'error');
    expect(errorCondition(err)).toBe('conflict');
    await join(carol, r, 'bob');
  });

  it('nicks that fail PRECIS are refused (jid-malformed), spaces-only nicks (not-acceptable), no nick (jid-malformed)', async () => {
    const r = room('badnick');
    await createRoom(alice, r, 'alice');
    // Unassigned, conjoining jamo, zero-width space: valid XML, refused by OpaqueString (RFC 8265).
    for (const bad of ['\u0378', 'x\u1100', 'a\u200Bb']) {
      await bob.send(xml('presence', { to: `${r}/${bad}` }, xml('x', { xmlns: NS.muc })));
      const e = await bob.inbox.wait((s) => s.name === 'presence' && s.attrs.type === 'error');
      expect(errorCondition(e)).toBe('jid-malformed');
    }
    expect((await joinError(bob, r, '   ')).condition).toBe('not-acceptable');
    await bob.send(xml('presence', { to: r }, xml('x', { xmlns: NS.muc })));
    const e = await bob.inbox.wait((s) => s.name === 'presence' && s.attrs.type === 'error');
    expect(errorCondition(e)).toBe('jid-malformed');
    // Still fine afterwards.
    await join(bob, r, 'bob');
  });
});

describe('restricted rooms', () => {
  it('password rooms: none or a wrong one is not-authorized, the right one enters', async () => {
    const r = room('secret');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_passwordprotectedroom': true, 'muc#roomconfig_roomsecret': 'open sesame' });
    expect((await joinError(bob, r, 'bob')).condition).toBe('not-authorized');
    expect((await joinError(bob, r, 'bob', { password: 'nope' })).condition).toBe('not-authorized');
    await join(bob, r, 'bob', { password: 'open sesame' });
  });

  it('members-only rooms: non-members get registration-required; members enter', async () => {
    const r = room('members');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_membersonly': true });
    expect((await joinError(bob, r, 'bob')).condition).toBe('registration-required');
    await adminSet(alice, r, [{ jid: bob.bare, affiliation: 'member' }]);
    const j = await join(bob, r, 'bob');
    expect(mucItem(j.self).attrs.affiliation).toBe('member');
  });

  it('max occupants: the room is full for others (service-unavailable), owners still enter', async () => {
    const r = room('full');
    await createRoom(carol, r, 'carol', { 'muc#roomconfig_maxusers': '2' });
    await join(alice, r, 'alice');
    const e = await joinError(bob, r, 'bob');
    expect(e.condition).toBe('service-unavailable');
    expect(e.text).toMatch(/full/);
    await leave(carol, r, 'carol');
    await join(carol, r, 'carol');
    await join(bob, r, 'bob').then(
      () => expect.unreachable('full'),
      (err) => expect(err.condition).toBe('service-unavailable'),
    );
  });
});

describe('one user, several devices', () => {
  it('two sessions share one nick: both get room messages, others see one occupant; the last to leave ends it', async () => {
    const r = room('multi');
    await createRoom(alice, r, 'alice');
    const bob2 = await connect(srv, 'bob', 'phone');
    await join(bob, r, 'bob');
    await alice.inbox.wait(isPresence(`${r}/bob`));
    const j2 = await join(bob2, r, 'bob');
    expect(j2.others.map((p) => p.attrs.from)).toEqual([`${r}/alice`]);
    await alice.inbox.none(isPresence(`${r}/bob`), 200);
    await groupchat(alice, r, 'to both devices');
    await bob.inbox.wait(isMsg('to both devices'));
    await bob2.inbox.wait(isMsg('to both devices'));
    // Another user cannot take that nick.
    expect((await joinError(carol, r, 'bob')).condition).toBe('conflict');
    await leave(bob2, r, 'bob');
    await alice.inbox.none(isPresence(`${r}/bob`, 'unavailable'), 200);
    await leave(bob, r, 'bob');
    await alice.inbox.wait(isPresence(`${r}/bob`, 'unavailable'));
    await bob2.stop();
  });

  it('autojoin from bookmarks: a second device reads the bookmark (private XML) and joins under the same nick', async () => {
    const r = room('bookmarked');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bobby');
    await bob.iq(
      xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:private' }, xml('storage', { xmlns: 'storage:bookmarks' }, xml('conference', { jid: r, autojoin: 'true', name: 'Team' }, xml('nick', {}, 'bobby'))))),
    );
    const laptop = await connect(srv, 'bob', 'laptop');
    const res = await laptop.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:private' }, xml('storage', { xmlns: 'storage:bookmarks' }))));
    const conf = res.getChild('query', 'jabber:iq:private').getChild('storage', 'storage:bookmarks').getChild('conference');
    expect(conf.attrs.autojoin).toBe('true');
    const j = await join(laptop, conf.attrs.jid, conf.getChildText('nick'));
    expect(mucItem(j.self).attrs.role).toBe('participant');
    await groupchat(alice, r, 'seen on the laptop');
    await laptop.inbox.wait(isMsg('seen on the laptop'));
    await laptop.stop();
  });
});

describe('bookmarks (XEP-0402) and autojoin', () => {
  it('a bookmark published to PEP by one device lets another join the room under the bookmarked nick', async () => {
    const r = room('native');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_roomname': 'Native' });
    const NS_B = 'urn:xmpp:bookmarks:1';
    const PUBSUB = 'http://jabber.org/protocol/pubsub';
    const opt = (v: string, val: string) => xml('field', { var: v }, xml('value', {}, val));
    await bob.iq(
      xml(
        'iq',
        { type: 'set' },
        xml(
          'pubsub',
          { xmlns: PUBSUB },
          xml('publish', { node: NS_B }, xml('item', { id: r }, xml('conference', { xmlns: NS_B, name: 'Native', autojoin: 'true' }, xml('nick', {}, 'bob-native')))),
          xml('publish-options', {}, xml('x', { xmlns: NS.data, type: 'submit' }, opt('FORM_TYPE', 'http://jabber.org/protocol/pubsub#publish-options'), opt('pubsub#persist_items', 'true'), opt('pubsub#access_model', 'whitelist'))),
        ),
      ),
    );
    const desk = await connect(srv, 'bob', 'desk');
    const res = await desk.iq(xml('iq', { type: 'get' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: NS_B }))));
    const items = res.getChild('pubsub', PUBSUB).getChild('items').getChildren('item');
    const item = items.find((i: any) => i.attrs.id === r);
    const conf = item.getChild('conference', NS_B);
    expect(conf.attrs.autojoin).toBe('true');
    const j = await join(desk, item.attrs.id, conf.getChildText('nick'));
    expect(j.self.attrs.from).toBe(`${r}/bob-native`);
    await desk.stop();
  });
});

describe('private messages and iqs between occupants', () => {
  it('a PM goes from room/nick with <x xmlns=muc#user/>; non-occupants cannot send; unknown nicks are item-not-found', async () => {
    const r = room('pm');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    await alice.send(xml('message', { to: `${r}/bob`, type: 'chat' }, xml('body', {}, 'psst')));
    const pm = await bob.inbox.wait(isMsg('psst'));
    expect(pm.attrs.from).toBe(`${r}/alice`);
    expect(pm.attrs.type).toBe('chat');
    expect(pm.getChild('x', NS.user)).toBeDefined();
    await carol.send(xml('message', { to: `${r}/bob`, type: 'chat' }, xml('body', {}, 'outsider')));
    expect(errorCondition(await carol.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('not-acceptable');
    await alice.send(xml('message', { to: `${r}/nobody`, type: 'chat' }, xml('body', {}, 'hello?')));
    expect(errorCondition(await alice.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('item-not-found');
    // allowpm: moderators only.
    await alice.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.owner }, xml('x', { xmlns: NS.data, type: 'submit' }, xml('field', { var: 'muc#roomconfig_allowpm' }, xml('value', {}, 'moderators'))))));
    await bob.send(xml('message', { to: `${r}/alice`, type: 'chat' }, xml('body', {}, 'may I?')));
    expect(errorCondition(await bob.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('forbidden');
  });

  it('an iq to an occupant is forwarded from room/nick and the answer comes back', async () => {
    const r = room('iq');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    bob.c.iqCallee.get('jabber:iq:version', 'query', () => xml('query', { xmlns: 'jabber:iq:version' }, xml('name', {}, 'BobClient')));
    const res = await alice.iq(xml('iq', { type: 'get', to: `${r}/bob` }, xml('query', { xmlns: 'jabber:iq:version' })));
    expect(res.attrs.from).toBe(`${r}/bob`);
    expect(res.getChild('query', 'jabber:iq:version').getChildText('name')).toBe('BobClient');
    // Errors come back too (the client does not know this namespace).
    expect((await iqError(alice.iq(xml('iq', { type: 'get', to: `${r}/bob` }, xml('query', { xmlns: 'urn:example:nothing' }))))).condition).toBe('service-unavailable');
  });
});

describe('occupant ids (XEP-0421)', () => {
  it('stable for one user across nicks and devices, different per user and per room; forged ones are replaced', async () => {
    const r1 = room('oid');
    const r2 = room('oid');
    await createRoom(alice, r1, 'alice');
    await createRoom(alice, r2, 'alice');
    const j1 = await join(bob, r1, 'bob');
    const j2 = await join(bob, r2, 'bob');
    const id1 = oid(j1.self);
    expect(id1).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(oid(j2.self)).not.toBe(id1);
    expect(oid(j1.others[0])).not.toBe(id1);
    await bob.send(xml('presence', { to: `${r1}/bobby` }));
    const renamed = await bob.inbox.wait((s) => isPresence(`${r1}/bobby`)(s) && statusCodes(s).includes(110));
    expect(oid(renamed)).toBe(id1);
    await groupchat(bob, r1, 'with a forged id', [xml('occupant-id', { xmlns: NS.oid, id: 'forged' })]);
    const m = await alice.inbox.wait(isMsg('with a forged id'));
    expect(m.getChildren('occupant-id', NS.oid).map((e: any) => e.attrs.id)).toEqual([id1]);
    await leave(bob, r1, 'bobby');
    const again = await join(bob, r1, 'other-nick');
    expect(oid(again.self)).toBe(id1);
  });
});

describe('self-ping (XEP-0410)', () => {
  it('a joined client pinging itself gets a result from the room; one that is not joined gets not-acceptable', async () => {
    const r = room('ping');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    const res = await bob.iq(xml('iq', { type: 'get', to: `${r}/bob` }, xml('ping', { xmlns: NS.ping })));
    expect(res.attrs.type).toBe('result');
    expect(res.attrs.from).toBe(`${r}/bob`);
    const bob2 = await connect(srv, 'bob', 'tablet');
    expect((await iqError(bob2.iq(xml('iq', { type: 'get', to: `${r}/bob` }, xml('ping', { xmlns: NS.ping }))))).condition).toBe('not-acceptable');
    await leave(bob, r, 'bob');
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: `${r}/bob` }, xml('ping', { xmlns: NS.ping }))))).condition).toBe('not-acceptable');
    // A rejoin with <x/> from a joined session gets the whole welcome again (resync).
    await join(bob, r, 'bob');
    alice.inbox.clear();
    const again = await join(bob, r, 'bob');
    expect(again.others.map((p) => p.attrs.from)).toEqual([`${r}/alice`]);
    await alice.inbox.none(isPresence(`${r}/bob`, 'unavailable'), 100);
    await bob2.stop();
  });
});
