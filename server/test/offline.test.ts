// XEP-0160 (Best Practices for Handling Offline Messages) with XEP-0203 delay stamps: storage
// while offline, delivery after initial presence in order, the per-account cap.
// https://xmpp.org/extensions/xep-0160.html ; https://xmpp.org/extensions/xep-0203.html
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { clientsOf, errorCondition as errorOf, isBody as msg } from './helpers/im.js';

const DELAY = 'urn:xmpp:delay';
const CAP = 5; // more than the 4 messages the first test stores
type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;

const { connect, online } = clientsOf(() => srv, { waitMs: 4000, noneMs: 300 });

const J = (u: string) => `${u}@${domain}`;

beforeAll(async () => {
  srv = await startTestServer({ limits: { offlineMessages: CAP } });
  domain = srv.host;
  for (const u of ['alice', 'bob', 'carol', 'dave']) await srv.addUser(u, u + 'pw');
});

afterAll(async () => {
  await srv?.stop();
});

describe('offline messages', () => {
  it('are stored while bob is away and delivered after his initial presence, in order, stamped', async () => {
    const alice = await online('alice');
    const before = Date.now();
    for (const body of ['one', 'two', 'three']) {
      await alice.c.send(xml('message', { to: J('bob'), type: 'chat' }, xml('body', {}, body)));
    }
    // Chat states alone are not worth storing; a message to a gone resource is stored as if bare.
    await alice.c.send(xml('message', { to: J('bob'), type: 'chat' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await alice.c.send(xml('message', { to: `${J('bob')}/old`, type: 'normal' }, xml('body', {}, 'four')));
    await alice.inbox.none((s) => s.name === 'message' && s.attrs.type === 'error');

    // Bound is not enough: nothing until presence (XEP-0160 §3, RFC 6121 §8.5.2.1.1).
    const { c, inbox } = await connect('bob', 'bobpw');
    await inbox.none((s) => s.name === 'message', 300);
    await c.send(xml('presence'));
    const got = [];
    for (const body of ['one', 'two', 'three', 'four']) got.push(await inbox.wait(msg(body)));
    const order: string[] = [];
    for (const s of inbox.items) if (s.name === 'message') order.push(s.getChildText('body'));
    expect(order).toEqual([]); // nothing else (the chat state was not stored)
    for (const m of got) {
      expect(m.attrs.from).toBe(alice.jid);
      const delay = m.getChild('delay', DELAY);
      expect(delay.attrs.from).toBe(domain);
      const t = Date.parse(delay.attrs.stamp);
      expect(t).toBeGreaterThanOrEqual(before - 1000);
      expect(t).toBeLessThanOrEqual(Date.now() + 1000);
    }
    await c.stop();

    // Delivered messages are gone from storage.
    const again = await online('bob');
    await again.inbox.none((s) => s.name === 'message', 400);
    await Promise.all([again.c.stop(), alice.c.stop()]);
  });

  it('delivery order follows the order they were sent', async () => {
    const alice = await online('alice');
    const bodies = Array.from({ length: CAP }, (_, i) => `order-${i}`);
    for (const b of bodies) await alice.c.send(xml('message', { to: J('dave'), type: 'chat' }, xml('body', {}, b)));
    await new Promise((r) => setTimeout(r, 300));
    const { c, inbox } = await connect('dave', 'davepw');
    const seen: string[] = [];
    c.on('stanza', (s: any) => {
      if (s.name === 'message') seen.push(s.getChildText('body'));
    });
    await c.send(xml('presence'));
    await inbox.wait(msg(bodies[bodies.length - 1]!));
    expect(seen).toEqual(bodies);
    await Promise.all([c.stop(), alice.c.stop()]);
  });

  it('a full store answers the sender with an error and keeps the rest', async () => {
    const alice = await online('alice');
    for (let i = 0; i < CAP; i++) {
      await alice.c.send(xml('message', { to: J('carol'), type: 'chat' }, xml('body', {}, `cap-${i}`)));
    }
    await alice.inbox.none((s) => s.name === 'message' && s.attrs.type === 'error');
    await alice.c.send(xml('message', { to: J('carol'), type: 'chat', id: 'too-many' }, xml('body', {}, 'too many')));
    const err = await alice.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.id === 'too-many');
    expect(['resource-constraint', 'service-unavailable']).toContain(errorOf(err));

    const carol = await connect('carol', 'carolpw');
    await carol.c.send(xml('presence'));
    for (let i = 0; i < CAP; i++) await carol.inbox.wait(msg(`cap-${i}`));
    await carol.inbox.none(msg('too many'));
    await Promise.all([carol.c.stop(), alice.c.stop()]);
  });

  it('msgoffline is advertised in disco#info', async () => {
    const alice = await online('alice');
    const q = await alice.c.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), domain);
    expect(q.getChildren('feature').map((f: any) => f.attrs.var)).toContain('msgoffline');
    await alice.c.stop();
  });
});
