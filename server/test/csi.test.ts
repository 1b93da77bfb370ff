// XEP-0352 Client State Indication against the real server: while a client is inactive its
// presence updates (newest per sender) and chat-state-only messages (newest per conversation)
// are held, PEP notifications wait in order, anything important goes out at once with what was
// held flushed before it, <active/> flushes all; held stanzas are not counted by stream
// management until written; the hold is capped. One scenario through @xmpp/client (issue
// scenario 6). https://xmpp.org/extensions/xep-0352.html (version 1.0.0)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { Element } from '../src/xml/element.js';
import { holdKey } from '../src/core/csi.js';
import { loggedIn, type RawStream } from './helpers/raw.js';
import { NS_CSI, NS_SM, StanzaCounter, tick } from './helpers/raw-mobile.js';
import { startTestServer } from './helpers/server.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
const HELD_CAP = 8;

beforeAll(async () => {
  srv = await startTestServer({ streamManagement: { inactiveHeld: HELD_CAP } });
  for (const u of ['alice', 'bob', 'carol', 'dave']) await srv.addUser(u, `${u}-pw`);
});

afterAll(async () => {
  await srv?.stop();
});

const login = (u: string, r?: string) => loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, u, `${u}-pw`, r);
const show = (to: string, v: string) => `<presence to='${to}'><show>${v}</show></presence>`;
const state = (to: string, s: string) => `<message type='chat' to='${to}'><${s} xmlns='http://jabber.org/protocol/chatstates'/></message>`;
const describeEl = (e: any): string => {
  if (e.name === 'presence') return `presence:${e.getChildText('show') ?? e.attrs.type ?? 'available'}`;
  if (e.name === 'message') return e.getChildText('body') !== undefined && e.getChildText('body') !== null ? `body:${e.getChildText('body')}` : `state:${e.children.find((c: any) => typeof c !== 'string')?.name}`;
  return e.name;
};

async function inactive(s: RawStream): Promise<void> {
  s.write(`<inactive xmlns='${NS_CSI}'/>`);
  // Make sure the server processed it: a ping round trip after it.
  const r = await s.iq('get', `<ping xmlns='urn:xmpp:ping'/>`);
  expect(r.attrs.type).toBe('result');
}

