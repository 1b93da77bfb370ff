// XEP-0045 roles and affiliations over real sockets: the permission matrix (§5, §8–§10) — a
// participant cannot kick, a moderator kicks (307), an admin cannot ban an owner, an owner bans
// (301) and an outcast cannot enter, ban self is a conflict, the last owner stays; member,
// outcast and role lists; voice in moderated rooms (a visitor cannot speak; grant/revoke; voice
// requests §7.13/§8.6); membership lost in a members-only room (321) and a room turned
// members-only (322); server admins manage every room.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NS,
  adminList,
  adminSet,
  configure,
  createRoom,
  errorCondition,
  groupchat,
  iqError,
  isMsg,
  isPresence,
  join,
  joinError,
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
let owner: User;
let admin: User;
let member: User;
let guest: User;
let root: User;

beforeAll(async () => {
  ({ srv, svc, users: [owner, admin, member, guest, root] } = await startMucServer({ admins: ['root@localhost'], muc: { voiceRequestInterval: 1 } }, ['owner', 'admin', 'member', 'guest', 'root']));
});

afterAll(async () => {
  await srv?.stop();
});

/** A room with an owner, an admin and a member, everyone inside. */
async function staffedRoom(fields: Record<string, string | boolean | string[]> = {}): Promise<string> {
  const r = `${uniq('staff')}@${svc}`;
  await createRoom(owner, r, 'owner', fields);
  await adminSet(owner, r, [{ jid: admin.bare, affiliation: 'admin' }, { jid: member.bare, affiliation: 'member' }]);
  await join(admin, r, 'admin');
  await join(member, r, 'member');
  await join(guest, r, 'guest');
  for (const u of [owner, admin, member, guest]) u.inbox.clear();
  return r;
}

describe('kicking', () => {
  it('a participant cannot kick (forbidden); a moderator cannot kick an admin (not-allowed); a moderator kicks a participant (307)', async () => {
    const r = await staffedRoom();
    expect((await iqError(adminSet(guest, r, [{ nick: 'member', role: 'none' }]))).condition).toBe('forbidden');
    // member becomes a moderator (granted by the admin), then tries to kick the admin.
    await adminSet(admin, r, [{ nick: 'member', role: 'moderator' }]);
    const up = await guest.inbox.wait((s) => isPresence(`${r}/member`)(s) && mucItem(s).attrs.role === 'moderator');
    expect(mucItem(up).attrs.affiliation).toBe('member');
    expect((await iqError(adminSet(member, r, [{ nick: 'admin', role: 'none' }]))).condition).toBe('not-allowed');
    await adminSet(member, r, [{ nick: 'guest', role: 'none' }], ['be nice']);
    const kicked = await guest.inbox.wait(isPresence(`${r}/guest`, 'unavailable'));
    expect(statusCodes(kicked)).toEqual([110, 307]);
    expect(mucItem(kicked).getChild('actor').attrs.nick).toBe('member');
    expect(mucItem(kicked).getChildText('reason')).toBe('be nice');
    const seen = await owner.inbox.wait(isPresence(`${r}/guest`, 'unavailable'));
    expect(statusCodes(seen)).toEqual([307]);
    // A kicked user may come back (not banned).
    await join(guest, r, 'guest');
  });
});

