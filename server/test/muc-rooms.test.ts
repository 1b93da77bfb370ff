// XEP-0045 rooms over real sockets: discovering the service and its rooms (§6), creating rooms
// (§10.1: instant and reserved, who may create), configuring (§10.2, muc#roomconfig), the room
// info form (XEP-0128), temporary rooms (gone when empty, with their history), destroying
// (§10.9: reason and alternate venue), locked rooms that are never configured.
// https://xmpp.org/extensions/xep-0045.html
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import {
  NS,
  configure,
  connect,
  createRoom,
  discoInfo,
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
  ({ srv, svc, users: [alice, bob, carol] } = await startMucServer({ admins: ['root@localhost'] }, ['alice', 'bob', 'carol'], ['root']));
});

afterAll(async () => {
  await srv?.stop();
});

const room = (p: string) => `${uniq(p)}@${svc}`;

describe('service discovery', () => {
  it("the server lists the service in its disco#items; the service is a conference/text MUC", async () => {
    const r = await alice.iq(xml('iq', { type: 'get', to: srv.host }, xml('query', { xmlns: NS.discoItems })));
    const items = r.getChild('query', NS.discoItems).getChildren('item').map((i: any) => i.attrs.jid);
    expect(items).toContain(svc);
    const info = await discoInfo(alice, svc);
    expect(info.identities.map((i: any) => `${i.attrs.category}/${i.attrs.type}`)).toContain('conference/text');
    expect(info.features).toContain(NS.muc);
  });

  it('lists public rooms with their occupant counts, not hidden or locked ones; RSM pages', async () => {
    const pub = room('pub');
    const hidden = room('hidden');
    const locked = room('locked');
    await createRoom(alice, pub, 'a', { 'muc#roomconfig_roomname': 'Public one' });
    await join(bob, pub, 'b');
    await createRoom(alice, hidden, 'a', { 'muc#roomconfig_publicroom': false });
    await join(alice, locked, 'a');
    const r = await carol.iq(xml('iq', { type: 'get', to: svc }, xml('query', { xmlns: NS.discoItems })));
    const items = r.getChild('query', NS.discoItems).getChildren('item');
    const byJid = new Map(items.map((i: any) => [i.attrs.jid, i.attrs.name]));
    expect(byJid.get(pub)).toBe('Public one (2)');
    expect(byJid.has(hidden)).toBe(false);
    expect(byJid.has(locked)).toBe(false);
    const page = await carol.iq(xml('iq', { type: 'get', to: svc }, xml('query', { xmlns: NS.discoItems }, xml('set', { xmlns: NS.rsm }, xml('max', {}, '1')))));
    const q = page.getChild('query', NS.discoItems);
    expect(q.getChildren('item')).toHaveLength(1);
    expect(Number(q.getChild('set', NS.rsm).getChildText('count'))).toBeGreaterThanOrEqual(1);
    await leave(alice, locked, 'a');
  });
});

