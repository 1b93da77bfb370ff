// XEP-0163: Personal Eventing Protocol — §4 "Use Presence": which resources each PEP service
// (account) knows to be available, with their XEP-0115 caps
// https://xmpp.org/extensions/xep-0163.html — Version 1.2.2 (2022-02-16)
//
// For each account (owner bare JID) the full JIDs it may send notifications to: its own available
// resources, every entity whose available presence reached the account (contacts, directed
// presence), and same-host users who subscribed to the account's presence but whose presence
// the account does not receive (one-way subscription: their server is this one, so their
// sessions are known). Entries go when the resource sends unavailable or its stream closes.
import type { Caps } from './caps.js';

export interface TrackedResource {
  caps?: Caps;
  priority: number;
  /** Set once the last published items were sent for this availability (and these caps). */
  served: boolean;
}

export class PresenceTracker {
  private readonly byOwner = new Map<string, Map<string, TrackedResource>>();
  private readonly byJid = new Map<string, Set<string>>();

  constructor(private readonly maxPerOwner: number) {}

  /**
   * Records available presence of `full` as seen by `owner`. Returns the entry when this is a
   * new availability or the caps changed (the caller then sends last items), else undefined.
   */
  available(owner: string, full: string, caps: Caps | undefined, priority: number): TrackedResource | undefined {
    let m = this.byOwner.get(owner);
    if (!m) this.byOwner.set(owner, (m = new Map()));
    const prev = m.get(full);
    if (!prev && m.size >= this.maxPerOwner) return undefined;
    const changed = !prev || prev.caps?.ver !== caps?.ver || prev.caps?.node !== caps?.node;
    const entry: TrackedResource = { caps, priority, served: changed ? false : prev.served };
    m.set(full, entry);
    let owners = this.byJid.get(full);
    if (!owners) this.byJid.set(full, (owners = new Set()));
    owners.add(owner);
    return changed || (prev && prev.priority < 0 && priority >= 0) ? entry : undefined;
  }

  unavailable(owner: string, full: string): void {
    const m = this.byOwner.get(owner);
    if (m?.delete(full) && m.size === 0) this.byOwner.delete(owner);
    const owners = this.byJid.get(full);
    if (owners?.delete(owner) && owners.size === 0) this.byJid.delete(full);
  }

  /** The resource is gone for every account that knew it. */
  gone(full: string): void {
    const owners = this.byJid.get(full);
    if (!owners) return;
    for (const o of [...owners]) this.unavailable(o, full);
  }

  /** Known resources of one account's audience. */
  of(owner: string): ReadonlyMap<string, TrackedResource> {
    return this.byOwner.get(owner) ?? new Map();
  }

  get(owner: string, full: string): TrackedResource | undefined {
    return this.byOwner.get(owner)?.get(full);
  }

  /** Every (owner, full) whose entry announced `caps` (used once a ver becomes known). */
  *withCaps(full: string): Iterable<[string, TrackedResource]> {
    for (const owner of this.byJid.get(full) ?? []) {
      const e = this.byOwner.get(owner)?.get(full);
      if (e) yield [owner, e];
    }
  }

  forgetOwner(owner: string): void {
    for (const full of [...this.of(owner).keys()]) this.unavailable(owner, full);
  }
}
