// XEP-0402 native bookmarks kept in sync both ways with XEP-0048 in private XML storage
// (XEP-0049) and in the legacy PEP node storage:bookmarks: a native publish/retract shows up in
// both legacy copies; a legacy write (either place) becomes native items, with notifications for
// new/changed rooms and retractions for removed ones, none for unchanged rooms; legacy URL
// bookmarks survive native edits; the account advertises #compat and #compat-pep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { DISCO_INFO, PUBSUB, PUBSUB_EVENT, announce, connect, isEvent, publishIq, type Peer } from './helpers/pep.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;
let modern: Peer;
let watcher: Peer;
let legacy: Peer;
const J = (u: string) => `${u}@${domain}`;
const B2 = 'urn:xmpp:bookmarks:1';
const OLD = 'storage:bookmarks';
const PRIVATE = 'jabber:iq:private';
const B2_OPTIONS = { 'pubsub#persist_items': 'true', 'pubsub#max_items': 'max', 'pubsub#send_last_published_item': 'never', 'pubsub#access_model': 'whitelist' };

const conference = (name: string, autojoin: boolean, nick?: string, password?: string) =>
  xml('conference', { xmlns: B2, name, autojoin: autojoin ? 'true' : 'false' }, nick ? xml('nick', {}, nick) : undefined, password ? xml('password', {}, password) : undefined);

async function privateBookmarks(p: Peer): Promise<any> {
  const r = await p.c.iqCaller.get(xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: OLD })));
  return r.getChild('storage', OLD);
}
async function nativeItems(p: Peer): Promise<Map<string, any>> {
  const r = await p.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: B2 })));
  return new Map(r.getChild('items').getChildren('item').map((i: any) => [i.attrs.id, i.getChild('conference', B2)]));
}
async function legacyPep(p: Peer): Promise<any> {
  const r = await p.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: OLD })));
  return r.getChild('items').getChild('item')?.getChild('storage', OLD);
}
const rooms = (storage: any) =>
  Object.fromEntries(
    storage.getChildren('conference').map((c: any) => [c.attrs.jid, { name: c.attrs.name, autojoin: c.attrs.autojoin, nick: c.getChildText('nick'), password: c.getChildText('password') }]),
  );

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  await srv.addUser('juliet', 'julietpw');
  modern = await connect(srv, 'juliet', 'modern');
  watcher = await connect(srv, 'juliet', 'watcher');
  legacy = await connect(srv, 'juliet', 'legacy');
  await announce(watcher, [`${B2}+notify`]);
  await watcher.inbox.wait((s) => s.name === 'presence' && s.attrs.from === watcher.jid);
});

afterAll(async () => {
  await srv?.stop();
});

describe('native to legacy', () => {
  it('a native publish appears in private XML and in the legacy PEP node', async () => {
    await modern.c.iqCaller.set(publishIq(B2, conference('The Play', true, 'JC', 's3cret'), 'theplay@conference.shakespeare.lit', B2_OPTIONS));
    await modern.c.iqCaller.set(publishIq(B2, conference('Orchard', false), 'orchard@conference.shakespeare.lit', B2_OPTIONS));
    const expected = {
      'theplay@conference.shakespeare.lit': { name: 'The Play', autojoin: 'true', nick: 'JC', password: 's3cret' },
      'orchard@conference.shakespeare.lit': { name: 'Orchard', autojoin: 'false', nick: null, password: null },
    };
    expect(rooms(await privateBookmarks(legacy))).toEqual(expected);
    expect(rooms(await legacyPep(legacy))).toEqual(expected);
  });

  it('a native retract removes the room from both legacy copies', async () => {
    await modern.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('retract', { node: B2, notify: 'true' }, xml('item', { id: 'orchard@conference.shakespeare.lit' }))));
    expect(Object.keys(rooms(await privateBookmarks(legacy)))).toEqual(['theplay@conference.shakespeare.lit']);
    expect(Object.keys(rooms(await legacyPep(legacy)))).toEqual(['theplay@conference.shakespeare.lit']);
  });
});

