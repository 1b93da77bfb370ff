// RFC 6121 §3 (Managing Presence Subscriptions) and §3.4 (pre-approval), through real clients:
// roster pushes and the stanzas each side sees.
// https://www.rfc-editor.org/rfc/rfc6121#section-3
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { clientsOf, isPush, pres, ROSTER, rosterItem } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;

const { connect, online } = clientsOf(() => srv, { waitMs: 4000, noneMs: 300 });

async function rosterOf(c: any): Promise<Record<string, any>> {
  const q = await c.iqCaller.get(xml('query', { xmlns: ROSTER }));
  const out: Record<string, any> = {};
  for (const i of q.getChildren('item')) out[i.attrs.jid] = i.attrs;
  return out;
}

const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'ken'];
const J = (u: string) => `${u}@${domain}`;

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  for (const u of users) await srv.addUser(u, u + 'pw');
});

afterAll(async () => {
  await srv?.stop();
});

describe('subscription handshake (RFC 6121 §3.1)', () => {
  it('alice and bob end in Both, with pushes and presence at each step', async () => {
    const alice = await online('alice');
    const bob = await online('bob');

    // 1. alice asks.
    await alice.c.send(xml('presence', { to: J('bob'), type: 'subscribe' }));
    let item = rosterItem(await alice.inbox.wait(isPush(J('bob'))));
    expect(item.attrs).toMatchObject({ subscription: 'none', ask: 'subscribe' });
    const req = await bob.inbox.wait(pres('subscribe'));
    expect(req.attrs.from).toBe(J('alice')); // bare JID (§3.1.2)
    // The request is not a roster item of bob's (yet).
    expect(await rosterOf(bob.c)).toEqual({});

    // 2. bob approves: bob has From, alice To; alice sees bob's presence.
    await bob.c.send(xml('presence', { to: J('alice'), type: 'subscribed' }));
    item = rosterItem(await bob.inbox.wait(isPush(J('alice'))));
    expect(item.attrs.subscription).toBe('from');
    item = rosterItem(await alice.inbox.wait(isPush(J('bob'))));
    expect(item.attrs.subscription).toBe('to');
    expect(item.attrs.ask).toBeUndefined();
    await alice.inbox.wait(pres('subscribed', J('bob')));
    await alice.inbox.wait(pres(undefined, bob.jid));

    // 3. and the other way round.
    await bob.c.send(xml('presence', { to: J('alice'), type: 'subscribe' }));
    item = rosterItem(await bob.inbox.wait(isPush(J('alice'))));
    expect(item.attrs).toMatchObject({ subscription: 'from', ask: 'subscribe' });
    await alice.inbox.wait(pres('subscribe', J('bob')));
    await alice.c.send(xml('presence', { to: J('bob'), type: 'subscribed' }));
    expect(rosterItem(await alice.inbox.wait(isPush(J('bob')))).attrs.subscription).toBe('both');
    expect(rosterItem(await bob.inbox.wait(isPush(J('alice')))).attrs.subscription).toBe('both');
    await bob.inbox.wait(pres('subscribed', J('alice')));
    await bob.inbox.wait(pres(undefined, alice.jid));

    expect((await rosterOf(alice.c))[J('bob')].subscription).toBe('both');
    expect((await rosterOf(bob.c))[J('alice')].subscription).toBe('both');

    // A repeated request from a subscribed contact is answered by alice's server, not shown to
    // her (§3.1.3); bob's server then ignores that 'subscribed', as bob is already subscribed
    // (§3.1.6, Appendix A.3.3: no delivery, no state change).
    bob.inbox.clear();
    await bob.c.send(xml('presence', { to: J('alice'), type: 'subscribe' }));
    await alice.inbox.none(pres('subscribe'));
    await bob.inbox.none(pres('subscribed'));
    expect((await rosterOf(bob.c))[J('alice')].subscription).toBe('both');

    // 4. alice unsubscribes from bob (§3.3): alice From, bob To; alice hears bob go unavailable.
    alice.inbox.clear();
    bob.inbox.clear();
    await alice.c.send(xml('presence', { to: J('bob'), type: 'unsubscribe' }));
    expect(rosterItem(await alice.inbox.wait(isPush(J('bob')))).attrs.subscription).toBe('from');
    expect(rosterItem(await bob.inbox.wait(isPush(J('alice')))).attrs.subscription).toBe('to');
    await bob.inbox.wait(pres('unsubscribe', J('alice')));
    await alice.inbox.wait(pres('unavailable', bob.jid));

    // 5. alice cancels bob's subscription (§3.2): both None; bob hears alice go unavailable.
    await alice.c.send(xml('presence', { to: J('bob'), type: 'unsubscribed' }));
    expect(rosterItem(await alice.inbox.wait(isPush(J('bob')))).attrs.subscription).toBe('none');
    expect(rosterItem(await bob.inbox.wait(isPush(J('alice')))).attrs.subscription).toBe('none');
    await bob.inbox.wait(pres('unsubscribed', J('alice')));
    await bob.inbox.wait(pres('unavailable', alice.jid));
    await Promise.all([alice.c.stop(), bob.c.stop()]);
  });

  it('a denied request leaves None without ask', async () => {
    const ivan = await online('ivan');
    const judy = await online('judy');
    await ivan.c.send(xml('presence', { to: J('judy'), type: 'subscribe' }));
    await ivan.inbox.wait(isPush(J('judy')));
    await judy.inbox.wait(pres('subscribe', J('ivan')));
    await judy.c.send(xml('presence', { to: J('ivan'), type: 'unsubscribed' }));
    const item = rosterItem(await ivan.inbox.wait(isPush(J('judy'))));
    expect(item.attrs.subscription).toBe('none');
    expect(item.attrs.ask).toBeUndefined();
    await ivan.inbox.wait(pres('unsubscribed', J('judy')));
    // The request was never in judy's roster, so nothing is pushed there.
    await judy.inbox.none(isPush());
    expect(await rosterOf(judy.c)).toEqual({});
    await Promise.all([ivan.c.stop(), judy.c.stop()]);
  });

  it('a request to an account that does not exist is answered unsubscribed', async () => {
    const ken = await online('ken');
    await ken.c.send(xml('presence', { to: J('nobody'), type: 'subscribe' }));
    expect(rosterItem(await ken.inbox.wait(isPush(J('nobody')))).attrs.ask).toBe('subscribe');
    await ken.inbox.wait(pres('unsubscribed', J('nobody')));
    const item = rosterItem(await ken.inbox.wait(isPush(J('nobody'))));
    expect(item.attrs.subscription).toBe('none');
    expect(item.attrs.ask).toBeUndefined();
    await ken.c.stop();
  });
});

