// XEP-0280 Message Carbons (with XEP-0334 no-copy) over real sockets: enabling, received and
// sent copies, which messages are copied (§6 recommended rules), <private/>, errors answering a
// copied message, and the archive's stanza-id inside the copies.
// https://xmpp.org/extensions/xep-0280.html
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import {
  befriend,
  CARBONS,
  chat,
  DISCO_INFO,
  enableCarbons,
  errorOf,
  forwardedOf,
  HINTS,
  isBody,
  isCarbon,
  online,
  stanzaId,
  type Peer,
} from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let alice1: Peer, alice2: Peer, alice3: Peer, bob: Peer;

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of ['alice', 'bob']) await srv.addUser(u, u + 'pw');
  alice1 = await online(srv, 'alice', 'phone', { priority: 5 });
  alice2 = await online(srv, 'alice', 'laptop', { priority: 1 });
  // A carbons-enabled resource that never sent presence (still gets copies, §7).
  alice3 = await online(srv, 'alice', 'tablet', { presence: false });
  bob = await online(srv, 'bob', 'desk');
  await befriend(alice1, bob);
  for (const p of [alice1, alice2, alice3]) await enableCarbons(p);
  for (const p of [alice1, alice2, alice3, bob]) p.inbox.clear();
}, 60_000);

afterAll(async () => {
  await srv?.stop();
});

