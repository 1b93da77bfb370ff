// XEP-0045 messages over real sockets: groupchat to every occupant with stanza-id (XEP-0359)
// and occupant-id (XEP-0421), forged ones stripped; subject changes (§8.1, who may is
// configurable) and the subject on entering; history for late joiners (§7.2.15:
// maxstanzas/maxchars/seconds/since); mediated invitations and declines (§7.8) and direct
// invitations (XEP-0249); moderation (XEP-0425) and self-retraction (XEP-0424) reflected in the
// archive and the history; the push hook for hibernated occupants.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NS,
  adminList,
  configure,
  createRoom,
  errorCondition,
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
  ({ srv, svc, users: [alice, bob, carol] } = await startMucServer({ muc: { subjectChange: 'moderators' } }, ['alice', 'bob', 'carol']));
});

afterAll(async () => {
  await srv?.stop();
});

const room = (p: string) => `${uniq(p)}@${svc}`;

async function mamAll(u: User, r: string): Promise<any[]> {
  const got: any[] = [];
  const on = (s: any) => {
    const res = s.getChild('result', NS.mam);
    if (s.name === 'message' && s.attrs.from === r && res) got.push(res);
  };
  u.c.on('stanza', on);
  await u.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.mam, queryid: 'q' })));
  u.c.off('stanza', on);
  return got;
}

