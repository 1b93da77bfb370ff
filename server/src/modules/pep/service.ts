// XEP-0163: Personal Eventing Protocol over XEP-0060: Publish-Subscribe — the per-account
// virtual pubsub service: publish (auto-create, publish-options), retract, items, node
// creation/configuration/deletion/purge, subscriptions, affiliations, and who gets notified.
// https://xmpp.org/extensions/xep-0163.html — Version 1.2.2 (2022-02-16)
// https://xmpp.org/extensions/xep-0060.html — Version 1.26.0 (2023-09-07)
//
// Other modules use it through getPepService(api) (bookmarks, avatar conversion) and hear about
// changes through hooks fired after each change is stored and notified:
//   pep-published   PepPublishedEvent
//   pep-retracted   PepRetractedEvent
//   pep-node-deleted, pep-purged   PepNodeEvent
// `source` on a request is echoed in the event, so a module can recognise its own writes.
import { randomUUID } from 'node:crypto';
import { tryParseJid } from '../../core/jid.js';
import { isBlockedBy } from '../../xmpp/xep0191.js';
import type { ModuleApi } from '../../core/module.js';
import { Element, xml } from '../../xml/element.js';
import {
  NS_PUBSUB_EVENT,
  type Affiliation,
  type NodeConfig,
} from '../../xmpp/xep0060.js';
import { createRosterStore, withLock, type RosterItem } from '../im/roster-store.js';
import { parseStoredXml } from '../im/xml-parse.js';
import type { CapsCache } from './caps.js';
import { PubsubError, badRequest, forbidden, notFound, preconditionNotMet } from './errors.js';
import { configForm, effectiveMaxItems, unmetPreconditions } from './node-config.js';
import type { PresenceTracker, TrackedResource } from './presence-tracker.js';
import type { PepNode, PepStore, StoredItem } from './store.js';

export const NS_DELAY = 'urn:xmpp:delay';
export const NS_ADDRESS = 'http://jabber.org/protocol/address';

export interface PepLimits {
  /** What max_items 'max' means, and the highest number accepted. */
  maxItems: number;
  /** Nodes per account. */
  maxNodes: number;
  /** Bytes of one item's payload. */
  maxItemSize: number;
  /** Explicit subscriptions per node. */
  maxSubscriptions: number;
  /** Longest node name and item id. */
  maxNameLength: number;
}

export interface PublishRequest {
  /** JID of the publishing entity (a full JID for a client). */
  publisher: string;
  id?: string;
  payload: Element;
  /** publish-options preconditions (XEP-0060 §7.1.5), canonical. */
  options?: Partial<NodeConfig>;
  /** publish-options fields this server does not know: they cannot be guaranteed. */
  unknownOptions?: string[];
  source?: string;
}

export interface PepPublishedEvent {
  owner: string;
  username: string;
  node: string;
  id: string;
  payload: Element;
  publisher: string;
  config: NodeConfig;
  source?: string;
}

export interface PepRetractedEvent {
  owner: string;
  username: string;
  node: string;
  ids: string[];
  source?: string;
}

export interface PepNodeEvent {
  owner: string;
  username: string;
  node: string;
  source?: string;
}

/** A notification target: a JID, and whether it shares presence with the owner (XEP-0163 §4.3.1). */
interface Recipient {
  to: string;
  contact: boolean;
}

const services = new WeakMap<object, PepService>();

/** The PEP service of the host `api` belongs to (undefined when the pep module is disabled). */
export function getPepService(api: ModuleApi): PepService | undefined {
  return services.get(api.hooks);
}

export function registerPepService(api: ModuleApi, service: PepService): void {
  services.set(api.hooks, service);
}

function bareOf(jid: string): string {
  const i = jid.indexOf('/');
  return i < 0 ? jid : jid.slice(0, i);
}

function hasFrom(item: RosterItem | undefined): boolean {
  return item !== undefined && (item.subscription === 'from' || item.subscription === 'both');
}

function cloneNode(n: PepNode): PepNode {
  return {
    name: n.name,
    config: { ...n.config, rosterGroupsAllowed: [...n.config.rosterGroupsAllowed] },
    affiliations: { ...n.affiliations },
    subscriptions: { ...n.subscriptions },
    created: n.created,
  };
}

