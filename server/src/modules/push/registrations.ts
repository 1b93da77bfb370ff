// XEP-0357: Push Notifications — §5/§6 the app server registrations of each account
// https://xmpp.org/extensions/xep-0357.html — Version 0.4.1 (2020-02-11)
//
// Store: keyval 'push', owner = account bare JID, key = "<app server JID> <node>", value =
// PushRegistration. One JID may be enabled several times with different nodes (§5); the same
// JID+node again replaces the earlier registration (its publish-options are the last ones).
import type { ModuleApi } from '../../core/module.js';
import type { JsonValue } from '../../storage/types.js';
import type { PushRegistration } from '../../xmpp/xep0357.js';

const keyOf = (jid: string, node: string) => `${jid} ${node}`;

function fromStored(v: JsonValue | undefined): PushRegistration | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  if (typeof v.jid !== 'string' || typeof v.node !== 'string') return undefined;
  const options: [string, string[]][] = [];
  if (Array.isArray(v.options)) {
    for (const o of v.options) {
      if (Array.isArray(o) && typeof o[0] === 'string' && Array.isArray(o[1])) options.push([o[0], o[1].filter((x): x is string => typeof x === 'string')]);
    }
  }
  const r: PushRegistration = { jid: v.jid, node: v.node, options, created: typeof v.created === 'number' ? v.created : 0, errors: typeof v.errors === 'number' ? v.errors : 0 };
  if (typeof v.resource === 'string') r.resource = v.resource;
  return r;
}

export class PushRegistrations {
  private readonly kv;
  constructor(api: ModuleApi) {
    this.kv = api.keyval('push');
  }

  async all(owner: string): Promise<PushRegistration[]> {
    const out: PushRegistration[] = [];
    for (const v of (await this.kv.getAll(owner)).values()) {
      const r = fromStored(v);
      if (r) out.push(r);
    }
    return out.sort((a, b) => a.created - b.created);
  }

  /** Adds or replaces; beyond `max` registrations the oldest go (an app reinstalled many times). */
  async put(owner: string, reg: PushRegistration, max: number): Promise<void> {
    await this.kv.set(owner, keyOf(reg.jid, reg.node), reg as unknown as JsonValue);
    const all = await this.all(owner);
    for (const old of all.slice(0, Math.max(0, all.length - max))) await this.remove(owner, old.jid, old.node);
  }

  async update(owner: string, reg: PushRegistration): Promise<void> {
    // Only if it is still there: a disable may have raced with a publish.
    if ((await this.kv.get(owner, keyOf(reg.jid, reg.node))) === undefined) return;
    await this.kv.set(owner, keyOf(reg.jid, reg.node), reg as unknown as JsonValue);
  }

  async remove(owner: string, jid: string, node?: string): Promise<number> {
    let n = 0;
    for (const r of await this.all(owner)) {
      if (r.jid !== jid || (node !== undefined && r.node !== node)) continue;
      await this.kv.set(owner, keyOf(r.jid, r.node), undefined);
      n++;
    }
    return n;
  }

  deleteOwner(owner: string): Promise<void> {
    return this.kv.deleteOwner(owner);
  }
}
