// Internationalized domain names for XMPP domainparts: IDNA2008 (RFC 5890-5893, August 2010)
// with the UTS #46 mapping (Unicode 17, nontransitional), as RFC 7622 §3.2 asks.
// https://www.rfc-editor.org/rfc/rfc7622#section-3.2
// https://www.unicode.org/reports/tr46/
//
// Canonical form: U-labels. RFC 7622 §3.2.1 says a prepared domainpart consists of NR-LDH
// labels and U-labels only: "each A-label MUST be converted to a U-label". XMPP is UTF-8 on the
// wire, and storage owners are bare JID strings, so `ÄRGER.example`, `ärger.example` and
// `xn--rger-koa.example` must all become the one string `ärger.example`. (DNS lookups and
// certificate checks convert to A-labels themselves: toAsciiDomain() below.)
//
// tr46 does the UTS #46 part: mapping (case folding, width, NFKC-based), NFC, punycode decoding,
// hyphen rules, CONTEXTJ (checkJoiners) and the Bidi Rule for every label of a domain that has
// a right-to-left label (checkBidi). UTS #46 lets through some code points IDNA2008 disallows
// (symbols and emoji such as U+265A, U+2764), and does not check CONTEXTO: both are checked here
// with the RFC 5892 derived property. Label length (63 octets in A-label form) is checked here
// too, not the 253-octet DNS total: RFC 7622 allows domainparts up to 1023 octets.
import tr46 from 'tr46';
import { contextRuleFailure } from './precis-context.js';
import { PrecisError } from './precis-profiles.js';
import { bidiRuleFailure, hasRightToLeft } from './precis-bidi.js';
import { idnaCategory, idnaValue, showCodePoint } from './precis-properties.js';

const UTS46 = {
  checkHyphens: true,
  checkBidi: true,
  checkJoiners: true,
  useSTD3ASCIIRules: true,
  transitionalProcessing: false,
  ignoreInvalidPunycode: false,
  verifyDNSLength: false,
} as const;

const MAX_LABEL_OCTETS = 63;
const RE_LDH_ONLY = /^[A-Za-z0-9.-]+$/;
const RE_NON_ASCII = /[^\x00-\x7f]/;
// Label separators UTS #46 maps to '.' (IDEOGRAPHIC, FULLWIDTH and HALFWIDTH IDEOGRAPHIC FULL STOP).
const RE_DOTS = /[.\u3002\uFF0E\uFF61]/;

