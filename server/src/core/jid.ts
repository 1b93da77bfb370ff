// XMPP addresses (JIDs): RFC 7622, "Extensible Messaging and Presence Protocol (XMPP): Address
// Format" (September 2015). https://www.rfc-editor.org/rfc/rfc7622
//   localpart:    PRECIS UsernameCaseMapped (RFC 8265 §3.3) + the 8 characters of §3.3.1
//   domainpart:   IP literal, or IDNA2008 + UTS #46, stored as U-labels (precis-idna.ts)
//   resourcepart: PRECIS OpaqueString (RFC 8265 §4.2)
// XEP-0106 JID Escaping (version 1.1.1): escapeLocal()/unescapeLocal().
//
// parseJid() prepares every part, so two JIDs that mean the same address are the same string:
// stores key owners by bare JID and the router compares full JIDs as strings.
//
// Speed: parseJid() runs for every stanza's to/from. Printable-ASCII JIDs take a fast path (one
// regex, lower-casing where the profile says so); anything else is prepared in full once and
// kept in a small LRU cache keyed by the raw string (configureJidCache()).
import { isIPv4, isIPv6 } from 'node:net';
import { configureDomainCache, domainCacheStats, prepareDomainName } from './precis-idna.js';
import { PrecisError, enforceOpaqueString, enforceUsernameCaseMapped } from './precis-profiles.js';
import { showCodePoint } from './precis-properties.js';

export type JidPart = 'jid' | 'localpart' | 'domainpart' | 'resourcepart';

/** A JID that is not valid; the message says what is wrong (stanza error: jid-malformed). */
export class JidError extends Error {
  override name = 'JidError';
  constructor(
    message: string,
    /** Which part is wrong, when it is one part. */
    readonly part: JidPart = 'jid',
  ) {
    super(message);
  }
}

/** A prepared JID. Construct through parseJid()/jidFromParts() unless the parts are prepared. */
export class Jid {
  #bare: string | undefined;
  #full: string | undefined;

  constructor(
    readonly local: string | undefined,
    readonly domain: string,
    readonly resource: string | undefined,
  ) {}

  get bare(): string {
    return (this.#bare ??= this.local === undefined ? this.domain : `${this.local}@${this.domain}`);
  }

  get full(): string {
    return (this.#full ??= this.resource === undefined ? this.bare : `${this.bare}/${this.resource}`);
  }

  isBare(): boolean {
    return this.resource === undefined;
  }

  toBare(): Jid {
    return this.resource === undefined ? this : new Jid(this.local, this.domain, undefined);
  }

  /** This JID with another resource; the resource is prepared (OpaqueString), JidError if bad. */
  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, prepareResourcepart(resource));
  }

  equals(other: Jid): boolean {
    return this.full === other.full;
  }

  toString(): string {
    return this.full;
  }
}

// ---------------------------------------------------------------- limits

/** RFC 7622 §3.2-3.4: each part is 1 to 1023 octets (UTF-8) after preparation. */
export const MAX_PART_OCTETS = 1023;

