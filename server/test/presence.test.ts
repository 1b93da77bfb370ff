// RFC 6121 §4 (Exchanging Presence Information): initial and subsequent presence, probes,
// unavailable on logout and on a dropped connection, directed presence; plus the lastlog record
// the XEP-0012 module reads.
// https://www.rfc-editor.org/rfc/rfc6121#section-4
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { dropConnection, startTestServer } from './helpers/server.js';
import { befriend, clientsOf, pres } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;

const { connect, online } = clientsOf(() => srv, { waitMs: 4000, noneMs: 300 });

const kill = dropConnection;

const J = (u: string) => `${u}@${domain}`;

beforeAll(async () => {
  // @xmpp/client enables resumable stream management (XEP-0198): a dropped connection waits
  // to be resumed before its unavailable goes out; 1 s keeps the tests below quick.
  srv = await startTestServer({ streamManagement: { hibernation: 1 } });
  domain = srv.host;
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await srv.addUser(u, u + 'pw');
});

afterAll(async () => {
  await srv?.stop();
});

describe('presence between subscribed contacts', () => {
  it('initial presence, probes, own resources, subsequent presence, logout, dropped connection', async () => {
    const alice = await online('alice', 'desk');
    let bob = await online('bob', 'phone');
    await befriend(alice, bob);
    await bob.c.stop();
    await alice.inbox.wait(pres('unavailable', bob.jid));

    // bob logs in after alice: alice hears his initial presence, he learns hers from the probe.
    bob = await online('bob', 'phone');
    await alice.inbox.wait(pres(undefined, bob.jid));
    await bob.inbox.wait(pres(undefined, alice.jid));

    // A second resource of alice: both of hers see each other; bob sees the new one.
    const alice2 = await online('alice', 'laptop');
    await alice.inbox.wait(pres(undefined, alice2.jid));
    await alice2.inbox.wait(pres(undefined, alice.jid));
    await alice2.inbox.wait(pres(undefined, bob.jid));
    await bob.inbox.wait(pres(undefined, alice2.jid));

    // Subsequent presence goes to contacts and own resources.
    await alice.c.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'lunch')));
    const away = await bob.inbox.wait((s) => pres(undefined, alice.jid)(s) && s.getChildText('show') === 'away');
    expect(away.getChildText('status')).toBe('lunch');
    await alice2.inbox.wait((s) => pres(undefined, alice.jid)(s) && s.getChildText('show') === 'away');

    // Explicit unavailable with a status: contacts see it; XEP-0012 shows it once all are gone.
    await alice2.c.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'gone fishing')));
    const gone = await bob.inbox.wait(pres('unavailable', alice2.jid));
    expect(gone.getChildText('status')).toBe('gone fishing');
    await alice.inbox.wait(pres('unavailable', alice2.jid));
    await alice2.c.stop();

    // A killed connection (no </stream>) still produces the unavailable (§4.5.1).
    kill(alice.c);
    await bob.inbox.wait(pres('unavailable', alice.jid), 8000);

    const last = await bob.c.iqCaller.get(xml('query', { xmlns: 'jabber:iq:last' }), J('alice'));
    expect(Number(last.attrs.seconds)).toBeGreaterThanOrEqual(0);
    expect(Number(last.attrs.seconds)).toBeLessThan(30);

    // A probe for an offline contact is answered with unavailable (§4.3.2).
    const bob2 = await online('bob', 'tablet');
    await bob2.inbox.wait(pres('unavailable', J('alice')));
    await Promise.all([bob.c.stop(), bob2.c.stop()]);
  });
});

describe('presence without subscription', () => {
  it('is not broadcast, and a probe reveals nothing', async () => {
    const carol = await online('carol');
    const dave = await online('dave');
    await carol.c.send(xml('presence', {}, xml('show', {}, 'dnd')));
    await carol.inbox.wait(pres(undefined, carol.jid));
    await dave.inbox.none(pres(undefined, carol.jid));
    await Promise.all([carol.c.stop(), dave.c.stop()]);
  });

  it('directed presence reaches the target, and its unavailable follows when the sender drops', async () => {
    const carol = await online('carol', 'c1');
    const dave = await online('dave', 'd1');
    const dave2 = await online('dave', 'd2');
    // To a full JID: only that resource.
    await carol.c.send(xml('presence', { to: dave.jid }, xml('status', {}, 'hi d1')));
    const got = await dave.inbox.wait(pres(undefined, carol.jid));
    expect(got.getChildText('status')).toBe('hi d1');
    await dave2.inbox.none(pres(undefined, carol.jid));
    // To a bare JID: every available resource.
    await carol.c.send(xml('presence', { to: J('erin') }));
    const erin = await online('erin');
    await carol.c.send(xml('presence', { to: J('erin') }, xml('status', {}, 'hi erin')));
    await erin.inbox.wait((s) => pres(undefined, carol.jid)(s) && s.getChildText('status') === 'hi erin');

    kill(carol.c);
    await dave.inbox.wait(pres('unavailable', carol.jid), 8000);
    await erin.inbox.wait(pres('unavailable', carol.jid), 8000);
    await dave2.inbox.none(pres('unavailable', carol.jid));
    await Promise.all([dave.c.stop(), dave2.c.stop(), erin.c.stop()]);
  });

  it('presence to an account that does not exist is dropped without an error', async () => {
    const carol = await online('carol');
    await carol.c.send(xml('presence', { to: J('nobody') }));
    await carol.inbox.none((s) => s.name === 'presence' && s.attrs.type === 'error');
    await carol.c.stop();
  });
});
