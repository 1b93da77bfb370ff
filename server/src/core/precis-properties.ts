// PRECIS derived property (RFC 8264 §8, categories §9) and the IDNA2008 derived property
// (RFC 5892 §2-3), computed from Unicode properties at run time.
// https://www.rfc-editor.org/rfc/rfc8264#section-8  (October 2017)
// https://www.rfc-editor.org/rfc/rfc5892#section-3  (August 2010)
//
// Why computed and not a table: the derived property is defined as a function of Unicode
// properties, so computing it from the Unicode data Node ships (ICU; Unicode 17 on Node 20.20)
// keeps it in step with normalize(), toLowerCase() and \p{Cn}, which the profiles also use.
// Everything comes from regex property escapes and normalize(), except three things JS regexes
// cannot ask for (no Block property): the IgnorableBlocks of RFC 5892 §2.5 (three block ranges,
// below). OldHangulJamo is derived (see isOldHangulJamo).
//
// Results are memoised per code point in a lazily allocated 1.1 MB byte array per algorithm,
// so each code point is classified once per process and memory is bounded whatever clients send.

/** Why a code point gets its derived property; the class (Identifier/Freeform) decides validity. */
export type PrecisCategory =
  | 'exception-pvalid' // RFC 8264 §9.6 / RFC 5892 §2.6: PVALID by exception
  | 'exception-contexto' // ... CONTEXTO by exception (needs its context rule)
  | 'exception-disallowed' // ... DISALLOWED by exception
  | 'unassigned' // §9.10 Unassigned (J)
  | 'ascii7' // §9.11 ASCII7 (K)
  | 'join-control' // §9.8 JoinControl (H): CONTEXTJ
  | 'old-hangul-jamo' // §9.9 OldHangulJamo (I)
  | 'ignorable' // §9.13 PrecisIgnorableProperties (M)
  | 'control' // §9.12 Controls (L)
  | 'has-compat' // §9.17 HasCompat (Q)
  | 'letter-digit' // §9.1 LetterDigits (A)
  | 'other-letter-digit' // §9.18 OtherLetterDigits (R)
  | 'space' // §9.14 Spaces (N)
  | 'symbol' // §9.15 Symbols (O)
  | 'punctuation' // §9.16 Punctuation (P)
  | 'other'; // none of the above: DISALLOWED (format characters, private use, surrogates...)

const PRECIS_CATEGORIES: readonly PrecisCategory[] = [
  'exception-pvalid',
  'exception-contexto',
  'exception-disallowed',
  'unassigned',
  'ascii7',
  'join-control',
  'old-hangul-jamo',
  'ignorable',
  'control',
  'has-compat',
  'letter-digit',
  'other-letter-digit',
  'space',
  'symbol',
  'punctuation',
  'other',
];

/** The derived property values a code point can have in a string class (RFC 8264 §8). */
export type ClassValue = 'PVALID' | 'CONTEXTJ' | 'CONTEXTO' | 'DISALLOWED' | 'UNASSIGNED';

// RFC 5892 §2.6 (RFC 8264 §9.6 takes them unchanged): the 41 exceptions.
const EXCEPTION_PVALID = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
const EXCEPTION_DISALLOWED = new Set([0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b]);

function isExceptionContextO(cp: number): boolean {
  return (
    cp === 0x00b7 ||
    cp === 0x0375 ||
    cp === 0x05f3 ||
    cp === 0x05f4 ||
    cp === 0x30fb ||
    (cp >= 0x0660 && cp <= 0x0669) ||
    (cp >= 0x06f0 && cp <= 0x06f9)
  );
}

const RE_CN = /^\p{Cn}$/u;
const RE_NONCHARACTER = /^\p{Noncharacter_Code_Point}$/u;
const RE_DEFAULT_IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
const RE_WHITE_SPACE = /^\p{White_Space}$/u;
const RE_JOIN_CONTROL = /^\p{Join_Control}$/u;
const RE_CONTROL = /^\p{Cc}$/u;
const RE_LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
const RE_OTHER_LETTER_DIGIT = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u;
const RE_SPACE = /^\p{Zs}$/u;
const RE_SYMBOL = /^[\p{Sm}\p{Sc}\p{Sk}\p{So}]$/u;
const RE_PUNCTUATION = /^[\p{Pc}\p{Pd}\p{Ps}\p{Pe}\p{Pi}\p{Pf}\p{Po}]$/u;
const RE_HANGUL_LO = /^(?=\p{Script=Hangul})\p{Lo}$/u;