export class PepService {
  private readonly roster;
  private readonly blocklist;

  constructor(
    private readonly api: ModuleApi,
    readonly store: PepStore,
    readonly caps: CapsCache,
    readonly tracker: PresenceTracker,
    readonly limits: PepLimits,
    readonly defaults: () => NodeConfig,
  ) {
    this.roster = createRosterStore(api);
    this.blocklist = api.keyval('blocklist');
  }

  owner(username: string): string {
    return `${username}@${this.api.host}`;
  }

  private lock<T>(username: string, fn: () => Promise<T>): Promise<T> {
    return withLock('pep:' + this.owner(username), fn);
  }

  private checkName(what: string, name: string | undefined): string {
    if (name === undefined || name === '') throw badRequest('nodeid-required', `${what} is required`);
    if (name.length > this.limits.maxNameLength) throw new PubsubError('modify', 'not-acceptable', undefined, `${what} longer than ${this.limits.maxNameLength} characters`);
    return name;
  }

  // ---- Access (XEP-0060 §4.5, §6.1.3, §6.5.9) ----

  affiliation(username: string, node: PepNode, bare: string): Affiliation {
    if (bare === this.owner(username)) return 'owner';
    return node.affiliations[bare] ?? 'none';
  }

  /** Why `bare` may not see the node's items, or undefined when it may. */
  accessError(username: string, node: PepNode, bare: string, roster: Map<string, RosterItem>): PubsubError | undefined {
    const aff = this.affiliation(username, node, bare);
    if (aff === 'owner') return undefined;
    if (aff === 'outcast') return forbidden();
    switch (node.config.accessModel) {
      case 'open':
        return undefined;
      case 'presence':
        return hasFrom(roster.get(bare)) ? undefined : new PubsubError('auth', 'not-authorized', 'presence-subscription-required');
      case 'roster': {
        const item = roster.get(bare);
        const allowed = node.config.rosterGroupsAllowed;
        if (item && !item.hidden && item.groups.some((g) => allowed.includes(g))) return undefined;
        return new PubsubError('auth', 'not-authorized', 'not-in-roster-group');
      }
      case 'whitelist':
        return aff === 'member' || aff === 'publisher' ? undefined : new PubsubError('cancel', 'not-allowed', 'closed-node');
    }
  }

  private async rosterOf(username: string): Promise<Map<string, RosterItem>> {
    return this.roster.all(username);
  }

  /**
   * XEP-0163 §4.3.3 rule 3: nothing goes to entities the owner blocked (XEP-0191; the blocking
   * module's keyval 'blocklist', key 'list': prepared JID strings).
   */
  private async blocked(username: string): Promise<(jid: string) => boolean> {
    const list = await this.blocklist.get(this.owner(username), 'list').catch(() => undefined);
    if (!Array.isArray(list) || list.length === 0) return () => false;
    const set = new Set(list.filter((x): x is string => typeof x === 'string'));
    return (jid) => {
      const j = tryParseJid(jid);
      return j !== undefined && isBlockedBy(set, j);
    };
  }

  /** May `bare` see this node? (Disco listings use it.) */
  async mayAccess(username: string, node: PepNode, bare: string): Promise<boolean> {
    if (bare === this.owner(username)) return true;
    return this.accessError(username, node, bare, await this.rosterOf(username)) === undefined;
  }

  // ---- Publish (XEP-0060 §7.1, XEP-0163 §3) ----

