// Typed hooks: the only way modules and the core talk about events.
//
// Names follow Prosody: `iq-get/host/urn:xmpp:ping`, `iq-set/self/jabber:iq:roster`,
// `iq-get/bare/vcard-temp`, `message/bare`, `message/full`, `presence/bare`, `presence/host`,
// plus lifecycle events (`session-bound`, `session-closed`, `server-stopping`...).
// Handlers run by descending priority; the first to return true handles the event and stops it.
// Handlers may be async; fire() only becomes async when one of them is, so the common path of
// routing a chat message stays synchronous.

export type HookResult = boolean | void;
export type HookHandler<E = unknown> = (event: E) => HookResult | Promise<HookResult>;

interface Entry {
  handler: HookHandler<any>;
  priority: number;
}

export class Hooks {
  private readonly table = new Map<string, Entry[]>();

  on<E = unknown>(name: string, handler: HookHandler<E>, priority = 0): () => void {
    const list = this.table.get(name) ?? [];
    list.push({ handler, priority });
    // Stable sort: equal priorities keep registration order.
    list.sort((a, b) => b.priority - a.priority);
    this.table.set(name, list);
    return () => {
      const l = this.table.get(name);
      if (!l) return;
      const i = l.findIndex((e) => e.handler === handler);
      if (i >= 0) l.splice(i, 1);
    };
  }

  has(name: string): boolean {
    return (this.table.get(name)?.length ?? 0) > 0;
  }

  /**
   * Runs the handlers of `name`; true when one of them handled the event.
   * Returns a promise only if a handler returned one.
   */
  fire<E>(name: string, event: E): boolean | Promise<boolean> {
    const list = this.table.get(name);
    if (!list || list.length === 0) return false;
    const snapshot = list.slice();
    for (let i = 0; i < snapshot.length; i++) {
      const r = snapshot[i]!.handler(event);
      if (r === true) return true;
      if (r && typeof (r as Promise<HookResult>).then === 'function') {
        return (r as Promise<HookResult>).then((v) => (v === true ? true : fireRest(snapshot, i + 1, event)));
      }
    }
    return false;
  }

  /** fire() that always returns a promise, for callers that await anyway. */
  async fireAsync<E>(name: string, event: E): Promise<boolean> {
    return this.fire(name, event);
  }
}

async function fireRest<E>(list: Entry[], from: number, event: E): Promise<boolean> {
  for (let i = from; i < list.length; i++) {
    if ((await list[i]!.handler(event)) === true) return true;
  }
  return false;
}