function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 61)}...` : s);
}

/** Hyphen and length rules of an ASCII (LDH) label; returns why it fails. */
function ldhLabelFailure(label: string): string | undefined {
  if (label.length === 0) return 'has an empty label';
  if (label.length > MAX_LABEL_OCTETS) return `has a label longer than ${MAX_LABEL_OCTETS} octets`;
  if (label.startsWith('-') || label.endsWith('-')) return `label ${quote(label)} starts or ends with "-"`;
  if (label[2] === '-' && label[3] === '-')
    return `label ${quote(label)} has "--" in the 3rd and 4th positions (reserved for A-labels)`;
  return undefined;
}

/**
 * Prepares a DNS domain name (no IP literal) to its canonical U-label form, lower case, without
 * the final dot. Throws PrecisError saying what is wrong.
 */
export function prepareDomainName(input: string): string {
  if (RE_LDH_ONLY.test(input)) {
    // Fast path: plain ASCII host names, the common case. A-labels go the full way.
    let d = input.toLowerCase();
    if (d.endsWith('.')) d = d.slice(0, -1);
    const labels = d.split('.');
    let aLabel = false;
    for (const label of labels) {
      if (label.startsWith('xn--')) {
        aLabel = true;
        break;
      }
      const why = ldhLabelFailure(label);
      if (why) throw new PrecisError(why);
    }
    if (!aLabel) return d;
  }
  const hit = domainCache.get(input);
  if (hit !== undefined) {
    domainCache.delete(input);
    domainCache.set(input, hit);
    return hit;
  }
  const prepared = prepareIdn(input);
  if (domainCacheMax > 0 && input.length <= MAX_CACHED_KEY) {
    domainCache.set(input, prepared);
    if (domainCache.size > domainCacheMax) domainCache.delete(domainCache.keys().next().value!);
  }
  return prepared;
}

// Internationalized names are few (a server's own domains and its peers') and repeat in every
// stanza, while preparing one costs tens of microseconds: a small LRU of prepared names.
const domainCache = new Map<string, string>();
let domainCacheMax = 1024;
const MAX_CACHED_KEY = 512;

/** Sets how many prepared internationalized domain names are kept (0: none). */
export function configureDomainCache(maxEntries: number): void {
  domainCacheMax = maxEntries;
  while (domainCache.size > domainCacheMax) domainCache.delete(domainCache.keys().next().value!);
}

/** How many prepared domain names the cache holds, and its limit. */
export function domainCacheStats(): { size: number; maxEntries: number } {
  return { size: domainCache.size, maxEntries: domainCacheMax };
}

function prepareIdn(input: string): string {
  const result = tr46.toUnicode(input, UTS46);
  if (result.error) throw new PrecisError(diagnose(input));
  let d = result.domain;
  if (d.endsWith('.')) d = d.slice(0, -1);
  const labels = d.split('.');
  if (labels.some((l) => l.length === 0)) throw new PrecisError('has an empty label');
  for (const label of labels) {
    if (!RE_NON_ASCII.test(label)) continue;
    const cps = Array.from(label, (c) => c.codePointAt(0)!);
    for (let i = 0; i < cps.length; i++) {
      const cp = cps[i]!;
      const v = idnaValue(cp);
      if (v === 'PVALID') continue;
      if (v === 'CONTEXTJ' || v === 'CONTEXTO') {
        const why = contextRuleFailure(cps, i);
        if (why === undefined) continue;
        throw new PrecisError(`label ${quote(label)}: ${why}`);
      }
      throw new PrecisError(`label ${quote(label)}: ${showCodePoint(cp)} ${describeIdna(cp)} (IDNA2008, RFC 5892)`);
    }
  }
  // A-label checks (RFC 5891 §5.4, RFC 5890 §2.3.2.1): each label fits DNS (63 octets), and an
  // A-label given on input must be the canonical encoding of its U-label. Encoding costs as much
  // as the rest, so it is skipped when neither can fail: no A-label given, and every U-label
  // short enough (punycode spends at most 8 characters per code point: 4 + 1 + 8 x 7 <= 63).
  let encode = /xn--/i.test(input);
  for (const l of labels) {
    if (!RE_NON_ASCII.test(l)) {
      if (l.length > MAX_LABEL_OCTETS) throw new PrecisError(`has a label longer than ${MAX_LABEL_OCTETS} octets`);
    } else if (l.length > 7) encode = true;
  }
  if (!encode) return d;
  const ascii = tr46.toASCII(d, UTS46);
  if (ascii === null) throw new PrecisError(diagnose(d));
  const aLabels = ascii.split('.');
  for (const a of aLabels) {
    if (a.length > MAX_LABEL_OCTETS) throw new PrecisError(`has a label longer than ${MAX_LABEL_OCTETS} octets in A-label form (${quote(a)})`);
  }
  for (const given of input.toLowerCase().split(RE_DOTS)) {
    if (given.startsWith('xn--') && !aLabels.includes(given))
      throw new PrecisError(`A-label ${quote(given)} is not the canonical encoding of its U-label`);
  }
  return d;
}

/** The A-label (ASCII) form of a prepared domainpart, for DNS and certificates. */
export function toAsciiDomain(prepared: string): string {
  const ascii = tr46.toASCII(prepared, UTS46);
  if (ascii === null) throw new PrecisError(diagnose(prepared));
  return ascii;
}

function describeIdna(cp: number): string {
  switch (idnaCategory(cp)) {
    case 'unassigned':
      return 'is unassigned';
    case 'ignorable':
      return 'is a default-ignorable, white space or noncharacter code point';
    case 'ignorable-block':
      return 'is in a block IDNA2008 ignores (combining marks for symbols, musical notation)';
    case 'old-hangul-jamo':
      return 'is a conjoining Hangul jamo';
    case 'exception-disallowed':
      return 'is disallowed by the exceptions of RFC 5892 §2.6';
    default:
      return 'is not a letter, digit or mark (symbols, punctuation and emoji are not allowed in domain names)';
  }
}

/** tr46 only says "error": find out which rule the name breaks, for the message. */
function diagnose(input: string): string {
  const lower = input.toLowerCase();
  for (const label of lower.split(RE_DOTS)) {
    if (!label.startsWith('xn--')) continue;
    if (RE_NON_ASCII.test(label)) return `A-label ${quote(label)} contains non-ASCII characters`;
    const strict = tr46.toUnicode(label, UTS46);
    if (!strict.error) continue;
    if (!tr46.toUnicode(label, { ...UTS46, ignoreInvalidPunycode: true }).error || strict.domain === '')
      return `label ${quote(label)} is not valid punycode`;
    if (!RE_NON_ASCII.test(strict.domain)) return `A-label ${quote(label)} decodes to plain ASCII`;
    return `A-label ${quote(label)} decodes to ${quote(strict.domain)}, which is not a valid U-label`;
  }
  const noBidi = tr46.toUnicode(input, { ...UTS46, checkBidi: false });
  if (!noBidi.error) {
    // UTS #46 applies the rule to every label once any label is right-to-left.
    if (hasRightToLeft(noBidi.domain)) {
      for (const label of noBidi.domain.split('.')) {
        const why = label === '' ? undefined : bidiRuleFailure(label);
        if (why) return `label ${quote(label)} breaks the Bidi Rule of RFC 5893: ${why}`;
      }
    }
    return 'breaks the Bidi Rule of RFC 5893';
  }
  if (!tr46.toUnicode(input, { ...UTS46, checkJoiners: false }).error)
    return 'has a ZERO WIDTH JOINER or NON-JOINER outside the context that allows it (RFC 5892 A.1/A.2)';
  if (!tr46.toUnicode(input, { ...UTS46, checkHyphens: false }).error)
    return 'has a label that starts or ends with "-" or has "--" in the 3rd and 4th positions';
  for (const label of input.split('.')) {
    if (/^\p{M}/u.test(label)) return `label ${quote(label)} starts with a combining mark`;
  }
  for (const ch of input) {
    if (ch === '.') continue;
    if (tr46.toUnicode(ch, UTS46).error) {
      const cp = ch.codePointAt(0)!;
      if (ch === ':') return `${showCodePoint(cp)} is not allowed in a domain name (an IPv6 address goes in brackets: [::1])`;
      return `${showCodePoint(cp)} is not allowed in a domain name`;
    }
  }
  return 'is not a valid domain name (UTS #46)';
}
