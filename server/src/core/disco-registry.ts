// What one host advertises in service discovery (XEP-0030): modules add to it while loading and
// the disco module answers from it.
import type { Element } from '../xml/element.js';
import type { DiscoIdentity, DiscoItem, DiscoRegistry } from './module.js';

export class HostDisco implements DiscoRegistry {
  private readonly feats = new Set<string>();
  private readonly accountFeats = new Set<string>();
  private readonly ids: DiscoIdentity[] = [];
  private readonly accountIds: DiscoIdentity[] = [];
  private readonly itemList: DiscoItem[] = [];
  private readonly forms: Element[] = [];

  addFeature(ns: string): void {
    this.feats.add(ns);
  }
  addAccountFeature(ns: string): void {
    this.accountFeats.add(ns);
  }
  addIdentity(identity: DiscoIdentity): void {
    if (!this.ids.some((i) => sameIdentity(i, identity))) this.ids.push(identity);
  }
  addAccountIdentity(identity: DiscoIdentity): void {
    if (!this.accountIds.some((i) => sameIdentity(i, identity))) this.accountIds.push(identity);
  }
  addItem(item: DiscoItem): void {
    if (!this.itemList.some((i) => i.jid === item.jid && i.node === item.node)) this.itemList.push(item);
  }
  addExtension(form: Element): void {
    this.forms.push(form);
  }
  features(): string[] {
    return [...this.feats];
  }
  accountFeatures(): string[] {
    return [...this.accountFeats];
  }
  identities(): DiscoIdentity[] {
    return [...this.ids];
  }
  accountIdentities(): DiscoIdentity[] {
    return [...this.accountIds];
  }
  items(): DiscoItem[] {
    return [...this.itemList];
  }
  extensions(): Element[] {
    return [...this.forms];
  }
}

function sameIdentity(a: DiscoIdentity, b: DiscoIdentity): boolean {
  return a.category === b.category && a.type === b.type && a.name === b.name;
}