/**
 * OldHangulJamo (RFC 8264 §9.9, RFC 5892 §2.9): Hangul_Syllable_Type L, V or T. JS regexes have
 * no Hangul_Syllable_Type, so it is derived: a Hangul-script letter (Lo) that is neither a
 * precomposed syllable (those have a canonical decomposition: types LV/LVT) nor a compatibility
 * jamo or halfwidth form (those have a compatibility decomposition: type NA). What is left are
 * exactly the conjoining jamo U+1100-11FF, U+A960-A97C, U+D7B0-D7C6, U+D7CB-D7FB; the tests
 * check that against the ranges of HangulSyllableType.txt.
 */
export function isOldHangulJamo(cp: number): boolean {
  const ch = String.fromCodePoint(cp);
  return RE_HANGUL_LO.test(ch) && ch.normalize('NFD') === ch && ch.normalize('NFKC') === ch;
}

/** Unassigned (RFC 8264 §9.10): General_Category Cn and not a noncharacter. */
export function isUnassigned(cp: number): boolean {
  const ch = String.fromCodePoint(cp);
  return RE_CN.test(ch) && !RE_NONCHARACTER.test(ch);
}

function computePrecisCategory(cp: number): PrecisCategory {
  // The order is the pseudocode of RFC 8264 §8; it matters (e.g. ASCII7 before Controls,
  // JoinControl before PrecisIgnorableProperties, HasCompat before LetterDigits).
  if (EXCEPTION_PVALID.has(cp)) return 'exception-pvalid';
  if (isExceptionContextO(cp)) return 'exception-contexto';
  if (EXCEPTION_DISALLOWED.has(cp)) return 'exception-disallowed';
  // BackwardCompatible (§9.7) is empty: nothing to do.
  if (isUnassigned(cp)) return 'unassigned';
  if (cp >= 0x21 && cp <= 0x7e) return 'ascii7';
  const ch = String.fromCodePoint(cp);
  if (RE_JOIN_CONTROL.test(ch)) return 'join-control';
  if (isOldHangulJamo(cp)) return 'old-hangul-jamo';
  if (RE_DEFAULT_IGNORABLE.test(ch) || RE_NONCHARACTER.test(ch)) return 'ignorable';
  if (RE_CONTROL.test(ch)) return 'control';
  if (ch.normalize('NFKC') !== ch) return 'has-compat';
  if (RE_LETTER_DIGIT.test(ch)) return 'letter-digit';
  if (RE_OTHER_LETTER_DIGIT.test(ch)) return 'other-letter-digit';
  if (RE_SPACE.test(ch)) return 'space';
  if (RE_SYMBOL.test(ch)) return 'symbol';
  if (RE_PUNCTUATION.test(ch)) return 'punctuation';
  return 'other';
}

/**
 * `compute` with a cache of one byte per code point (0: not computed yet, else the category's
 * index + 1): the regular-expression chains are slow and the same characters come back.
 */
function memoisedByCodePoint<C>(categories: readonly C[], compute: (cp: number) => C): (cp: number) => C {
  let memo: Uint8Array | undefined;
  return (cp) => {
    memo ??= new Uint8Array(0x110000);
    const m = memo[cp]!;
    if (m !== 0) return categories[m - 1]!;
    const c = compute(cp);
    memo[cp] = categories.indexOf(c) + 1;
    return c;
  };
}

/** The RFC 8264 §8 category of one code point (memoised). */
export const precisCategory = memoisedByCodePoint(PRECIS_CATEGORIES, computePrecisCategory);

/** The derived property value of a code point in the IdentifierClass (RFC 8264 §4.2). */
export function identifierClassValue(cp: number): ClassValue {
  return classValue(precisCategory(cp), false);
}

/** The derived property value of a code point in the FreeformClass (RFC 8264 §4.3). */
export function freeformClassValue(cp: number): ClassValue {
  return classValue(precisCategory(cp), true);
}

function classValue(c: PrecisCategory, freeform: boolean): ClassValue {
  switch (c) {
    case 'exception-pvalid':
    case 'ascii7':
    case 'letter-digit':
      return 'PVALID';
    case 'exception-contexto':
      return 'CONTEXTO';
    case 'join-control':
      return 'CONTEXTJ';
    case 'unassigned':
      return 'UNASSIGNED';
    // ID_DIS or FREE_PVAL
    case 'has-compat':
    case 'other-letter-digit':
    case 'space':
    case 'symbol':
    case 'punctuation':
      return freeform ? 'PVALID' : 'DISALLOWED';
    default:
      return 'DISALLOWED';
  }
}

