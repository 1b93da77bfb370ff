// XEP-0163 §4 notifications over real sockets: XEP-0115 caps learned from presence (the server
// asks disco#info once per verified ver, and a client whose answer does not match its ver does
// not poison the cache), +notify filtering (no avatar notifications without
// urn:xmpp:avatar:metadata+notify), the owner's own resources, contacts with a presence
// subscription in either direction, the last item on presence (with a delay stamp), negative
// priority, and going unavailable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { PUBSUB_EVENT, announce, befriend, capsVer, connect, follow, isEvent, publishIq, type Peer } from './helpers/pep.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;
const J = (u: string) => `${u}@${domain}`;
const META = 'urn:xmpp:avatar:metadata';
const meta = (id: string) => xml('metadata', { xmlns: META }, xml('info', { id, bytes: '10', type: 'image/png' }));
const eventItemIds = (s: any) => s.getChild('event', PUBSUB_EVENT).getChild('items').getChildren('item').map((i: any) => i.attrs.id);
const presenceFrom = (jid: string) => (s: any) => s.name === 'presence' && s.attrs.from === jid && !s.attrs.type;

let alice: Peer;
let bobPhone: Peer;
let bobDesk: Peer;

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await srv.addUser(u, u + 'pw');
  alice = await connect(srv, 'alice', 'laptop');
  bobPhone = await connect(srv, 'bob', 'phone');
  await befriend(alice, bobPhone);
});

afterAll(async () => {
  await srv?.stop();
});

describe('+notify filtering', () => {
  it('only resources whose caps ask for the node get notifications; the owner too; contacts get replyto', async () => {
    const aliceCaps = await announce(alice, [META + '+notify']);
    await alice.inbox.wait(presenceFrom(alice.jid));
    const phone = await announce(bobPhone, [META + '+notify', 'urn:xmpp:omemo:2']);
    bobDesk = await connect(srv, 'bob', 'desk');
    const desk = await announce(bobDesk, ['urn:xmpp:omemo:2', 'http://jabber.org/protocol/nick+notify']);
    await bobDesk.inbox.wait(presenceFrom(bobPhone.jid));
    // The server learned each ver by asking the client once.
    await vi_waitFor(() => aliceCaps.queries() === 1 && phone.queries() === 1 && desk.queries() === 1);
    await alice.c.iqCaller.set(publishIq(META, meta('aaa'), 'aaa'));
    const own = await alice.inbox.wait(isEvent(META, J('alice')));
    expect(eventItemIds(own)).toEqual(['aaa']);
    const ev = await bobPhone.inbox.wait(isEvent(META, J('alice')));
    expect(eventItemIds(ev)).toEqual(['aaa']);
    expect(ev.attrs.type).toBe('headline');
    expect(ev.attrs.to).toBe(bobPhone.jid);
    expect(ev.getChild('addresses')?.getChild('address')?.attrs).toMatchObject({ type: 'replyto', jid: alice.jid });
    await bobDesk.inbox.none(isEvent(META));
  });

  it('a second client with the same caps is not asked again (cache by ver)', async () => {
    const other = await connect(srv, 'bob', 'tablet');
    const c = await announce(other, [META + '+notify', 'urn:xmpp:omemo:2']);
    // Same features as bob/phone: the same ver, already verified.
    await other.inbox.wait(isEvent(META, J('alice')));
    expect(c.queries()).toBe(0);
    await other.c.stop();
  });

  it('a client whose disco#info does not match its ver is believed for itself only', async () => {
    // erin claims the ver of a feature set with +notify but answers without it.
    await connect(srv, 'erin').then(async (erin) => {
      await befriend(alice, erin);
      const honest = [META + '+notify', 'urn:test:honest'];
      const ver = capsVer([{ category: 'client', type: 'phone', name: 'Roost test' }], ['http://jabber.org/protocol/disco#info', ...honest]);
      const liar = await announce(erin, ['urn:test:honest'], { ver });
      await vi_waitFor(() => liar.queries() === 1);
      // Nothing for erin: what she answered has no +notify.
      await alice.c.iqCaller.set(publishIq(META, meta('bbb'), 'bbb'));
      await bobPhone.inbox.wait(isEvent(META));
      await erin.inbox.none(isEvent(META));
      // An honest client announcing that ver must be asked itself: the lie was not cached.
      const erin2 = await connect(srv, 'erin', 'second');
      const good = await announce(erin2, honest);
      expect(good.ver).toBe(ver);
      const last = await erin2.inbox.wait(isEvent(META, J('alice')));
      expect(eventItemIds(last)).toEqual(['bbb']);
      expect(good.queries()).toBe(1);
    });
  });
});