describe('groupchat messages', () => {
  it('reach every occupant (the sender too) from room/nick, with the archive id and occupant id; forged ones stripped', async () => {
    const r = room('chat');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    await bob.send(
      xml(
        'message',
        { to: r, type: 'groupchat', id: 'orig-1' },
        xml('body', {}, 'hello room'),
        xml('stanza-id', { xmlns: NS.sid, by: r, id: 'forged' }),
        xml('x', { xmlns: NS.user }, xml('item', { jid: 'admin@evil.example' })),
      ),
    );
    const [a, b] = await Promise.all([alice.inbox.wait(isMsg('hello room')), bob.inbox.wait(isMsg('hello room'))]);
    for (const m of [a, b]) {
      expect(m.attrs).toMatchObject({ from: `${r}/bob`, type: 'groupchat', id: 'orig-1' });
      expect(m.getChildren('stanza-id', NS.sid)).toHaveLength(1);
      expect(sid(m)).not.toBe('forged');
      expect(m.getChild('x', NS.user)).toBeUndefined();
      expect(m.getChild('occupant-id', NS.oid)).toBeDefined();
    }
    expect(sid(a)).toBe(sid(b));
    // Not an occupant: not-acceptable.
    await groupchat(carol, r, 'from outside');
    expect(errorCondition(await carol.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('not-acceptable');
    // A chat-type message to the bare room JID is bad-request.
    await bob.send(xml('message', { to: r, type: 'chat' }, xml('body', {}, 'wrong type')));
    expect(errorCondition(await bob.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('bad-request');
    // groupchat to an occupant JID is bad-request.
    await bob.send(xml('message', { to: `${r}/alice`, type: 'groupchat' }, xml('body', {}, 'wrong address')));
    expect(errorCondition(await bob.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('bad-request');
  });
});

describe('subject', () => {
  it('moderators change it; participants only when the room allows; newcomers get it last', async () => {
    const r = room('subject');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    await bob.send(xml('message', { to: r, type: 'groupchat' }, xml('subject', {}, 'by bob')));
    expect(errorCondition(await bob.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('forbidden');
    await alice.send(xml('message', { to: r, type: 'groupchat' }, xml('subject', {}, 'Quarterly plans')));
    const seen = await bob.inbox.wait((s) => s.name === 'message' && s.getChildText('subject') === 'Quarterly plans');
    expect(seen.attrs.from).toBe(`${r}/alice`);
    const j = await join(carol, r, 'carol');
    expect(j.subject.getChildText('subject')).toBe('Quarterly plans');
    expect(j.subject.attrs.from).toBe(`${r}/alice`);
    await configure(alice, r, { 'muc#roomconfig_changesubject': true });
    await bob.send(xml('message', { to: r, type: 'groupchat' }, xml('subject', {}, 'by bob now')));
    await carol.inbox.wait((s) => s.name === 'message' && s.getChildText('subject') === 'by bob now');
  });
});

describe('history for late joiners', () => {
  it('the last messages with delay; maxstanzas, maxchars, seconds and since limit it', async () => {
    const r = room('history');
    await createRoom(alice, r, 'alice');
    for (let i = 1; i <= 5; i++) {
      await groupchat(alice, r, `h${i}`);
      await alice.inbox.wait(isMsg(`h${i}`));
    }
    const bodies = (h: any[]) => h.map((m) => m.getChildText('body'));
    const all = await join(bob, r, 'bob');
    expect(bodies(all.history)).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
    const d = all.history[0].getChild('delay', NS.delay);
    expect(d.attrs.from).toBe(r);
    expect(Date.parse(d.attrs.stamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(all.history[0].attrs.from).toBe(`${r}/alice`);
    const three = await join(carol, r, 'c1', { history: { maxstanzas: '3' } });
    expect(bodies(three.history)).toEqual(['h3', 'h4', 'h5']);
    await carol.send(xml('presence', { to: `${r}/c1`, type: 'unavailable' }));
    const none = await join(carol, r, 'c2', { history: { maxchars: '0' } });
    expect(none.history).toEqual([]);
    await carol.send(xml('presence', { to: `${r}/c2`, type: 'unavailable' }));
    const size = all.history[4].toString().length;
    const small = await join(carol, r, 'c3', { history: { maxchars: String(size * 2 + 20) } });
    expect(small.history.length).toBeGreaterThanOrEqual(1);
    expect(small.history.length).toBeLessThanOrEqual(3);
    await carol.send(xml('presence', { to: `${r}/c3`, type: 'unavailable' }));
    const since = await join(carol, r, 'c4', { history: { since: new Date(Date.now() + 60_000).toISOString() } });
    expect(since.history).toEqual([]);
    await carol.send(xml('presence', { to: `${r}/c4`, type: 'unavailable' }));
    const secs = await join(carol, r, 'c5', { history: { seconds: '3600' } });
    expect(bodies(secs.history)).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
    await carol.send(xml('presence', { to: `${r}/c5`, type: 'unavailable' }));
    // Garbage in the history request: a clear error, no entry.
    await carol.send(xml('presence', { to: `${r}/c7` }, xml('x', { xmlns: NS.muc }, xml('history', { maxstanzas: 'lots' }))));
    const err = await carol.inbox.wait((s) => s.name === 'presence' && s.attrs.type === 'error' && s.attrs.from === `${r}/c7`);
    expect(errorCondition(err)).toBe('bad-request');
    expect(err.getChild('error').getChildText('text')).toMatch(/maxstanzas/);
  });
});

describe('invitations', () => {
  it('mediated: the invitee gets the invitation (with password and the XEP-0249 element); in a members-only room it becomes a member; a decline goes back', async () => {
    const r = room('invite');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_membersonly': true, 'muc#roomconfig_passwordprotectedroom': true, 'muc#roomconfig_roomsecret': 'pw1' });
    await alice.send(xml('message', { to: r }, xml('x', { xmlns: NS.user }, xml('invite', { to: bob.bare }, xml('reason', {}, 'join us')))));
    const inv = await bob.inbox.wait((s) => s.name === 'message' && s.attrs.from === r && s.getChild('x', NS.user)?.getChild('invite'));
    const x = inv.getChild('x', NS.user);
    expect(x.getChild('invite').attrs.from).toBe(alice.bare);
    expect(x.getChild('invite').getChildText('reason')).toBe('join us');
    expect(x.getChildText('password')).toBe('pw1');
    expect(inv.getChild('x', NS.conference).attrs.jid).toBe(r);
    expect((await adminList(alice, r, { affiliation: 'member' })).map((i) => i.attrs.jid)).toContain(bob.bare);
    await join(bob, r, 'bob', { password: 'pw1' });
    // A member (not admin) may not invite unless the room allows it.
    await bob.send(xml('message', { to: r }, xml('x', { xmlns: NS.user }, xml('invite', { to: carol.bare }))));
    expect(errorCondition(await bob.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('forbidden');
    await alice.send(xml('message', { to: r }, xml('x', { xmlns: NS.user }, xml('invite', { to: carol.bare }))));
    await carol.inbox.wait((s) => s.name === 'message' && s.getChild('x', NS.user)?.getChild('invite'));
    await carol.send(xml('message', { to: r }, xml('x', { xmlns: NS.user }, xml('decline', { to: alice.bare }, xml('reason', {}, 'busy')))));
    const dec = await alice.inbox.wait((s) => s.name === 'message' && s.getChild('x', NS.user)?.getChild('decline'));
    expect(dec.getChild('x', NS.user).getChild('decline').attrs.from).toBe(carol.bare);
    expect(dec.getChild('x', NS.user).getChild('decline').getChildText('reason')).toBe('busy');
    // A decline to someone who did not invite is refused (the room is no relay).
    await carol.send(xml('message', { to: r }, xml('x', { xmlns: NS.user }, xml('decline', { to: bob.bare }))));
    expect(errorCondition(await carol.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('not-acceptable');
  });

  it('direct (XEP-0249): the invitation reaches the invitee, who joins with the password it carries', async () => {
    const r = room('direct');
    await createRoom(alice, r, 'alice', { 'muc#roomconfig_passwordprotectedroom': true, 'muc#roomconfig_roomsecret': 'pw2' });
    await alice.send(xml('message', { to: carol.bare }, xml('x', { xmlns: NS.conference, jid: r, password: 'pw2', reason: 'come in' })));
    const inv = await carol.inbox.wait((s) => s.name === 'message' && s.getChild('x', NS.conference));
    const x = inv.getChild('x', NS.conference);
    expect(inv.attrs.from).toBe(alice.jid);
    await join(carol, x.attrs.jid, 'carol', { password: x.attrs.password });
  });
});

describe('moderation and retraction', () => {
  it("a moderator retracts a message (XEP-0425): everyone is told; the archive keeps a tombstone; newcomers don't get it", async () => {
    const r = room('moderate');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    await groupchat(bob, r, 'spam spam');
    const m = await alice.inbox.wait(isMsg('spam spam'));
    const id = sid(m);
    // A participant may not moderate.
    const req = (u: User) => u.iq(xml('iq', { type: 'set', to: r }, xml('moderate', { xmlns: NS.moderate, id }, xml('retract', { xmlns: NS.retract }), xml('reason', {}, 'spam'))));
    expect((await iqError(req(bob))).condition).toBe('forbidden');
    await req(alice);
    const notice = await bob.inbox.wait((s) => s.name === 'message' && s.attrs.from === r && s.getChild('retract', NS.retract));
    const retract = notice.getChild('retract', NS.retract);
    expect(retract.attrs.id).toBe(id);
    expect(retract.getChild('moderated', NS.moderate).attrs.by).toBe(`${r}/alice`);
    expect(retract.getChildText('reason')).toBe('spam');
    expect(notice.getChild('apply-to', 'urn:xmpp:fasten:0').attrs.id).toBe(id);
    const arch = await mamAll(carol, r);
    const tomb = arch.find((res) => res.attrs.id === id);
    const fwd = tomb.getChild('forwarded', NS.forward).getChild('message');
    expect(fwd.getChild('body')).toBeUndefined();
    const retracted = fwd.getChild('retracted', NS.retract);
    expect(retracted.getChild('moderated', NS.moderate).attrs.by).toBe(`${r}/alice`);
    expect(arch.some((res) => res.getChild('forwarded', NS.forward).getChild('message').getChild('retract', NS.retract))).toBe(true);
    const j = await join(carol, r, 'carol');
    expect(j.history.map((h) => h.getChildText('body'))).not.toContain('spam spam');
    const missing = await iqError(alice.iq(xml('iq', { type: 'set', to: r }, xml('moderate', { xmlns: NS.moderate, id: 'no-such-id' }, xml('retract', { xmlns: NS.retract })))));
    expect(missing.condition).toBe('item-not-found');
  });

  it("an occupant retracts its own message (XEP-0424), not someone else's", async () => {
    const r = room('retract');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    await groupchat(bob, r, 'oops typo');
    const id = sid(await alice.inbox.wait(isMsg('oops typo')));
    await groupchat(alice, r, "alice's words");
    const aliceId = sid(await bob.inbox.wait(isMsg("alice's words")));
    const retraction = (target: string) => [xml('retract', { xmlns: NS.retract, id: target }), xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: NS.retract }), xml('store', { xmlns: 'urn:xmpp:hints' })];
    await groupchat(bob, r, '/me retracted a message', retraction(aliceId));
    expect(errorCondition(await bob.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error'))).toBe('forbidden');
    await groupchat(bob, r, 'This person attempted to retract a previous message', retraction(id));
    const seen = await alice.inbox.wait((s) => s.name === 'message' && s.attrs.from?.startsWith(r) && s.getChild('retract', NS.retract));
    expect(seen.attrs.from).toBe(`${r}/bob`);
    expect(seen.getChild('retract', NS.retract).attrs.id).toBe(id);
    const arch = await mamAll(alice, r);
    const byId = new Map(arch.map((res) => [res.attrs.id, res.getChild('forwarded', NS.forward).getChild('message')]));
    expect(byId.get(id).getChild('body')).toBeUndefined();
    expect(byId.get(id).getChild('retracted', NS.retract)).toBeDefined();
    expect(byId.get(aliceId).getChildText('body')).toBe("alice's words");
    const j = await join(carol, r, 'carol');
    expect(j.history.map((h) => h.getChildText('body'))).toEqual(["alice's words"]);
  });
});

describe('push for hibernated occupants', () => {
  it('fires muc/push-candidate for an occupant whose sessions are all hibernated, with mention set when named', async () => {
    const r = room('push');
    await createRoom(alice, r, 'alice');
    await join(bob, r, 'bob');
    const host = srv.server.hosts.get(srv.host)!;
    const events: any[] = [];
    const off = host.hooks.on('muc/push-candidate', (e: any) => {
      events.push(e);
      return false;
    });
    try {
      await groupchat(alice, r, 'nobody sleeps');
      await bob.inbox.wait(isMsg('nobody sleeps'));
      expect(events).toEqual([]);
      const session = host.sessions.get('bob', bob.jid.split('/')[1]!)!;
      session.data.set('hibernated', true);
      await groupchat(alice, r, 'hey bob, look');
      await bob.inbox.wait(isMsg('hey bob, look'));
      await groupchat(alice, r, 'just chatting');
      await bob.inbox.wait(isMsg('just chatting'));
      expect(events.map((e) => [e.room, e.occupantJid, e.userBare, e.mention, e.stanza.getChildText('body')])).toEqual([
        [r, `${r}/bob`, bob.bare, true, 'hey bob, look'],
        [r, `${r}/bob`, bob.bare, false, 'just chatting'],
      ]);
      session.data.delete('hibernated');
    } finally {
      off();
    }
  });
});