  async publish(username: string, nodeName: string, req: PublishRequest): Promise<{ id: string; created: boolean }> {
    const name = this.checkName('node', nodeName);
    const owner = this.owner(username);
    const publisherBare = bareOf(req.publisher);
    if (req.id !== undefined) this.checkName('item id', req.id);
    const payload = req.payload.clone();
    const size = Buffer.byteLength(payload.toString(), 'utf8');
    if (size > this.limits.maxItemSize) {
      throw new PubsubError('modify', 'not-acceptable', 'payload-too-big', `items are limited to ${this.limits.maxItemSize} bytes`);
    }
    const result = await this.lock(username, async () => {
      let node = await this.store.node(owner, name);
      let created = false;
      if (req.unknownOptions && req.unknownOptions.length > 0) {
        throw preconditionNotMet(`this server does not support ${req.unknownOptions.join(', ')}`);
      }
      if (!node) {
        // Auto-create (XEP-0163 §3); publish-options become the new node's configuration.
        if (publisherBare !== owner) throw notFound();
        await this.checkNodeCount(owner);
        // pubsub#type defaults to the payload's namespace (what the node carries).
        node = { name, config: { ...this.defaults(), type: payload.attrs.xmlns ?? '', ...req.options }, affiliations: {}, subscriptions: {}, created: Date.now() };
        created = true;
      } else {
        node = cloneNode(node);
        if (req.options) {
          const unmet = unmetPreconditions(node.config, req.options);
          if (unmet.length > 0) throw preconditionNotMet(`the node's ${unmet.join(', ')} differ from the publish-options`);
        }
        if (!this.mayPublish(username, node, req.publisher)) throw forbidden();
      }
      const id = req.id ?? randomUUID();
      const item: StoredItem = { id, xml: payload.toString(), publisher: req.publisher, when: Date.now() };
      const items = (await this.store.items(owner, node)).filter((i) => i.id !== id);
      items.push(item);
      const max = effectiveMaxItems(node.config, this.limits.maxItems);
      if (created) await this.store.putNode(owner, node);
      await this.store.setItems(owner, node, items.slice(Math.max(0, items.length - max)));
      return { id, created, node, item };
    });
    if (result.node.config.deliverNotifications) {
      await this.notify(username, result.node, (withPayload) => this.itemsEvent(result.node, [result.item], withPayload), result.item.publisher);
    }
    const ev: PepPublishedEvent = { owner, username, node: name, id: result.id, payload, publisher: req.publisher, config: result.node.config };
    if (req.source !== undefined) ev.source = req.source;
    await this.api.hooks.fireAsync('pep-published', ev);
    return { id: result.id, created: result.created };
  }

  private mayPublish(username: string, node: PepNode, publisher: string): boolean {
    const bare = bareOf(publisher);
    const aff = this.affiliation(username, node, bare);
    if (aff === 'owner' || aff === 'publisher') return true;
    if (aff === 'outcast') return false;
    if (node.config.publishModel === 'open') return true;
    if (node.config.publishModel === 'subscribers') return node.subscriptions[bare] !== undefined || node.subscriptions[publisher] !== undefined;
    return false;
  }

  private async checkNodeCount(owner: string): Promise<void> {
    if ((await this.store.nodes(owner)).size >= this.limits.maxNodes) {
      throw new PubsubError('cancel', 'not-allowed', 'max-nodes-exceeded', `at most ${this.limits.maxNodes} nodes per account`);
    }
  }

  // ---- Retract (XEP-0060 §7.2) ----

  async retract(username: string, nodeName: string, requester: string, ids: string[], notify: boolean | undefined, source?: string): Promise<void> {
    const owner = this.owner(username);
    if (ids.length === 0) throw badRequest('item-required');
    const node = await this.lock(username, async () => {
      const node = await this.store.node(owner, nodeName);
      if (!node) throw notFound();
      const items = await this.store.items(owner, node);
      const bare = bareOf(requester);
      const aff = this.affiliation(username, node, bare);
      for (const id of ids) {
        const it = items.find((i) => i.id === id);
        if (!it) throw notFound(`no item ${id}`);
        // Owner and publishers may retract anything; others only what they published.
        if (aff !== 'owner' && aff !== 'publisher' && bareOf(it.publisher) !== bare) throw forbidden();
      }
      const drop = new Set(ids);
      await this.store.setItems(owner, node, items.filter((i) => !drop.has(i.id)));
      return node;
    });
    if ((notify ?? node.config.notifyRetract) && node.config.deliverNotifications) {
      await this.notify(username, node, () => {
        const items = xml('items', { node: node.name });
        for (const id of ids) items.c('retract', { id });
        return xml('event', { xmlns: NS_PUBSUB_EVENT }, items);
      });
    }
    const ev: PepRetractedEvent = { owner, username, node: nodeName, ids };
    if (source !== undefined) ev.source = source;
    await this.api.hooks.fireAsync('pep-retracted', ev);
  }

