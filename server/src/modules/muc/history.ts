// XEP-0045: Multi-User Chat — discussion history sent on entering (§7.2.15, §7.2.16)
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17); XEP-0203: Delayed Delivery 2.0 for the <delay/> stamp.
//
// The room keeps its last messages in memory (up to its configured history length, refilled
// from the archive when the room is loaded). Someone entering may ask for less with
// <history maxchars maxstanzas seconds since/>; maxchars counts the characters of the complete
// stanzas as sent, delay included (§7.2.16).
import { Element, xml } from '../../xml/element.js';
import { NS_DELAY } from './namespaces.js';

export interface HistoryEntry {
  /** Stanza id (archive id) when archived. */
  id?: string;
  when: number;
  /** The message as broadcast, without 'to'. */
  stanza: Element;
}

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  since?: number;
}

export class HistoryRequestError extends Error {}

const XEP82 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** XEP-0082 DateTime to milliseconds; undefined when it is not one. */
export function parseDateTime(s: string): number | undefined {
  if (!XEP82.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

export function stamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** Reads <history/> from a join presence's <x xmlns='…muc'/>; throws HistoryRequestError. */
export function parseHistoryRequest(history: Element | undefined): HistoryRequest {
  const req: HistoryRequest = {};
  if (!history) return req;
  for (const a of ['maxchars', 'maxstanzas', 'seconds'] as const) {
    const v = history.attrs[a];
    if (v === undefined) continue;
    if (!/^\d{1,10}$/.test(v.trim())) throw new HistoryRequestError(`history ${a} must be a whole number, got "${v.slice(0, 20)}"`);
    req[a] = Number(v.trim());
  }
  const since = history.attrs.since;
  if (since !== undefined) {
    const t = parseDateTime(since.trim());
    if (t === undefined) throw new HistoryRequestError(`history since must be a date and time such as 2024-01-31T09:00:00Z, got "${since.slice(0, 40)}"`);
    req.since = t;
  }
  return req;
}

export class History {
  private list: HistoryEntry[] = [];

  constructor(private max: number) {}

  setMax(n: number): void {
    this.max = n;
    if (this.list.length > n) this.list = this.list.slice(this.list.length - n);
  }

  add(e: HistoryEntry): void {
    if (this.max === 0) return;
    this.list.push(e);
    if (this.list.length > this.max) this.list.shift();
  }

  /** Loads entries (oldest first) when the room is restored from storage. */
  fill(entries: HistoryEntry[]): void {
    this.list = entries.slice(-this.max);
  }

  remove(id: string): boolean {
    const i = this.list.findIndex((e) => e.id === id);
    if (i < 0) return false;
    this.list.splice(i, 1);
    return true;
  }

  clear(): void {
    this.list = [];
  }

  get size(): number {
    return this.list.length;
  }

  /** The stanzas to send to `to`, oldest first, each with its delay stamp. */
  select(req: HistoryRequest, roomJid: string, to: string, now = Date.now()): Element[] {
    let n = req.maxstanzas ?? this.list.length;
    if (req.maxchars === 0 || n === 0) return [];
    const out: Element[] = [];
    let chars = 0;
    for (let i = this.list.length - 1; i >= 0 && n > 0; i--) {
      const e = this.list[i]!;
      if (req.seconds !== undefined && e.when < now - req.seconds * 1000) break;
      if (req.since !== undefined && e.when <= req.since) break;
      const s = e.stanza.clone();
      s.attrs.to = to;
      s.append(xml('delay', { xmlns: NS_DELAY, from: roomJid, stamp: stamp(e.when) }));
      if (req.maxchars !== undefined) {
        chars += s.toString().length;
        if (chars > req.maxchars) break;
      }
      out.push(s);
      n--;
    }
    return out.reverse();
  }
}