describe('creating rooms', () => {
  it('an instant room: the first to enter is its owner (201, moderator); an empty submit opens it', async () => {
    const r = room('instant');
    const { self } = await join(alice, r, 'alice');
    expect(statusCodes(self)).toEqual(expect.arrayContaining([110, 201]));
    expect(mucItem(self).attrs).toMatchObject({ affiliation: 'owner', role: 'moderator' });
    // Locked until configured (§10.1.3): others are told there is no such room.
    expect((await joinError(bob, r, 'bob')).condition).toBe('item-not-found');
    await alice.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.owner }, xml('x', { xmlns: NS.data, type: 'submit' }))));
    const j = await join(bob, r, 'bob');
    expect(mucItem(j.self).attrs).toMatchObject({ affiliation: 'none', role: 'participant' });
    expect(j.others.map((p) => p.attrs.from)).toEqual([`${r}/alice`]);
  });

  it('a groupchat 1.0 join (no <x/>) creates an open room at once', async () => {
    const r = room('gc1');
    const { self } = await join(alice, r, 'alice', { gc1: true });
    expect(statusCodes(self)).toContain(201);
    await join(bob, r, 'bob');
  });

  it('a reserved room: the owner gets the muc#roomconfig form and submits it', async () => {
    const r = room('reserved');
    await join(alice, r, 'alice');
    const res = await alice.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.owner })));
    const x = res.getChild('query', NS.owner).getChild('x', NS.data);
    const vars = x.getChildren('field').map((f: any) => f.attrs.var);
    for (const v of [
      'FORM_TYPE',
      'muc#roomconfig_roomname',
      'muc#roomconfig_roomdesc',
      'muc#roomconfig_persistentroom',
      'muc#roomconfig_publicroom',
      'muc#roomconfig_membersonly',
      'muc#roomconfig_moderatedroom',
      'muc#roomconfig_passwordprotectedroom',
      'muc#roomconfig_roomsecret',
      'muc#roomconfig_whois',
      'muc#roomconfig_changesubject',
      'muc#roomconfig_allowinvites',
      'muc#roomconfig_allowpm',
      'muc#roomconfig_maxusers',
      'muc#roomconfig_presencebroadcast',
      'muc#roomconfig_getmemberlist',
      'muc#roomconfig_roomadmins',
      'muc#roomconfig_roomowners',
    ])
      expect(vars).toContain(v);
    // Only owners may see or change the configuration.
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.owner }))))).condition).toBe('item-not-found');
    await configure(alice, r, { 'muc#roomconfig_roomname': 'Reserved', 'muc#roomconfig_roomdesc': 'A room', 'muc#roomconfig_whois': 'anyone' });
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.owner }))))).condition).toBe('forbidden');
    const info = await discoInfo(bob, r);
    expect(info.form.get('muc#roomconfig_roomname')).toEqual(['Reserved']);
    expect(info.form.get('muc#roominfo_description')).toEqual(['A room']);
    expect(info.features).toContain('muc_nonanonymous');
    const j = await join(bob, r, 'bob');
    expect(statusCodes(j.self)).toContain(100);
  });

  it('cancelling the first configuration destroys the room', async () => {
    const r = room('cancel');
    await join(alice, r, 'alice');
    await alice.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.owner }, xml('x', { xmlns: NS.data, type: 'cancel' }))));
    const gone = await alice.inbox.wait((s) => isPresence(`${r}/alice`, 'unavailable')(s));
    expect(gone.getChild('x', NS.user).getChild('destroy')).toBeDefined();
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.discoInfo }))))).condition).toBe('item-not-found');
  });
});

describe('room info (XEP-0128) and features', () => {
  it('disco#info shows the room kind and the muc#roominfo form with the occupant count', async () => {
    const r = room('info');
    await createRoom(alice, r, 'alice', {
      'muc#roomconfig_roomname': 'Info',
      'muc#roomconfig_persistentroom': true,
      'muc#roomconfig_publicroom': false,
      'muc#roomconfig_membersonly': true,
      'muc#roomconfig_moderatedroom': true,
      'muc#roomconfig_passwordprotectedroom': true,
      'muc#roomconfig_roomsecret': 'pw',
      'muc#roomconfig_lang': 'en',
    });
    const info = await discoInfo(bob, r);
    for (const f of ['muc_hidden', 'muc_persistent', 'muc_membersonly', 'muc_moderated', 'muc_passwordprotected', 'muc_semianonymous', NS.muc, NS.mam, NS.sid, NS.oid, NS.vcard, 'http://jabber.org/protocol/muc#self-ping-optimization'])
      expect(info.features).toContain(f);
    expect(info.identities[0].attrs).toMatchObject({ category: 'conference', type: 'text', name: 'Info' });
    expect(info.form.get('FORM_TYPE')).toEqual(['http://jabber.org/protocol/muc#roominfo']);
    expect(info.form.get('muc#roominfo_occupants')).toEqual(['1']);
    expect(info.form.get('muc#roominfo_lang')).toEqual(['en']);
    const open = room('open');
    await createRoom(alice, open, 'alice', { 'muc#roomconfig_persistentroom': false });
    const i2 = await discoInfo(bob, open);
    for (const f of ['muc_public', 'muc_temporary', 'muc_open', 'muc_unmoderated', 'muc_unsecured', 'muc_semianonymous']) expect(i2.features).toContain(f);
  });
});