  // ---- Items (XEP-0060 §6.5) ----

  /** Items as `requester` may see them: all, by id, or the newest `max`. Oldest first. */
  async items(username: string, nodeName: string, requester: string, q: { ids?: string[]; max?: number }): Promise<{ node: PepNode; items: StoredItem[] }> {
    const owner = this.owner(username);
    const node = await this.store.node(owner, nodeName);
    if (!node) throw notFound();
    const bare = bareOf(requester);
    if (bare !== owner) {
      const err = this.accessError(username, node, bare, await this.rosterOf(username));
      if (err) throw err;
    }
    let items = await this.store.items(owner, node);
    if (q.ids) {
      const want = new Set(q.ids);
      items = items.filter((i) => want.has(i.id));
    }
    if (q.max !== undefined) items = items.slice(Math.max(0, items.length - q.max));
    return { node, items };
  }

  /** The owner's own view, for modules working on the owner's behalf (no access check). */
  async ownItems(username: string, nodeName: string): Promise<StoredItem[] | undefined> {
    const owner = this.owner(username);
    const node = await this.store.node(owner, nodeName);
    return node ? this.store.items(owner, node) : undefined;
  }

  async node(username: string, nodeName: string): Promise<PepNode | undefined> {
    return this.store.node(this.owner(username), nodeName);
  }

  async nodes(username: string): Promise<PepNode[]> {
    return [...(await this.store.nodes(this.owner(username))).values()];
  }

  // ---- Owner use cases (XEP-0060 §8) ----

  async create(username: string, nodeName: string | undefined, config: Partial<NodeConfig> | undefined): Promise<string> {
    const owner = this.owner(username);
    // §8.1.2 instant nodes: the service names it.
    const name = nodeName === undefined || nodeName === '' ? randomUUID() : this.checkName('node', nodeName);
    await this.lock(username, async () => {
      if (await this.store.node(owner, name)) throw new PubsubError('cancel', 'conflict', undefined, 'the node exists');
      await this.checkNodeCount(owner);
      await this.store.putNode(owner, { name, config: { ...this.defaults(), ...config }, affiliations: {}, subscriptions: {}, created: Date.now() });
    });
    return name;
  }

  async configure(username: string, nodeName: string, values: Partial<NodeConfig>): Promise<void> {
    const owner = this.owner(username);
    const after = await this.lock(username, async () => {
      const before = await this.store.node(owner, nodeName);
      if (!before) throw notFound();
      const after = cloneNode(before);
      after.config = { ...after.config, ...values };
      await this.store.changePersistence(owner, before, after);
      // A smaller max_items drops the oldest items now (XEP-0060 §8.2.5).
      const items = await this.store.items(owner, after);
      const max = effectiveMaxItems(after.config, this.limits.maxItems);
      if (items.length > max) await this.store.setItems(owner, after, items.slice(items.length - max));
      await this.store.putNode(owner, after);
      return after;
    });
    if (after.config.notifyConfig && after.config.deliverNotifications) {
      await this.notify(username, after, (withPayload) =>
        xml('event', { xmlns: NS_PUBSUB_EVENT }, xml('configuration', { node: after.name }, withPayload ? configForm(after.config, 'result') : undefined)),
      );
    }
  }

  async deleteNode(username: string, nodeName: string, source?: string): Promise<void> {
    const owner = this.owner(username);
    const node = await this.store.node(owner, nodeName);
    if (!node) throw notFound();
    // Who may hear of it is decided before the node (and its subscriptions) is gone.
    const recipients = node.config.notifyDelete ? await this.recipients(username, node) : [];
    await this.lock(username, () => this.store.deleteNode(owner, nodeName));
    this.send(username, recipients, node, () => xml('event', { xmlns: NS_PUBSUB_EVENT }, xml('delete', { node: nodeName })));
    const ev: PepNodeEvent = { owner, username, node: nodeName };
    if (source !== undefined) ev.source = source;
    await this.api.hooks.fireAsync('pep-node-deleted', ev);
  }