/** Words for error messages: why the category is refused. */
export function describeCategory(c: PrecisCategory): string {
  switch (c) {
    case 'unassigned':
      return `is unassigned in Unicode ${process.versions.unicode ?? ''}`.trimEnd();
    case 'old-hangul-jamo':
      return 'is a conjoining Hangul jamo (use precomposed syllables)';
    case 'ignorable':
      return 'is a default-ignorable or noncharacter code point';
    case 'control':
      return 'is a control character';
    case 'has-compat':
      return 'is a compatibility character (it has a compatibility decomposition)';
    case 'other-letter-digit':
      return 'is a titlecase letter, letter number, other number or enclosing mark';
    case 'space':
      return 'is a space';
    case 'symbol':
      return 'is a symbol';
    case 'punctuation':
      return 'is punctuation';
    case 'exception-disallowed':
      return 'is disallowed by the exceptions of RFC 5892 §2.6';
    case 'join-control':
      return 'is a joiner outside the context that allows it';
    case 'exception-contexto':
      return 'is outside the context that allows it';
    default:
      return 'is not allowed';
  }
}

// ---------------------------------------------------------------- IDNA2008 (RFC 5892)

/** Why a code point gets its IDNA2008 derived property (RFC 5892 §3). */
export type IdnaCategory =
  | 'exception-pvalid'
  | 'exception-contexto'
  | 'exception-disallowed'
  | 'unassigned'
  | 'ldh'
  | 'join-control'
  | 'ignorable'
  | 'ignorable-block'
  | 'old-hangul-jamo'
  | 'letter-digit'
  | 'other';

const IDNA_CATEGORIES: readonly IdnaCategory[] = [
  'exception-pvalid',
  'exception-contexto',
  'exception-disallowed',
  'unassigned',
  'ldh',
  'join-control',
  'ignorable',
  'ignorable-block',
  'old-hangul-jamo',
  'letter-digit',
  'other',
];

/**
 * IgnorableBlocks (RFC 5892 §2.5): Combining Diacritical Marks for Symbols, Musical Symbols,
 * Ancient Greek Musical Notation. Hard-coded because JS regexes have no Block property; block
 * ranges never move once published.
 */
function inIgnorableBlock(cp: number): boolean {
  return (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0x1d100 && cp <= 0x1d1ff) || (cp >= 0x1d200 && cp <= 0x1d24f);
}

function computeIdnaCategory(cp: number): IdnaCategory {
  if (EXCEPTION_PVALID.has(cp)) return 'exception-pvalid';
  if (isExceptionContextO(cp)) return 'exception-contexto';
  if (EXCEPTION_DISALLOWED.has(cp)) return 'exception-disallowed';
  if (isUnassigned(cp)) return 'unassigned';
  if (cp === 0x2d || (cp >= 0x30 && cp <= 0x39) || (cp >= 0x61 && cp <= 0x7a)) return 'ldh';
  const ch = String.fromCodePoint(cp);
  if (RE_JOIN_CONTROL.test(ch)) return 'join-control';
  // Unstable (§2.2, NFKC_Casefold(cp) != cp) is not computed here: JS has no case folding, and
  // labels reach this check only after UTS #46 mapping, whose output is NFKC_Casefold-stable by
  // construction (valid/deviation statuses only; the deviations are exceptions or joiners).
  if (RE_DEFAULT_IGNORABLE.test(ch) || RE_WHITE_SPACE.test(ch) || RE_NONCHARACTER.test(ch)) return 'ignorable';
  if (inIgnorableBlock(cp)) return 'ignorable-block';
  if (isOldHangulJamo(cp)) return 'old-hangul-jamo';
  if (RE_LETTER_DIGIT.test(ch)) return 'letter-digit';
  return 'other';
}

/** The RFC 5892 §3 category of one code point (memoised). */
export const idnaCategory = memoisedByCodePoint(IDNA_CATEGORIES, computeIdnaCategory);

/** The IDNA2008 derived property value (RFC 5892 §3) of one code point. */
export function idnaValue(cp: number): ClassValue {
  switch (idnaCategory(cp)) {
    case 'exception-pvalid':
    case 'ldh':
    case 'letter-digit':
      return 'PVALID';
    case 'exception-contexto':
      return 'CONTEXTO';
    case 'join-control':
      return 'CONTEXTJ';
    case 'unassigned':
      return 'UNASSIGNED';
    default:
      return 'DISALLOWED';
  }
}

/** Formats a code point for error messages: U+XXXX, with the character when it is visible. */
export function showCodePoint(cp: number): string {
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  const ch = String.fromCodePoint(cp);
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) ? `${hex} '${ch}'` : hex;
}
