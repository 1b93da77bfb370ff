// RFC 6121: XMPP Instant Messaging and Presence — §3 Managing Presence Subscriptions, §4
// Exchanging Presence Information, §8.5 presence delivery rules, Appendix A
// https://www.rfc-editor.org/rfc/rfc6121 (March 2011)
//
// Outbound (from a local client):
//   pre-presence/out  subscription stanzas: state machine (im/subscription.ts), roster push,
//                     routed with the user's bare JID as from (or swallowed: pre-approval).
//                     directed available/unavailable presence: remembered per session so the
//                     recipient hears the unavailable when the session goes (§4.6).
//   presence/broadcast  initial / subsequent / unavailable presence (§4.2, §4.4, §4.5).
// Inbound (to a local account, from anywhere):
//   presence/bare, presence/full  subscription stanzas, probes (§4.3), presence delivery (§8.5).
// Lifecycle: session-closed sends the unavailable a client could not send; roster-remove (fired
// by the roster module) cancels both subscriptions (§2.5.2).
//
// Hooks fired: `message/offline/broadcast` ({ session, username }) once a session becomes
// available with priority >= 0 — the offline module delivers stored messages then (XEP-0160).
//
// Store written: keyval 'lastlog', owner = bare JID, key 'last', value { when: ms, status? }
// when the last available resource of an account goes unavailable (read by XEP-0012 'last').
import { defineModule, type StanzaEvent } from '../core/module.js';
import { type Jid, tryParseJid } from '../core/jid.js';
import type { Session } from '../core/session.js';
import { Element, xml } from '../xml/element.js';
import type { JsonValue } from '../storage/types.js';
import { elementFromJson, elementToJson } from '../xmpp/stored.js';
import { blankItem, createRosterStore, type RosterItem } from './im/roster-store.js';
import {
  hasFrom,
  hasTo,
  inbound,
  isSubscriptionType,
  outbound,
  type InboundResult,
  type OutboundResult,
  type SubscriptionType,
} from './im/subscription.js';
import type { RosterRemoveEvent } from './roster.js';

/** Per-session state, in session.data under this key. */
interface PresenceData {
  /** Full (or bare) JIDs that got directed available presence from this session (§4.6). */
  directed: Set<string>;
}

/** Event of `message/offline/broadcast`. */
export interface OfflineBroadcastEvent {
  session: Session;
  username: string;
}

/** The lastlog record (keyval 'lastlog', key 'last'). */
export interface LastLogRecord {
  when: number;
  status?: string;
}

function presenceData(s: Session): PresenceData {
  let d = s.data.get('presence') as PresenceData | undefined;
  if (!d) {
    d = { directed: new Set() };
    s.data.set('presence', d);
  }
  return d;
}

/** RFC 6121 §4.7.2.3: an integer from -128 to 127; anything else counts as 0. */
export function parsePriority(stanza: Element): number {
  const t = stanza.getChildText('priority');
  if (t === undefined) return 0;
  const n = Number(t.trim());
  if (!Number.isInteger(n)) return 0;
  return Math.max(-128, Math.min(127, n));
}