  async purge(username: string, nodeName: string, source?: string): Promise<void> {
    const owner = this.owner(username);
    const node = await this.lock(username, async () => {
      const node = await this.store.node(owner, nodeName);
      if (!node) throw notFound();
      await this.store.setItems(owner, node, []);
      return node;
    });
    if (node.config.notifyRetract && node.config.deliverNotifications) {
      await this.notify(username, node, () => xml('event', { xmlns: NS_PUBSUB_EVENT }, xml('purge', { node: nodeName })));
    }
    const ev: PepNodeEvent = { owner, username, node: nodeName };
    if (source !== undefined) ev.source = source;
    await this.api.hooks.fireAsync('pep-purged', ev);
  }

  async setAffiliations(username: string, nodeName: string, changes: { jid: string; affiliation: Affiliation }[]): Promise<void> {
    const owner = this.owner(username);
    await this.lock(username, async () => {
      const before = await this.store.node(owner, nodeName);
      if (!before) throw notFound();
      const node = cloneNode(before);
      for (const c of changes) {
        if (c.jid === owner) throw new PubsubError('modify', 'not-acceptable', undefined, "the owner's affiliation cannot change");
        if (c.affiliation === 'none') delete node.affiliations[c.jid];
        else if (c.affiliation === 'owner') throw new PubsubError('modify', 'not-acceptable', undefined, 'a personal node has one owner');
        else node.affiliations[c.jid] = c.affiliation;
      }
      if (Object.keys(node.affiliations).length > this.limits.maxSubscriptions) {
        throw new PubsubError('wait', 'resource-constraint', undefined, `at most ${this.limits.maxSubscriptions} affiliations per node`);
      }
      await this.store.putNode(owner, node);
    });
  }

  // ---- Subscriptions (XEP-0060 §6.1, §6.2) ----

  async subscribe(username: string, nodeName: string, requester: string, jid: string): Promise<PepNode> {
    const owner = this.owner(username);
    const target = tryParseJid(jid);
    if (!target) throw badRequest('invalid-jid');
    if (target.bare !== bareOf(requester)) throw badRequest('invalid-jid', 'one can only subscribe oneself');
    const node = await this.lock(username, async () => {
      const before = await this.store.node(owner, nodeName);
      if (!before) throw notFound();
      const err = this.accessError(username, before, target.bare, await this.rosterOf(username));
      if (err) throw err;
      const node = cloneNode(before);
      if (node.subscriptions[target.full] === undefined) {
        if (Object.keys(node.subscriptions).length >= this.limits.maxSubscriptions) {
          throw new PubsubError('wait', 'resource-constraint', undefined, `at most ${this.limits.maxSubscriptions} subscriptions per node`);
        }
        node.subscriptions[target.full] = 'subscribed';
        await this.store.putNode(owner, node);
      }
      return node;
    });
    // §6.1.7: the last item goes to a new subscriber when the node is configured so.
    if (node.config.sendLastPublishedItem !== 'never' && node.config.deliverNotifications) {
      const items = await this.store.items(owner, node);
      const last = items[items.length - 1];
      if (last) {
        const roster = await this.rosterOf(username);
        this.send(username, [{ to: target.full, contact: target.bare === owner || hasFrom(roster.get(target.bare)) }], node, (p) => this.itemsEvent(node, [last], p), last);
      }
    }
    return node;
  }

  async unsubscribe(username: string, nodeName: string, requester: string, jid: string): Promise<void> {
    const owner = this.owner(username);
    const target = tryParseJid(jid);
    if (!target) throw badRequest('invalid-jid');
    if (target.bare !== bareOf(requester) && bareOf(requester) !== owner) throw forbidden();
    await this.lock(username, async () => {
      const before = await this.store.node(owner, nodeName);
      if (!before) throw notFound();
      if (before.subscriptions[target.full] === undefined) throw new PubsubError('cancel', 'unexpected-request', 'not-subscribed');
      const node = cloneNode(before);
      delete node.subscriptions[target.full];
      await this.store.putNode(owner, node);
    });
  }

  // ---- Notifications (XEP-0163 §4) ----

