// XEP-0313 §4: reading an archive query (data form, RSM, flip-page) and running it on the
// archive store.
//
// Paging: RSM <before/> (empty or an id) takes the page from the newest end of the window
// (paging back); otherwise pages run forward from the oldest. The form's before-id/after-id
// bound the window without changing the direction (§9). When both a form id and the RSM id
// bound the same side, the tighter one applies (looked up in the archive: their order is the
// archive's order, not anything in the ids). Every id named must exist: item-not-found.
//
// 'with' is matched on the bare JID by the store; a full JID is matched by reading the stored
// stanzas' to/from (a scan over the bare JID's messages, capped by maxScan items per query).
import type { Jid } from '../../core/jid.js';
import { tryParseJid } from '../../core/jid.js';
import { StorageError } from '../../storage/errors.js';
import type { ArchiveItem, ArchiveQuery, ArchiveStore } from '../../storage/types.js';
import type { Element } from '../../xml/element.js';
import { formType, formValues, parseBoolean, parseForm } from '../dataforms.js';
import { parseStoredXml } from '../im/xml-parse.js';
import { parseDateTime } from '../../xmpp/xep0082.js';
import { NS_RSM, parseRsm, RsmError } from '../../xmpp/xep0059.js';
import { FIELD_FULLTEXT, FIELD_WITHTEXT, NS_MAM, type MamQuery } from '../../xmpp/xep0313.js';

export class QueryError extends Error {
  constructor(
    readonly condition: 'bad-request' | 'item-not-found' | 'feature-not-implemented' | 'jid-malformed',
    message: string,
  ) {
    super(message);
  }
}

