// XEP-0402: PEP Native Bookmarks (with #compat and #compat-pep)
// https://xmpp.org/extensions/xep-0402.html — Version 1.2.0 (2024-08-15)
// XEP-0048: Bookmarks — https://xmpp.org/extensions/xep-0048.html — Version 1.2 (2020-08-04)
// XEP-0411: Bookmarks Conversion — https://xmpp.org/extensions/xep-0411.html — Version 1.1.0
//
// Native bookmarks are plain PEP: one item per room in node urn:xmpp:bookmarks:1, item id = the
// room JID. This module keeps the two legacy places in step with them, both ways (XEP-0402 §5.3
// "Compatibility"), so old and new clients of one account see the same rooms:
//   - private XML storage (XEP-0049, keyval 'private' key '{storage:bookmarks}storage', the
//     private module's layout; it fires `private-updated` when a client writes there), and
//   - the legacy PEP node storage:bookmarks (one item 'current' holding <storage/>).
// A change on the native node rewrites both legacy copies; a legacy write is diffed against the
// native items: new or changed rooms are published, missing ones retracted (with notifications),
// unchanged ones left alone (XEP-0402: no notifications for unchanged items). Legacy <url/>
// bookmarks have no native form; they are kept in the legacy copies as they were.
// Nodes the conversion creates get XEP-0402's configuration (whitelist, persistent, max, never).
import { defineModule } from '../core/module.js';
import { tryParseJid } from '../core/jid.js';
import { Element, xml } from '../xml/element.js';
import { elementFromJson, elementToJson } from '../xmpp/stored.js';
import type { NodeConfig } from '../xmpp/xep0060.js';
import {
  NS_BOOKMARKS2,
  NS_BOOKMARKS2_COMPAT,
  NS_BOOKMARKS2_COMPAT_PEP,
  NS_BOOKMARKS_CONVERSION,
  NS_LEGACY_BOOKMARKS,
  type Bookmark,
} from '../xmpp/xep0402.js';
import { parseBoolean } from './dataforms.js';
import { withLock } from './im/roster-store.js';
import { parseStoredXml } from './im/xml-parse.js';
import { getPepService, type PepNodeEvent, type PepPublishedEvent, type PepRetractedEvent, type PepService } from './pep/index.js';

const SOURCE = 'bookmarks';
const PRIVATE_KEY = `{${NS_LEGACY_BOOKMARKS}}storage`;
const LEGACY_ITEM = 'current';

/** XEP-0402 §3 / XEP-0223: private, persistent, as many items as rooms, nothing sent on presence. */
const NATIVE_CONFIG: Partial<NodeConfig> = { accessModel: 'whitelist', persistItems: true, maxItems: 'max', sendLastPublishedItem: 'never' };
const LEGACY_CONFIG: Partial<NodeConfig> = { accessModel: 'whitelist', persistItems: true, maxItems: 1 };

/** A native <conference/> item read as a bookmark. */
export function fromNative(id: string, conference: Element): Bookmark {
  const b: Bookmark = { jid: id, autojoin: parseBoolean(conference.attrs.autojoin) === true, extensions: [] };
  if (conference.attrs.name !== undefined) b.name = conference.attrs.name;
  const nick = conference.getChildText('nick');
  if (nick !== undefined) b.nick = nick;
  const password = conference.getChildText('password');
  if (password !== undefined) b.password = password;
  const ext = conference.getChild('extensions');
  if (ext) b.extensions = ext.elements().map((e) => e.clone());
  return b;
}

export function toNative(b: Bookmark): Element {
  const c = xml('conference', { xmlns: NS_BOOKMARKS2, name: b.name, autojoin: b.autojoin ? 'true' : undefined });
  if (b.nick !== undefined) c.c('nick').t(b.nick);
  if (b.password !== undefined) c.c('password').t(b.password);
  if (b.extensions.length > 0) c.append(xml('extensions', {}, ...b.extensions.map((e) => e.clone())));
  return c;
}

/** The rooms of a legacy <storage/>, keyed by room JID (a later duplicate wins), and its URLs. */
export function fromLegacy(storage: Element): { rooms: Map<string, Bookmark>; urls: Element[] } {
  const rooms = new Map<string, Bookmark>();
  for (const c of storage.getChildren('conference')) {
    const j = tryParseJid(c.attrs.jid);
    if (!j || j.resource !== undefined || j.local === undefined) continue;
    const b: Bookmark = { jid: j.bare, autojoin: parseBoolean(c.attrs.autojoin) === true, extensions: [] };
    if (c.attrs.name !== undefined) b.name = c.attrs.name;
    for (const child of c.elements()) {
      if (child.name === 'nick' && child.attrs.xmlns === undefined) b.nick = child.text();
      else if (child.name === 'password' && child.attrs.xmlns === undefined) b.password = child.text();
      else b.extensions.push(child.clone());
    }
    rooms.set(b.jid, b);
  }
  return { rooms, urls: storage.getChildren('url').map((u) => u.clone()) };
}

export function toLegacy(rooms: Iterable<Bookmark>, urls: Element[]): Element {
  const s = xml('storage', { xmlns: NS_LEGACY_BOOKMARKS });
  for (const b of rooms) {
    const c = s.c('conference', { jid: b.jid, name: b.name, autojoin: b.autojoin ? 'true' : 'false' });
    if (b.nick !== undefined) c.c('nick').t(b.nick);
    if (b.password !== undefined) c.c('password').t(b.password);
    c.append(...b.extensions.map((e) => e.clone()));
  }
  s.append(...urls.map((u) => u.clone()));
  return s;
}

