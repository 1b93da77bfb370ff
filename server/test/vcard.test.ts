// XEP-0054 vcard-temp: own get/set, reading another's, size limit, no writing someone else's.
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

const V = 'vcard-temp';

describe('vcard-temp', () => {
  it('own vCard is empty at first, then holds what was set', async () => {
    const empty = await alice.iqCaller.get(xml('vCard', { xmlns: V }));
    expect(empty.getChildElements()).toHaveLength(0);
    await alice.iqCaller.set(xml('vCard', { xmlns: V }, xml('FN', {}, 'Alice Liddell'), xml('NICKNAME', {}, 'al & "co" <x>')));
    const got = await alice.iqCaller.get(xml('vCard', { xmlns: V }));
    expect(got.getChildText('FN')).toBe('Alice Liddell');
    expect(got.getChildText('NICKNAME')).toBe('al & "co" <x>');
  });

  it('anyone can read another account\'s vCard; unset: item-not-found', async () => {
    const got = await bob.iqCaller.get(xml('vCard', { xmlns: V }), `alice@${domain}`);
    expect(got.getChildText('FN')).toBe('Alice Liddell');
    expect(await errCondition(alice.iqCaller.get(xml('vCard', { xmlns: V }), `bob@${domain}`))).toBe('item-not-found');
    // An account that does not exist answers the same: the reply tells nobody which accounts exist.
    expect(await errCondition(alice.iqCaller.get(xml('vCard', { xmlns: V }), `nobody-here@${domain}`))).toBe('item-not-found');
  });

  it('setting someone else\'s vCard is forbidden', async () => {
    expect(await errCondition(bob.iqCaller.set(xml('vCard', { xmlns: V }, xml('FN', {}, 'Not Alice')), `alice@${domain}`))).toBe('forbidden');
    const got = await bob.iqCaller.get(xml('vCard', { xmlns: V }), `alice@${domain}`);
    expect(got.getChildText('FN')).toBe('Alice Liddell');
  });

  it('a vCard over the size limit is refused', async () => {
    const big = 'A'.repeat(70 * 1024);
    const p = alice.iqCaller.set(xml('vCard', { xmlns: V }, xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, big))));
    expect(await errCondition(p)).toBe('not-acceptable');
    const got = await alice.iqCaller.get(xml('vCard', { xmlns: V }));
    expect(got.getChildText('FN')).toBe('Alice Liddell');
  });

  it('advertised in disco', async () => {
    const q = await alice.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), domain);
    expect(q.getChildren('feature').map((f: any) => f.attrs.var)).toContain(V);
  });
});