describe('what is held and what is not', () => {
  it('classifies: presence updates and chat states are held (superseded by newer), PEP events wait, everything else goes', () => {
    const el = (s: string) => {
      // A tiny builder for the cases below (the server's own parser is tested elsewhere).
      const m = /^<(\w+)([^>]*)>(.*)<\/\1>$|^<(\w+)([^>]*)\/>$/.exec(s)!;
      const name = m[1] ?? m[4]!;
      const attrs = Object.fromEntries([...(m[2] ?? m[5] ?? '').matchAll(/(\w+)='([^']*)'/g)].map((x) => [x[1], x[2]]));
      return new Element(name, attrs);
    };
    const p1 = el(`<presence from='b@x/1'/>`);
    const p2 = el(`<presence from='b@x/1' type='unavailable'/>`);
    expect(holdKey(p1)).toBe(holdKey(p2));
    expect(holdKey(el(`<presence from='b@x/2'/>`))).not.toBe(holdKey(p1));
    expect(holdKey(el(`<presence from='b@x' type='subscribe'/>`))).toBeUndefined();
    expect(holdKey(el(`<presence from='b@x' type='error'/>`))).toBeUndefined();
    const composing = new Element('message', { from: 'b@x/1', type: 'chat' }, [new Element('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })]);
    const paused = new Element('message', { from: 'b@x/1', type: 'chat' }, [new Element('paused', { xmlns: 'http://jabber.org/protocol/chatstates' }), new Element('thread', {}, ['t'])]);
    expect(holdKey(composing)).toBe(holdKey(paused));
    const withBody = new Element('message', { from: 'b@x/1', type: 'chat' }, [new Element('active', { xmlns: 'http://jabber.org/protocol/chatstates' }), new Element('body', {}, ['hi'])]);
    expect(holdKey(withBody)).toBeUndefined();
    const receipt = new Element('message', { from: 'b@x/1' }, [new Element('received', { xmlns: 'urn:xmpp:receipts', id: 'x' })]);
    expect(holdKey(receipt)).toBeUndefined();
    const omemo = new Element('message', { from: 'b@x/1', type: 'chat' }, [new Element('encrypted', { xmlns: 'eu.siacs.conversations.axolotl' })]);
    expect(holdKey(omemo)).toBeUndefined();
    const subject = new Element('message', { from: 'r@c/n', type: 'groupchat' }, [new Element('subject', {}, ['topic'])]);
    expect(holdKey(subject)).toBeUndefined();
    const pep = new Element('message', { from: 'b@x', type: 'headline' }, [new Element('event', { xmlns: 'http://jabber.org/protocol/pubsub#event' })]);
    const k1 = holdKey(pep);
    expect(k1).toBeDefined();
    expect(holdKey(pep)).not.toBe(k1);
    expect(holdKey(new Element('iq', { type: 'get' }))).toBeUndefined();
    // A carbon copy is judged by what it carries.
    const carbon = new Element('message', { from: 'a@x', type: 'chat' }, [
      new Element('received', { xmlns: 'urn:xmpp:carbons:2' }, [new Element('forwarded', { xmlns: 'urn:xmpp:forward:0' }, [composing.clone()])]),
    ]);
    expect(holdKey(carbon)).toBeDefined();
  });

  it('the stream feature is offered after authentication', async () => {
    const a = await login('alice', 'feat');
    expect(a.s.features.getChild('csi', NS_CSI)).toBeDefined();
    a.s.destroy();
  });
});

describe('an inactive client', () => {
  it('gets only the newest presence and chat state per sender, flushed in order just before a real message', async () => {
    const a = await login('alice', 'phone');
    const b = await login('bob', 'desk');
    const c = await login('carol', 'desk');
    await inactive(a.s);
    const counter = new StanzaCounter(a.s.socket);
    b.s.write(show(a.jid, 'away'));
    c.s.write(show(a.jid, 'xa'));
    b.s.write(state(a.jid, 'composing'));
    b.s.write(show(a.jid, 'dnd'));
    b.s.write(state(a.jid, 'paused'));
    await tick(400);
    expect(counter.n).toBe(0);
    b.s.write(`<message type='chat' to='${a.jid}'><body>hello</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await tick(400);
    // Held in the order of their latest update, then the message itself.
    expect(counter.stanzas.map(describeEl)).toEqual(['presence:xa', 'presence:dnd', 'state:paused', 'body:hello']);
    a.s.destroy();
    b.s.destroy();
    c.s.destroy();
  });

  it('<active/> flushes what was held; important stanzas (a receipt) never wait', async () => {
    const a = await login('alice', 'tablet');
    const b = await login('bob', 'laptop');
    await inactive(a.s);
    const counter = new StanzaCounter(a.s.socket);
    b.s.write(show(a.jid, 'away'));
    b.s.write(`<message to='${a.jid}'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`);
    await tick(300);
    expect(counter.stanzas.map(describeEl)).toEqual(['presence:away', 'state:received']);
    b.s.write(show(a.jid, 'chat'));
    b.s.write(`<message type='headline' to='${a.jid}'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:avatar:metadata'/></event></message>`);
    await tick(300);
    expect(counter.n).toBe(2);
    a.s.write(`<active xmlns='${NS_CSI}'/>`);
    await tick(300);
    expect(counter.stanzas.slice(2).map(describeEl)).toEqual(['presence:chat', 'state:event']);
    a.s.destroy();
    b.s.destroy();
  });

  it('holds at most streamManagement.inactiveHeld stanzas, then delivers them', async () => {
    const a = await login('alice', 'cap');
    await inactive(a.s);
    const counter = new StanzaCounter(a.s.socket);
    const senders = await Promise.all(Array.from({ length: HELD_CAP + 1 }, (_, i) => login('dave', `d${i}`)));
    for (const d of senders) d.s.write(show(a.jid, 'away'));
    await tick(500);
    expect(counter.n).toBe(HELD_CAP + 1);
    a.s.destroy();
    for (const d of senders) d.s.destroy();
  });

  it('held stanzas are not counted by stream management until they are written', async () => {
    const a = await login('alice', 'counted');
    const counter = new StanzaCounter(a.s.socket);
    a.s.write(`<enable xmlns='${NS_SM}'/>`);
    await a.s.next((el) => el.name === 'enabled');
    await inactive(a.s);
    const b = await login('bob', 'sm');
    b.s.write(show(a.jid, 'away'));
    b.s.write(show(a.jid, 'dnd'));
    await tick(300);
    const live = srv.server.hosts.get(srv.host)!.sessions.get('alice', 'counted') as any;
    expect(live.sm.sent).toBe(1); // the ping result only
    a.s.write(`<active xmlns='${NS_CSI}'/>`);
    await tick(300);
    expect(live.sm.sent).toBe(2);
    expect(counter.stanzas.map(describeEl)).toEqual(['iq', 'presence:dnd']);
    a.s.write(`<a xmlns='${NS_SM}' h='2'/>`);
    await tick(100);
    expect(live.sm.unacked).toBe(0);
    a.s.destroy();
    b.s.destroy();
  });
});

describe('with a real client library', () => {
  it('scenario 6: an inactive phone gets no presence churn, but a chat message at once (with the newest presence before it)', async () => {
    const phone = await srv.client('alice', 'alice-pw', 'phone');
    const got: any[] = [];
    phone.on('stanza', (s: any) => got.push(s));
    await phone.send(xml('inactive', { xmlns: NS_CSI }));
    await phone.iqCaller.request(xml('iq', { type: 'get', to: srv.host }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    got.length = 0;
    const bob = await srv.client('bob', 'bob-pw', 'pc');
    const to = phone.jid.toString();
    for (const v of ['away', 'xa', 'dnd', 'away', 'chat']) await bob.send(xml('presence', { to }, xml('show', {}, v)));
    await tick(500);
    expect(got.filter((s) => s.is('presence'))).toHaveLength(0);
    const sentAt = Date.now();
    await bob.send(xml('message', { to, type: 'chat', id: 'now' }, xml('body', {}, 'call me')));
    const deadline = Date.now() + 3000;
    while (!got.some((s) => s.is('message')) && Date.now() < deadline) await tick(10);
    const msg = got.find((s) => s.is('message'));
    expect(msg?.getChildText('body')).toBe('call me');
    expect(Date.now() - sentAt).toBeLessThan(2000);
    const presences = got.filter((s) => s.is('presence'));
    expect(presences.map((p) => p.getChildText('show'))).toEqual(['chat']);
    expect(got.indexOf(presences[0])).toBeLessThan(got.indexOf(msg));
    await phone.stop();
    await bob.stop();
  });
});
