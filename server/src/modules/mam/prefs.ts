// XEP-0441: Message Archive Management Preferences
// https://xmpp.org/extensions/xep-0441.html
// Version 0.2.0 (2020-11-09)
//
// <prefs default='always|never|roster'><always><jid/>…</always><never><jid/>…</never></prefs>
// in urn:xmpp:mam:2. 'never' wins over 'always', both win over the default; 'roster' archives
// only conversations with contacts in the roster. The default without stored preferences is
// config archive.defaultPolicy.
//
// Store: keyval 'mam-prefs', owner = bare JID, key 'prefs', value MamPrefs.
import type { ModuleApi } from '../../core/module.js';
import { type Jid, tryParseJid } from '../../core/jid.js';
import type { JsonValue } from '../../storage/types.js';
import { Element, xml } from '../../xml/element.js';
import { NS_MAM, type ArchivePolicy, type MamPrefs } from '../../xmpp/xep0313.js';
import { createRosterStore } from '../im/roster-store.js';

const POLICIES = new Set<ArchivePolicy>(['always', 'never', 'roster']);

export class PrefsError extends Error {
  constructor(
    readonly condition: 'bad-request' | 'jid-malformed' | 'resource-constraint',
    message: string,
  ) {
    super(message);
  }
}

export interface PrefsStore {
  get(username: string): Promise<MamPrefs>;
  set(username: string, prefs: MamPrefs): Promise<void>;
  /** Whether a message with `peer` goes into `username`'s archive. */
  allows(username: string, peer: Jid): Promise<boolean>;
  forget(username: string): Promise<void>;
}

export function createPrefsStore(api: ModuleApi, defaultPolicy: ArchivePolicy): PrefsStore {
  const kv = api.keyval('mam-prefs');
  const roster = createRosterStore(api);
  const own = (u: string) => `${u}@${api.host}`;
  // Read for every archived message, written rarely.
  const cache = new Map<string, Promise<MamPrefs>>();

  const load = async (username: string): Promise<MamPrefs> => {
    const v = await kv.get(own(username), 'prefs');
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const d = v.default;
      const list = (x: JsonValue | undefined) => (Array.isArray(x) ? x.filter((j): j is string => typeof j === 'string') : []);
      if (typeof d === 'string' && POLICIES.has(d as ArchivePolicy)) return { default: d as ArchivePolicy, always: list(v.always), never: list(v.never) };
    }
    return { default: defaultPolicy, always: [], never: [] };
  };

  const store: PrefsStore = {
    get(username) {
      let p = cache.get(username);
      if (!p) {
        p = load(username);
        cache.set(username, p);
        p.catch(() => cache.delete(username));
      }
      return p;
    },
    async set(username, prefs) {
      await kv.set(own(username), 'prefs', { default: prefs.default, always: prefs.always, never: prefs.never });
      cache.set(username, Promise.resolve(prefs));
    },
    async allows(username, peer) {
      const p = await store.get(username);
      const inList = (l: string[]) => l.includes(peer.bare) || (peer.resource !== undefined && l.includes(peer.full));
      if (inList(p.never)) return false;
      if (inList(p.always)) return true;
      if (p.default === 'always') return true;
      if (p.default === 'never') return false;
      const item = await roster.get(username, peer.bare);
      return item !== undefined && !item.hidden;
    },
    async forget(username) {
      cache.delete(username);
      await kv.deleteOwner(own(username));
    },
  };
  return store;
}

export function prefsElement(p: MamPrefs): Element {
  return xml(
    'prefs',
    { xmlns: NS_MAM, default: p.default },
    xml('always', {}, ...p.always.map((j) => xml('jid', {}, j))),
    xml('never', {}, ...p.never.map((j) => xml('jid', {}, j))),
  );
}

/** Reads a <prefs/> set; PrefsError when it is not a valid one. */
export function parsePrefs(el: Element, maxJids: number): MamPrefs {
  const d = el.attrs.default;
  if (d === undefined || !POLICIES.has(d as ArchivePolicy)) throw new PrefsError('bad-request', "default must be 'always', 'never' or 'roster'");
  const list = (name: string): string[] => {
    const out: string[] = [];
    for (const j of el.getChild(name)?.getChildren('jid') ?? []) {
      const parsed = tryParseJid(j.text().trim());
      if (!parsed) throw new PrefsError('jid-malformed', `'${j.text().slice(0, 64)}' is not a valid address`);
      if (!out.includes(parsed.full)) out.push(parsed.full);
    }
    return out;
  };
  const always = list('always');
  const never = list('never');
  if (always.length + never.length > maxJids) throw new PrefsError('resource-constraint', `at most ${maxJids} addresses in the preferences`);
  return { default: d as ArchivePolicy, always, never };
}
