// Input checks shared by every backend. Both backends must accept and refuse exactly the same
// values, so the checks live here and run before anything is queued: a bad write is refused on
// its own with StorageError 'invalid' and never spoils the group commit it would have joined.
import { pooledRandomBytes } from '../util/random-pool.js';
import { StorageError } from './errors.js';
import type { ArchiveItem, ArchiveQuery, JsonValue } from './types.js';

/** Limits on what one call may pass; the XMPP layer enforces far smaller stanza limits. */
export const LIMITS = {
  /** Owner, key, store, `with` and id strings. */
  name: 3071,
  /** Given archive ids (XEP-0359 ids are short; this only stops abuse). */
  id: 256,
  /** Nesting depth of a JSON value. */
  depth: 64,
  /** Ids in one `ids` query. */
  ids: 1000,
} as const;

/** 96 random bits, base64url: unguessable (XEP-0359 §6 asks for ids that do not leak). */
export function newArchiveId(): string {
  return pooledRandomBytes(12).toString('base64url');
}

function invalid(message: string): StorageError {
  return new StorageError('invalid', message);
}

/** PostgreSQL text cannot hold U+0000; SQLite could, but both must behave the same. */
export function checkName(what: string, s: unknown, max: number = LIMITS.name): string {
  if (typeof s !== 'string') throw invalid(`${what} must be a string`);
  if (s.length === 0) throw invalid(`${what} must not be empty`);
  if (s.length > max) throw invalid(`${what} is longer than ${max} characters`);
  if (s.includes('\u0000')) throw invalid(`${what} must not contain U+0000`);
  return s;
}

function checkText(what: string, s: unknown): string {
  if (typeof s !== 'string') throw invalid(`${what} must be a string`);
  if (s.includes('\u0000')) throw invalid(`${what} must not contain U+0000`);
  return s;
}

/**
 * Serializes a value the store can give back exactly: JSON.stringify would silently turn NaN
 * into null and drop undefined members, so such values are refused instead.
 */
export function serializeJson(value: JsonValue): string {
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth > LIMITS.depth) throw invalid(`value is nested deeper than ${LIMITS.depth} levels`);
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw invalid(`value${path} is ${v}, which JSON cannot hold`);
      return;
    }
    if (typeof v !== 'object') throw invalid(`value${path} is a ${typeof v}, which JSON cannot hold`);
    if (seen.has(v)) throw invalid(`value${path} refers to itself`);
    seen.add(v);
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
    } else {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) throw invalid(`value${path} is not a plain object`);
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) throw invalid(`value${path}.${k} is undefined, which JSON cannot hold`);
        walk(x, depth + 1, `${path}.${k}`);
      }
    }
    seen.delete(v);
  };
  walk(value, 0, '');
  return JSON.stringify(value);
}

/** Parses a stored value; one that is not JSON means the database was damaged or edited. */
export function parseStored<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new StorageError('corrupt', `the stored value of ${where} is not valid JSON`);
  }
}

export interface CheckedItem {
  id: string;
  when: number;
  with: string;
  body: string | null;
  xml: string;
}

export function checkItem(item: Omit<ArchiveItem, 'id'> & { id?: string }): CheckedItem {
  if (typeof item !== 'object' || item === null) throw invalid('archive item must be an object');
  if (!Number.isSafeInteger(item.when)) throw invalid('archive item `when` must be an integer number of milliseconds');
  const id = item.id === undefined ? newArchiveId() : checkName('archive item id', item.id, LIMITS.id);
  const body = item.body === undefined ? null : checkText('archive item body', item.body);
  return { id, when: item.when, with: checkName('archive item `with`', item.with), body, xml: checkText('archive item xml', item.xml) };
}

/** A query with every field checked; bounds are still ids (each backend looks them up). */
export interface CheckedQuery {
  with?: string;
  start?: number;
  end?: number;
  after?: string;
  before?: string;
  ids?: string[];
  text?: string;
  /** Rows to return; already capped at the backend's page limit. */
  limit: number;
  reverse: boolean;
  count: boolean;
}

export function checkQuery(q: ArchiveQuery | undefined, maxPage: number): CheckedQuery {
  const src = q ?? {};
  if (typeof src !== 'object') throw invalid('archive query must be an object');
  const out: CheckedQuery = { limit: maxPage, reverse: src.reverse === true, count: src.count === true };
  if (src.with !== undefined) out.with = checkName('query `with`', src.with);
  for (const f of ['start', 'end'] as const) {
    const v = src[f];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`query \`${f}\` must be a number of milliseconds`);
    out[f] = v;
  }
  if (src.after !== undefined) out.after = checkName('query `after`', src.after, LIMITS.id);
  if (src.before !== undefined) out.before = checkName('query `before`', src.before, LIMITS.id);
  if (src.ids !== undefined) {
    if (!Array.isArray(src.ids)) throw invalid('query `ids` must be an array of ids');
    if (src.ids.length > LIMITS.ids) throw invalid(`query \`ids\` has more than ${LIMITS.ids} ids`);
    out.ids = src.ids.map((id) => checkName('query id', id, LIMITS.id));
  }
  // An empty needle is a substring of every body: no filter at all.
  if (src.text !== undefined && checkText('query `text`', src.text) !== '') out.text = src.text;
  if (src.limit !== undefined) {
    if (!Number.isSafeInteger(src.limit) || src.limit < 0) throw invalid('query `limit` must be a non-negative integer');
    out.limit = Math.min(src.limit, maxPage);
  }
  if (src.reverse !== undefined && typeof src.reverse !== 'boolean') throw invalid('query `reverse` must be a boolean');
  if (src.count !== undefined && typeof src.count !== 'boolean') throw invalid('query `count` must be a boolean');
  return out;
}

/**
 * The time part of a keyset bound. Items are ordered by (when, seq) where seq is the insertion
 * number (>= 1), so `when >= start` is the same as `(when, seq) > (ceil(start) - 1, MAX)` and
 * `when <= end` the same as `(when, seq) < (floor(end) + 1, 0)`. Turning start/end into the same
 * tuple form as after/before lets each backend walk one index range for every combination.
 */
export type Key = readonly [when: number, seq: number];
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

const clampTime = (t: number): number => Math.max(-MAX_SEQ + 1, Math.min(MAX_SEQ - 1, t));

export function lowerBound(start: number | undefined, after: Key | undefined): Key | undefined {
  const fromStart: Key | undefined = start === undefined ? undefined : [clampTime(Math.ceil(start) - 1), MAX_SEQ];
  if (!fromStart) return after;
  if (!after) return fromStart;
  return compareKey(after, fromStart) > 0 ? after : fromStart;
}

export function upperBound(end: number | undefined, before: Key | undefined): Key | undefined {
  const fromEnd: Key | undefined = end === undefined ? undefined : [clampTime(Math.floor(end) + 1), 0];
  if (!fromEnd) return before;
  if (!before) return fromEnd;
  return compareKey(before, fromEnd) < 0 ? before : fromEnd;
}

export function compareKey(a: Key, b: Key): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/** Case-insensitive substring match, the reference both backends' `text` must agree with. */
export function textMatches(body: string | null | undefined, needle: string): boolean {
  return (body ?? '').toLowerCase().includes(needle.toLowerCase());
}
