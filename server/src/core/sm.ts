// XEP-0198: Stream Management — the per-session state (counters and the queue of stanzas the
// client has not acknowledged) and the protocol elements. Version 1.6.3 (2025-07-28),
// namespace urn:xmpp:sm:3, including the SASL2/Bind2 inline forms (§"Inline", XEP-0386).
// https://xmpp.org/extensions/xep-0198.html
//
// The stream (core/c2s.ts) drives it: it counts every stanza it handles from the client
// (`handled`, sent back as 'h'), queues every stanza it writes (or would write while the
// connection is gone), and drops from the queue what the client's <a h='...'/> acknowledges.
// Counters wrap at 2^32 (§4: "the value of 'h' shall be reset from 2^32-1 back to zero").
import { escapeText, xml, type Element } from '../xml/element.js';
import type { Session } from './session.js';
import { NS_STANZAS } from './stanza-error.js';

export const NS_SM = 'urn:xmpp:sm:3';
export const NS_DELAY = 'urn:xmpp:delay';

/** One stanza sent (or to be sent) and not yet acknowledged. */
export interface Unacked {
  stanza: Element;
  /** When it was handed to the session (ms), for the XEP-0203 stamp on a re-send. */
  at: number;
}

/** Event of hooks `sm-hibernated`, `sm-resumed`. */
export interface SmSessionEvent {
  session: Session;
}

/** Event of hook `sm-stanza-queued`: a stanza for a session whose connection is gone. */
export interface SmStanzaQueuedEvent {
  session: Session;
  stanza: Element;
}

const U32 = 0x1_0000_0000;

/** Parses an 'h' attribute: an xs:unsignedInt, or undefined. */
export function parseH(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n < U32 ? n : undefined;
}

/** A first-in first-out queue that does not shift arrays (acks drop from the front). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(v: T): void {
    this.items.push(v);
  }

  /** Drops the `n` oldest items. */
  drop(n: number): void {
    this.head += n;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Everything still queued, oldest first. */
  toArray(): T[] {
    return this.items.slice(this.head);
  }

  clear(): T[] {
    const all = this.toArray();
    this.items = [];
    this.head = 0;
    return all;
  }
}

export type AckResult = { ok: true } | { ok: false; h: number; sent: number };

export class SmState {
  /** Resumption id when the session may be resumed (enable with resume='true'). */
  id?: string;
  /** Seconds the session waits for resumption after its connection drops. */
  max = 0;
  /** Stanzas handled from the client (its <r/> gets this as 'h'). */
  handled = 0;
  /** The client's last 'h': stanzas of ours it has acknowledged. */
  acked = 0;
  /** Our count ('sent') when we last sent <r/>; -1 when no request is outstanding. */
  requestedAt = -1;
  /** When that request went out (ms), to detect a connection that stopped answering. */
  requestedSince = 0;
  private readonly queue = new Fifo<Unacked>();

  get unacked(): number {
    return this.queue.length;
  }

  /** Stanzas sent since enable, modulo 2^32. */
  get sent(): number {
    return (this.acked + this.queue.length) % U32;
  }

  countHandled(): void {
    this.handled = (this.handled + 1) % U32;
  }

  push(stanza: Element, at = Date.now()): void {
    this.queue.push({ stanza, at });
  }

  /** Whether `h` acknowledges no more than was sent (without applying it). */
  check(h: number): AckResult {
    const n = (h - this.acked + U32) % U32;
    return n > this.queue.length ? { ok: false, h, sent: this.sent } : { ok: true };
  }

  /**
   * Applies the client's 'h' (from <a/>, or <resume/>). An 'h' acknowledging more than was sent
   * is refused and changes nothing (§4: the caller ends the stream with handled-count-too-high).
   */
  ack(h: number): AckResult {
    const n = (h - this.acked + U32) % U32;
    if (n > this.queue.length) return { ok: false, h, sent: this.sent };
    this.queue.drop(n);
    this.acked = h;
    if (this.requestedAt >= 0 && n > 0) this.requestedAt = -1;
    return { ok: true };
  }

  /** The unacknowledged stanzas, oldest first (still queued). */
  pending(): Unacked[] {
    return this.queue.toArray();
  }

  /** Takes every unacknowledged stanza out (the session ends). */
  takeAll(): Unacked[] {
    return this.queue.clear();
  }
}

// ------------------------------------------------------------ elements

export function smFeature(): Element {
  return xml('sm', { xmlns: NS_SM });
}

export function enabledElement(id: string | undefined, max: number | undefined): Element {
  return xml('enabled', { xmlns: NS_SM, id, resume: id !== undefined ? 'true' : undefined, max: id !== undefined ? max : undefined });
}

export function resumedElement(previd: string, h: number): Element {
  return xml('resumed', { xmlns: NS_SM, previd, h });
}

/**
 * <failed/> with a stanza error condition (§6), the 'h' of the stream it refers to when known
 * (§5: so the client knows which of its stanzas arrived), and extra children.
 */
export function failedElement(condition: string, h?: number, text?: string, extra?: Element): Element {
  return xml(
    'failed',
    { xmlns: NS_SM, h },
    xml(condition, { xmlns: NS_STANZAS }),
    extra,
    text ? xml('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }, text) : undefined,
  );
}

/** §4 application condition: the client acknowledged more stanzas than it was sent. */
export function handledCountTooHigh(h: number, sent: number): Element {
  return xml('handled-count-too-high', { xmlns: NS_SM, h, 'send-count': sent });
}

export function ackXml(h: number): string {
  return `<a xmlns='${NS_SM}' h='${h}'/>`;
}

export const REQUEST_XML = `<r xmlns='${NS_SM}'/>`;

/** The stream error of §4 for an 'h' that is too high, as raw XML (stream namespace prefix). */
export function tooHighStreamError(h: number, sent: number): string {
  return (
    `<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>` +
    `<handled-count-too-high xmlns='${NS_SM}' h='${h}' send-count='${sent}'/>` +
    `<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>${escapeText(`you acknowledged ${h} stanzas but were sent ${sent}`)}</text>` +
    `</stream:error>`
  );
}

/**
 * The stanza as re-sent after resumption: messages and presence not stamped yet get an
 * XEP-0203 <delay/> with the time the server first handed them over, so the client can tell
 * old from new (iqs are never stamped: they are requests, not history).
 */
export function withDelay(item: Unacked, from: string): Element {
  const s = item.stanza;
  if (s.name === 'iq' || s.getChild('delay', NS_DELAY)) return s;
  const copy = s.clone();
  copy.append(xml('delay', { xmlns: NS_DELAY, from, stamp: new Date(item.at).toISOString() }));
  return copy;
}
