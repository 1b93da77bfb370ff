// XEP-0163: Personal Eventing Protocol
// https://xmpp.org/extensions/xep-0163.html — Version 1.2.2 (2022-02-16)
// XEP-0060: Publish-Subscribe (the subset PEP clients use)
// https://xmpp.org/extensions/xep-0060.html — Version 1.26.0 (2023-09-07)
// XEP-0115: Entity Capabilities (notification filtering by +notify)
// https://xmpp.org/extensions/xep-0115.html — Version 1.6.0 (2020-06-10)
// XEP-0223: Persistent Storage of Private Data via PubSub (whitelist + persist_items)
// https://xmpp.org/extensions/xep-0223.html — Version 1.1.1 (2018-03-28)
//
// Every account is a virtual pubsub service at its bare JID. What rides on it needs nothing more
// from the server: OMEMO device lists and bundles (eu.siacs.conversations.axolotl.*,
// urn:xmpp:omemo:2:*; a stranger fetches them when they were published with access_model open),
// user avatars (XEP-0084), nicknames (XEP-0172), native bookmarks (XEP-0402, see bookmarks.ts).
//
// Settings (modules.pep; every one optional):
//   maxItems            256      what max_items 'max' means, and the highest number accepted
//   maxNodes            100      nodes per account
//   maxItemSize         262144   bytes of one item's payload
//   maxSubscriptions    1000     explicit subscriptions (and affiliations) per node
//   maxTrackedPerAccount 1000    available resources one account's notifications can go to
//   capsCacheSize       10000    verified XEP-0115 ver strings kept in memory
//   capsTimeoutMs       10000    how long a disco#info to a client for its caps may take
//   cacheAccounts       10000    accounts whose node tables stay in memory
import { z } from 'zod';
import { defineModule, type StanzaEvent } from '../../core/module.js';
import type { Session } from '../../core/session.js';
import type { Element } from '../../xml/element.js';
import { NS_PUBSUB, NS_PUBSUB_META_DATA, NS_PUBSUB_OWNER, PEP_DEFAULT_CONFIG, PEP_FEATURES } from '../../xmpp/xep0060.js';
import { simpleForm } from '../dataforms.js';
import type { AccountDiscoEvent } from '../disco.js';
import { createRosterStore } from '../im/roster-store.js';
import { parsePriority } from '../presence.js';
import { CapsCache, capsOf } from './caps.js';
import { PresenceTracker, type TrackedResource } from './presence-tracker.js';
import { createProtocol, type Target } from './protocol.js';
import { PepService, registerPepService } from './service.js';
import { PepStore } from './store.js';

export { getPepService, type PepPublishedEvent, type PepRetractedEvent, type PepNodeEvent, type PepService } from './service.js';

const optionsSchema = z
  .object({
    maxItems: z.number().int().min(1).max(100_000).default(256),
    maxNodes: z.number().int().min(1).max(100_000).default(100),
    maxItemSize: z.number().int().min(1024).default(256 * 1024),
    maxSubscriptions: z.number().int().min(1).default(1000),
    maxTrackedPerAccount: z.number().int().min(1).default(1000),
    capsCacheSize: z.number().int().min(1).default(10_000),
    capsTimeoutMs: z.number().int().min(100).default(10_000),
    cacheAccounts: z.number().int().min(1).default(10_000),
  })
  .strict();

export type PepOptions = z.infer<typeof optionsSchema>;

export function parsePepOptions(raw: Record<string, unknown>): PepOptions {
  const r = optionsSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new Error(`modules.pep.${first.path.join('.') || '?'}: ${first.message}`);
  }
  return r.data;
}