describe('last published item on presence', () => {
  it('a contact coming online later gets the last item, stamped with when it was published', async () => {
    const late = await connect(srv, 'bob', 'late');
    await announce(late, [META + '+notify']);
    const ev = await late.inbox.wait(isEvent(META, J('alice')));
    expect(eventItemIds(ev)).toEqual(['bbb']);
    expect(ev.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Another presence update with the same caps is not a new availability: nothing resent.
    late.inbox.clear();
    await late.c.send(xml('presence', {}, xml('show', {}, 'away'), xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: 'https://roost.test/caps', ver: capsVer([{ category: 'client', type: 'phone', name: 'Roost test' }], ['http://jabber.org/protocol/disco#info', META + '+notify']) })));
    await late.inbox.none(isEvent(META));
    await late.c.stop();
  });

  it('a one-way follower (carol sees alice, alice does not see carol) gets items too', async () => {
    const carol = await connect(srv, 'carol');
    await follow(carol, alice);
    await announce(carol, [META + '+notify']);
    const ev = await carol.inbox.wait(isEvent(META, J('alice')));
    expect(eventItemIds(ev)).toEqual(['bbb']);
    await alice.c.iqCaller.set(publishIq(META, meta('ccc'), 'ccc'));
    expect(eventItemIds(await carol.inbox.wait(isEvent(META, J('alice'))))).toEqual(['ccc']);
    await carol.c.stop();
  });

  it('a stranger sending directed presence gets nothing from a presence-access node', async () => {
    const dave = await connect(srv, 'dave');
    await announce(dave, [META + '+notify'], { to: J('alice') });
    await dave.inbox.none(isEvent(META), 600);
    await dave.c.stop();
  });

  it('negative priority: no last item and no notifications', async () => {
    const low = await connect(srv, 'bob', 'low');
    await announce(low, [META + '+notify'], { priority: -1 });
    await alice.c.iqCaller.set(publishIq(META, meta('ddd'), 'ddd'));
    await bobPhone.inbox.wait((s) => isEvent(META)(s) && eventItemIds(s)[0] === 'ddd');
    await low.inbox.none(isEvent(META));
    await low.c.stop();
  });

  it('after unavailable, nothing more is sent to that resource', async () => {
    await bobDesk.c.send(xml('presence', { type: 'unavailable' }));
    await announce(bobPhone, [META + '+notify', 'urn:xmpp:omemo:2']);
    await bobPhone.c.send(xml('presence', { type: 'unavailable' }));
    await new Promise((r) => setTimeout(r, 100));
    bobPhone.inbox.clear();
    await alice.c.iqCaller.set(publishIq(META, meta('eee'), 'eee'));
    await alice.inbox.wait((s) => isEvent(META)(s) && eventItemIds(s)[0] === 'eee');
    await bobPhone.inbox.none(isEvent(META));
  });
});

describe('blocking (XEP-0163 §4.3.3 rule 3)', () => {
  it('nothing goes to a contact the owner blocked; unblocking restores notifications', async () => {
    const blk = await connect(srv, 'bob', 'blk');
    await announce(blk, [META + '+notify']);
    await blk.inbox.wait(isEvent(META, J('alice')));
    await alice.c.iqCaller.set(xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: J('bob') })));
    await alice.c.iqCaller.set(publishIq(META, meta('fff'), 'fff'));
    await alice.inbox.wait((s) => isEvent(META)(s) && eventItemIds(s)[0] === 'fff');
    await blk.inbox.none(isEvent(META));
    await alice.c.iqCaller.set(xml('unblock', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: J('bob') })));
    await alice.c.iqCaller.set(publishIq(META, meta('ggg'), 'ggg'));
    expect(eventItemIds(await blk.inbox.wait((s) => isEvent(META)(s) && eventItemIds(s)[0] === 'ggg'))).toEqual(['ggg']);
    await blk.c.stop();
  });
});

async function vi_waitFor(cond: () => boolean, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