export default defineModule({
  name: 'presence',
  spec: 'RFC 6121 §3, §4, §8.5: presence subscriptions and presence exchange',
  load(api) {
    const roster = createRosterStore(api);
    const lastlog = api.keyval('lastlog');
    const own = (u: string) => `${u}@${api.host}`;

    /** Resources that sent available presence, highest priority first. */
    const available = (username: string, except?: Session): Session[] =>
      api.sessions
        .sessionsOf(username)
        .filter((s) => s !== except && s.presence !== undefined && s.jid !== undefined)
        .sort((a, b) => b.priority - a.priority);

    const send = (stanza: Element) => api.route(stanza);

    const pres = (type: string | undefined, from: string, to: string): Element => xml('presence', { type, from, to });

    /** Current presence of each available resource of `username`, addressed to `to`. */
    const sendCurrentPresence = (username: string, to: string) => {
      for (const s of available(username)) {
        const p = s.presence!.clone();
        p.attrs.from = s.jid!.full;
        p.attrs.to = to;
        send(p);
      }
    };
    const sendUnavailableFromAll = (username: string, to: string) => {
      for (const s of available(username)) send(pres('unavailable', s.jid!.full, to));
    };

    const deliverToAvailable = (username: string, stanza: Element) => {
      for (const s of available(username)) s.send(stanza.clone());
    };

    // ---- Outbound subscription stanzas (§3.1.2, §3.1.5, §3.2.2, §3.3.2, §3.4.1) ----

    const outboundSubscription = async (username: string, type: SubscriptionType, stanza: Element, to: Jid) => {
      const contact = to.bare;
      const user = own(username);
      // One's own presence needs no subscription.
      if (contact === user) return;
      const r: OutboundResult = await roster.lock(username, async () => {
        const existing = await roster.get(username, contact);
        const prev = existing ?? { ...blankItem(contact), hidden: true };
        const res = outbound(prev, type);
        if (res.changed) {
          const item: RosterItem = { ...prev, ...res.state };
          // §3.1.2 / §3.1.5 / §3.4.1: asking, approving and pre-approving put the contact in the roster.
          if (type === 'subscribe' || type === 'subscribed') item.hidden = false;
          if (!item.pendingIn) delete item.request;
          await roster.put(username, contact, item);
        }
        return res;
      });
      if (r.route) {
        const out = stanza.clone();
        out.attrs.from = user;
        out.attrs.to = contact;
        send(out);
      }
      // §3.1.5: after approving, the contact gets the user's current presence; §3.2.2: after
      // cancelling, an unavailable from every resource.
      if (r.fromGained) sendCurrentPresence(username, contact);
      if (r.fromLost) sendUnavailableFromAll(username, contact);
    };

    // ---- Inbound subscription stanzas (§3.1.3, §3.1.6, §3.2.3, §3.3.3, §3.4.2) ----

    const inboundSubscription = async (username: string, type: SubscriptionType, stanza: Element, from: Jid) => {
      const contact = from.bare;
      const user = own(username);
      if (contact === user) return;
      if (api.sessions.sessionsOf(username).length === 0 && !(await api.userExists(username))) {
        // §3.1.3 / §8.5.1: no such account; a request is answered 'unsubscribed' so the
        // requester's roster does not wait forever. Other subscription stanzas are ignored.
        if (type === 'subscribe') send(pres('unsubscribed', user, contact));
        return;
      }
      const delivered = stanza.clone();
      delivered.attrs.from = contact;
      delivered.attrs.to = user;
      const r: InboundResult = await roster.lock(username, async () => {
        const existing = await roster.get(username, contact);
        const prev = existing ?? { ...blankItem(contact), hidden: true };
        const res = inbound(prev, type);
        if (res.changed || (type === 'subscribe' && res.deliver)) {
          const item: RosterItem = { ...prev, ...res.state };
          // Kept until answered: the request is delivered again at each login (§3.1.3).
          if (item.pendingIn && type === 'subscribe') item.request = elementToJson(delivered);
          if (!item.pendingIn) delete item.request;
          // A pre-approved contact is visible already; From gained makes it visible anyway.
          if (hasFrom(item.subscription)) item.hidden = false;
          if (res.changed || existing?.request === undefined) await roster.put(username, contact, item);
        }
        return res;
      });
      if (r.autoReply) send(pres('subscribed', user, contact));
      if (r.fromGained) sendCurrentPresence(username, contact);
      if (r.fromLost) sendUnavailableFromAll(username, contact);
      if (r.deliver) deliverToAvailable(username, delivered);
    };

    // ---- Probes (§4.3) ----

    const answerProbe = async (username: string, resource: string | undefined, from: Jid) => {
      const user = own(username);
      if (api.sessions.sessionsOf(username).length === 0 && !(await api.userExists(username))) {
        send(pres('unsubscribed', user, from.bare));
        return;
      }
      let allowed = from.bare === user;
      if (!allowed) {
        const item = await roster.get(username, from.bare);
        allowed = item !== undefined && hasFrom(item.subscription);
      }
      if (!allowed) {
        // §4.3.2: not subscribed, so nothing is revealed; 'unsubscribed' tells the prober's
        // server its roster is out of step.
        send(pres('unsubscribed', user, from.bare));
        return;
      }
      let sessions = available(username);
      if (resource !== undefined) {
        const one = sessions.filter((s) => s.jid!.resource === resource);
        if (one.length > 0) sessions = one;
      }
      if (sessions.length > 0) {
        for (const s of sessions) {
          const p = s.presence!.clone();
          p.attrs.from = s.jid!.full;
          p.attrs.to = from.full;
          send(p);
        }
        return;
      }
      // §4.3.2: no available resource: the last unavailable presence (its status, if logged).
      const p = pres('unavailable', user, from.full);
      const last = (await lastlog.get(user, 'last')) as Partial<LastLogRecord> | undefined;
      if (last && typeof last.status === 'string') p.c('status').t(last.status);
      send(p);
    };

    // ---- Broadcast (§4.2, §4.4, §4.5) ----

    const broadcastAvailable = async (session: Session, username: string, stanza: Element) => {
      const jid = session.jid!;
      const wasAvailable = session.presence !== undefined;
      const prevPriority = session.priority;
      const p = stanza.clone();
      delete p.attrs.to;
      p.attrs.from = jid.full;
      session.priority = parsePriority(stanza);
      session.presence = p;
      const items = await roster.all(username);
      for (const item of items.values()) {
        if (item.hidden || !hasFrom(item.subscription)) continue;
        const out = p.clone();
        out.attrs.to = item.jid;
        send(out);
      }
      // §4.2.2 / §4.4.2: the user's own available resources, the sender included.
      for (const s of available(username)) {
        const out = p.clone();
        out.attrs.to = s.jid!.full;
        s.send(out);
      }
      if (!wasAvailable) {
        // §4.2.2: learn the contacts' presence.
        for (const item of items.values()) {
          if (item.hidden || !hasTo(item.subscription)) continue;
          send(pres('probe', own(username), item.jid));
        }
        for (const s of available(username, session)) {
          const out = s.presence!.clone();
          out.attrs.from = s.jid!.full;
          out.attrs.to = jid.full;
          session.send(out);
        }
        // §3.1.3: requests that arrived while offline (or unanswered since) come now.
        for (const item of items.values()) {
          if (!item.pendingIn || hasFrom(item.subscription)) continue;
          const req = elementFromJson(item.request) ?? pres('subscribe', item.jid, own(username));
          session.send(req);
        }
      }
      if (session.priority >= 0 && (!wasAvailable || prevPriority < 0)) {
        await api.hooks.fireAsync<OfflineBroadcastEvent>('message/offline/broadcast', { session, username });
      }
    };

    const goUnavailable = async (session: Session, username: string, stanza: Element | undefined) => {
      const jid = session.jid;
      if (!jid) return;
      const wasAvailable = session.presence !== undefined;
      const d = presenceData(session);
      const directed = [...d.directed];
      d.directed.clear();
      session.presence = undefined;
      if (!wasAvailable && directed.length === 0) return;
      const p = stanza ? stanza.clone() : xml('presence', { type: 'unavailable' });
      p.attrs.type = 'unavailable';
      delete p.attrs.to;
      p.attrs.from = jid.full;
      const covered = new Set<string>();
      if (wasAvailable) {
        const items = await roster.all(username);
        for (const item of items.values()) {
          if (item.hidden || !hasFrom(item.subscription)) continue;
          covered.add(item.jid);
          const out = p.clone();
          out.attrs.to = item.jid;
          send(out);
        }
        for (const s of available(username, session)) {
          const out = p.clone();
          out.attrs.to = s.jid!.full;
          s.send(out);
        }
      }
      // §4.6.3: whoever got directed presence hears the unavailable too.
      for (const target of directed) {
        const t = tryParseJid(target);
        if (!t || covered.has(t.bare)) continue;
        const out = p.clone();
        out.attrs.to = target;
        send(out);
      }
      if (wasAvailable && available(username, session).length === 0) {
        const rec: LastLogRecord = { when: Date.now() };
        const status = p.getChildText('status');
        if (status) rec.status = status;
        await lastlog.set(own(username), 'last', rec as unknown as JsonValue);
      }
    };

    // ---- Hooks ----

    api.hook('pre-presence/out', async (event) => {
      const { stanza, origin } = event;
      const username = origin.username ?? event.from.local;
      const toAttr = stanza.attrs.to;
      if (username === undefined || toAttr === undefined) return false;
      const to = tryParseJid(toAttr);
      if (!to) return false; // the router answers jid-malformed
      const type = stanza.attrs.type;
      if (isSubscriptionType(type)) {
        await outboundSubscription(username, type, stanza, to);
        return true;
      }
      if ((type === undefined || type === 'unavailable') && origin.jid && to.bare !== own(username)) {
        const d = presenceData(origin);
        if (type === undefined) d.directed.add(to.full);
        else d.directed.delete(to.full);
      }
      return false;
    });

    api.hook('presence/broadcast', async (event) => {
      const { stanza, origin } = event;
      const username = origin.username ?? event.from.local;
      if (username === undefined || !origin.jid) return true;
      const type = stanza.attrs.type;
      if (type === undefined) await broadcastAvailable(origin, username, stanza);
      else if (type === 'unavailable') await goUnavailable(origin, username, stanza);
      // Anything else without a 'to' means nothing (RFC 6121 §4.7.1); dropped.
      return true;
    }, -1);

    const inboundPresence = async (event: StanzaEvent, resource: string | undefined) => {
      const { stanza, from, to } = event;
      const username = to.local;
      if (username === undefined) return true;
      const type = stanza.attrs.type;
      if (isSubscriptionType(type)) {
        // §3.1.3 and §8.5.3.2.2: subscription stanzas are about the account, whatever resource.
        await inboundSubscription(username, type, stanza, from);
        return true;
      }
      if (type === 'probe') {
        await answerProbe(username, resource, from);
        return true;
      }
      if (type !== undefined && type !== 'unavailable' && type !== 'error') return true;
      if (resource !== undefined) {
        // §8.5.3.1: a connected resource gets it; otherwise presence to a gone resource is dropped.
        const s = api.sessions.get(username, resource);
        if (s) s.send(stanza.clone());
        return true;
      }
      // §8.5.2.1.1: every available resource; an offline or unknown account: silently dropped.
      deliverToAvailable(username, stanza);
      return true;
    };

    api.hook('presence/bare', (e) => inboundPresence(e, undefined), -1);
    api.hook('presence/full', (e) => inboundPresence(e, e.to.resource), -1);
    // Presence to the server itself carries nothing Roost acts on.
    api.hook('presence/host', () => true, -10);

    api.hook<{ session: Session; reason?: unknown }>('session-closed', async ({ session }) => {
      if (session.kind !== 'c2s' || session.username === undefined || !session.jid) return;
      await goUnavailable(session, session.username, undefined);
    });

    // §2.5.2: removing an item cancels the subscriptions in both directions.
    api.hook<RosterRemoveEvent>('roster-remove', ({ username, item }) => {
      const user = own(username);
      if (hasTo(item.subscription) || item.ask) send(pres('unsubscribe', user, item.jid));
      if (hasFrom(item.subscription) || item.pendingIn) {
        send(pres('unsubscribed', user, item.jid));
        if (hasFrom(item.subscription)) sendUnavailableFromAll(username, item.jid);
      }
    });

    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      await lastlog.deleteOwner(own(username));
    });
  },
});
