// User avatars: XEP-0153 hash put into presence by the server (broadcast and directed, the
// photo-element rules of XEP-0398 §4, presence re-sent when the photo changes), XEP-0398
// conversion both ways (PEP avatar -> vCard PHOTO, checked against its SHA-1; vCard PHOTO ->
// data + metadata items, with notifications; avatar disabled both ways), XEP-0084 access, and
// XEP-0172 nicknames (plain PEP, +notify filtered, presence access).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { DISCO_INFO, PUBSUB, PUBSUB_EVENT, announce, befriend, connect, iqError, isEvent, publishIq, type Peer } from './helpers/pep.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;
let alice: Peer;
let bob: Peer;
const J = (u: string) => `${u}@${domain}`;
const UPDATE = 'vcard-temp:x:update';
const DATA = 'urn:xmpp:avatar:data';
const META = 'urn:xmpp:avatar:metadata';
const NICK = 'http://jabber.org/protocol/nick';

// Two tiny "images" (the server never decodes them as images).
const img1 = Buffer.from('\x89PNG\r\n\x1a\nfirst-image-bytes', 'binary');
const img2 = Buffer.from('\x89PNG\r\n\x1a\nsecond-image-bytes!', 'binary');
const img3 = Buffer.from('GIF89a-third', 'binary');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
/** vCards carry base64 folded over lines. */
const folded = (b: Buffer) => b.toString('base64').replace(/(.{8})/g, '$1\n');

const photoOf = (s: any) => s.getChild('x', UPDATE)?.getChild('photo');
const presenceFrom = (jid: string) => (s: any) => s.name === 'presence' && s.attrs.from === jid && !s.attrs.type;

async function setVcard(p: Peer, photo?: { type: string; bytes: Buffer }) {
  await p.c.iqCaller.set(
    xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, p.name), photo ? xml('PHOTO', {}, xml('TYPE', {}, photo.type), xml('BINVAL', {}, folded(photo.bytes))) : undefined),
  );
}
async function vcardPhoto(p: Peer, of: string) {
  const card = await p.c.iqCaller.get(xml('vCard', { xmlns: 'vcard-temp' }), of);
  const photo = card.getChild('PHOTO');
  return photo ? { type: photo.getChildText('TYPE'), bytes: Buffer.from(photo.getChildText('BINVAL').replace(/\s/g, ''), 'base64') } : undefined;
}
async function metaItem(p: Peer, of: string) {
  const r = await p.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: META })), of);
  return r.getChild('items').getChildren('item').at(-1);
}

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  for (const u of ['alice', 'bob', 'dave']) await srv.addUser(u, u + 'pw');
  alice = await connect(srv, 'alice');
  bob = await connect(srv, 'bob');
  await befriend(alice, bob);
  await announce(bob, [META + '+notify', NICK + '+notify']);
  await bob.inbox.wait(presenceFrom(bob.jid));
});

afterAll(async () => {
  await srv?.stop();
});

describe('XEP-0153 hash in presence', () => {
  it('no photo: an empty <photo/>; with a photo: its SHA-1, in plain presence from the client', async () => {
    await alice.c.send(xml('presence'));
    expect(photoOf(await bob.inbox.wait(presenceFrom(alice.jid)))?.text()).toBe('');
    await setVcard(alice, { type: 'image/png', bytes: img1 });
    // The photo changed: the server re-sent alice's presence with the new hash.
    const again = await bob.inbox.wait(presenceFrom(alice.jid));
    expect(photoOf(again)?.text()).toBe(sha1(img1));
    await alice.c.send(xml('presence', {}, xml('show', {}, 'away')));
    const p = await bob.inbox.wait(presenceFrom(alice.jid));
    expect(p.getChildText('show')).toBe('away');
    expect(photoOf(p)?.text()).toBe(sha1(img1));
  });

  it('an x without photo is filled; an empty photo is left alone; a stale hash is replaced', async () => {
    await alice.c.send(xml('presence', {}, xml('x', { xmlns: UPDATE })));
    expect(photoOf(await bob.inbox.wait(presenceFrom(alice.jid)))?.text()).toBe(sha1(img1));
    await alice.c.send(xml('presence', {}, xml('x', { xmlns: UPDATE }, xml('photo'))));
    expect(photoOf(await bob.inbox.wait(presenceFrom(alice.jid)))?.text()).toBe('');
    await alice.c.send(xml('presence', {}, xml('x', { xmlns: UPDATE }, xml('photo', {}, 'da39a3ee5e6b4b0d3255bfef95601890afd80709'))));
    const p = await bob.inbox.wait(presenceFrom(alice.jid));
    expect(p.getChildren('x').filter((x: any) => x.attrs.xmlns === UPDATE)).toHaveLength(1);
    expect(photoOf(p)?.text()).toBe(sha1(img1));
  });

  it('directed presence (a MUC join) carries the hash too', async () => {
    const dave = await connect(srv, 'dave');
    await alice.c.send(xml('presence', { to: dave.jid }));
    const p = await dave.inbox.wait(presenceFrom(alice.jid));
    expect(photoOf(p)?.text()).toBe(sha1(img1));
    await dave.c.stop();
  });
});

