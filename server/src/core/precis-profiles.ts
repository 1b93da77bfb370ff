// PRECIS profiles for XMPP addresses: UsernameCaseMapped (RFC 8265 §3.3) for localparts and
// OpaqueString (RFC 8265 §4.2) for resourceparts, on the IdentifierClass and FreeformClass of
// the PRECIS framework (RFC 8264 §4.2, §4.3).
// https://www.rfc-editor.org/rfc/rfc8265  (October 2017)
// https://www.rfc-editor.org/rfc/rfc8264  (October 2017)
//
// Order: RFC 8265 defines enforcement as preparation (width mapping, then the string class
// check) followed by the remaining rules (case mapping, NFC, directionality). RFC 8264 §7 puts
// the class check last. We check the class on the prepared input as RFC 8265 says, and check
// the final output again when the mappings changed it: that keeps enforcement idempotent
// (prepare(prepare(x)) === prepare(x)), which stored bare JIDs rely on.
import { bidiRuleFailure, hasRightToLeft } from './precis-bidi.js';
import { contextRuleFailure } from './precis-context.js';
import {
  describeCategory,
  freeformClassValue,
  identifierClassValue,
  precisCategory,
  showCodePoint,
} from './precis-properties.js';

export class PrecisError extends Error {
  override name = 'PrecisError';
}

// Fullwidth and halfwidth code points (decomposition types <wide> and <narrow>) live only in
// U+3000 and U+FF01-FFEE. Their width mapping is their (single-step) decomposition.
const RE_WIDE_NARROW = /[\u3000\uFF01-\uFFEE]/u;
const RE_WIDE_NARROW_ALL = /[\u3000\uFF01-\uFFEE]/gu;

let compatJamoByNfkd: Map<string, string> | undefined;

function widthTarget(ch: string): string {
  const cp = ch.codePointAt(0)!;
  // NFKD is the full (recursive) decomposition; it equals the single-step <wide>/<narrow>
  // mapping except where the target decomposes further: U+FFE3 (-> U+00AF MACRON) and the
  // halfwidth Hangul letters (-> Hangul Compatibility Jamo). Getting those right matters: the
  // conjoining jamo NFKD gives would compose under NFC into valid syllables.
  if (cp === 0xffe3) return '\u00AF';
  if (cp >= 0xffa0 && cp <= 0xffdc) {
    if (!compatJamoByNfkd) {
      compatJamoByNfkd = new Map();
      for (let c = 0x3131; c <= 0x318e; c++) {
        const j = String.fromCodePoint(c);
        if (!compatJamoByNfkd.has(j.normalize('NFKD'))) compatJamoByNfkd.set(j.normalize('NFKD'), j);
      }
    }
    return compatJamoByNfkd.get(ch.normalize('NFKD')) ?? ch;
  }
  return ch.normalize('NFKD');
}

/** RFC 8265 §3.3.1 rule 1: map fullwidth and halfwidth code points to their decomposition. */
export function mapWidth(s: string): string {
  return RE_WIDE_NARROW.test(s) ? s.replace(RE_WIDE_NARROW_ALL, widthTarget) : s;
}

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

/** Throws PrecisError unless every code point is allowed by the class (contexts included). */
export function checkStringClass(s: string, freeform: boolean): void {
  const cps = codePoints(s);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    const v = freeform ? freeformClassValue(cp) : identifierClassValue(cp);
    if (v === 'PVALID') continue;
    if (v === 'CONTEXTJ' || v === 'CONTEXTO') {
      const why = contextRuleFailure(cps, i);
      if (why === undefined) continue;
      throw new PrecisError(why);
    }
    throw new PrecisError(`${showCodePoint(cp)} ${describeCategory(precisCategory(cp))}`);
  }
}

/** UsernameCaseMapped enforcement (RFC 8265 §3.3.3); throws PrecisError. */
export function enforceUsernameCaseMapped(input: string): string {
  const widthMapped = mapWidth(input);
  checkStringClass(widthMapped, false);
  const out = widthMapped.toLowerCase().normalize('NFC');
  if (out.length === 0) throw new PrecisError('is empty');
  if (hasRightToLeft(out)) {
    const why = bidiRuleFailure(out);
    if (why) throw new PrecisError(why);
  }
  if (out !== widthMapped) checkStringClass(out, false);
  return out;
}

const RE_NON_ASCII_SPACE = /[^\P{Zs}\u0020]/u;
const RE_NON_ASCII_SPACE_ALL = /[^\P{Zs}\u0020]/gu;

/** OpaqueString enforcement (RFC 8265 §4.2.3); throws PrecisError. */
export function enforceOpaqueString(input: string): string {
  checkStringClass(input, true);
  const spaced = RE_NON_ASCII_SPACE.test(input) ? input.replace(RE_NON_ASCII_SPACE_ALL, ' ') : input;
  const out = spaced.normalize('NFC');
  if (out.length === 0) throw new PrecisError('is empty');
  if (out !== input) checkStringClass(out, true);
  return out;
}
