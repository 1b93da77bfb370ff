// XEP-0049 private XML storage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { errCondition } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let alice: any;
let bob: any;
let domain: string;

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  await srv.addUser('alice', 'alicepw');
  await srv.addUser('bob', 'bobpw');
  alice = await srv.client('alice', 'alicepw');
  bob = await srv.client('bob', 'bobpw');
});

afterAll(async () => {
  await srv?.stop();
});

const P = 'jabber:iq:private';

describe('private XML storage', () => {
  it('get before set returns the empty element; set then get returns it', async () => {
    const q0 = await alice.iqCaller.get(xml('query', { xmlns: P }, xml('prefs', { xmlns: 'urn:example:prefs' })));
    const e0 = q0.getChild('prefs', 'urn:example:prefs');
    expect(e0).toBeDefined();
    expect(e0.getChildElements()).toHaveLength(0);

    await alice.iqCaller.set(
      xml('query', { xmlns: P }, xml('prefs', { xmlns: 'urn:example:prefs' }, xml('nick', {}, 'Hamlet'))),
    );
    await alice.iqCaller.set(
      xml('query', { xmlns: P }, xml('storage', { xmlns: 'storage:bookmarks' }, xml('conference', { jid: 'r@muc.example', autojoin: 'true' }))),
    );
    const q = await alice.iqCaller.get(xml('query', { xmlns: P }, xml('prefs', { xmlns: 'urn:example:prefs' })));
    expect(q.getChild('prefs', 'urn:example:prefs').getChildText('nick')).toBe('Hamlet');
    // Same name, other namespace: separate.
    const other = await alice.iqCaller.get(xml('query', { xmlns: P }, xml('prefs', { xmlns: 'urn:example:other' })));
    expect(other.getChild('prefs').getChildElements()).toHaveLength(0);
    const bm = await alice.iqCaller.get(xml('query', { xmlns: P }, xml('storage', { xmlns: 'storage:bookmarks' })));
    expect(bm.getChild('storage').getChild('conference').attrs.jid).toBe('r@muc.example');
    // Bob's storage is his own.
    const bobs = await bob.iqCaller.get(xml('query', { xmlns: P }, xml('prefs', { xmlns: 'urn:example:prefs' })));
    expect(bobs.getChild('prefs').getChildElements()).toHaveLength(0);
  });

  it('reserved namespaces and empty queries: not-acceptable', async () => {
    expect(await errCondition(alice.iqCaller.set(xml('query', { xmlns: P }, xml('x', { xmlns: 'jabber:client' }))))).toBe('not-acceptable');
    expect(await errCondition(alice.iqCaller.get(xml('query', { xmlns: P }, xml('vCard', { xmlns: 'vcard-temp' }))))).toBe('not-acceptable');
    expect(await errCondition(alice.iqCaller.get(xml('query', { xmlns: P })))).toBe('not-acceptable');
  });

  it('another user\'s storage: forbidden', async () => {
    expect(await errCondition(bob.iqCaller.get(xml('query', { xmlns: P }, xml('prefs', { xmlns: 'urn:example:prefs' })), `alice@${domain}`))).toBe('forbidden');
    expect(await errCondition(bob.iqCaller.set(xml('query', { xmlns: P }, xml('prefs', { xmlns: 'urn:example:prefs' })), `alice@${domain}`))).toBe('forbidden');
  });

  it('fragments over the size limit are refused', async () => {
    const big = 'x'.repeat(70 * 1024);
    expect(await errCondition(alice.iqCaller.set(xml('query', { xmlns: P }, xml('blob', { xmlns: 'urn:example:blob' }, big))))).toBe('not-acceptable');
  });
});