describe('XEP-0398 conversion', () => {
  it('the account advertises urn:xmpp:pep-vcard-conversion:0', async () => {
    const info = await alice.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), J('alice'));
    expect(info.getChildren('feature').map((f: any) => f.attrs.var)).toContain('urn:xmpp:pep-vcard-conversion:0');
  });

  it('vCard to PEP: the stored photo became data + metadata items, and contacts were notified', async () => {
    const item = await metaItem(bob, J('alice'));
    expect(item.attrs.id).toBe(sha1(img1));
    const info = item.getChild('metadata', META).getChild('info');
    expect(info.attrs).toMatchObject({ id: sha1(img1), bytes: String(img1.length), type: 'image/png' });
    const data = await bob.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: DATA }, xml('item', { id: sha1(img1) }))), J('alice'));
    expect(Buffer.from(data.getChild('items').getChild('item').getChildText('data'), 'base64').equals(img1)).toBe(true);
    const ev = await bob.inbox.wait(isEvent(META, J('alice')));
    expect(ev.getChild('event', PUBSUB_EVENT).getChild('items').getChild('item').attrs.id).toBe(sha1(img1));
  });

  it('PEP to vCard: publishing data + metadata updates the vCard PHOTO and the presence hash', async () => {
    bob.inbox.clear();
    const id = sha1(img2);
    await alice.c.iqCaller.set(publishIq(DATA, xml('data', { xmlns: DATA }, img2.toString('base64')), id));
    await alice.c.iqCaller.set(publishIq(META, xml('metadata', { xmlns: META }, xml('info', { id, bytes: String(img2.length), type: 'image/jpeg' }), xml('info', { id: 'ffff', url: 'https://cdn.example/a.png', type: 'image/png', bytes: '1' })), id));
    const photo = await vcardPhoto(bob, J('alice'));
    expect(photo?.type).toBe('image/jpeg');
    expect(photo?.bytes.equals(img2)).toBe(true);
    const p = await bob.inbox.wait(presenceFrom(alice.jid));
    expect(photoOf(p)?.text()).toBe(id);
    // The conversion did not bounce back into PEP: one metadata notification, the client's.
    await bob.inbox.wait(isEvent(META));
    await bob.inbox.none(isEvent(META));
  });

  it('metadata naming bytes that do not hash to its id leaves the vCard alone', async () => {
    const fake = sha1(img3);
    await alice.c.iqCaller.set(publishIq(DATA, xml('data', { xmlns: DATA }, img1.toString('base64')), fake));
    await alice.c.iqCaller.set(publishIq(META, xml('metadata', { xmlns: META }, xml('info', { id: fake, bytes: '12', type: 'image/gif' })), fake));
    expect((await vcardPhoto(bob, J('alice')))?.bytes.equals(img2)).toBe(true);
  });

  it('a new vCard photo replaces the PEP avatar; removing it disables the avatar; empty metadata clears the vCard photo', async () => {
    await setVcard(alice, { type: 'image/gif', bytes: img3 });
    expect((await metaItem(bob, J('alice'))).attrs.id).toBe(sha1(img3));
    await setVcard(alice);
    const disabled = await metaItem(bob, J('alice'));
    expect(disabled.getChild('metadata', META).getChildren('info')).toHaveLength(0);
    // And the other way: back to an avatar via PEP, then disabled via PEP.
    const id = sha1(img1);
    await alice.c.iqCaller.set(publishIq(DATA, xml('data', { xmlns: DATA }, img1.toString('base64')), id));
    await alice.c.iqCaller.set(publishIq(META, xml('metadata', { xmlns: META }, xml('info', { id, bytes: String(img1.length), type: 'image/png' })), id));
    expect((await vcardPhoto(bob, J('alice')))?.bytes.equals(img1)).toBe(true);
    bob.inbox.clear();
    await alice.c.iqCaller.set(publishIq(META, xml('metadata', { xmlns: META }), 'off'));
    expect(await vcardPhoto(bob, J('alice'))).toBeUndefined();
    expect(photoOf(await bob.inbox.wait(presenceFrom(alice.jid)))?.text()).toBe('');
  });
});

describe('XEP-0172 nickname and XEP-0084 access', () => {
  it('a published nick reaches contacts that asked for it; a stranger may not read it or a presence-access avatar', async () => {
    await alice.c.iqCaller.set(publishIq(NICK, xml('nick', { xmlns: NICK }, 'Ali'), 'current'));
    const ev = await bob.inbox.wait(isEvent(NICK, J('alice')));
    expect(ev.getChild('event', PUBSUB_EVENT).getChild('items').getChild('item').getChildText('nick')).toBe('Ali');
    const dave = await connect(srv, 'dave');
    expect(await iqError(dave.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: NICK })), J('alice')))).toMatchObject({ condition: 'not-authorized' });
    await srv.addUser('erin', 'erinpw');
    const erin = await connect(srv, 'erin');
    await erin.c.iqCaller.set(publishIq(META, xml('metadata', { xmlns: META }), 'x'));
    expect(await iqError(dave.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: META })), J('erin')))).toMatchObject({ condition: 'not-authorized', app: 'presence-subscription-required' });
    await dave.c.stop();
  });
});
