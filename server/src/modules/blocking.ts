// XEP-0191: Blocking Command
// https://xmpp.org/extensions/xep-0191.html
// Version 1.3 (2015-03-12)
//
// The block list: iq get <blocklist/>, set <block/> / <unblock/> (empty: unblock all), pushes to
// every resource that fetched the list (§3.3), and the effects (§3.3–§3.5):
//  - blocking sends unavailable presence from each available resource to the blocked contacts
//    that may see the user's presence; unblocking sends the current presence again (and probes
//    the contacts whose presence the user sees, so the user learns it again);
//  - from a blocked entity: presence is dropped silently, messages get service-unavailable,
//    iq get/set service-unavailable, other iqs are dropped: the user looks offline;
//  - to a blocked entity: nothing is routed; the sender gets not-acceptable with
//    <blocked xmlns='urn:xmpp:blocking:errors'/>.
// Where it is enforced: stanzas from local clients in pre-*/out (both the sender's list and, for
// a local recipient, the recipient's list, so a bounced message is never archived or copied);
// stanzas arriving for an account in message/presence/iq-full hooks (anything not from a local
// client: server-generated presence broadcasts, components, later federation). An iq from a
// non-client to an account's bare JID has no generic hook and is not filtered (none exist yet).
//
// Store: keyval 'blocklist', owner = bare JID, key 'list', value: prepared JID strings.
// Options (modules.blocking): maxItems (default 5000) per account.
// Hook fired: `blocking-report` (BlockReportEvent) for each blocked item carrying an XEP-0377
// report (the spam-reporting module records it).
import { randomBytes } from 'node:crypto';
import { defineModule, type StanzaEvent } from '../core/module.js';
import { type Jid, tryParseJid } from '../core/jid.js';
import type { Session } from '../core/session.js';
import { errorReply, mayReplyWithError } from '../core/stanza-error.js';
import { Element, xml } from '../xml/element.js';
import { isBlockedBy, NS_BLOCKING, NS_BLOCKING_ERRORS } from '../xmpp/xep0191.js';
import { createRosterStore, withLock } from './im/roster-store.js';
import { hasFrom, hasTo } from './im/subscription.js';

export { NS_BLOCKING, NS_BLOCKING_ERRORS };

/** Event of `blocking-report`: a blocked item with a report payload inside it. */
export interface BlockReportEvent {
  username: string;
  host: string;
  jid: string;
  item: Element;
  session: Session;
}

/** Per-session state: whether the client fetched the list (it gets pushes then). */
const REQUESTED = 'blocking.requested';

/** Presence the module itself sends on block/unblock must pass its own filters. */
const exempt = new WeakSet<Element>();

function numOption(v: unknown, def: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : def;
}