describe('banning and affiliations', () => {
  it('an admin cannot ban an owner nor make owners/admins; the owner bans (301); the outcast cannot enter; unbanned may', async () => {
    const r = await staffedRoom();
    expect((await iqError(adminSet(admin, r, [{ jid: owner.bare, affiliation: 'outcast' }]))).condition).toBe('not-allowed');
    expect((await iqError(adminSet(admin, r, [{ jid: guest.bare, affiliation: 'admin' }]))).condition).toBe('not-allowed');
    expect((await iqError(adminSet(member, r, [{ jid: guest.bare, affiliation: 'outcast' }]))).condition).toBe('forbidden');
    expect((await iqError(adminSet(admin, r, [{ jid: admin.bare, affiliation: 'outcast' }]))).condition).toBe('conflict');
    await adminSet(admin, r, [{ jid: guest.bare, affiliation: 'outcast' }], ['spam']);
    const banned = await guest.inbox.wait(isPresence(`${r}/guest`, 'unavailable'));
    expect(statusCodes(banned)).toEqual([110, 301]);
    expect(mucItem(banned).attrs.affiliation).toBe('outcast');
    const e = await joinError(guest, r, 'guest');
    expect(e.condition).toBe('forbidden');
    const outcasts = await adminList(admin, r, { affiliation: 'outcast' });
    expect(outcasts.map((i) => [i.attrs.jid, i.getChildText('reason')])).toEqual([[guest.bare, 'spam']]);
    expect((await iqError(adminList(member, r, { affiliation: 'outcast' }))).condition).toBe('forbidden');
    await adminSet(admin, r, [{ jid: guest.bare, affiliation: 'none' }]);
    await join(guest, r, 'guest');
  });

  it('owners manage owners and admins; the last owner cannot go; lists by affiliation and by role', async () => {
    const r = await staffedRoom();
    expect((await iqError(adminSet(owner, r, [{ jid: owner.bare, affiliation: 'admin' }]))).condition).toBe('conflict');
    await adminSet(owner, r, [{ jid: admin.bare, affiliation: 'owner' }]);
    expect((await adminList(owner, r, { affiliation: 'owner' })).map((i) => i.attrs.jid).sort()).toEqual([admin.bare, owner.bare].sort());
    await adminSet(admin, r, [{ jid: owner.bare, affiliation: 'admin' }]);
    const demoted = await guest.inbox.wait((s) => isPresence(`${r}/owner`)(s) && mucItem(s).attrs.affiliation === 'admin');
    expect(mucItem(demoted).attrs.role).toBe('moderator');
    expect((await adminList(admin, r, { affiliation: 'member' })).map((i) => i.attrs.jid)).toEqual([member.bare]);
    const mods = await adminList(admin, r, { role: 'moderator' });
    expect(mods.map((i) => i.attrs.nick).sort()).toEqual(['admin', 'owner']);
    expect((await iqError(adminList(guest, r, { role: 'participant' }))).condition).toBe('forbidden');
    // An item with both role and affiliation, an unknown affiliation, a bad jid: bad input, nothing changed.
    expect((await iqError(adminSet(admin, r, [{ nick: 'guest', role: 'none', affiliation: 'none' }]))).condition).toBe('bad-request');
    expect((await iqError(adminSet(admin, r, [{ jid: guest.bare, affiliation: 'king' }]))).condition).toBe('bad-request');
    expect((await iqError(adminSet(admin, r, [{ jid: 'not a jid@@', affiliation: 'member' }]))).condition).toBe('jid-malformed');
    expect((await iqError(adminSet(admin, r, [{ nick: 'nobody', role: 'none' }]))).condition).toBe('item-not-found');
    // All or nothing: a good item next to a refused one changes nothing ('owner' is an admin now).
    expect((await iqError(adminSet(owner, r, [{ jid: guest.bare, affiliation: 'member' }, { jid: member.bare, affiliation: 'owner' }]))).condition).toBe('not-allowed');
    expect((await adminList(admin, r, { affiliation: 'member' })).map((i) => i.attrs.jid)).toEqual([member.bare]);
  });

  it('occupants read the member list; the admin and owner lists too in a non-anonymous room; the ban list never', async () => {
    const r = await staffedRoom();
    expect((await adminList(guest, r, { affiliation: 'member' })).map((i) => i.attrs.jid)).toEqual([member.bare]);
    expect((await iqError(adminList(guest, r, { affiliation: 'owner' }))).condition).toBe('forbidden');
    await configure(owner, r, { 'muc#roomconfig_whois': 'anyone' });
    expect((await adminList(guest, r, { affiliation: 'owner' })).map((i) => i.attrs.jid)).toEqual([owner.bare]);
    expect((await adminList(guest, r, { affiliation: 'admin' })).map((i) => i.attrs.jid)).toEqual([admin.bare]);
    expect((await iqError(adminList(guest, r, { affiliation: 'outcast' }))).condition).toBe('forbidden');
    await configure(owner, r, { 'muc#roomconfig_getmemberlist': ['moderator'] });
    expect((await iqError(adminList(guest, r, { affiliation: 'member' }))).condition).toBe('forbidden');
  });

  it('members-only: losing membership removes the occupant (321); turning a room members-only removes non-members (322)', async () => {
    const r = await staffedRoom();
    await configure(owner, r, { 'muc#roomconfig_membersonly': true });
    const out = await guest.inbox.wait(isPresence(`${r}/guest`, 'unavailable'));
    expect(statusCodes(out)).toEqual([110, 322]);
    const notice = await member.inbox.wait((s) => s.name === 'message' && s.attrs.from === r && statusCodes(s).includes(104));
    expect(notice.attrs.type).toBe('groupchat');
    await adminSet(admin, r, [{ jid: member.bare, affiliation: 'none' }]);
    const lost = await member.inbox.wait(isPresence(`${r}/member`, 'unavailable'));
    expect(statusCodes(lost)).toEqual([110, 321]);
    expect((await joinError(member, r, 'member')).condition).toBe('registration-required');
  });
});