describe('configuration changes', () => {
  it('occupants hear 104, and 170/171 when archiving changes, 172/173 when anonymity changes', async () => {
    const r = room('codes');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    const notice = () => bob.inbox.wait((s) => s.name === 'message' && s.attrs.from === r && s.getChild('x', NS.user)?.getChild('status'));
    await configure(alice, r, { 'muc#roomconfig_roomdesc': 'new words' });
    expect(statusCodes(await notice())).toEqual([104]);
    await configure(alice, r, { 'muc#roomconfig_enablearchiving': false, 'muc#roomconfig_whois': 'anyone' });
    expect(statusCodes(await notice())).toEqual([104, 171, 172]);
    await configure(alice, r, { 'muc#roomconfig_enablelogging': true, 'muc#roomconfig_whois': 'moderators' });
    expect(statusCodes(await notice())).toEqual([104, 170, 173]);
  });
});

describe('who may create rooms', () => {
  it('creators: admins — users are refused (not-allowed), server admins create', async () => {
    const s2 = await startTestServer({ admins: ['root@localhost'], muc: { creators: 'admins' } } as never);
    try {
      for (const u of ['alice', 'root']) await s2.addUser(u, u + '-pw');
      const a = await connect(s2, 'alice');
      const root = await connect(s2, 'root');
      const r = `staff@conference.${s2.host}`;
      const e = await joinError(a, r, 'alice');
      expect(e.condition).toBe('not-allowed');
      expect(e.text).toMatch(/admins/);
      await createRoom(root, r, 'root');
      await join(a, r, 'alice');
    } finally {
      await s2.stop();
    }
  });
});

describe('temporary rooms, destruction', () => {
  it('a temporary room goes when the last occupant leaves, its history with it', async () => {
    const r = room('temp');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_persistentroom': false });
    await groupchat(alice, r, 'remember me?');
    await alice.inbox.wait(isMsg('remember me?'));
    await leave(alice, r, 'alice');
    await new Promise((res) => setTimeout(res, 100));
    expect((await iqError(bob.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.discoInfo }))))).condition).toBe('item-not-found');
    // A new room of the same name starts empty: no history from the old one.
    const j = await join(bob, r, 'bob');
    expect(statusCodes(j.self)).toContain(201);
    expect(j.history).toEqual([]);
  });

  it('a persistent room stays when empty', async () => {
    const r = room('stays');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_persistentroom': true });
    await leave(alice, r, 'alice');
    const info = await discoInfo(bob, r);
    expect(info.form.get('muc#roominfo_occupants')).toEqual(['0']);
  });

  it('the owner destroys a room: occupants get the reason and the alternate venue; the room is gone', async () => {
    const r = room('doomed');
    const alt = room('alt');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_persistentroom': true });
    await join(bob, r, 'bob');
    expect((await iqError(bob.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.owner }, xml('destroy', {})))))).condition).toBe('forbidden');
    await alice.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.owner }, xml('destroy', { jid: alt }, xml('reason', {}, 'moved')))));
    const p = await bob.inbox.wait(isPresence(`${r}/bob`, 'unavailable'));
    const d = p.getChild('x', NS.user).getChild('destroy');
    expect(d.attrs.jid).toBe(alt);
    expect(d.getChildText('reason')).toBe('moved');
    expect(mucItem(p).attrs).toMatchObject({ affiliation: 'none', role: 'none' });
    await alice.inbox.wait(isPresence(`${r}/alice`, 'unavailable'));
    const err = await iqError(carol.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.discoInfo }))));
    expect(err.condition).toBe('item-not-found');
    // Messages to it are refused too.
    await carol.send(xml('message', { to: r, type: 'groupchat', id: 'x1' }, xml('body', {}, 'hello?')));
    const e = await carol.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.from === r);
    expect(errorCondition(e)).toBe('item-not-found');
  });

  it('a reserved room never configured is removed after lockedRoomTimeout', async () => {
    const s2 = await startTestServer({ muc: { lockedRoomTimeout: 1 } } as never);
    try {
      await s2.addUser('alice', 'alice-pw');
      const a = await connect(s2, 'alice');
      const r = `limbo@conference.${s2.host}`;
      await join(a, r, 'alice');
      const p = await a.inbox.wait(isPresence(`${r}/alice`, 'unavailable'), 4000);
      expect(p.getChild('x', NS.user).getChild('destroy')).toBeDefined();
    } finally {
      await s2.stop();
    }
  });
});