export default defineModule({
  name: 'blocking',
  spec: 'XEP-0191: Blocking Command',
  load(api) {
    const store = api.keyval('blocklist');
    const roster = createRosterStore(api);
    const maxItems = numOption(api.options.maxItems, 5000);
    const own = (u: string) => `${u}@${api.host}`;
    const hosts = new Set(api.config.hosts);
    // Lists of this host's accounts, read once and kept: every stanza is checked against them.
    const cache = new Map<string, Promise<Set<string>>>();

    const read = async (owner: string): Promise<Set<string>> => {
      const v = await store.get(owner, 'list');
      return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    };

    /** The block list of any account of this server (cached for this host's own accounts). */
    const listOf = (owner: string): Set<string> | Promise<Set<string>> => {
      const at = owner.lastIndexOf('@');
      const domain = owner.slice(at + 1);
      if (domain !== api.host) return read(owner);
      let p = cache.get(owner);
      if (!p) {
        p = read(owner);
        cache.set(owner, p);
        p.catch(() => cache.delete(owner));
      }
      return p;
    };

    /** Whether the account `owner` (a local bare JID) blocks `j`. */
    const blocks = async (owner: string, j: Jid): Promise<boolean> => {
      // One's own account and one's own server are never blocked (a blocked own domain would
      // otherwise cut the user off from disco, ping, roster...).
      if (j.bare === owner || j.full === owner.slice(owner.lastIndexOf('@') + 1)) return false;
      return isBlockedBy(await listOf(owner), j);
    };

    const isLocalAccount = (j: Jid): boolean => j.local !== undefined && hosts.has(j.domain);

    const blockedError = (stanza: Element): Element => {
      const reply = errorReply(stanza, 'cancel', 'not-acceptable');
      reply.getChild('error')!.append(xml('blocked', { xmlns: NS_BLOCKING_ERRORS }));
      return reply;
    };

    /** §3.4 rules for a stanza from an entity the recipient blocks. */
    const rejectInbound = (event: StanzaEvent): true => {
      const { stanza } = event;
      if (stanza.name === 'presence') return true;
      if (stanza.name === 'iq' && stanza.attrs.type !== 'get' && stanza.attrs.type !== 'set') return true;
      if (!mayReplyWithError(stanza)) return true;
      return api.replyError(event, 'cancel', 'service-unavailable');
    };

    // ---- Outbound: stanzas from this host's clients ----

    const outbound = async (event: StanzaEvent): Promise<boolean> => {
      const { stanza, origin, from } = event;
      const toAttr = stanza.attrs.to;
      if (toAttr === undefined || origin.username === undefined) return false;
      const to = tryParseJid(toAttr);
      if (!to) return false;
      const owner = own(origin.username);
      if (await blocks(owner, to)) {
        // §3.3: not routed; the sender learns why (errors and results are just dropped).
        if (mayReplyWithError(stanza)) origin.send(blockedError(stanza));
        return true;
      }
      if (isLocalAccount(to) && to.bare !== owner && (await blocks(to.bare, from))) return rejectInbound(event);
      return false;
    };
    for (const kind of ['message', 'presence', 'iq']) api.hook(`pre-${kind}/out`, outbound, 100);

    // ---- Inbound: anything arriving for this host's accounts ----

    const inbound = async (event: StanzaEvent): Promise<boolean> => {
      const { stanza, from, to } = event;
      if (to.local === undefined || exempt.has(stanza)) return false;
      const owner = to.bare;
      if (from.bare === owner || (from.domain === api.host && from.local === undefined)) return false;
      if (await blocks(owner, from)) return rejectInbound(event);
      // Presence the server sends on a local user's behalf (broadcasts, probe answers) never
      // passes through pre-presence/out: the sender's own list is checked here.
      if (stanza.name === 'presence' && isLocalAccount(from) && (await blocks(from.bare, to))) return true;
      return false;
    };
    for (const name of ['message/bare', 'message/full', 'presence/bare', 'presence/full', 'iq/full']) api.hook(name, inbound, 100);

    // ---- The protocol ----

    api.disco.addFeature(NS_BLOCKING);

    const push = (username: string, payload: Element) => {
      for (const s of api.sessions.sessionsOf(username)) {
        if (s.data.get(REQUESTED) !== true || !s.jid) continue;
        s.send(xml('iq', { type: 'set', id: 'block-' + randomBytes(6).toString('hex'), to: s.jid.full }, payload.clone()));
      }
    };

    const usernameOf = (event: StanzaEvent): string | undefined =>
      event.from.domain === api.host ? (event.from.local ?? event.origin.username) : undefined;

    api.hook('iq-get/self/' + NS_BLOCKING, async (event) => {
      const username = usernameOf(event);
      if (username === undefined) return api.replyError(event, 'cancel', 'not-allowed');
      const q = event.stanza.firstElement()!;
      if (q.name !== 'blocklist') return api.replyError(event, 'modify', 'bad-request');
      event.origin.data.set(REQUESTED, true);
      const reply = xml('blocklist', { xmlns: NS_BLOCKING });
      for (const j of [...(await listOf(own(username)))].sort()) reply.c('item', { jid: j });
      return api.replyResult(event, reply);
    });

    api.hook('iq-set/self/' + NS_BLOCKING, async (event) => {
      const username = usernameOf(event);
      if (username === undefined) return api.replyError(event, 'cancel', 'not-allowed');
      const q = event.stanza.firstElement()!;
      if (q.name !== 'block' && q.name !== 'unblock') return api.replyError(event, 'modify', 'bad-request');
      const items = q.getChildren('item');
      const jids: string[] = [];
      for (const it of items) {
        const j = tryParseJid(it.attrs.jid);
        if (!j) return api.replyError(event, 'modify', 'jid-malformed', `'${it.attrs.jid ?? ''}' is not a valid address`);
        jids.push(j.full);
      }
      // §3.3: a block needs at least one item; an empty unblock means everything.
      if (q.name === 'block' && jids.length === 0) return api.replyError(event, 'modify', 'bad-request', 'nothing to block');
      const owner = own(username);
      const changed = await withLock('blocklist:' + owner, async () => {
        const current = await read(owner);
        const before = new Set(current);
        if (q.name === 'block') for (const j of jids) current.add(j);
        else if (jids.length === 0) current.clear();
        else for (const j of jids) current.delete(j);
        if (current.size > maxItems) return undefined;
        await store.set(owner, 'list', current.size === 0 ? undefined : [...current]);
        cache.set(owner, Promise.resolve(current));
        const added = [...current].filter((j) => !before.has(j));
        const removed = [...before].filter((j) => !current.has(j));
        return { added, removed };
      });
      if (!changed) return api.replyError(event, 'wait', 'resource-constraint', `a block list holds at most ${maxItems} addresses`);
      api.replyResult(event);
      const pushed = xml(q.name, { xmlns: NS_BLOCKING });
      for (const j of jids) pushed.c('item', { jid: j });
      push(username, pushed);
      if (q.name === 'block') {
        for (const it of items) {
          if (it.elements().length === 0) continue;
          const jid = tryParseJid(it.attrs.jid)!.full;
          await api.hooks.fireAsync<BlockReportEvent>('blocking-report', { username, host: api.host, jid, item: it, session: event.origin });
        }
      }
      await presenceEffects(username, changed.added, changed.removed);
      return true;
    });

    /** §3.3 / §3.4: unavailable to newly blocked contacts, presence again to unblocked ones. */
    const presenceEffects = async (username: string, added: string[], removed: string[]) => {
      if (added.length === 0 && removed.length === 0) return;
      const addedSet = new Set(added);
      const removedSet = new Set(removed);
      const owner = own(username);
      const available = api.sessions.availableSessionsOf(username).filter((s) => s.jid && s.presence);
      const list = await listOf(owner);
      for (const item of (await roster.all(username)).values()) {
        if (item.hidden) continue;
        const contact = tryParseJid(item.jid);
        if (!contact) continue;
        if (isBlockedBy(addedSet, contact)) {
          if (!hasFrom(item.subscription)) continue;
          for (const s of available) send(xml('presence', { type: 'unavailable', from: s.jid!.full, to: item.jid }));
        } else if (isBlockedBy(removedSet, contact) && !isBlockedBy(list, contact)) {
          if (hasFrom(item.subscription)) {
            for (const s of available) {
              const p = s.presence!.clone();
              p.attrs.from = s.jid!.full;
              p.attrs.to = item.jid;
              send(p);
            }
          }
          if (hasTo(item.subscription)) send(xml('presence', { type: 'probe', from: owner, to: item.jid }));
        }
      }
    };

    const send = (stanza: Element) => {
      exempt.add(stanza);
      api.route(stanza);
    };

    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      cache.delete(own(username));
      await store.deleteOwner(own(username));
    });
  },
});