// Before preparing, refuse parts whose raw form cannot prepare to 1023 octets, so a huge
// attribute costs one length check. PRECIS never deletes code points, and every UTF-16 unit
// yields well over a quarter of an octet (NFC composing a base and two marks into one 2-octet
// letter, 2/3 octet per unit, is about the strongest shrink), so more than 4 x 1023 units is
// always too long. (UTS #46 does delete
// a few ignored code points from domain names: a name padded with thousands of them is refused
// too, which no real name is.)
const MAX_RAW_UNITS = 4 * MAX_PART_OCTETS;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 61)}...` : s);
}

function checkLength(part: JidPart, prepared: string): void {
  if (prepared.length === 0) throw new JidError(`${part} is empty`, part);
  // A UTF-16 unit is at most 3 octets of UTF-8: short strings need no counting.
  if (prepared.length * 3 > MAX_PART_OCTETS && utf8Length(prepared) > MAX_PART_OCTETS)
    throw new JidError(`${part} is longer than ${MAX_PART_OCTETS} octets`, part);
}

function checkRawLength(part: JidPart, raw: string): void {
  if (raw.length === 0) throw new JidError(`${part} is empty`, part);
  if (raw.length > MAX_RAW_UNITS) throw new JidError(`${part} is longer than ${MAX_PART_OCTETS} octets`, part);
}

// ---------------------------------------------------------------- the three parts

// Printable ASCII (U+0021-007E: PRECIS ASCII7, all PVALID) less the eight characters RFC 7622
// §3.3.1 forbids: " & ' / : < > @. Needs only lower-casing.
const RE_ASCII_LOCAL = /^[!#-%(-.0-9;=?A-~]+$/;
const RE_FORBIDDEN_LOCAL = /["&'/:<>@]/;
// Printable ASCII and space: valid OpaqueString as it is (no mapping applies to ASCII).
const RE_ASCII_RESOURCE = /^[ -~]+$/;

/** Prepares a localpart (UsernameCaseMapped + RFC 7622 §3.3.1); throws JidError. */
export function prepareLocalpart(s: string): string {
  checkRawLength('localpart', s);
  let out: string;
  if (RE_ASCII_LOCAL.test(s)) {
    out = s.toLowerCase();
  } else {
    try {
      out = enforceUsernameCaseMapped(s);
    } catch (e) {
      if (e instanceof PrecisError) throw new JidError(`localpart ${quote(s)}: ${e.message}`, 'localpart');
      throw e;
    }
    const bad = RE_FORBIDDEN_LOCAL.exec(out);
    if (bad) {
      throw new JidError(
        `localpart ${quote(s)}: ${showCodePoint(bad[0].codePointAt(0)!)} is not allowed in a localpart (RFC 7622 §3.3.1; XEP-0106 escapes it)`,
        'localpart',
      );
    }
  }
  checkLength('localpart', out);
  return out;
}

/** Prepares a resourcepart (OpaqueString); throws JidError. */
export function prepareResourcepart(s: string): string {
  checkRawLength('resourcepart', s);
  let out: string;
  if (RE_ASCII_RESOURCE.test(s)) {
    out = s;
  } else {
    try {
      out = enforceOpaqueString(s);
    } catch (e) {
      if (e instanceof PrecisError) throw new JidError(`resourcepart ${quote(s)}: ${e.message}`, 'resourcepart');
      throw e;
    }
  }
  checkLength('resourcepart', out);
  return out;
}

/**
 * Prepares a domainpart; throws JidError. IPv4 literals stay as written; IPv6 literals (in
 * brackets) are written in their RFC 5952 canonical text form, so `[::0001]` and `[::1]` are one
 * address; names become lower-case U-labels without the final dot (precis-idna.ts says why
 * U-labels).
 */
export function prepareDomain(s: string): string {
  checkRawLength('domainpart', s);
  let out: string;
  if (s.startsWith('[')) {
    out = prepareIpv6Literal(s);
  } else {
    const noDot = s.endsWith('.') ? s.slice(0, -1) : s;
    if (isIPv4(noDot)) {
      out = noDot;
    } else {
      try {
        out = prepareDomainName(s);
      } catch (e) {
        if (e instanceof PrecisError) throw new JidError(`domainpart ${quote(s)} ${e.message}`, 'domainpart');
        throw e;
      }
    }
  }
  checkLength('domainpart', out);
  return out;
}

function prepareIpv6Literal(s: string): string {
  const inner = s.endsWith(']') ? s.slice(1, -1) : undefined;
  if (inner === undefined || !isIPv6(inner) || inner.includes('%')) {
    throw new JidError(`domainpart ${quote(s)} is not an IPv6 address in brackets`, 'domainpart');
  }
  // The WHATWG URL serializer writes IPv6 hosts the RFC 5952 way (lower case, longest run of
  // zeros compressed, no leading zeros).
  return new URL(`http://[${inner}]/`).hostname;
}

// ---------------------------------------------------------------- parsing

// Fast path: the whole JID in printable ASCII with a plain LDH domain. One pass over the char
// codes, no regex, no allocation beyond the three slices; anything it does not accept (non-ASCII,
// A-labels, IP literals, anything invalid) goes the full way, which decides and explains.
const F_LOCAL = 1; // RE_ASCII_LOCAL
const F_LDH = 2; // letters, digits, '-'
const F_UPPER = 4;
const FLAGS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  let f = 0;
  if (c >= 0x21 && c <= 0x7e && !'"&\'/:<>@'.includes(ch)) f |= F_LOCAL;
  if (/[A-Za-z0-9-]/.test(ch)) f |= F_LDH;
  if (/[A-Z]/.test(ch)) f |= F_UPPER;
  FLAGS[c] = f;
}