describe('carbons', () => {
  it('is advertised with the recommended-rules feature; enable/disable are idempotent', async () => {
    const info = await alice1.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), srv.host);
    const features = info.getChildren('feature').map((f: any) => f.attrs.var);
    expect(features).toContain(CARBONS);
    expect(features).toContain('urn:xmpp:carbons:rules:0');
    await enableCarbons(alice1);
    await alice1.c.iqCaller.set(xml('disable', { xmlns: CARBONS }));
    await alice1.c.iqCaller.set(xml('disable', { xmlns: CARBONS }));
    await enableCarbons(alice1);
    expect(await errorOf(alice1.c.iqCaller.set(xml('toggle', { xmlns: CARBONS })))).toBe('bad-request');
  });

  it('received: a message to the bare JID goes to the top resource, the others get <received/> with the stanza-id', async () => {
    await bob.c.send(chat(alice1.bare, 'hi alice'));
    const direct = await alice1.inbox.wait(isBody('hi alice'));
    const c2 = await alice2.inbox.wait(isCarbon('received', 'hi alice'));
    const c3 = await alice3.inbox.wait(isCarbon('received', 'hi alice'));
    for (const c of [c2, c3]) {
      expect(c.attrs.from).toBe(alice1.bare);
      expect(c.attrs.type).toBe('chat');
      expect(forwardedOf(c, 'received').attrs.from).toBe(bob.jid);
      expect(forwardedOf(c, 'received').attrs.xmlns).toBe('jabber:client');
    }
    expect(c2.attrs.to).toBe(alice2.jid);
    const id = stanzaId(direct, alice1.bare);
    expect(id).toBeTruthy();
    expect(stanzaId(forwardedOf(c2, 'received'), alice1.bare)).toBe(id);
    await alice1.inbox.none(isCarbon('received'));
  });

  it('received: a message to a full JID goes there; every other enabled resource gets a copy', async () => {
    await bob.c.send(chat(alice2.jid, 'to the laptop'));
    await alice2.inbox.wait(isBody('to the laptop'));
    await alice1.inbox.wait(isCarbon('received', 'to the laptop'));
    await alice3.inbox.wait(isCarbon('received', 'to the laptop'));
    await alice2.inbox.none(isCarbon('received', 'to the laptop'));
  });

  it('sent: the other enabled resources get <sent/> with the sender archive stanza-id; bob gets no stanza-id of alice', async () => {
    await alice2.c.send(chat(bob.bare, 'sent from laptop'));
    const atBob = await bob.inbox.wait(isBody('sent from laptop'));
    expect(stanzaId(atBob, alice1.bare)).toBeUndefined();
    expect(stanzaId(atBob, bob.bare)).toBeTruthy();
    const s1 = await alice1.inbox.wait(isCarbon('sent', 'sent from laptop'));
    await alice3.inbox.wait(isCarbon('sent', 'sent from laptop'));
    expect(s1.attrs.from).toBe(alice1.bare);
    const inner = forwardedOf(s1, 'sent');
    expect(inner.attrs.from).toBe(alice2.jid);
    expect(inner.attrs.to).toBe(bob.bare);
    expect(stanzaId(inner, alice1.bare)).toBeTruthy();
    await alice2.inbox.none(isCarbon('sent'));
  });

  it('a resource with carbons disabled gets no copies (but still its own messages)', async () => {
    await alice3.c.iqCaller.set(xml('disable', { xmlns: CARBONS }));
    await bob.c.send(chat(alice1.bare, 'not for the tablet'));
    await alice2.inbox.wait(isCarbon('received', 'not for the tablet'));
    await alice3.inbox.none(isCarbon('received', 'not for the tablet'));
    await enableCarbons(alice3);
  });

  it('which messages: chat states (chat) yes; normal with body yes; normal without body no; headline and groupchat no', async () => {
    await bob.c.send(xml('message', { to: alice1.bare, type: 'chat', id: 'cs1' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await alice2.inbox.wait((s) => isCarbon('received')(s) && forwardedOf(s, 'received').attrs.id === 'cs1');
    await bob.c.send(xml('message', { to: alice1.bare, id: 'n1' }, xml('body', {}, 'normal with body')));
    await alice2.inbox.wait(isCarbon('received', 'normal with body'));
    await bob.c.send(xml('message', { to: alice1.bare, id: 'n2' }, xml('x', { xmlns: 'urn:example:nothing' })));
    // A receipt is IM payload even in a normal message.
    await bob.c.send(xml('message', { to: alice1.bare, id: 'n3' }, xml('received', { xmlns: 'urn:xmpp:receipts', id: 'x' })));
    await alice2.inbox.wait((s) => isCarbon('received')(s) && forwardedOf(s, 'received').attrs.id === 'n3');
    await bob.c.send(xml('message', { to: alice1.bare, type: 'headline', id: 'h1' }, xml('body', {}, 'headline')));
    await alice1.inbox.wait(isBody('headline'));
    await alice2.inbox.wait(isBody('headline')); // delivered to both non-negative resources directly
    await alice2.inbox.none((s) => isCarbon('received')(s) && ['n2', 'h1'].includes(forwardedOf(s, 'received').attrs.id));
    await alice3.inbox.none((s) => isCarbon('received')(s) && ['n2', 'h1'].includes(forwardedOf(s, 'received').attrs.id));
  });

  it('<private/> and <no-copy/> are not copied either way; <private/> is removed before delivery', async () => {
    await alice1.c.send(chat(bob.bare, 'private out', [xml('private', { xmlns: CARBONS })]));
    const atBob = await bob.inbox.wait(isBody('private out'));
    expect(atBob.getChild('private', CARBONS)).toBeUndefined();
    await alice1.c.send(chat(bob.bare, 'nocopy out', [xml('no-copy', { xmlns: HINTS })]));
    await bob.inbox.wait(isBody('nocopy out'));
    await bob.c.send(chat(alice1.bare, 'private in', [xml('private', { xmlns: CARBONS })]));
    const atAlice = await alice1.inbox.wait(isBody('private in'));
    expect(atAlice.getChild('private', CARBONS)).toBeUndefined();
    await bob.c.send(chat(alice1.bare, 'nocopy in', [xml('no-copy', { xmlns: HINTS })]));
    await alice1.inbox.wait(isBody('nocopy in'));
    const none = (s: any) => ['private out', 'nocopy out', 'private in', 'nocopy in'].some((b) => isCarbon('sent', b)(s) || isCarbon('received', b)(s));
    await alice2.inbox.none(none);
    await alice3.inbox.none(none);
  });

  it('messages from a group chat (muc#user <x/>) are not copied; a forged carbon wrapper is not copied', async () => {
    await bob.c.send(chat(alice1.bare, 'pm from a room', [xml('x', { xmlns: 'http://jabber.org/protocol/muc#user' })]));
    await alice1.inbox.wait(isBody('pm from a room'));
    await bob.c.send(
      xml('message', { to: alice1.bare, type: 'chat', id: 'forged' }, xml('sent', { xmlns: CARBONS }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('message', { xmlns: 'jabber:client', from: alice1.bare }, xml('body', {}, 'fake'))))),
    );
    await alice1.inbox.wait((s) => s.attrs.id === 'forged');
    await alice2.inbox.none((s) => isCarbon('received', 'pm from a room')(s) || (isCarbon('received')(s) && forwardedOf(s, 'received').attrs.id === 'forged'));
  });

  it('an error answering a copied message is copied; an unrelated error is not', async () => {
    await alice1.c.send(chat(bob.bare, 'please bounce', [], { id: 'will-bounce' }));
    await bob.inbox.wait(isBody('please bounce'));
    await alice2.inbox.wait(isCarbon('sent', 'please bounce'));
    const err = (id: string) =>
      xml('message', { to: alice1.jid, type: 'error', id }, xml('error', { type: 'cancel' }, xml('service-unavailable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' })));
    await bob.c.send(err('will-bounce'));
    await alice1.inbox.wait((s) => s.attrs.type === 'error' && s.attrs.id === 'will-bounce');
    await alice2.inbox.wait((s) => isCarbon('received')(s) && forwardedOf(s, 'received').attrs.id === 'will-bounce');
    await bob.c.send(err('never-sent'));
    await alice1.inbox.wait((s) => s.attrs.type === 'error' && s.attrs.id === 'never-sent');
    await alice2.inbox.none((s) => isCarbon('received')(s) && forwardedOf(s, 'received').attrs.id === 'never-sent');
  });
});