describe('pre-approval (RFC 6121 §3.4)', () => {
  it('carol pre-approves dave; his later request is accepted without asking her', async () => {
    const carol = await online('carol');
    await carol.c.send(xml('presence', { to: J('dave'), type: 'subscribed' }));
    const item = rosterItem(await carol.inbox.wait(isPush(J('dave'))));
    expect(item.attrs).toMatchObject({ subscription: 'none', approved: 'true' });

    const dave = await online('dave');
    await dave.c.send(xml('presence', { to: J('carol'), type: 'subscribe' }));
    await dave.inbox.wait(pres('subscribed', J('carol')));
    await dave.inbox.wait(pres(undefined, carol.jid));
    expect((await rosterOf(dave.c))[J('carol')].subscription).toBe('to');
    const after = rosterItem(await carol.inbox.wait(isPush(J('dave'))));
    expect(after.attrs.subscription).toBe('from');
    expect(after.attrs.approved).toBeUndefined();
    await carol.inbox.none(pres('subscribe'));
    await Promise.all([carol.c.stop(), dave.c.stop()]);
  });
});

describe('requests while offline (RFC 6121 §3.1.3)', () => {
  it('frank gets erin\'s request when he next comes online, and again until he answers', async () => {
    const erin = await online('erin');
    await erin.c.send(xml('presence', { to: J('frank'), type: 'subscribe' }));
    await erin.inbox.wait(isPush(J('frank')));
    await new Promise((r) => setTimeout(r, 200));

    // Bound but not yet available: nothing yet.
    const f1 = await connect('frank', 'frankpw');
    await f1.inbox.none(pres('subscribe'), 200);
    await f1.c.send(xml('presence'));
    const req = await f1.inbox.wait(pres('subscribe', J('erin')));
    expect(req.attrs.to).toBe(J('frank'));
    await f1.c.stop();

    const f2 = await online('frank');
    await f2.inbox.wait(pres('subscribe', J('erin')));
    await f2.c.send(xml('presence', { to: J('erin'), type: 'subscribed' }));
    expect(rosterItem(await erin.inbox.wait(isPush(J('frank')))).attrs.subscription).toBe('to');
    expect(rosterItem(await f2.inbox.wait(isPush(J('erin')))).attrs.subscription).toBe('from');
    await f2.c.stop();

    const f3 = await online('frank');
    await f3.inbox.none(pres('subscribe'));
    await Promise.all([f3.c.stop(), erin.c.stop()]);
  });
});

describe('roster removal cancels both subscriptions (RFC 6121 §2.5.2)', () => {
  it('grace removes heidi: heidi gets unsubscribe and unsubscribed, ends in None', async () => {
    const grace = await online('grace');
    const heidi = await online('heidi');
    // Both, by pre-approving each other first.
    await grace.c.send(xml('presence', { to: J('heidi'), type: 'subscribed' }));
    await heidi.c.send(xml('presence', { to: J('grace'), type: 'subscribed' }));
    await grace.inbox.wait(isPush(J('heidi')));
    await heidi.inbox.wait(isPush(J('grace')));
    await grace.c.send(xml('presence', { to: J('heidi'), type: 'subscribe' }));
    await heidi.c.send(xml('presence', { to: J('grace'), type: 'subscribe' }));
    await grace.inbox.wait((s) => isPush(J('heidi'))(s) && rosterItem(s).attrs.subscription === 'both');
    await heidi.inbox.wait((s) => isPush(J('grace'))(s) && rosterItem(s).attrs.subscription === 'both');
    heidi.inbox.clear();

    await grace.c.iqCaller.set(xml('query', { xmlns: ROSTER }, xml('item', { jid: J('heidi'), subscription: 'remove' })));
    expect(rosterItem(await grace.inbox.wait((s) => isPush(J('heidi'))(s) && rosterItem(s).attrs.subscription === 'remove'))).toBeTruthy();
    await heidi.inbox.wait(pres('unsubscribe', J('grace')));
    await heidi.inbox.wait(pres('unsubscribed', J('grace')));
    await heidi.inbox.wait(pres('unavailable', grace.jid));
    await heidi.inbox.wait((s) => isPush(J('grace'))(s) && rosterItem(s).attrs.subscription === 'none');
    expect((await rosterOf(heidi.c))[J('grace')].subscription).toBe('none');
    expect(await rosterOf(grace.c)).toEqual({});
    await Promise.all([grace.c.stop(), heidi.c.stop()]);
  });
});