  itemsEvent(node: PepNode, items: StoredItem[], withPayload: boolean): Element {
    const el = xml('items', { node: node.name });
    for (const it of items) {
      const item = el.c('item', { id: it.id });
      if (withPayload) {
        const payload = parseStoredXml(it.xml);
        if (payload) item.append(payload);
      }
    }
    return xml('event', { xmlns: NS_PUBSUB_EVENT }, el);
  }

  /**
   * Who hears about a change to `node`: available resources (own and others') whose caps ask
   * for `node+notify` and who may access it, plus explicit subscribers (§4.3.2: a bare-JID
   * subscriber whose resources were served already gets nothing more).
   */
  async recipients(username: string, node: PepNode): Promise<Recipient[]> {
    const owner = this.owner(username);
    const roster = await this.rosterOf(username);
    const isBlocked = await this.blocked(username);
    const out = new Map<string, Recipient>();
    const servedBare = new Set<string>();
    const want = node.name + '+notify';
    for (const [full, entry] of this.tracker.of(owner)) {
      if (entry.priority < 0) continue;
      if (!this.caps.known(full, entry.caps)?.has(want)) continue;
      const b = bareOf(full);
      if (this.accessError(username, node, b, roster) || isBlocked(full)) continue;
      out.set(full, { to: full, contact: b === owner || hasFrom(roster.get(b)) });
      servedBare.add(b);
    }
    for (const jid of Object.keys(node.subscriptions)) {
      if (out.has(jid)) continue;
      const b = bareOf(jid);
      if (jid === b && servedBare.has(b)) continue;
      if (this.accessError(username, node, b, roster) || isBlocked(jid)) continue;
      out.set(jid, { to: jid, contact: b === owner || hasFrom(roster.get(b)) });
    }
    return [...out.values()];
  }

  private async notify(username: string, node: PepNode, event: (withPayload: boolean) => Element, publisher?: string): Promise<void> {
    const recipients = await this.recipients(username, node);
    this.send(username, recipients, node, event, undefined, publisher);
  }

  /** Routes one notification per recipient, from the owner's bare JID (§4.3.1). */
  private send(username: string, recipients: Recipient[], node: PepNode, event: (withPayload: boolean) => Element, delayed?: StoredItem, publisher?: string): void {
    if (recipients.length === 0) return;
    const owner = this.owner(username);
    const body = event(node.config.deliverPayloads);
    for (const r of recipients) {
      const msg = xml('message', { from: owner, to: r.to, type: node.config.notificationType, id: randomUUID() }, body.clone());
      // §4.3.1: the publishing resource, but only for those who share presence with the owner.
      if (publisher && r.contact && publisher.includes('/')) {
        msg.append(xml('addresses', { xmlns: NS_ADDRESS }, xml('address', { type: 'replyto', jid: publisher })));
      }
      if (delayed) msg.append(xml('delay', { xmlns: NS_DELAY, stamp: new Date(delayed.when).toISOString(), from: owner }));
      this.api.route(msg);
    }
  }

  /**
   * §4.3.3 rule 2 / §4.3.4: a newly available resource (or one whose caps changed) gets the last
   * item of each node it asks for and may see.
   */
  async sendLastItems(ownerUsername: string, full: string, entry: TrackedResource): Promise<void> {
    if (entry.priority < 0 || entry.served) return;
    const features = this.caps.known(full, entry.caps);
    if (!features) return;
    entry.served = true;
    const owner = this.owner(ownerUsername);
    const nodes = await this.store.nodes(owner);
    if (nodes.size === 0) return;
    const roster = await this.rosterOf(ownerUsername);
    if ((await this.blocked(ownerUsername))(full)) return;
    const b = bareOf(full);
    for (const node of [...nodes.values()]) {
      if (node.config.sendLastPublishedItem !== 'on_sub_and_presence' || !node.config.deliverNotifications) continue;
      if (!features.has(node.name + '+notify')) continue;
      if (this.accessError(ownerUsername, node, b, roster)) continue;
      const items = await this.store.items(owner, node);
      const last = items[items.length - 1];
      if (!last) continue;
      this.send(ownerUsername, [{ to: full, contact: b === owner || hasFrom(roster.get(b)) }], node, (p) => this.itemsEvent(node, [last], p), last);
    }
  }
}
