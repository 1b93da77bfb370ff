// The Bidi Rule: RFC 5893 §2 (August 2010), for PRECIS profiles that apply it (RFC 8265 §3.3.1
// rule 5: UsernameCaseMapped, i.e. XMPP localparts). Domain labels get the same rule inside
// tr46 (UTS #46 CheckBidi).
// https://www.rfc-editor.org/rfc/rfc5893#section-2
//
// Bidi_Class cannot be asked of a JS regex, so the classes come from the expressions tr46
// generates from Unicode 17's DerivedBidiClass.txt (the same data Node 20's ICU carries).
import tr46Regexes from 'tr46/lib/regexes.js';

/** True when the string holds a right-to-left code point (Bidi_Class R, AL or AN; RFC 5893 §1.4). */
export function hasRightToLeft(s: string): boolean {
  return tr46Regexes.bidiDomain.test(s);
}

/** Checks the six conditions of the Bidi Rule; undefined when they hold, else which one fails. */
export function bidiRuleFailure(s: string): string | undefined {
  const first = String.fromCodePoint(s.codePointAt(0) ?? 0);
  if (tr46Regexes.bidiS1RTL.test(first)) {
    if (!tr46Regexes.bidiS2.test(s)) return 'mixes left-to-right characters into right-to-left text (Bidi Rule 2)';
    if (!tr46Regexes.bidiS3.test(s))
      return 'right-to-left text must end with a right-to-left letter or a digit (Bidi Rule 3)';
    if (tr46Regexes.bidiS4EN.test(s) && tr46Regexes.bidiS4AN.test(s))
      return 'mixes European and Arabic-Indic digits in right-to-left text (Bidi Rule 4)';
    return undefined;
  }
  if (tr46Regexes.bidiS1LTR.test(first)) {
    if (!tr46Regexes.bidiS5.test(s)) return 'mixes right-to-left characters into left-to-right text (Bidi Rule 5)';
    if (!tr46Regexes.bidiS6.test(s)) return 'left-to-right text must end with a letter or a digit (Bidi Rule 6)';
    return undefined;
  }
  return 'text with right-to-left characters must start with a letter (Bidi Rule 1)';
}
