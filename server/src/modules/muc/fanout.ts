// Room fan-out: one stanza to every occupant, serialized once.
//
// A room message to 500 occupants differs only in 'to'. Building and serializing 500 element
// trees dominated the cost of a room message, so the room serializes the stanza once with a
// marker in place of 'to' and every copy's toString() is prefix + to + suffix. The copies are
// still real Elements (the router, hooks and stream code read them as usual); a copy whose
// attributes or child list were changed falls back to normal serialization. Child elements are
// shared between the copies: code that wants to change one must replace it, not edit it in
// place (nothing in Roost edits a routed stanza's children in place; they clone first).
//
// Outbox: what a room sends leaves in the order the room decided it, even when a groupchat
// message waits for its archive write (history is on disk before anyone sees the message).
import { Element, escapeAttr } from '../../xml/element.js';

const MARK = '\u0001to\u0001';

class Template {
  readonly prefix: string;
  readonly suffix: string;
  readonly ok: boolean;
  readonly attrCount: number;
  constructor(
    readonly name: string,
    readonly attrs: Record<string, string>,
    readonly children: Element['children'],
  ) {
    const probe = new Element(name, {}, children);
    probe.attrs = { ...attrs, to: MARK };
    const s = probe.toString();
    const i = s.indexOf(MARK);
    this.ok = i >= 0 && s.indexOf(MARK, i + 1) < 0 && attrs.to === undefined;
    this.attrCount = Object.keys(attrs).length + 1;
    this.prefix = this.ok ? s.slice(0, i) : '';
    this.suffix = this.ok ? s.slice(i + MARK.length) : '';
  }
}

export class SharedStanza extends Element {
  private readonly tpl: Template;
  private readonly sentTo: string;
  private cached: string | undefined;

  constructor(tpl: Template, to: string) {
    super(tpl.name);
    this.tpl = tpl;
    this.sentTo = to;
    this.attrs = { ...tpl.attrs, to };
    this.children = tpl.children.slice();
  }

  private unchanged(): boolean {
    const t = this.tpl;
    if (!t.ok || this.attrs.to !== this.sentTo || this.name !== t.name) return false;
    const c = this.children;
    if (c.length !== t.children.length) return false;
    for (let i = 0; i < c.length; i++) if (c[i] !== t.children[i]) return false;
    let n = 0;
    for (const k in this.attrs) {
      n++;
      if (k !== 'to' && this.attrs[k] !== t.attrs[k]) return false;
    }
    return n === t.attrCount;
  }

  override toString(): string {
    if (!this.unchanged()) return super.toString();
    return (this.cached ??= this.tpl.prefix + escapeAttr(this.sentTo) + this.tpl.suffix);
  }

  override clone(): Element {
    return this.unchanged() ? new SharedStanza(this.tpl, this.sentTo) : super.clone();
  }
}

/** Makes per-recipient copies of `stanza` ('to' is replaced; the stanza itself is not changed). */
export class Fanout {
  private readonly tpl: Template;
  constructor(stanza: Element) {
    const attrs = { ...stanza.attrs };
    delete attrs.to;
    this.tpl = new Template(stanza.name, attrs, stanza.children);
  }
  to(jid: string): Element {
    return new SharedStanza(this.tpl, jid);
  }
}

/** Keeps a room's output in decision order; synchronous while nothing is waiting. */
export class Outbox {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly onError: (e: unknown) => void) {}

  get busy(): boolean {
    return this.waiting > 0;
  }

  /** Runs `send` now, or after what is already waiting. */
  run(send: () => void): void {
    if (this.waiting === 0) {
      try {
        send();
      } catch (e) {
        this.onError(e);
      }
      return;
    }
    this.after(Promise.resolve(), send);
  }

  /** Runs `send` once `gate` has resolved and everything queued before it has gone; `failed` if it rejects. */
  after<T>(gate: Promise<T>, send: (v: T) => void, failed?: (e: unknown) => void): void {
    this.waiting++;
    const prev = this.tail;
    this.tail = (async () => {
      await prev;
      try {
        const v = await gate;
        send(v);
      } catch (e) {
        if (failed) {
          try {
            failed(e);
          } catch (e2) {
            this.onError(e2);
          }
        } else this.onError(e);
      } finally {
        this.waiting--;
      }
    })();
  }

  /** Resolves when everything queued so far has been sent (tests, shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }
}