describe('legacy to native', () => {
  it('a private XML write becomes native items: new and changed published, removed retracted, unchanged silent', async () => {
    // Settle: earlier native publishes notified the watcher already.
    await new Promise((r) => setTimeout(r, 200));
    watcher.inbox.clear();
    const storage = xml(
      'storage',
      { xmlns: OLD },
      // unchanged
      xml('conference', { jid: 'theplay@conference.shakespeare.lit', name: 'The Play', autojoin: 'true' }, xml('nick', {}, 'JC'), xml('password', {}, 's3cret')),
      // new
      xml('conference', { jid: 'balcony@conference.shakespeare.lit', name: 'Balcony', autojoin: '1' }, xml('nick', {}, 'Juliet')),
      xml('url', { name: 'Verona', url: 'https://verona.example/' }),
    );
    await legacy.c.iqCaller.set(xml('query', { xmlns: PRIVATE }, storage));
    const native = await nativeItems(modern);
    expect([...native.keys()].sort()).toEqual(['balcony@conference.shakespeare.lit', 'theplay@conference.shakespeare.lit']);
    expect(native.get('balcony@conference.shakespeare.lit').attrs).toMatchObject({ name: 'Balcony', autojoin: 'true' });
    expect(native.get('balcony@conference.shakespeare.lit').getChildText('nick')).toBe('Juliet');
    const ev = await watcher.inbox.wait(isEvent(B2, J('juliet')));
    expect(ev.getChild('event', PUBSUB_EVENT).getChild('items').getChild('item').attrs.id).toBe('balcony@conference.shakespeare.lit');
    await watcher.inbox.none(isEvent(B2));
    // The legacy PEP copy follows too, URL included.
    const old = await legacyPep(legacy);
    expect(Object.keys(rooms(old)).sort()).toEqual(['balcony@conference.shakespeare.lit', 'theplay@conference.shakespeare.lit']);
    expect(old.getChild('url').attrs.url).toBe('https://verona.example/');
  });

  it('removing a room in private XML retracts it natively (with a notification)', async () => {
    await legacy.c.iqCaller.set(
      xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: OLD }, xml('conference', { jid: 'balcony@conference.shakespeare.lit', name: 'Balcony', autojoin: 'true' }, xml('nick', {}, 'Juliet')), xml('url', { name: 'Verona', url: 'https://verona.example/' }))),
    );
    const ev = await watcher.inbox.wait(isEvent(B2, J('juliet')));
    expect(ev.getChild('event', PUBSUB_EVENT).getChild('items').getChild('retract').attrs.id).toBe('theplay@conference.shakespeare.lit');
    expect([...(await nativeItems(modern)).keys()]).toEqual(['balcony@conference.shakespeare.lit']);
  });

  it('a legacy PEP publish becomes native items and private XML', async () => {
    const storage = xml(
      'storage',
      { xmlns: OLD },
      xml('conference', { jid: 'balcony@conference.shakespeare.lit', name: 'Balcony (renamed)', autojoin: 'true' }, xml('nick', {}, 'Juliet')),
      xml('conference', { jid: 'crypt@conference.shakespeare.lit', name: 'Crypt', autojoin: 'false' }),
    );
    await legacy.c.iqCaller.set(publishIq(OLD, storage, 'current', { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist' }));
    const native = await nativeItems(modern);
    expect([...native.keys()].sort()).toEqual(['balcony@conference.shakespeare.lit', 'crypt@conference.shakespeare.lit']);
    expect(native.get('balcony@conference.shakespeare.lit').attrs.name).toBe('Balcony (renamed)');
    expect(Object.keys(rooms(await privateBookmarks(legacy))).sort()).toEqual(['balcony@conference.shakespeare.lit', 'crypt@conference.shakespeare.lit']);
  });

  it('a native edit keeps the legacy URL bookmarks', async () => {
    await legacy.c.iqCaller.set(
      xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: OLD }, xml('conference', { jid: 'crypt@conference.shakespeare.lit', name: 'Crypt', autojoin: 'false' }), xml('url', { name: 'Verona', url: 'https://verona.example/' }))),
    );
    await modern.c.iqCaller.set(publishIq(B2, conference('Tomb', true), 'tomb@conference.shakespeare.lit', B2_OPTIONS));
    const priv = await privateBookmarks(legacy);
    expect(Object.keys(rooms(priv)).sort()).toEqual(['crypt@conference.shakespeare.lit', 'tomb@conference.shakespeare.lit']);
    expect(priv.getChild('url').attrs.url).toBe('https://verona.example/');
  });

  it('the node the conversion created carries the XEP-0402 configuration (the client publish-options hold)', async () => {
    // The native node was created by a client here; a fresh account whose first write is legacy:
    await srv.addUser('romeo', 'romeopw');
    const r = await connect(srv, 'romeo');
    await r.c.iqCaller.set(xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: OLD }, xml('conference', { jid: 'a@conference.shakespeare.lit', autojoin: 'true' }))));
    await r.c.iqCaller.set(publishIq(B2, conference('B', false), 'b@conference.shakespeare.lit', B2_OPTIONS));
    expect([...(await nativeItems(r)).keys()].sort()).toEqual(['a@conference.shakespeare.lit', 'b@conference.shakespeare.lit']);
  });
});

describe('discovery', () => {
  it('the account advertises #compat and #compat-pep', async () => {
    const info = await modern.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), J('juliet'));
    const f = info.getChildren('feature').map((x: any) => x.attrs.var);
    expect(f).toContain(`${B2}#compat`);
    expect(f).toContain(`${B2}#compat-pep`);
  });
});
