// RFC 6121 §2 roster storage shared by the roster, presence and message modules.
// https://www.rfc-editor.org/rfc/rfc6121 (March 2011); XEP-0237 Roster Versioning 1.3
// (https://xmpp.org/extensions/xep-0237.html) for the version counter.
//
// Layout (owners are bare JIDs, see docs/architecture.md):
//   keyval 'roster'     owner = user bare JID, key = contact bare JID, value = StoredRosterItem
//   keyval 'rostermeta' owner = user bare JID, key 'version', value = { epoch, n }
// Other modules may read 'roster' (disco and last check `subscription` for from/both).
// Entries with `hidden: true` are subscription requests from someone the user has not put in
// the roster (RFC 6121 "None + Pending In" without an item): they are kept so the request
// survives until answered, but they are not part of the roster the client sees.
import { randomBytes } from 'node:crypto';
import type { ModuleApi } from '../../core/module.js';
import type { Session } from '../../core/session.js';
import type { JsonValue } from '../../storage/types.js';
import { Element, xml } from '../../xml/element.js';
import { hasFrom, hasTo, type SubState, type Subscription } from './subscription.js';

export const NS_ROSTER = 'jabber:iq:roster';
export const NS_ROSTERVER = 'urn:xmpp:features:rosterver';
export const NS_PREAPPROVAL = 'urn:xmpp:features:pre-approval';

/** What is stored per contact (JSON). */
export interface StoredRosterItem {
  name?: string;
  groups: string[];
  subscription: Subscription;
  ask?: 'subscribe';
  pendingIn?: boolean;
  approved?: boolean;
  hidden?: boolean;
  /** The contact's last subscription request (xmpp/stored.ts form), re-delivered at each login. */
  request?: JsonValue;
}

export interface RosterItem extends SubState {
  jid: string;
  name?: string;
  groups: string[];
  hidden: boolean;
  request?: JsonValue;
}

/** The `roster-item-changed` hook's event (after the store is updated). */
export interface RosterItemChangedEvent {
  username: string;
  contact: string;
  /** undefined: the item was removed. */
  item?: RosterItem;
  previous?: RosterItem;
}

const SUBS = new Set(['none', 'to', 'from', 'both']);

export function itemFromStored(jid: string, v: JsonValue | undefined): RosterItem | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const sub = typeof v.subscription === 'string' && SUBS.has(v.subscription) ? (v.subscription as Subscription) : 'none';
  const groups = Array.isArray(v.groups) ? v.groups.filter((g): g is string => typeof g === 'string') : [];
  const item: RosterItem = {
    jid,
    groups,
    subscription: sub,
    ask: v.ask === 'subscribe',
    pendingIn: v.pendingIn === true,
    approved: v.approved === true,
    hidden: v.hidden === true,
  };
  if (typeof v.name === 'string') item.name = v.name;
  if (Array.isArray(v.request)) item.request = v.request;
  return item;
}

export function itemToStored(item: RosterItem): StoredRosterItem {
  const v: StoredRosterItem = { groups: item.groups, subscription: item.subscription };
  if (item.name !== undefined) v.name = item.name;
  if (item.ask && !hasTo(item.subscription)) v.ask = 'subscribe';
  if (item.pendingIn && !hasFrom(item.subscription)) v.pendingIn = true;
  if (item.approved && !hasFrom(item.subscription)) v.approved = true;
  if (item.hidden) v.hidden = true;
  if (item.request !== undefined && item.pendingIn) v.request = item.request;
  return v;
}

/** A new, empty item for `jid` (subscription none, nothing pending). */
export function blankItem(jid: string): RosterItem {
  return { jid, groups: [], subscription: 'none', ask: false, pendingIn: false, approved: false, hidden: false };
}

/** Nothing worth keeping: a hidden entry whose request was answered. */
export function isEmptyHidden(item: RosterItem): boolean {
  return item.hidden && item.subscription === 'none' && !item.ask && !item.pendingIn && !item.approved;
}

/** The <item/> as the client sees it (RFC 6121 §2.1.2; `approved` from §3.4). */
export function itemElement(item: RosterItem): Element {
  const el = xml('item', {
    jid: item.jid,
    name: item.name,
    subscription: item.subscription,
    ask: item.ask && !hasTo(item.subscription) ? 'subscribe' : undefined,
    approved: item.approved && !hasFrom(item.subscription) ? 'true' : undefined,
  });
  for (const g of item.groups) el.c('group').t(g);
  return el;
}

const locks = new Map<string, Promise<void>>();