describe('voice in moderated rooms', () => {
  it('a visitor cannot speak; a moderator grants voice; revoking voice from an admin is not-allowed', async () => {
    const r = await staffedRoom({ 'muc#roomconfig_moderatedroom': true });
    // guest entered after the room was moderated: a visitor; member has voice.
    await groupchat(guest, r, 'can I talk?');
    const err = await guest.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error');
    expect(errorCondition(err)).toBe('forbidden');
    await owner.inbox.none(isMsg('can I talk?'), 100);
    await groupchat(member, r, 'members speak');
    await guest.inbox.wait(isMsg('members speak'));
    const visitors = await adminList(admin, r, { role: 'visitor' });
    expect(visitors.map((i) => i.attrs.nick)).toEqual(['guest']);
    await adminSet(admin, r, [{ nick: 'guest', role: 'participant' }]);
    await guest.inbox.wait((s) => isPresence(`${r}/guest`)(s) && mucItem(s).attrs.role === 'participant');
    await groupchat(guest, r, 'now I can');
    await owner.inbox.wait(isMsg('now I can'));
    await adminSet(admin, r, [{ nick: 'guest', role: 'visitor' }]);
    await guest.inbox.wait((s) => isPresence(`${r}/guest`)(s) && mucItem(s).attrs.role === 'visitor');
    expect((await iqError(adminSet(owner, r, [{ nick: 'admin', role: 'visitor' }]))).condition).toBe('not-allowed');
    // A participant cannot grant voice.
    expect((await iqError(adminSet(member, r, [{ nick: 'guest', role: 'participant' }]))).condition).toBe('forbidden');
  });

  it('voice requests reach the moderators; an approval gives voice; requests are rate limited', async () => {
    const r = await staffedRoom({ 'muc#roomconfig_moderatedroom': true });
    const request = () =>
      guest.send(
        xml(
          'message',
          { to: r },
          xml('x', { xmlns: NS.data, type: 'submit' }, xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#request')), xml('field', { var: 'muc#role' }, xml('value', {}, 'participant'))),
        ),
      );
    await request();
    const ask = await admin.inbox.wait((s) => s.name === 'message' && s.attrs.from === r && s.getChild('x', NS.data));
    const fields = new Map(ask.getChild('x', NS.data).getChildren('field').map((f: any) => [f.attrs.var, f.getChildText('value')]));
    expect(fields.get('muc#roomnick')).toBe('guest');
    expect(fields.get('muc#jid')).toBe(guest.bare);
    await owner.inbox.wait((s) => s.name === 'message' && s.attrs.from === r && s.getChild('x', NS.data));
    await member.inbox.none((s) => s.name === 'message' && s.getChild('x', NS.data), 100);
    await request();
    expect(errorCondition(await guest.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('resource-constraint');
    await admin.send(
      xml(
        'message',
        { to: r },
        xml(
          'x',
          { xmlns: NS.data, type: 'submit' },
          xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#request')),
          xml('field', { var: 'muc#role' }, xml('value', {}, 'participant')),
          xml('field', { var: 'muc#roomnick' }, xml('value', {}, 'guest')),
          xml('field', { var: 'muc#request_allow' }, xml('value', {}, 'true')),
        ),
      ),
    );
    await guest.inbox.wait((s) => isPresence(`${r}/guest`)(s) && statusCodes(s).includes(110) && mucItem(s).attrs.role === 'participant');
    // A participant asking again: not-acceptable.
    await new Promise((res) => setTimeout(res, 1100));
    await request();
    expect(errorCondition(await guest.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('not-acceptable');
  });
});

describe('server admins', () => {
  it('manage every room without being in it: configure, ban, destroy', async () => {
    const r = await staffedRoom();
    const form = await root.iq(xml('iq', { type: 'get', to: r }, xml('query', { xmlns: NS.owner })));
    expect(form.getChild('query', NS.owner).getChild('x', NS.data)).toBeDefined();
    await configure(root, r, { 'muc#roomconfig_roomname': 'Renamed by the admin' });
    await adminSet(root, r, [{ jid: admin.bare, affiliation: 'outcast' }]);
    await admin.inbox.wait((s) => isPresence(`${r}/admin`, 'unavailable')(s) && statusCodes(s).includes(301));
    // Even for a server admin the room keeps an owner.
    expect((await iqError(adminSet(root, r, [{ jid: owner.bare, affiliation: 'none' }]))).condition).toBe('conflict');
    // Entering, a server admin shows as an owner.
    const j = await join(root, r, 'root');
    expect(mucItem(j.self).attrs).toMatchObject({ affiliation: 'owner', role: 'moderator' });
    await root.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.owner }, xml('destroy', {}, xml('reason', {}, 'cleanup')))));
    await guest.inbox.wait(isPresence(`${r}/guest`, 'unavailable'));
  });
});