function parseFast(s: string): Jid | undefined {
  const n = s.length;
  let slash = s.indexOf('/');
  if (slash < 0) slash = n;
  let at = s.indexOf('@');
  if (at > slash) at = -1;
  // localpart [0, at)
  let localUpper = false;
  if (at >= 0) {
    if (at === 0 || at > MAX_PART_OCTETS) return undefined;
    for (let i = 0; i < at; i++) {
      const c = s.charCodeAt(i);
      const f = c < 128 ? FLAGS[c]! : 0;
      if (!(f & F_LOCAL)) return undefined;
      if (f & F_UPPER) localUpper = true;
    }
  }
  // domainpart [at + 1, slash): LDH labels of 1-63, no '-' at either end, no "--" at 3-4
  const d0 = at + 1;
  let dEnd = slash;
  if (dEnd - d0 > MAX_PART_OCTETS + 1) return undefined;
  let domainUpper = false;
  let labelStart = d0;
  for (let i = d0; i < dEnd; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > 63 || s.charCodeAt(i - 1) === 0x2d) return undefined;
      labelStart = i + 1;
      continue;
    }
    const f = c < 128 ? FLAGS[c]! : 0;
    if (!(f & F_LDH)) return undefined;
    if (f & F_UPPER) domainUpper = true;
    else if (c === 0x2d) {
      const pos = i - labelStart;
      if (pos === 0 || (pos === 3 && s.charCodeAt(i - 1) === 0x2d)) return undefined;
    }
  }
  if (labelStart === dEnd) {
    // Empty last label: a final dot (stripped), unless the domain is empty or just ".".
    if (dEnd - d0 < 2) return undefined;
    dEnd--;
  } else {
    const len = dEnd - labelStart;
    if (len > 63 || s.charCodeAt(dEnd - 1) === 0x2d) return undefined;
  }
  if (dEnd - d0 > MAX_PART_OCTETS) return undefined;
  // resourcepart (slash, n): printable ASCII and space, taken as it is
  let resource: string | undefined;
  if (slash < n) {
    if (n - slash - 1 === 0 || n - slash - 1 > MAX_PART_OCTETS) return undefined;
    for (let i = slash + 1; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return undefined;
    }
    resource = s.slice(slash + 1);
  }
  let local = at >= 0 ? s.slice(0, at) : undefined;
  if (localUpper) local = local!.toLowerCase();
  let domain = s.slice(d0, dEnd);
  if (domainUpper) domain = domain.toLowerCase();
  return new Jid(local, domain, resource);
}

function parseFull(s: string): Jid {
  if (s.length === 0) throw new JidError('JID is empty');
  // RFC 7622 §3.1: the resourcepart starts at the first '/', the localpart ends at the first '@'
  // before it. So 'a@b/c/d' has resource 'c/d' and 'a/b@c' is domain 'a', resource 'b@c'.
  const slash = s.indexOf('/');
  const head = slash >= 0 ? s.slice(0, slash) : s;
  const resourceRaw = slash >= 0 ? s.slice(slash + 1) : undefined;
  const at = head.indexOf('@');
  const localRaw = at >= 0 ? head.slice(0, at) : undefined;
  const domainRaw = at >= 0 ? head.slice(at + 1) : head;
  if (localRaw === '') throw new JidError(`JID ${quote(s)} has an empty localpart (nothing before '@')`, 'localpart');
  if (domainRaw === '') throw new JidError(`JID ${quote(s)} has no domainpart`, 'domainpart');
  if (resourceRaw === '') throw new JidError(`JID ${quote(s)} has an empty resourcepart (nothing after '/')`, 'resourcepart');
  const domain = prepareDomain(domainRaw);
  const local = localRaw === undefined ? undefined : prepareLocalpart(localRaw);
  const resource = resourceRaw === undefined ? undefined : prepareResourcepart(resourceRaw);
  return new Jid(local, domain, resource);
}

// ---------------------------------------------------------------- cache

export interface JidCacheOptions {
  /** Prepared non-ASCII JIDs kept (least recently used goes first); 0: off. Default 4096. */
  maxEntries: number;
  /** Longer raw JIDs are not cached, which bounds the cache's memory. Default 512 UTF-16 units. */
  maxKeyLength: number;
  /** Prepared internationalized domain names kept, keyed by their raw form; 0: off. Default 1024. */
  maxDomainEntries: number;
}

