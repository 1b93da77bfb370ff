// XEP-0059: Result Set Management
// https://xmpp.org/extensions/xep-0059.html
// Version 1.0 (2006-09-20)
//
// The <set/> a client puts in a query (max, after, before, index) and the one the server
// returns (first, last, count).
import { Element, xml } from '../xml/element.js';

export const NS_RSM = 'http://jabber.org/protocol/rsm';

export interface RsmRequest {
  max?: number;
  after?: string;
  /** '' is the empty <before/>: the last page. */
  before?: string;
  index?: number;
}

export class RsmError extends Error {}

/** Reads a request <set/>; RsmError with a reason when a value is not what §2 allows. */
export function parseRsm(set: Element | undefined): RsmRequest | undefined {
  if (!set) return undefined;
  const out: RsmRequest = {};
  const max = set.getChild('max');
  if (max) {
    const t = max.text().trim();
    if (!/^\d{1,9}$/.test(t)) throw new RsmError('<max/> must be a non-negative integer');
    out.max = Number(t);
  }
  const after = set.getChild('after');
  if (after) {
    const t = after.text();
    if (t === '') throw new RsmError('<after/> needs an id');
    out.after = t;
  }
  const before = set.getChild('before');
  if (before) out.before = before.text();
  const index = set.getChild('index');
  if (index) {
    const t = index.text().trim();
    if (!/^\d{1,9}$/.test(t)) throw new RsmError('<index/> must be a non-negative integer');
    out.index = Number(t);
  }
  return out;
}

/** The result <set/>: first/last of the page (omitted for an empty page), count when known. */
export function rsmResult(r: { first?: string; last?: string; count?: number }): Element {
  const set = xml('set', { xmlns: NS_RSM });
  if (r.first !== undefined) set.c('first').t(r.first);
  if (r.last !== undefined) set.c('last').t(r.last);
  if (r.count !== undefined) set.c('count').t(String(r.count));
  return set;
}