/**
 * Runs `fn` after every earlier call for the same key has finished, so read-modify-write of one
 * user's roster never interleaves (two resources, or a local subscription race).
 */
export function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.then(fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, tail);
  void tail.then(() => {
    if (locks.get(key) === tail) locks.delete(key);
  });
  return run;
}

export interface RosterStore {
  /** Every entry, hidden ones included. */
  all(username: string): Promise<Map<string, RosterItem>>;
  /** The roster the client sees. */
  visible(username: string): Promise<RosterItem[]>;
  get(username: string, contact: string): Promise<RosterItem | undefined>;
  /** Writes (or with undefined, deletes) one entry, bumps the version, pushes and fires the hook. */
  put(username: string, contact: string, item: RosterItem | undefined): Promise<string>;
  version(username: string): Promise<string>;
  lock<T>(username: string, fn: () => Promise<T>): Promise<T>;
  /** The sessions that fetched the roster (RFC 6121 "interested resources"). */
  interested(username: string): Session[];
}

interface VersionRec {
  [k: string]: JsonValue;
  epoch: string;
  n: number;
}

export function createRosterStore(api: ModuleApi): RosterStore {
  const kv = api.keyval('roster');
  const meta = api.keyval('rostermeta');
  const owner = (u: string) => `${u}@${api.host}`;

  const readVersion = async (username: string): Promise<VersionRec> => {
    const v = await meta.get(owner(username), 'version');
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof v.epoch === 'string' && typeof v.n === 'number') {
      return { epoch: v.epoch, n: v.n };
    }
    // The epoch makes versions of a deleted and re-created account differ from cached ones.
    return { epoch: randomBytes(4).toString('hex'), n: 0 };
  };
  const verString = (v: VersionRec) => `${v.epoch}-${v.n}`;

  const store: RosterStore = {
    async all(username) {
      const raw = await kv.getAll(owner(username));
      const out = new Map<string, RosterItem>();
      for (const [k, v] of raw) {
        const item = itemFromStored(k, v);
        if (item) out.set(k, item);
      }
      return out;
    },
    async visible(username) {
      return [...(await store.all(username)).values()].filter((i) => !i.hidden);
    },
    async get(username, contact) {
      return itemFromStored(contact, await kv.get(owner(username), contact));
    },
    async put(username, contact, item) {
      const previous = await store.get(username, contact);
      if (item && isEmptyHidden(item)) item = undefined;
      await kv.set(owner(username), contact, item ? (itemToStored(item) as unknown as JsonValue) : undefined);
      const wasVisible = previous !== undefined && !previous.hidden;
      const isVisible = item !== undefined && !item.hidden;
      const ev: RosterItemChangedEvent = { username, contact };
      if (item) ev.item = item;
      if (previous) ev.previous = previous;
      // Pending In and the stored request are not part of what the client sees (RFC 6121
      // §2.1.2.2): such changes need neither a push nor a new version.
      const same =
        wasVisible && isVisible && itemElement(previous!).toString() === itemElement(item!).toString();
      if (same || (!wasVisible && !isVisible)) {
        await api.hooks.fireAsync('roster-item-changed', ev);
        return verString(await readVersion(username));
      }
      const v = await readVersion(username);
      v.n += 1;
      await meta.set(owner(username), 'version', v);
      const ver = verString(v);
      // Hidden entries are not in the client's roster: only their appearance/removal is pushed.
      if (isVisible) push(username, itemElement(item!), ver);
      else if (wasVisible) push(username, xml('item', { jid: contact, subscription: 'remove' }), ver);
      await api.hooks.fireAsync('roster-item-changed', ev);
      return ver;
    },
    async version(username) {
      const v = await readVersion(username);
      if (v.n === 0) await meta.set(owner(username), 'version', v); // pin the epoch
      return verString(v);
    },
    lock(username, fn) {
      return withLock('roster:' + owner(username), fn);
    },
    interested(username) {
      return api.sessions.sessionsOf(username).filter((s) => s.interested && s.jid !== undefined);
    },
  };

  // RFC 6121 §2.1.6: a push goes to every interested resource, the one that caused it included.
  const push = (username: string, item: Element, ver: string) => {
    for (const s of store.interested(username)) {
      s.send(
        xml(
          'iq',
          { type: 'set', id: 'push-' + randomBytes(6).toString('hex'), to: s.jid!.full },
          xml('query', { xmlns: NS_ROSTER, ver }, item.clone()),
        ),
      );
    }
  };

  return store;
}