// Memory is bounded: keys are at most maxKeyLength units and each prepared part at most 1023
// octets, so the default worst case is some 30 MB; typical JIDs make it about 1 MB.
const cacheOptions: JidCacheOptions = { maxEntries: 4096, maxKeyLength: 512, maxDomainEntries: 1024 };
// A Map keeps insertion order: re-inserting on a hit makes the first key the least recently used.
const cache = new Map<string, Jid>();
let cacheHits = 0;
let cacheMisses = 0;

/** Sets the size of the cache of prepared non-ASCII JIDs (see JidCacheOptions). */
export function configureJidCache(options: Partial<JidCacheOptions>): void {
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
      throw new RangeError(`JID cache ${k} must be a whole number >= 0, not ${String(v)}`);
  }
  Object.assign(cacheOptions, Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  while (cache.size > cacheOptions.maxEntries) cache.delete(cache.keys().next().value!);
  configureDomainCache(cacheOptions.maxDomainEntries);
}

/** What the caches hold and how they did, for benchmarks and diagnostics. */
export function jidCacheStats(): JidCacheOptions & { size: number; hits: number; misses: number; domains: number } {
  return { ...cacheOptions, size: cache.size, hits: cacheHits, misses: cacheMisses, domains: domainCacheStats().size };
}

// ---------------------------------------------------------------- public parsing API

/** Parses and prepares a JID; throws JidError (answer: jid-malformed) when it is not valid. */
export function parseJid(s: string): Jid {
  if (typeof s !== 'string') throw new JidError('JID is not a string');
  const fast = parseFast(s);
  if (fast) return fast;
  const hit = cache.get(s);
  if (hit) {
    cacheHits++;
    cache.delete(s);
    cache.set(s, hit);
    return hit;
  }
  cacheMisses++;
  let jid: Jid;
  try {
    jid = parseFull(s);
  } catch (e) {
    if (e instanceof JidError) throw e;
    // A bug in preparation must not take the stanza's sender down with an unexpected exception.
    throw new JidError(`JID ${quote(s)} could not be prepared: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (cacheOptions.maxEntries > 0 && s.length <= cacheOptions.maxKeyLength) {
    cache.set(s, jid);
    if (cache.size > cacheOptions.maxEntries) cache.delete(cache.keys().next().value!);
  }
  return jid;
}

/** parseJid() that returns undefined instead of throwing. */
export function tryParseJid(s: string | undefined): Jid | undefined {
  if (s === undefined) return undefined;
  try {
    return parseJid(s);
  } catch {
    return undefined;
  }
}

/** Builds a JID from separate parts, preparing each; throws JidError. */
export function jidFromParts(local: string | undefined, domain: string, resource?: string): Jid {
  return new Jid(
    local === undefined ? undefined : prepareLocalpart(local),
    prepareDomain(domain),
    resource === undefined ? undefined : prepareResourcepart(resource),
  );
}

// ---------------------------------------------------------------- XEP-0106

const ESCAPE: Record<string, string> = {
  ' ': '\\20',
  '"': '\\22',
  '&': '\\26',
  "'": '\\27',
  '/': '\\2f',
  ':': '\\3a',
  '<': '\\3c',
  '>': '\\3e',
  '@': '\\40',
  '\\': '\\5c',
};
// A backslash is escaped only where it would otherwise be read as the start of an escape.
const RE_TO_ESCAPE = /[ "&'/:<>@]|\\(?=20|22|26|27|2f|3a|3c|3e|40|5c)/gi;
const RE_ESCAPED = /\\(20|22|26|27|2f|3a|3c|3e|40|5c)/gi;

/**
 * XEP-0106 §4: escapes the characters a localpart cannot hold (space " & ' / : < > @), e.g.
 * for gateways. Throws JidError for a leading or trailing space, which XEP-0106 forbids.
 * The result still has to go through prepareLocalpart().
 */
export function escapeLocal(s: string): string {
  if (s.startsWith(' ') || s.endsWith(' '))
    throw new JidError('an escaped localpart cannot begin or end with a space (XEP-0106)', 'localpart');
  return s.replace(RE_TO_ESCAPE, (c) => ESCAPE[c[0]!]!);
}

/** XEP-0106 §4: turns escape sequences back into the characters, for display. */
export function unescapeLocal(s: string): string {
  return s.replace(RE_ESCAPED, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