const KNOWN_FIELDS = new Set(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids', 'include-groupchat', FIELD_WITHTEXT, FIELD_FULLTEXT]);

/** The most ids one query may name (the store's own limit). */
export const MAX_IDS = 1000;

/** Reads <query xmlns='urn:xmpp:mam:2'/>; QueryError saying what is wrong. */
export function parseQuery(query: Element): MamQuery {
  const q: MamQuery = { flip: query.getChild('flip-page') !== undefined };
  if (query.attrs.queryid !== undefined) q.queryId = query.attrs.queryid;
  if (query.attrs.node !== undefined) throw new QueryError('feature-not-implemented', 'this archive has no nodes');
  const x = query.getChild('x', 'jabber:x:data');
  if (x) {
    const form = parseForm(x);
    if (!form) throw new QueryError('bad-request', 'unreadable data form');
    const ft = formType(form);
    if (ft !== undefined && ft !== NS_MAM) throw new QueryError('bad-request', `FORM_TYPE must be ${NS_MAM}`);
    const v = formValues(form);
    for (const name of v.keys()) if (!KNOWN_FIELDS.has(name)) throw new QueryError('feature-not-implemented', `unknown field '${name.slice(0, 64)}'`);
    const one = (name: string): string | undefined => {
      const vals = v.get(name);
      if (!vals || vals.length === 0) return undefined;
      const t = vals[0]!.trim();
      return t === '' ? undefined : t;
    };
    const w = one('with');
    if (w !== undefined) {
      if (!tryParseJid(w)) throw new QueryError('jid-malformed', `'${w.slice(0, 64)}' is not a valid address`);
      q.with = w;
    }
    for (const name of ['start', 'end'] as const) {
      const t = one(name);
      if (t === undefined) continue;
      const ms = parseDateTime(t);
      if (ms === undefined) throw new QueryError('bad-request', `'${name}' is not an XEP-0082 date and time: ${t.slice(0, 40)}`);
      q[name] = ms;
    }
    const beforeId = one('before-id');
    if (beforeId !== undefined) q.beforeId = beforeId;
    const afterId = one('after-id');
    if (afterId !== undefined) q.afterId = afterId;
    const ids = v.get('ids')?.map((s) => s.trim()).filter((s) => s !== '');
    if (ids && ids.length > 0) {
      if (ids.length > MAX_IDS) throw new QueryError('bad-request', `at most ${MAX_IDS} ids per query`);
      q.ids = [...new Set(ids)];
    }
    const text = one(FIELD_WITHTEXT) ?? one(FIELD_FULLTEXT);
    if (text !== undefined) q.text = text;
    const gc = one('include-groupchat');
    if (gc !== undefined) {
      const b = parseBoolean(gc);
      if (b === undefined) throw new QueryError('bad-request', "include-groupchat must be 'true' or 'false'");
      q.includeGroupchat = b;
    }
  }
  let rsm;
  try {
    rsm = parseRsm(query.getChild('set', NS_RSM));
  } catch (e) {
    if (e instanceof RsmError) throw new QueryError('bad-request', e.message);
    throw e;
  }
  if (rsm) {
    if (rsm.index !== undefined) throw new QueryError('feature-not-implemented', 'paging by index is not supported; use after/before');
    if (rsm.after !== undefined && rsm.before !== undefined) throw new QueryError('bad-request', 'RSM after and before together are undefined (XEP-0313 §4.3); use after-id/before-id');
    if (rsm.max !== undefined) q.max = rsm.max;
    if (rsm.after !== undefined) q.after = rsm.after;
    if (rsm.before !== undefined) q.before = rsm.before;
  }
  return q;
}

export interface QueryLimits {
  maxPage: number;
  defaultPage: number;
  /** Most stored items read to filter one page by a full JID. */
  maxScan: number;
  /** Always compute the RSM count (a walk over every match). */
  alwaysCount: boolean;
}

export interface PageResult {
  items: ArchiveItem[];
  complete: boolean;
  count?: number;
}

/** Runs a parsed query on `owner`'s archive. Items come back oldest first. */
export async function runQuery(archive: ArchiveStore, owner: string, q: MamQuery, limits: QueryLimits): Promise<PageResult> {
  const withJid: Jid | undefined = q.with !== undefined ? tryParseJid(q.with) : undefined;
  const filter: ArchiveQuery = {};
  if (withJid) filter.with = withJid.bare;
  if (q.start !== undefined) filter.start = q.start;
  if (q.end !== undefined) filter.end = q.end;
  if (q.text !== undefined) filter.text = q.text;
  // include-groupchat=true: groupchat is never kept here, so there is nothing more to return.
  if (q.ids) {
    const found = await wrap(archive.query(owner, { ids: q.ids, limit: q.ids.length }));
    if (found.items.length !== q.ids.length) throw new QueryError('item-not-found', 'an id in ids is not in the archive');
    filter.ids = q.ids;
  }

  // Window bounds: the tighter of the form id and the RSM id on each side.
  const reverse = q.before !== undefined;
  let after = q.afterId;
  if (q.after !== undefined) after = after === undefined ? q.after : await pick(archive, owner, after, q.after, 'later');
  let before = q.beforeId;
  if (q.before !== undefined && q.before !== '') before = before === undefined ? q.before : await pick(archive, owner, before, q.before, 'earlier');
  if (after !== undefined) filter.after = after;
  if (before !== undefined) filter.before = before;

  if (q.max === 0) {
    // RSM §2.6: the count alone.
    await checkIds(archive, owner, [after, before]);
    const count = await wrap(archive.count(owner, pickCountFilter(filter)));
    return { items: [], complete: count === 0, count };
  }
  const limit = Math.min(q.max ?? limits.defaultPage, limits.maxPage);
  const bounded = after !== undefined || before !== undefined;

  if (withJid && withJid.resource !== undefined) {
    return scanFullJid(archive, owner, filter, reverse, limit, withJid, limits.maxScan);
  }
  const r = await wrap(archive.query(owner, { ...filter, limit, reverse, count: limits.alwaysCount }));
  const out: PageResult = { items: r.items, complete: r.complete };
  if (r.count !== undefined) out.count = r.count;
  // Free: a complete first page from either end holds every match.
  else if (r.complete && !bounded) out.count = r.items.length;
  return out;
}

function pickCountFilter(f: ArchiveQuery): Pick<ArchiveQuery, 'with' | 'start' | 'end' | 'ids' | 'text'> {
  const out: Pick<ArchiveQuery, 'with' | 'start' | 'end' | 'ids' | 'text'> = {};
  if (f.with !== undefined) out.with = f.with;
  if (f.start !== undefined) out.start = f.start;
  if (f.end !== undefined) out.end = f.end;
  if (f.ids !== undefined) out.ids = f.ids;
  if (f.text !== undefined) out.text = f.text;
  return out;
}

async function checkIds(archive: ArchiveStore, owner: string, ids: (string | undefined)[]): Promise<void> {
  const want = [...new Set(ids.filter((i): i is string => i !== undefined))];
  if (want.length === 0) return;
  const r = await wrap(archive.query(owner, { ids: want, limit: want.length }));
  if (r.items.length !== want.length) throw new QueryError('item-not-found', 'an id is not in the archive');
}

/** Of two archive ids, the later or the earlier one in archive order. */
async function pick(archive: ArchiveStore, owner: string, a: string, b: string, which: 'later' | 'earlier'): Promise<string> {
  if (a === b) {
    await checkIds(archive, owner, [a]);
    return a;
  }
  const r = await wrap(archive.query(owner, { ids: [a, b], limit: 2 }));
  if (r.items.length !== 2) throw new QueryError('item-not-found', 'an id is not in the archive');
  return which === 'later' ? r.items[1]!.id : r.items[0]!.id;
}

/** Pages over the bare JID's messages keeping those whose to/from is the full JID. */
async function scanFullJid(
  archive: ArchiveStore,
  owner: string,
  filter: ArchiveQuery,
  reverse: boolean,
  limit: number,
  full: Jid,
  maxScan: number,
): Promise<PageResult> {
  const matches = (item: ArchiveItem): boolean => {
    const el = parseStoredXml(item.xml);
    if (!el) return false;
    return tryParseJid(el.attrs.from)?.full === full.full || tryParseJid(el.attrs.to)?.full === full.full;
  };
  const picked: ArchiveItem[] = [];
  let cursor: { after?: string; before?: string } = {};
  let scanned = 0;
  for (;;) {
    const page = await wrap(archive.query(owner, { ...filter, ...cursor, limit: Math.min(200, maxScan - scanned), reverse }));
    scanned += page.items.length;
    // Newest first when paging back, so the page holds the newest matches.
    const ordered = reverse ? [...page.items].reverse() : page.items;
    for (let i = 0; i < ordered.length; i++) {
      if (!matches(ordered[i]!)) continue;
      picked.push(ordered[i]!);
      if (picked.length === limit) {
        const rest = ordered.slice(i + 1);
        const complete = page.complete && !rest.some(matches);
        return { items: reverse ? picked.reverse() : picked, complete };
      }
    }
    if (page.complete || page.items.length === 0) return { items: reverse ? picked.reverse() : picked, complete: true };
    if (scanned >= maxScan) return { items: reverse ? picked.reverse() : picked, complete: false };
    cursor = reverse ? { ...(filter.after ? { after: filter.after } : {}), before: page.items[0]!.id } : { after: page.items[page.items.length - 1]!.id, ...(filter.before ? { before: filter.before } : {}) };
  }
}

async function wrap<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof StorageError && e.code === 'not-found') throw new QueryError('item-not-found', 'an id is not in the archive');
    if (e instanceof StorageError && e.code === 'invalid') throw new QueryError('bad-request', e.message);
    throw e;
  }
}
