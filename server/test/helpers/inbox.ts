// What a test client receives, kept so a test can wait for a stanza that may already have come,
// or assert that none of a kind came. One class for every helper and test file: before it each
// had its own copy, differing only in the default timeouts (now InboxOptions).
import { xml } from '@xmpp/client';
import { expect } from 'vitest';

export interface InboxOptions {
  /** How long wait() waits by default, ms. */
  waitMs?: number;
  /** How long none() listens by default, ms. */
  noneMs?: number;
}

export class Inbox {
  items: any[] = [];
  private waiters: { pred: (s: any) => boolean; resolve: (s: any) => void }[] = [];
  private readonly waitMs: number;
  private readonly noneMs: number;

  constructor(
    readonly c: any,
    opts: InboxOptions = {},
  ) {
    this.waitMs = opts.waitMs ?? 5000;
    this.noneMs = opts.noneMs ?? 400;
    c.on('stanza', (s: any) => {
      // A stanza a test is waiting for goes to it, not into the list.
      const i = this.waiters.findIndex((w) => w.pred(s));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(s);
      else this.items.push(s);
    });
  }

  /** The first stanza (already here or still to come) matching `pred`, taken out of the list. */
  wait(pred: (s: any) => boolean, ms = this.waitMs, what = 'stanza'): Promise<any> {
    const i = this.items.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (s: any) => (clearTimeout(t), resolve(s)) };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timeout waiting for ${what}; inbox: ${this.items.map((s) => s.toString()).join('\n').slice(0, 3000)}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Waits for `n` stanzas matching `pred`. */
  async waitN(pred: (s: any) => boolean, n: number, ms = this.waitMs): Promise<any[]> {
    const out: any[] = [];
    for (let i = 0; i < n; i++) out.push(await this.wait(pred, ms));
    return out;
  }

  /** Listens `ms`, then expects no stanza matching `pred` among those not taken. */
  async none(pred: (s: any) => boolean, ms = this.noneMs): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    expect(this.items.filter(pred).map((s) => s.toString())).toEqual([]);
  }

  /** Takes every stanza matching `pred` out of the list. */
  take(pred: (s: any) => boolean): any[] {
    const out = this.items.filter(pred);
    this.items = this.items.filter((s) => !pred(s));
    return out;
  }

  clear(): void {
    this.items = [];
  }
}

/** A client's own available presence, reflected by the server (RFC 6121 §4.2.2). */
export const isOwnPresence = (jid: string) => (s: any) => s.name === 'presence' && s.attrs.from === jid && !s.attrs.type;

/** Sends initial presence (with `priority` when given) and waits until the server reflects it. */
export async function available(p: { c: any; inbox: Inbox }, priority?: number): Promise<void> {
  await p.c.send(xml('presence', {}, priority === undefined ? undefined : xml('priority', {}, String(priority))));
  await p.inbox.wait(isOwnPresence(p.c.jid.toString()));
}
