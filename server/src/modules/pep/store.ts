// XEP-0163: Personal Eventing Protocol — where an account's nodes and items live
// https://xmpp.org/extensions/xep-0163.html — Version 1.2.2 (2022-02-16)
//
// Layout (owners are bare JIDs, docs/architecture.md):
//   keyval 'pep_nodes'  owner = account bare JID, key = node name, value = StoredNode
//   keyval 'pep_items'  owner = account bare JID, key = node name, value = StoredItem[] (oldest first)
// Items of nodes with pubsub#persist_items false are kept in memory only (lost at restart, which
// is what the owner asked for), still bounded by max_items. Node metadata is small and read on
// every presence that may trigger last-item delivery, so each owner's node table is cached
// (bounded LRU; this process is the only writer).
import type { ModuleApi } from '../../core/module.js';
import type { JsonValue } from '../../storage/types.js';
import type { Affiliation, NodeConfig } from '../../xmpp/xep0060.js';
import { configFromStored } from './node-config.js';

export interface StoredItem {
  id: string;
  /** The payload element, serialized (with its own xmlns). */
  xml: string;
  /** Full JID of the publishing resource. */
  publisher: string;
  /** Milliseconds since the epoch. */
  when: number;
}

export interface PepNode {
  name: string;
  config: NodeConfig;
  /** Bare JID → affiliation (the owner's own is implicit). */
  affiliations: Record<string, Affiliation>;
  /** Subscribed JID (bare or full) → 'subscribed': explicit XEP-0060 §6.1 subscriptions. */
  subscriptions: Record<string, 'subscribed'>;
  created: number;
}

function nodeFromStored(name: string, v: JsonValue | undefined, defaults: NodeConfig): PepNode | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const affiliations: Record<string, Affiliation> = {};
  const subscriptions: Record<string, 'subscribed'> = {};
  if (v.affiliations && typeof v.affiliations === 'object' && !Array.isArray(v.affiliations)) {
    for (const [jid, a] of Object.entries(v.affiliations)) {
      if (a === 'publisher' || a === 'member' || a === 'outcast') affiliations[jid] = a;
    }
  }
  if (v.subscriptions && typeof v.subscriptions === 'object' && !Array.isArray(v.subscriptions)) {
    for (const [jid, s] of Object.entries(v.subscriptions)) if (s === 'subscribed') subscriptions[jid] = s;
  }
  return {
    name,
    config: configFromStored(v.config, defaults),
    affiliations,
    subscriptions,
    created: typeof v.created === 'number' ? v.created : 0,
  };
}

function nodeToStored(n: PepNode): JsonValue {
  return {
    config: n.config as unknown as JsonValue,
    affiliations: n.affiliations,
    subscriptions: n.subscriptions,
    created: n.created,
  };
}

function itemsFromStored(v: JsonValue | undefined): StoredItem[] {
  if (!Array.isArray(v)) return [];
  const out: StoredItem[] = [];
  for (const i of v) {
    if (!i || typeof i !== 'object' || Array.isArray(i)) continue;
    if (typeof i.id !== 'string' || typeof i.xml !== 'string') continue;
    out.push({
      id: i.id,
      xml: i.xml,
      publisher: typeof i.publisher === 'string' ? i.publisher : '',
      when: typeof i.when === 'number' ? i.when : 0,
    });
  }
  return out;
}

export class PepStore {
  private readonly nodesKv;
  private readonly itemsKv;
  /** Items of non-persistent nodes: owner → node → items. */
  private readonly volatile = new Map<string, Map<string, StoredItem[]>>();
  private readonly cache = new Map<string, Map<string, PepNode>>();

  constructor(
    api: ModuleApi,
    private readonly defaults: () => NodeConfig,
    private readonly cacheOwners: number,
  ) {
    this.nodesKv = api.keyval('pep_nodes');
    this.itemsKv = api.keyval('pep_items');
  }

  /** Every node of an account. The returned map is the cache's: do not change it. */
  async nodes(owner: string): Promise<Map<string, PepNode>> {
    const hit = this.cache.get(owner);
    if (hit) {
      this.cache.delete(owner);
      this.cache.set(owner, hit);
      return hit;
    }
    const raw = await this.nodesKv.getAll(owner);
    const m = new Map<string, PepNode>();
    for (const [name, v] of raw) {
      const n = nodeFromStored(name, v, this.defaults());
      if (n) m.set(name, n);
    }
    this.cache.set(owner, m);
    while (this.cache.size > this.cacheOwners) this.cache.delete(this.cache.keys().next().value!);
    return m;
  }

  async node(owner: string, name: string): Promise<PepNode | undefined> {
    return (await this.nodes(owner)).get(name);
  }

  async putNode(owner: string, node: PepNode): Promise<void> {
    await this.nodesKv.set(owner, node.name, nodeToStored(node));
    const m = this.cache.get(owner);
    if (m) m.set(node.name, node);
  }

  async deleteNode(owner: string, name: string): Promise<void> {
    await this.itemsKv.set(owner, name, undefined);
    await this.nodesKv.set(owner, name, undefined);
    this.cache.get(owner)?.delete(name);
    this.volatile.get(owner)?.delete(name);
  }

  async items(owner: string, node: PepNode): Promise<StoredItem[]> {
    if (!node.config.persistItems) return [...(this.volatile.get(owner)?.get(node.name) ?? [])];
    return itemsFromStored(await this.itemsKv.get(owner, node.name));
  }

  async setItems(owner: string, node: PepNode, items: StoredItem[]): Promise<void> {
    if (!node.config.persistItems) {
      let m = this.volatile.get(owner);
      if (!m) this.volatile.set(owner, (m = new Map()));
      if (items.length === 0) m.delete(node.name);
      else m.set(node.name, items);
      return;
    }
    await this.itemsKv.set(owner, node.name, items.length === 0 ? undefined : (items as unknown as JsonValue));
  }

  /**
   * Moves items between disk and memory when persist_items changes (so switching it off forgets
   * the stored copy, and switching it on keeps what was published).
   */
  async changePersistence(owner: string, before: PepNode, after: PepNode): Promise<void> {
    if (before.config.persistItems === after.config.persistItems) return;
    const items = await this.items(owner, before);
    if (before.config.persistItems) await this.itemsKv.set(owner, before.name, undefined);
    else this.volatile.get(owner)?.delete(before.name);
    await this.setItems(owner, after, items);
  }

  async deleteOwner(owner: string): Promise<void> {
    await this.itemsKv.deleteOwner(owner);
    await this.nodesKv.deleteOwner(owner);
    this.cache.delete(owner);
    this.volatile.delete(owner);
  }
}