export default defineModule({
  name: 'pep',
  spec: 'XEP-0163: Personal Eventing Protocol; XEP-0060 subset; XEP-0223',
  load(api) {
    const opts = parsePepOptions(api.options);
    const defaults = () => ({ ...PEP_DEFAULT_CONFIG, rosterGroupsAllowed: [] });
    const store = new PepStore(api, defaults, opts.cacheAccounts);
    const caps = new CapsCache(api, { cacheSize: opts.capsCacheSize, timeoutMs: opts.capsTimeoutMs, maxFeatures: 1000 });
    const tracker = new PresenceTracker(opts.maxTrackedPerAccount);
    const pep = new PepService(
      api,
      store,
      caps,
      tracker,
      { maxItems: opts.maxItems, maxNodes: opts.maxNodes, maxItemSize: opts.maxItemSize, maxSubscriptions: opts.maxSubscriptions, maxNameLength: 1024 },
      defaults,
    );
    registerPepService(api, pep);
    const roster = createRosterStore(api);
    const protocol = createProtocol(api, pep);
    const suffix = '@' + api.host;
    const usernameOf = (owner: string) => owner.slice(0, owner.length - suffix.length);

    api.disco.addAccountIdentity({ category: 'pubsub', type: 'pep' });
    api.disco.addAccountFeature(NS_PUBSUB);
    for (const f of PEP_FEATURES) api.disco.addAccountFeature(f);

    // ---- iq ----

    const self = (e: StanzaEvent): Target | undefined => {
      const u = e.from.local ?? e.origin.username;
      return u === undefined ? undefined : { username: u, own: true };
    };
    const other = async (e: StanzaEvent): Promise<Target | undefined> => {
      const u = e.to.local;
      if (u === undefined) return undefined;
      if (api.sessions.sessionsOf(u).length === 0 && !(await api.userExists(u))) return undefined;
      return { username: u, own: false };
    };
    const onPubsub = (resolve: (e: StanzaEvent) => Target | undefined | Promise<Target | undefined>, owner: boolean) => async (e: StanzaEvent) => {
      const t = await resolve(e);
      // XEP-0163 §... / RFC 6121 §8.5.1: no such account, no service.
      if (!t) return api.replyError(e, 'cancel', 'service-unavailable');
      return owner ? protocol.owner(e, t) : protocol.pubsub(e, t);
    };
    for (const type of ['get', 'set']) {
      api.hook(`iq-${type}/self/${NS_PUBSUB}`, onPubsub(self, false));
      api.hook(`iq-${type}/bare/${NS_PUBSUB}`, onPubsub(other, false));
      api.hook(`iq-${type}/self/${NS_PUBSUB_OWNER}`, onPubsub(self, true));
      api.hook(`iq-${type}/bare/${NS_PUBSUB_OWNER}`, onPubsub(other, true));
    }

    // ---- Presence: who is available to whom, with which caps (XEP-0163 §4) ----

    const serve = (ownerUsername: string, full: string, entry: TrackedResource) => {
      const known = caps.known(full, entry.caps);
      if (known) {
        pep.sendLastItems(ownerUsername, full, entry).catch((e) => api.log.warn('last items not sent', { error: String(e) }));
        return;
      }
      const c = entry.caps;
      if (!c) return;
      caps
        .learn(full, c)
        .then(async (features) => {
          if (!features) return;
          // Every account this resource is available to waits on the same answer.
          for (const [owner, e] of tracker.withCaps(full)) {
            if (e.caps?.ver !== c.ver || e.served) continue;
            await pep.sendLastItems(usernameOf(owner), full, e);
          }
        })
        .catch((e) => api.log.warn('caps lookup failed', { error: String(e) }));
    };

    const track = (owner: string, full: string, stanza: Element) => {
      const entry = tracker.available(owner, full, capsOf(stanza), parsePriority(stanza));
      if (entry) serve(usernameOf(owner), full, entry);
    };

    // The account's own resources, and same-host accounts whose presence this user subscribed to.
    api.hook(
      'presence/broadcast',
      async (event) => {
        const s = event.origin;
        const username = s.username;
        if (!s.jid || username === undefined) return false;
        const full = s.jid.full;
        const type = event.stanza.attrs.type;
        if (type === 'unavailable') {
          tracker.gone(full);
          caps.forget(full);
          return false;
        }
        if (type !== undefined) return false;
        track(pep.owner(username), full, event.stanza);
        for (const item of (await roster.all(username)).values()) {
          if (item.hidden || (item.subscription !== 'to' && item.subscription !== 'both')) continue;
          if (!item.jid.endsWith(suffix) || item.jid === pep.owner(username)) continue;
          track(item.jid, full, event.stanza);
        }
        return false;
      },
      50,
    );

    // Presence reaching an account from anyone (contacts, directed presence).
    const inbound = async (event: StanzaEvent) => {
      const username = event.to.local;
      const from = event.from;
      if (username === undefined || from.resource === undefined) return false;
      const owner = pep.owner(username);
      if (from.bare === owner) return false;
      const type = event.stanza.attrs.type;
      if (type === 'unavailable' || type === 'error') {
        tracker.unavailable(owner, from.full);
        return false;
      }
      if (type !== undefined) return false;
      if (tracker.of(owner).size === 0 && api.sessions.sessionsOf(username).length === 0 && !(await api.userExists(username))) return false;
      track(owner, from.full, event.stanza);
      return false;
    };
    api.hook('presence/bare', inbound, 50);
    api.hook('presence/full', inbound, 50);

    api.hook<{ session: Session }>('session-closed', ({ session }) => {
      if (!session.jid) return;
      tracker.gone(session.jid.full);
      caps.forget(session.jid.full);
    });

    // XEP-0163 §4.3.1: errors about notifications come back to the owner; stop sending there.
    api.hook(
      'message/bare',
      (event) => {
        if (event.stanza.attrs.type === 'error' && event.to.local !== undefined && event.from.resource !== undefined) {
          tracker.unavailable(pep.owner(event.to.local), event.from.full);
        }
        return false;
      },
      50,
    );

    // ---- Disco (XEP-0060 §5) ----

    api.hook<AccountDiscoEvent>('account-disco-items', async ({ event, username, reply }) => {
      const owner = pep.owner(username);
      for (const n of await pep.nodes(username)) {
        if (!(await pep.mayAccess(username, n, event.from.bare))) continue;
        reply.c('item', { jid: owner, node: n.name, name: n.config.title || undefined });
      }
    });

    api.hook<AccountDiscoEvent>('account-disco-info-node', async ({ event, username, node, reply }) => {
      if (node === undefined) return false;
      const n = await pep.node(username, node);
      if (!n || !(await pep.mayAccess(username, n, event.from.bare))) return false;
      reply.c('identity', { category: 'pubsub', type: 'leaf' });
      reply.c('feature', { var: NS_PUBSUB });
      const items = await pep.ownItems(username, node);
      reply.append(
        simpleForm(NS_PUBSUB_META_DATA, {
          'pubsub#type': n.config.type,
          'pubsub#title': n.config.title,
          'pubsub#description': n.config.description,
          'pubsub#access_model': n.config.accessModel,
          'pubsub#owner': pep.owner(username),
          'pubsub#num_subscribers': String(Object.keys(n.subscriptions).length),
          'pubsub#num_items': String(items?.length ?? 0),
        }),
      );
      return true;
    });

    api.hook<AccountDiscoEvent>('account-disco-items-node', async ({ event, username, node, reply }) => {
      if (node === undefined) return false;
      const n = await pep.node(username, node);
      if (!n || !(await pep.mayAccess(username, n, event.from.bare))) return false;
      for (const it of (await pep.ownItems(username, node)) ?? []) reply.c('item', { jid: pep.owner(username), name: it.id });
      return true;
    });

    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      const owner = pep.owner(username);
      tracker.forgetOwner(owner);
      await store.deleteOwner(owner);
    });
  },
});