export default defineModule({
  name: 'bookmarks',
  spec: 'XEP-0402: PEP Native Bookmarks (#compat, #compat-pep); XEP-0048; XEP-0411',
  load(api) {
    const pep = getPepService(api);
    if (!pep) {
      api.log.warn('bookmarks: the pep module is disabled, no bookmark conversion');
      return;
    }
    const privateOn = !(api.config.modules?.disabled ?? []).includes('private');
    const privateStore = api.keyval('private');
    api.disco.addAccountFeature(NS_BOOKMARKS2_COMPAT);
    api.disco.addAccountFeature(NS_BOOKMARKS2_COMPAT_PEP);
    api.disco.addAccountFeature(NS_BOOKMARKS_CONVERSION);

    const owner = (u: string) => `${u}@${api.host}`;
    const lock = <T>(u: string, fn: () => Promise<T>) => withLock('bookmarks:' + owner(u), fn);

    const nativeRooms = async (username: string): Promise<Map<string, Bookmark>> => {
      const out = new Map<string, Bookmark>();
      for (const it of (await pep.ownItems(username, NS_BOOKMARKS2)) ?? []) {
        const el = parseStoredXml(it.xml);
        if (el && el.name === 'conference' && el.attrs.xmlns === NS_BOOKMARKS2) out.set(it.id, fromNative(it.id, el));
      }
      return out;
    };

    const privateLegacy = async (username: string): Promise<Element | undefined> =>
      privateOn ? elementFromJson(await privateStore.get(owner(username), PRIVATE_KEY)) : undefined;

    const pepLegacy = async (username: string): Promise<Element | undefined> => {
      const it = ((await pep.ownItems(username, NS_LEGACY_BOOKMARKS)) ?? []).at(-1);
      const el = it ? parseStoredXml(it.xml) : undefined;
      return el && el.name === 'storage' && el.attrs.xmlns === NS_LEGACY_BOOKMARKS ? el : undefined;
    };

    const publishInternal = async (p: PepService, username: string, node: string, id: string, payload: Element, config: Partial<NodeConfig>) => {
      // Creation gets the XEP's configuration; an existing node keeps what its owner chose.
      const exists = (await p.node(username, node)) !== undefined;
      await p.publish(username, node, { publisher: owner(username), id, payload, source: SOURCE, ...(exists ? {} : { options: config }) });
    };

    const writePrivate = async (username: string, storage: Element) => {
      if (!privateOn) return;
      const before = await privateLegacy(username);
      if (before && before.toString() === storage.toString()) return;
      await privateStore.set(owner(username), PRIVATE_KEY, elementToJson(storage));
    };

    const writeLegacyPep = async (username: string, storage: Element) => {
      const before = await pepLegacy(username);
      if (before && before.toString() === storage.toString()) return;
      if (!before && storage.getChildren('conference').length === 0 && storage.getChildren('url').length === 0) return;
      await publishInternal(pep, username, NS_LEGACY_BOOKMARKS, LEGACY_ITEM, storage, LEGACY_CONFIG);
    };

    /** The native node changed: both legacy copies are regenerated from it. */
    const fromNativeChange = (username: string) =>
      lock(username, async () => {
        const rooms = await nativeRooms(username);
        const urls = ((await privateLegacy(username)) ?? (await pepLegacy(username)))?.getChildren('url') ?? [];
        const storage = toLegacy(rooms.values(), urls);
        await writePrivate(username, storage);
        await writeLegacyPep(username, storage);
      });

    /** A legacy copy was replaced: the native items follow it, then the other legacy copy. */
    const fromLegacyChange = (username: string, storage: Element, via: 'private' | 'pep') =>
      lock(username, async () => {
        const { rooms } = fromLegacy(storage);
        const current = await nativeRooms(username);
        for (const b of rooms.values()) {
          const had = current.get(b.jid);
          if (had && toNative(had).toString() === toNative(b).toString()) continue;
          await publishInternal(pep, username, NS_BOOKMARKS2, b.jid, toNative(b), NATIVE_CONFIG);
        }
        const gone = [...current.keys()].filter((id) => !rooms.has(id));
        if (gone.length > 0) await pep.retract(username, NS_BOOKMARKS2, owner(username), gone, true, SOURCE);
        if (via === 'private') await writeLegacyPep(username, storage);
        else await writePrivate(username, storage);
      });

    const failed = (what: string) => (e: unknown) => api.log.warn(`bookmarks: ${what} not converted`, { error: String(e) });

    api.hook<PepPublishedEvent>('pep-published', async (ev) => {
      if (ev.source === SOURCE) return;
      if (ev.node === NS_BOOKMARKS2) await fromNativeChange(ev.username).catch(failed('native bookmarks'));
      else if (ev.node === NS_LEGACY_BOOKMARKS && ev.payload.name === 'storage' && ev.payload.attrs.xmlns === NS_LEGACY_BOOKMARKS) {
        await fromLegacyChange(ev.username, ev.payload, 'pep').catch(failed('legacy PEP bookmarks'));
      }
    });
    const nativeGone = async (ev: PepRetractedEvent | PepNodeEvent) => {
      if (ev.source === SOURCE || ev.node !== NS_BOOKMARKS2) return;
      await fromNativeChange(ev.username).catch(failed('native bookmarks'));
    };
    api.hook<PepRetractedEvent>('pep-retracted', nativeGone);
    api.hook<PepNodeEvent>('pep-node-deleted', nativeGone);
    api.hook<PepNodeEvent>('pep-purged', nativeGone);

    api.hook<{ owner: string; element: Element }>('private-updated', async ({ owner: bare, element }) => {
      if (element.name !== 'storage' || element.attrs.xmlns !== NS_LEGACY_BOOKMARKS) return;
      const j = tryParseJid(bare);
      if (!j || j.domain !== api.host || j.local === undefined) return;
      await fromLegacyChange(j.local, element, 'private').catch(failed('private XML bookmarks'));
    });
  },
});

