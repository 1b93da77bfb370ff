// Contextual rules for CONTEXTJ and CONTEXTO code points: RFC 5892 Appendix A (August 2010),
// as used by PRECIS (RFC 8264 §4.2, §4.3) and by IDNA2008 (RFC 5891 §5.4).
// https://www.rfc-editor.org/rfc/rfc5892#appendix-A
//
// Script comes from JS property escapes. Canonical_Combining_Class = Virama and Joining_Type
// cannot be asked of a JS regex, so those two come from the expressions tr46 (a dependency
// already, for IDNA) generates from the Unicode 17 data files.
import tr46Regexes from 'tr46/lib/regexes.js';
import { showCodePoint } from './precis-properties.js';

const ZWNJ = 0x200c;
const ZWJ = 0x200d;

const RE_GREEK = /^\p{Script=Greek}$/u;
const RE_HEBREW = /^\p{Script=Hebrew}$/u;
const RE_KANA_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;

function isVirama(cp: number | undefined): boolean {
  return cp !== undefined && tr46Regexes.combiningClassVirama.test(String.fromCodePoint(cp));
}

/**
 * Checks the context rule of the code point at index i of cps (a whole label or string).
 * Returns undefined when the rule holds, else why it does not.
 */
export function contextRuleFailure(cps: readonly number[], i: number): string | undefined {
  const cp = cps[i]!;
  const before = i > 0 ? cps[i - 1] : undefined;
  const after = cps[i + 1];
  switch (cp) {
    case ZWNJ: {
      // A.1: after a virama, or between a left/dual-joining and a right/dual-joining letter
      // (transparent marks skipped). Another ZWNJ is non-joining, so the window between the
      // neighbouring ZWNJs holds every code point the regular expression may need.
      if (isVirama(before)) return undefined;
      let start = i;
      while (start > 0 && cps[start - 1] !== ZWNJ) start--;
      let end = i + 1;
      while (end < cps.length && cps[end] !== ZWNJ) end++;
      if (tr46Regexes.validZWNJ.test(String.fromCodePoint(...cps.slice(start, end)))) return undefined;
      return `${showCodePoint(cp)} (ZERO WIDTH NON-JOINER) must follow a virama or stand between joining letters (RFC 5892 A.1)`;
    }
    case ZWJ:
      // A.2
      if (isVirama(before)) return undefined;
      return `${showCodePoint(cp)} (ZERO WIDTH JOINER) must follow a virama (RFC 5892 A.2)`;
    case 0x00b7:
      // A.3 MIDDLE DOT: only between two 'l' (Catalan l·l).
      if (before === 0x6c && after === 0x6c) return undefined;
      return `${showCodePoint(cp)} (MIDDLE DOT) is only allowed between two 'l' (RFC 5892 A.3)`;
    case 0x0375:
      // A.4 GREEK LOWER NUMERAL SIGN (KERAIA): followed by a Greek character.
      if (after !== undefined && RE_GREEK.test(String.fromCodePoint(after))) return undefined;
      return `${showCodePoint(cp)} (GREEK LOWER NUMERAL SIGN) must be followed by a Greek character (RFC 5892 A.4)`;
    case 0x05f3:
    case 0x05f4:
      // A.5, A.6 HEBREW PUNCTUATION GERESH / GERSHAYIM: preceded by a Hebrew character.
      if (before !== undefined && RE_HEBREW.test(String.fromCodePoint(before))) return undefined;
      return `${showCodePoint(cp)} (HEBREW GERESH/GERSHAYIM) must follow a Hebrew character (RFC 5892 A.5/A.6)`;
    case 0x30fb:
      // A.7 KATAKANA MIDDLE DOT: the label must hold a Hiragana, Katakana or Han character.
      if (RE_KANA_HAN.test(String.fromCodePoint(...cps))) return undefined;
      return `${showCodePoint(cp)} (KATAKANA MIDDLE DOT) needs Hiragana, Katakana or Han in the same label (RFC 5892 A.7)`;
    default:
      break;
  }
  if (cp >= 0x0660 && cp <= 0x0669) {
    // A.8 ARABIC-INDIC DIGITS: not mixed with EXTENDED ARABIC-INDIC DIGITS.
    if (!cps.some((c) => c >= 0x06f0 && c <= 0x06f9)) return undefined;
    return `${showCodePoint(cp)} (ARABIC-INDIC DIGIT) cannot be mixed with extended Arabic-Indic digits (RFC 5892 A.8)`;
  }
  if (cp >= 0x06f0 && cp <= 0x06f9) {
    // A.9 EXTENDED ARABIC-INDIC DIGITS: not mixed with ARABIC-INDIC DIGITS.
    if (!cps.some((c) => c >= 0x0660 && c <= 0x0669)) return undefined;
    return `${showCodePoint(cp)} (EXTENDED ARABIC-INDIC DIGIT) cannot be mixed with Arabic-Indic digits (RFC 5892 A.9)`;
  }
  return `${showCodePoint(cp)} has no context rule`;
}
