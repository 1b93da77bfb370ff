// JIDs: RFC 7622 (address format), RFC 8264/8265 (PRECIS UsernameCaseMapped, OpaqueString),
// IDNA2008 + UTS #46 domainparts, XEP-0106 escaping, the fast path and the caches.
import { describe, expect, it } from 'vitest';
import {
  Jid,
  JidError,
  MAX_PART_OCTETS,
  configureJidCache,
  escapeLocal,
  jidCacheStats,
  jidFromParts,
  parseJid,
  prepareDomain,
  prepareLocalpart,
  prepareResourcepart,
  tryParseJid,
  unescapeLocal,
} from '../src/core/jid.js';
import { isIP } from 'node:net';
import tr46 from 'tr46';
import { PrecisError, enforceOpaqueString, enforceUsernameCaseMapped, mapWidth } from '../src/core/precis-profiles.js';
import { identifierClassValue, freeformClassValue, isOldHangulJamo, precisCategory, idnaValue } from '../src/core/precis-properties.js';
import { prepareUsername } from '../src/modules/register.js';

/** The JidError parseJid throws for s (fails the test when it does not throw one). */
function jidError(s: string): JidError {
  try {
    parseJid(s);
  } catch (e) {
    expect(e).toBeInstanceOf(JidError);
    return e as JidError;
  }
  throw new Error(`expected ${JSON.stringify(s)} to be refused`);
}

function refused(fn: () => unknown): JidError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(JidError);
    return e as JidError;
  }
  throw new Error('expected a JidError');
}

function parts(s: string): [string | undefined, string, string | undefined] {
  const j = parseJid(s);
  return [j.local, j.domain, j.resource];
}

describe('RFC 7622 §3.5 examples', () => {
  // §3.5.1, Examples 1-15, with what preparation makes of each part.
  const valid: [number, string, string | undefined, string, string | undefined][] = [
    [1, 'juliet@example.com', 'juliet', 'example.com', undefined],
    [2, 'juliet@example.com/foo', 'juliet', 'example.com', 'foo'],
    [3, 'juliet@example.com/foo bar', 'juliet', 'example.com', 'foo bar'],
    [4, 'juliet@example.com/foo@bar', 'juliet', 'example.com', 'foo@bar'],
    [5, 'foo\\20bar@example.com', 'foo\\20bar', 'example.com', undefined],
    [6, 'fussball@example.com', 'fussball', 'example.com', undefined],
    [7, 'fu\u00DFball@example.com', 'fu\u00DFball', 'example.com', undefined],
    [8, '\u03C0@example.com', '\u03C0', 'example.com', undefined],
    [9, '\u03A3@example.com/foo', '\u03C3', 'example.com', 'foo'],
    [10, '\u03C3@example.com/foo', '\u03C3', 'example.com', 'foo'],
    [11, '\u03C2@example.com/foo', '\u03C2', 'example.com', 'foo'],
    [12, 'king@example.com/\u265A', 'king', 'example.com', '\u265A'],
    [13, 'example.com', undefined, 'example.com', undefined],
    [14, 'example.com/foobar', undefined, 'example.com', 'foobar'],
    [15, 'a.example.com/b@example.net', undefined, 'a.example.com', 'b@example.net'],
  ];
  for (const [n, s, local, domain, resource] of valid) {
    it(`Example ${n}: ${s} is valid`, () => {
      expect(parts(s)).toEqual([local, domain, resource]);
    });
  }

  it('Examples 9 and 10 (capital and small sigma) are the same localpart; 11 (final sigma) is not', () => {
    expect(parseJid('\u03A3@example.com/foo').equals(parseJid('\u03C3@example.com/foo'))).toBe(true);
    expect(parseJid('\u03C2@example.com/foo').equals(parseJid('\u03C3@example.com/foo'))).toBe(false);
    // Example 6 vs 7: sharp s is PVALID by exception (RFC 5892 §2.6), not mapped to "ss".
    expect(parseJid('fussball@example.com').equals(parseJid('fu\u00DFball@example.com'))).toBe(false);
  });

  // §3.5.2, Examples 16-23 (18 below), with the part that is wrong.
  const invalid: [number, string, string, RegExp][] = [
    [16, '"juliet"@example.com', 'localpart', /U\+0022.*RFC 7622 §3\.3\.1/],
    [17, 'foo bar@example.com', 'localpart', /U\+0020 is a space/],
    [19, '@example.com/', 'localpart', /empty localpart/],
    [20, 'henry\u2163@example.com', 'localpart', /U\+2163.*compatibility/],
    [21, '\u265A@example.com', 'localpart', /U\+265A.*symbol/],
    [22, 'juliet@', 'domainpart', /no domainpart/],
    [23, '/foobar', 'domainpart', /no domainpart/],
  ];
  for (const [n, s, part, why] of invalid) {
    it(`Example ${n}: ${s} is refused`, () => {
      const e = jidError(s);
      expect(e.part).toBe(part);
      expect(e.message).toMatch(why);
    });
  }

  it('Example 18 (leading space in the resourcepart) is accepted: OpaqueString allows U+0020 anywhere', () => {
    // RFC 7622 lists it as invalid, but no rule it cites forbids the space: OpaqueString maps
    // spaces to U+0020 and the FreeformClass allows them. Refusing it would drop stanzas other
    // PRECIS servers route.
    expect(parts('juliet@example.com/ foo')).toEqual(['juliet', 'example.com', ' foo']);
  });
});

describe('structure: "@" and "/" (RFC 7622 §3.1)', () => {
  it('the resourcepart starts at the first "/" and may hold "/" and "@"', () => {
    expect(parts('a@b/c/d')).toEqual(['a', 'b', 'c/d']);
    expect(parts('a@b/c@d')).toEqual(['a', 'b', 'c@d']);
    expect(parts('a@b//')).toEqual(['a', 'b', '/']);
  });
  it('an "@" after the first "/" is in the resourcepart: a/b@c is domain a, resource b@c', () => {
    expect(parts('a/b@c')).toEqual([undefined, 'a', 'b@c']);
    expect(parts('a/b/c')).toEqual([undefined, 'a', 'b/c']);
  });
  it('a second "@" before the "/" is refused (it would be in the domainpart)', () => {
    expect(jidError('a@b@c').part).toBe('domainpart');
  });
  it('empty parts are refused, saying which', () => {
    expect(jidError('').message).toMatch(/empty/);
    expect(jidError('@example.com').part).toBe('localpart');
    expect(jidError('example.com/').part).toBe('resourcepart');
    expect(jidError('a@example.com/').part).toBe('resourcepart');
    expect(jidError('a@/b').part).toBe('domainpart');
    expect(jidError('@').part).toBe('localpart');
    expect(jidError('/').part).toBe('domainpart');
    expect(jidError('.').part).toBe('domainpart');
    expect(refused(() => prepareLocalpart('')).part).toBe('localpart');
    expect(refused(() => prepareResourcepart('')).part).toBe('resourcepart');
    expect(refused(() => prepareDomain('')).part).toBe('domainpart');
  });
  it('Jid helpers: bare, full, toBare, withResource (prepared), equals', () => {
    const j = parseJid('Juliet@Example.COM/Balcony');
    expect(j.bare).toBe('juliet@example.com');
    expect(j.full).toBe('juliet@example.com/Balcony');
    expect(j.isBare()).toBe(false);
    expect(j.toBare().full).toBe('juliet@example.com');
    expect(j.toBare().isBare()).toBe(true);
    expect(j.withResource('\u3000x').resource).toBe(' x');
    expect(() => j.withResource('a\u0000')).toThrow(JidError);
    expect(j.equals(parseJid('juliet@example.com/Balcony'))).toBe(true);
    expect(j.equals(parseJid('juliet@example.com/balcony'))).toBe(false);
    expect(String(j)).toBe(j.full);
    expect(jidFromParts('ÄRGER', 'xn--rger-koa.example', 'r').full).toBe('ärger@ärger.example/r');
    expect(new Jid(undefined, 'example.com', undefined).full).toBe('example.com');
  });
  it('tryParseJid returns undefined instead of throwing', () => {
    expect(tryParseJid(undefined)).toBeUndefined();
    expect(tryParseJid('a@b@c')).toBeUndefined();
    expect(tryParseJid('A@B')?.full).toBe('a@b');
  });
});

describe('localpart: UsernameCaseMapped (RFC 8265 §3.3)', () => {
  it('width mapping: fullwidth and halfwidth forms become their decomposition', () => {
    expect(prepareLocalpart('\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34')).toBe('juliet'); // ＪＵＬＩＥＴ
    expect(prepareLocalpart('\uFF76\uFF9E')).toBe('\u30AC'); // halfwidth ｶﾞ -> カ + ゙ -> NFC ガ
    // Halfwidth Hangul maps to compatibility jamo (a compatibility character: refused), not to
    // the conjoining jamo full NFKD would give (which NFC would compose into the valid 가).
    expect(mapWidth('\uFFA1\uFFC2')).toBe('\u3131\u314F');
    expect(refused(() => prepareLocalpart('\uFFA1\uFFC2')).message).toMatch(/U\+3131.*compatibility/);
    expect(mapWidth('\uFFE3')).toBe('\u00AF');
  });
  it('width mapping covers every <wide>/<narrow> code point and only those blocks', () => {
    for (let cp = 0xff01; cp <= 0xffee; cp++) {
      const ch = String.fromCodePoint(cp);
      const mapped = mapWidth(ch);
      // Same compatibility decomposition, and out of the Halfwidth and Fullwidth Forms block.
      expect(mapped.normalize('NFKD')).toBe(ch.normalize('NFKD'));
      if (ch.normalize('NFKD') !== ch) expect(/[\uFF00-\uFFEF]/.test(mapped)).toBe(false);
    }
    expect(mapWidth('\u3000')).toBe(' ');
    expect(mapWidth('\u2460abc')).toBe('\u2460abc'); // ① is <circle>, not width
  });
  it('case mapping: toLowerCase() of the whole string (final sigma included)', () => {
    expect(prepareLocalpart('JULIET')).toBe('juliet');
    expect(prepareLocalpart('\u00C4RGER')).toBe('\u00E4rger');
    expect(prepareLocalpart('\u0391\u03A3')).toBe('\u03B1\u03C2'); // ΑΣ -> ας
    expect(prepareLocalpart('\u0130')).toBe('i\u0307'); // İ -> i + combining dot above
  });
  it('NFC: decomposed input composes', () => {
    expect(prepareLocalpart('a\u0308rger')).toBe('\u00E4rger');
    expect(parseJid('A\u0308rger@example.com').equals(parseJid('\u00E4rger@example.com'))).toBe(true);
  });
  it('the class is checked before case mapping and NFC (RFC 8265 §3.3.2): OHM SIGN and conjoining jamo are refused', () => {
    expect(refused(() => prepareLocalpart('\u2126')).message).toMatch(/compatibility/);
    expect(refused(() => prepareLocalpart('\u1100\u1161')).message).toMatch(/conjoining Hangul jamo/);
    expect(prepareLocalpart('\uAC00')).toBe('\uAC00'); // 가 precomposed
  });
  it('ASCII: every printable character but the eight of §3.3.1 is allowed', () => {
    for (let c = 0x21; c <= 0x7e; c++) {
      const ch = String.fromCharCode(c);
      if ('"&\'/:<>@'.includes(ch)) continue;
      expect(prepareLocalpart(`a${ch}b`)).toBe(`a${ch}b`.toLowerCase());
    }
  });
  it('the extra forbidden characters of RFC 7622 §3.3.1 are refused, also when width mapping makes them', () => {
    for (const ch of ['"', '&', "'", '/', ':', '<', '>', '@']) {
      const e = refused(() => prepareLocalpart(`a${ch}b`));
      expect(e.part).toBe('localpart');
      expect(e.message).toContain('RFC 7622 §3.3.1');
      // The fullwidth form maps to the ASCII character, which is then refused.
      const wide = String.fromCodePoint(ch.codePointAt(0)! + 0xfee0);
      expect(refused(() => prepareLocalpart(`a${wide}b`)).message).toContain('RFC 7622 §3.3.1');
    }
    for (const s of ['a"b@example.com', 'a&b@example.com', "a'b@example.com", 'a:b@example.com', 'a<b@example.com', 'a>b@example.com'])
      expect(jidError(s).part).toBe('localpart');
  });
  it('spaces are refused (ASCII and others)', () => {
    // U+3000 is width-mapped to U+0020 first; U+1680 is a space with no decomposition.
    for (const sp of [' ', '\u1680', '\u3000']) {
      expect(refused(() => prepareLocalpart(`a${sp}b`)).message).toMatch(/is a space/);
    }
    // NO-BREAK SPACE and EM SPACE decompose to U+0020: HasCompat comes first in RFC 8264 §8.
    for (const sp of ['\u00A0', '\u2003']) {
      expect(refused(() => prepareLocalpart(`a${sp}b`)).message).toMatch(/compatibility/);
    }
  });
  it('letters and digits of any script are allowed; symbols, punctuation, compatibility characters are not', () => {
    for (const s of ['\u7528\u6237', 'm\u00FCller', '\u0436\u0443\u043A', '\u0645\u062D\u0645\u062F', '\u05D0\u05D1\u05D2', '\u0E44\u0E17\u0E22', '\u0915\u093F', 'a\u0301'])
      expect(() => prepareLocalpart(s)).not.toThrow();
    expect(refused(() => prepareLocalpart('a\u2764')).message).toMatch(/symbol/);
    expect(refused(() => prepareLocalpart('a\u20AC')).message).toMatch(/symbol/); // €
    expect(refused(() => prepareLocalpart('\u00BFa')).message).toMatch(/punctuation/); // ¿
    expect(refused(() => prepareLocalpart('\uFB01')).message).toMatch(/compatibility/); // ﬁ
    expect(refused(() => prepareLocalpart('a\u00B2')).message).toMatch(/compatibility/); // ²
    expect(refused(() => prepareLocalpart('\u01C5')).message).toMatch(/compatibility/); // ǅ (Lt, HasCompat first)
    expect(refused(() => prepareLocalpart('\u2160')).message).toMatch(/compatibility/); // Ⅰ
  });
  it('exceptions of RFC 5892 §2.6', () => {
    expect(prepareLocalpart('\u00DF')).toBe('\u00DF');
    expect(prepareLocalpart('\u3007')).toBe('\u3007');
    expect(refused(() => prepareLocalpart('\u0628\u0640\u0628')).message).toMatch(/exceptions/); // ARABIC TATWEEL
    expect(refused(() => prepareLocalpart('\u3031')).message).toMatch(/exceptions/);
  });
  it('CONTEXTJ: ZWNJ/ZWJ only after a virama or (ZWNJ) between joining letters', () => {
    expect(prepareLocalpart('\u0915\u094D\u200C\u0937')).toBe('\u0915\u094D\u200C\u0937'); // क्‌ष
    expect(prepareLocalpart('\u0915\u094D\u200D\u0937')).toBe('\u0915\u094D\u200D\u0937');
    expect(prepareLocalpart('\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645')).toBeTruthy(); // Persian می‌خواهم
    expect(refused(() => prepareLocalpart('a\u200Cb')).message).toMatch(/NON-JOINER/);
    expect(refused(() => prepareLocalpart('a\u200Db')).message).toMatch(/ZERO WIDTH JOINER/);
    expect(refused(() => prepareLocalpart('\u200C')).message).toMatch(/NON-JOINER/);
  });
  it('CONTEXTO: middle dot, keraia, geresh, katakana middle dot, Arabic-Indic digits', () => {
    expect(prepareLocalpart('col\u00B7la')).toBe('col\u00B7la'); // Catalan
    expect(refused(() => prepareLocalpart('co\u00B7lla')).message).toMatch(/MIDDLE DOT/);
    expect(prepareLocalpart('\u0375\u03B1')).toBe('\u0375\u03B1');
    expect(refused(() => prepareLocalpart('\u0375a')).message).toMatch(/Greek/);
    expect(prepareLocalpart('\u05D0\u05F3')).toBe('\u05D0\u05F3');
    expect(refused(() => prepareLocalpart('a\u05F3')).message).toMatch(/Hebrew/);
    expect(prepareLocalpart('\u30A2\u30FB\u30A4')).toBe('\u30A2\u30FB\u30A4');
    expect(refused(() => prepareLocalpart('a\u30FBb')).message).toMatch(/KATAKANA/);
    expect(prepareLocalpart('\u0628\u0661')).toBe('\u0628\u0661');
    expect(refused(() => prepareLocalpart('\u0628\u0661\u06F1')).message).toMatch(/mixed/);
  });
  it('Bidi Rule (RFC 8265 §3.3.1 rule 5, RFC 5893) applies to localparts with right-to-left characters', () => {
    expect(prepareLocalpart('\u05D0\u05D1\u05D2')).toBe('\u05D0\u05D1\u05D2');
    expect(prepareLocalpart('\u05D0\u05D1\u05D21')).toBe('\u05D0\u05D1\u05D21'); // ends with EN: ok
    expect(refused(() => prepareLocalpart('1\u05D0')).message).toMatch(/Bidi Rule 1/);
    expect(refused(() => prepareLocalpart('\u05D0a')).message).toMatch(/Bidi Rule 2/);
    expect(refused(() => prepareLocalpart('\u05D0!')).message).toMatch(/Bidi Rule 3/);
    expect(refused(() => prepareLocalpart('\u0628\u0661\u0031')).message).toMatch(/Bidi Rule 4/);
    expect(refused(() => prepareLocalpart('a\u05D0')).message).toMatch(/Bidi Rule 5/);
    // No right-to-left character: no directionality rule, so a leading digit is fine.
    expect(prepareLocalpart('1abc')).toBe('1abc');
  });
});

describe('resourcepart: OpaqueString (RFC 8265 §4.2)', () => {
  it('no case or width mapping, NFC, non-ASCII spaces become U+0020', () => {
    expect(prepareResourcepart('Balcony')).toBe('Balcony');
    expect(prepareResourcepart('\uFF2A')).toBe('\uFF2A');
    expect(prepareResourcepart('a\u0308')).toBe('\u00E4');
    expect(prepareResourcepart('a\u00A0b\u3000c\u2003d')).toBe('a b c d');
    expect(prepareResourcepart('\u2126')).toBe('\u03A9'); // OHM SIGN: FREE_PVAL, then NFC
  });
  it('spaces, symbols, punctuation and compatibility characters are allowed', () => {
    for (const s of [' ', 'foo bar', '\u265A', '\u2764\uFE0F'.slice(0, 1), '\u00BFque?', '\uFB01', '\u00B2', '\u2163', '"&\'/:<>@', '\u{1F37A}'])
      expect(prepareResourcepart(s)).toBe(s.normalize('NFC'));
  });
  it('controls, default ignorables, noncharacters, private use, unassigned, surrogates and old jamo are refused', () => {
    const bad: [string, RegExp][] = [
      ['a\u0000', /control/],
      ['a\u0007', /control/],
      ['a\u007F', /control/],
      ['a\u0085', /control/],
      ['a\u200B', /default-ignorable/],
      ['a\u00AD', /default-ignorable/],
      ['a\uFE0F', /default-ignorable/],
      ['a\uFDD0', /noncharacter/],
      ['a\uFFFF', /noncharacter/],
      ['a\u{10FFFF}', /noncharacter/],
      ['a\uE000', /not allowed/],
      ['a\u0378', /unassigned/],
      ['a\u{E0080}', /unassigned/],
      ['a\uD800', /not allowed/],
      ['a\u1100', /conjoining Hangul jamo/],
      ['a\u2028', /not allowed/],
      ['a\u0640', /exceptions/],
      ['a\u200Cb', /NON-JOINER/],
    ];
    for (const [s, why] of bad) {
      const e = refused(() => prepareResourcepart(s));
      expect(e.part).toBe('resourcepart');
      expect(e.message).toMatch(why);
    }
  });
  it('has no directionality rule', () => {
    expect(prepareResourcepart('1\u05D0a')).toBe('1\u05D0a');
  });
});

describe('domainpart: IP literals, names, IDNA2008 + UTS #46', () => {
  it('ASCII names are lower-cased, the final dot is stripped', () => {
    expect(prepareDomain('Example.COM')).toBe('example.com');
    expect(prepareDomain('example.com.')).toBe('example.com');
    expect(parts('User@Example.com./Res')).toEqual(['user', 'example.com', 'Res']);
    expect(parts('localhost')).toEqual([undefined, 'localhost', undefined]);
  });
  it('only one final dot; empty labels are refused', () => {
    for (const d of ['example.com..', '.example.com', 'a..b', '..', '.'])
      expect(refused(() => prepareDomain(d)).message).toMatch(/empty/);
  });
  it('hyphens and characters outside LDH are refused', () => {
    expect(refused(() => prepareDomain('-a.com')).message).toMatch(/"-"/);
    expect(refused(() => prepareDomain('a-.com')).message).toMatch(/"-"/);
    expect(refused(() => prepareDomain('ab--c.com')).message).toMatch(/3rd and 4th/);
    expect(refused(() => prepareDomain('a_b.com')).message).toMatch(/U\+005F/);
    expect(refused(() => prepareDomain('a b.com')).message).toMatch(/U\+0020/);
    expect(refused(() => prepareDomain('a!b.com')).message).toMatch(/U\+0021/);
    expect(prepareDomain('a-b.c-d.example')).toBe('a-b.c-d.example');
  });
  it('labels are at most 63 octets', () => {
    expect(prepareDomain(`${'a'.repeat(63)}.example`)).toBe(`${'a'.repeat(63)}.example`);
    expect(refused(() => prepareDomain(`${'a'.repeat(64)}.example`)).message).toMatch(/63/);
    expect(refused(() => prepareDomain(`${'\u00E4'.repeat(60)}.example`)).message).toMatch(/63 octets in A-label form/);
    expect(refused(() => prepareDomain(`\u00E4.${'a'.repeat(64)}`)).message).toMatch(/63 octets/);
    expect(prepareDomain(`\u00E4.${'a'.repeat(63)}`)).toBe(`\u00E4.${'a'.repeat(63)}`);
  });
  it('IPv4 literals are kept as written, IPv6 literals in brackets in RFC 5952 form', () => {
    expect(parts('user@127.0.0.1/r')).toEqual(['user', '127.0.0.1', 'r']);
    expect(prepareDomain('192.0.2.1.')).toBe('192.0.2.1');
    expect(prepareDomain('[::1]')).toBe('[::1]');
    expect(prepareDomain('[::0001]')).toBe('[::1]');
    expect(prepareDomain('[2001:DB8:0:0:0:0:0:1]')).toBe('[2001:db8::1]');
    expect(parseJid('a@[2001:db8::1]/x').equals(parseJid('a@[2001:0DB8::0:1]/x'))).toBe(true);
    for (const bad of ['[::1', '[1.2.3.4]', '[fe80::1%eth0]', '[]', '[example.com]'])
      expect(refused(() => prepareDomain(bad)).message).toMatch(/IPv6/);
    expect(refused(() => prepareDomain('::1')).message).toMatch(/brackets/);
  });
  it('one canonical U-label form whichever way an IDN is written', () => {
    const forms = ['\u00C4RGER.example', '\u00E4rger.example', 'xn--rger-koa.example', 'XN--RGER-KOA.EXAMPLE', 'A\u0308rger.example.', '\u00E4rger\u3002example'];
    for (const f of forms) expect(prepareDomain(f)).toBe('\u00E4rger.example');
    const jids = forms.map((f) => parseJid(`User@${f}/Res`));
    for (const j of jids) {
      expect(j.full).toBe('user@\u00E4rger.example/Res');
      expect(j.equals(jids[0]!)).toBe(true);
    }
    expect(prepareDomain('xn--r8jz45g.xn--zckzah')).toBe('\u4F8B\u3048.\u30C6\u30B9\u30C8');
    expect(prepareDomain('\u4F8B\u3048\uFF0E\u30C6\u30B9\u30C8')).toBe('\u4F8B\u3048.\u30C6\u30B9\u30C8');
    expect(prepareDomain('fu\u00DFball.de')).toBe('fu\u00DFball.de'); // nontransitional: ß stays
    expect(prepareDomain('xn--fuball-cta.de')).toBe('fu\u00DFball.de');
    expect(prepareDomain('\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45.com')).toBe('example.com'); // fullwidth
  });
  it('bad punycode and invalid A-labels are refused', () => {
    expect(refused(() => prepareDomain('xn--a.example')).message).toMatch(/punycode|A-label/);
    expect(refused(() => prepareDomain('xn--.example')).message).toMatch(/punycode|A-label/);
    expect(refused(() => prepareDomain('xn--zz.example')).message).toMatch(/A-label|punycode/);
    expect(refused(() => prepareDomain('xn--\u00E4rger.example')).message).toMatch(/non-ASCII/);
    expect(refused(() => prepareDomain('xn--abc-.example')).message).toMatch(/A-label|punycode/);
    // Valid punycode of a symbol: decodes, then IDNA2008 refuses U+265A.
    expect(refused(() => prepareDomain('xn--45h.example')).message).toMatch(/U\+265A/);
  });
  it('IDNA2008 disallows what UTS #46 lets through: symbols, emoji, CONTEXTO out of context', () => {
    expect(refused(() => prepareDomain('\u265A.example')).message).toMatch(/IDNA2008/);
    expect(refused(() => prepareDomain('i\u2764.ws')).message).toMatch(/IDNA2008/);
    expect(refused(() => prepareDomain('a\u00B7b.example')).message).toMatch(/MIDDLE DOT/);
    expect(prepareDomain('l\u00B7l.example')).toBe('l\u00B7l.example');
    expect(refused(() => prepareDomain('a\u200Cb.example')).message).toMatch(/JOINER|NON-JOINER/);
  });
  it('Bidi Rule for every label once one label is right-to-left', () => {
    expect(prepareDomain('\u05D0\u05D1\u05D2.example')).toBe('\u05D0\u05D1\u05D2.example');
    expect(prepareDomain('9abc.example')).toBe('9abc.example');
    expect(refused(() => prepareDomain('9abc.\u05D0\u05D1\u05D2')).message).toMatch(/Bidi Rule 1/);
    expect(refused(() => prepareDomain('\u05D0a.example')).message).toMatch(/Bidi/);
    expect(refused(() => prepareDomain('a\u05D0.example')).message).toMatch(/Bidi/);
  });
  it('labels cannot start with a combining mark', () => {
    expect(refused(() => prepareDomain('\u0301a.example')).message).toMatch(/combining mark/);
  });
});

describe('length limits: 1 to 1023 octets per part after preparation', () => {
  it('localpart', () => {
    expect(prepareLocalpart('a'.repeat(1023))).toHaveLength(1023);
    expect(refused(() => prepareLocalpart('a'.repeat(1024))).message).toMatch(/1023 octets/);
    expect(prepareLocalpart(`${'\u00E4'.repeat(511)}a`)).toHaveLength(512); // 1023 octets
    expect(refused(() => prepareLocalpart('\u00E4'.repeat(512))).message).toMatch(/1023 octets/);
    expect(refused(() => prepareLocalpart('\u00C4'.repeat(512))).message).toMatch(/1023 octets/); // after case mapping
    expect(parseJid(`${'a'.repeat(1023)}@example.com`).local).toHaveLength(1023);
    expect(jidError(`${'a'.repeat(1024)}@example.com`).part).toBe('localpart');
  });
  it('resourcepart', () => {
    expect(parseJid(`a@example.com/${'r'.repeat(1023)}`).resource).toHaveLength(1023);
    expect(jidError(`a@example.com/${'r'.repeat(1024)}`).part).toBe('resourcepart');
    expect(prepareResourcepart('\u6237'.repeat(341))).toHaveLength(341); // 1023 octets
    expect(refused(() => prepareResourcepart(`${'\u6237'.repeat(341)}x`)).message).toMatch(/1023 octets/);
  });
  it('domainpart (labels of at most 63 octets)', () => {
    const l63 = 'd'.repeat(63);
    const d1023 = Array(16).fill(l63).join('.'); // 16 x 63 + 15 dots
    expect(d1023).toHaveLength(1023);
    expect(prepareDomain(d1023)).toBe(d1023);
    expect(prepareDomain(`${d1023}.`)).toBe(d1023); // the final dot does not count
    expect(parseJid(`a@${d1023}/r`).domain).toBe(d1023);
    const d1024 = [...Array(15).fill(l63), 'd'.repeat(62), 'd'].join('.');
    expect(d1024).toHaveLength(1024);
    expect(refused(() => prepareDomain(d1024)).message).toMatch(/1023 octets/);
    expect(jidError(`a@${d1024}`).part).toBe('domainpart');
  });
  it('huge inputs are refused at once, whatever they hold', () => {
    const t0 = performance.now();
    expect(jidError(`${'\u00E4'.repeat(100_000)}@example.com`).message).toMatch(/1023 octets/);
    expect(jidError(`a@example.com/${'\u6237'.repeat(100_000)}`).message).toMatch(/1023 octets/);
    expect(jidError(`a@${'\u00E4.'.repeat(50_000)}com`).message).toMatch(/1023 octets/);
    expect(performance.now() - t0).toBeLessThan(5_000); // not a benchmark: a guard against quadratic work
  });
});

describe('derived properties (RFC 8264 §8-9) from Unicode properties', () => {
  it('OldHangulJamo is exactly Hangul_Syllable_Type L, V, T (HangulSyllableType.txt ranges)', () => {
    const ranges = [
      [0x1100, 0x115f],
      [0xa960, 0xa97c],
      [0x1160, 0x11a7],
      [0xd7b0, 0xd7c6],
      [0x11a8, 0x11ff],
      [0xd7cb, 0xd7fb],
    ];
    const inRanges = (cp: number): boolean => ranges.some(([a, b]) => cp >= a! && cp <= b!);
    const mismatches: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (isOldHangulJamo(cp) !== inRanges(cp)) mismatches.push(cp.toString(16));
    }
    expect(mismatches).toEqual([]);
  });
  it('categories of sample code points', () => {
    const expected: [number, string][] = [
      [0x0061, 'ascii7'],
      [0x0020, 'space'],
      [0x00a0, 'has-compat'],
      [0x00e4, 'letter-digit'],
      [0x00df, 'exception-pvalid'],
      [0x00b7, 'exception-contexto'],
      [0x0640, 'exception-disallowed'],
      [0x0378, 'unassigned'],
      [0xfdd0, 'ignorable'],
      [0x200b, 'ignorable'],
      [0x200c, 'join-control'],
      [0x0007, 'control'],
      [0x0085, 'control'],
      [0x1100, 'old-hangul-jamo'],
      [0xfb01, 'has-compat'],
      [0x2163, 'has-compat'],
      [0x16ee, 'other-letter-digit'], // RUNIC ARLAUG SYMBOL: Nl without decomposition
      [0x265a, 'symbol'],
      [0x00bf, 'punctuation'],
      [0xe000, 'other'],
      [0x2028, 'other'],
    ];
    for (const [cp, cat] of expected) expect([cp.toString(16), precisCategory(cp)]).toEqual([cp.toString(16), cat]);
  });
  it('IdentifierClass and FreeformClass values', () => {
    expect(identifierClassValue(0x0041)).toBe('PVALID');
    expect(identifierClassValue(0x265a)).toBe('DISALLOWED');
    expect(freeformClassValue(0x265a)).toBe('PVALID');
    expect(freeformClassValue(0x0020)).toBe('PVALID');
    expect(identifierClassValue(0x0020)).toBe('DISALLOWED');
    expect(freeformClassValue(0x0007)).toBe('DISALLOWED');
    expect(freeformClassValue(0x0378)).toBe('UNASSIGNED');
    expect(identifierClassValue(0x200d)).toBe('CONTEXTJ');
    expect(freeformClassValue(0x30fb)).toBe('CONTEXTO');
  });
  it('IDNA2008 values (RFC 5892)', () => {
    expect(idnaValue(0x0061)).toBe('PVALID');
    expect(idnaValue(0x002d)).toBe('PVALID');
    expect(idnaValue(0x005f)).toBe('DISALLOWED');
    expect(idnaValue(0x00e4)).toBe('PVALID');
    expect(idnaValue(0x265a)).toBe('DISALLOWED');
    expect(idnaValue(0x20d0)).toBe('DISALLOWED'); // IgnorableBlocks
    expect(idnaValue(0x00b7)).toBe('CONTEXTO');
    expect(idnaValue(0x200c)).toBe('CONTEXTJ');
  });
});

describe('preparation is idempotent and the parser never throws anything but JidError', () => {
  // A fixed-seed generator (mulberry32): the same strings every run.
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const pools = [
    'abcXYZ019.-_@/ "&\'<>:\\',
    '\u00E4\u00C4\u00DF\u03A3\u03C2\u0301\u0308\u05D0\u0628\u0661\u06F1\u200C\u200D\u00B7\u30FB\u0915\u094D\uFF21\u3000\u00A0\u2126\u265A\u0000\u200B\uAC00\u1100\u1161',
  ];
  it('parse(prepared) gives the same string, on 5000 random inputs', () => {
    const r = rng(7622);
    let accepted = 0;
    for (let n = 0; n < 5000; n++) {
      const len = 1 + Math.floor(r() * 12);
      let s = '';
      for (let i = 0; i < len; i++) {
        const pool = pools[Math.floor(r() * pools.length)]!;
        s += Array.from(pool)[Math.floor(r() * Array.from(pool).length)];
      }
      let j: Jid;
      try {
        j = parseJid(s);
      } catch (e) {
        expect(e).toBeInstanceOf(JidError);
        continue;
      }
      accepted++;
      expect(parseJid(j.full).full).toBe(j.full);
      if (j.local !== undefined) expect(prepareLocalpart(j.local)).toBe(j.local);
      if (j.resource !== undefined) expect(prepareResourcepart(j.resource)).toBe(j.resource);
      expect(prepareDomain(j.domain)).toBe(j.domain);
    }
    // The generator must produce both outcomes, or the test proves nothing.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(4900);
  });
});

describe('fast path and caches', () => {
  it('the ASCII fast path and the full path agree', () => {
    const samples = ['Juliet@Example.COM/Foo Bar', 'a.b@c.d.', 'x@1.2.3.4/r', 'A!#$%*+-=?^_`{|}~@ex-ample.org', 'example.org', 'e.org/@/'];
    for (const s of samples) {
      const fast = parseJid(s);
      const slash = s.indexOf('/');
      const head = slash < 0 ? s : s.slice(0, slash);
      const at = head.indexOf('@');
      const full = new Jid(
        at < 0 ? undefined : prepareLocalpart(head.slice(0, at)),
        prepareDomain(head.slice(at + 1)),
        slash < 0 ? undefined : prepareResourcepart(s.slice(slash + 1)),
      );
      expect(fast.full).toBe(full.full);
    }
  });
  it('the fast path agrees with the PRECIS profiles and UTS #46 on 20000 random ASCII strings', () => {
    // Reference: RFC 7622 §3.1 split, then the profiles and tr46 themselves, no shortcut.
    const uts46 = { checkHyphens: true, checkBidi: true, checkJoiners: true, useSTD3ASCIIRules: true };
    function reference(s: string): string | undefined {
      const slash = s.indexOf('/');
      const head = slash < 0 ? s : s.slice(0, slash);
      const at = head.indexOf('@');
      const local = at < 0 ? undefined : head.slice(0, at);
      const domain = head.slice(at + 1);
      const resource = slash < 0 ? undefined : s.slice(slash + 1);
      try {
        let l: string | undefined;
        if (local !== undefined) {
          l = enforceUsernameCaseMapped(local);
          if (/["&'/:<>@]/.test(l)) return undefined;
        }
        const r = resource === undefined ? undefined : enforceOpaqueString(resource);
        const noDot = domain.endsWith('.') ? domain.slice(0, -1) : domain;
        let d: string;
        if (isIP(noDot) === 4) d = noDot;
        else {
          const u = tr46.toUnicode(domain, uts46);
          if (u.error) return undefined;
          d = u.domain.endsWith('.') ? u.domain.slice(0, -1) : u.domain;
          if (d.split('.').some((x) => x === '')) return undefined;
        }
        return new Jid(l, d, r).full;
      } catch (e) {
        if (e instanceof PrecisError) return undefined;
        throw e;
      }
    }
    const alphabet = 'aZ09-._@/ "!\\x';
    let state = 5893;
    const next = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    let accepted = 0;
    for (let n = 0; n < 20000; n++) {
      let s = '';
      const len = 1 + next(10);
      for (let i = 0; i < len; i++) s += alphabet[next(alphabet.length)];
      const got = tryParseJid(s)?.full;
      expect([s, got]).toEqual([s, reference(s)]);
      if (got !== undefined) accepted++;
    }
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(19000);
  });
  it('non-ASCII JIDs come from the cache; the cache is bounded and configurable', () => {
    try {
      configureJidCache({ maxEntries: 3 });
      const before = jidCacheStats();
      const a = parseJid('j\u00FCrgen@b\u00FCcher.example/T\u00E9l');
      const b = parseJid('j\u00FCrgen@b\u00FCcher.example/T\u00E9l');
      expect(b).toBe(a);
      expect(jidCacheStats().hits).toBe(before.hits + 1);
      for (let i = 0; i < 10; i++) parseJid(`\u00E4${i}@example.com`);
      expect(jidCacheStats().size).toBe(3);
      // Evicted entries are prepared again, to the same result.
      expect(parseJid('j\u00FCrgen@b\u00FCcher.example/T\u00E9l').full).toBe(a.full);
      configureJidCache({ maxEntries: 0 });
      expect(jidCacheStats().size).toBe(0);
      expect(parseJid('\u00E4@example.com')).not.toBe(parseJid('\u00E4@example.com'));
      // Long raw JIDs are not cached.
      configureJidCache({ maxEntries: 10, maxKeyLength: 8 });
      parseJid('\u00E4\u00E4\u00E4\u00E4@example.com');
      expect(jidCacheStats().size).toBe(0);
      expect(() => configureJidCache({ maxEntries: -1 })).toThrow(RangeError);
      expect(() => configureJidCache({ maxEntries: 1.5 })).toThrow(RangeError);
    } finally {
      configureJidCache({ maxEntries: 4096, maxKeyLength: 512, maxDomainEntries: 1024 });
    }
  });
  it('invalid JIDs are not cached and keep failing', () => {
    const size = jidCacheStats().size;
    for (let i = 0; i < 3; i++) expect(jidError('\u265A@example.com').part).toBe('localpart');
    expect(jidCacheStats().size).toBe(size);
  });
  it('MAX_PART_OCTETS is 1023', () => {
    expect(MAX_PART_OCTETS).toBe(1023);
  });
});

describe('XEP-0106 JID escaping', () => {
  // XEP-0106 §5 examples (unescaped -> escaped).
  const table: [string, string][] = [
    ['space cadet', 'space\\20cadet'],
    ['call me "ishmael"', 'call\\20me\\20\\22ishmael\\22'],
    ['at&t guy', 'at\\26t\\20guy'],
    ["d'artagnan", 'd\\27artagnan'],
    ['/.fanboy', '\\2f.fanboy'],
    ['::foo::', '\\3a\\3afoo\\3a\\3a'],
    ['<foo>', '\\3cfoo\\3e'],
    ['user@host', 'user\\40host'],
    ['c:\\net', 'c\\3a\\net'],
    ['c:\\\\net', 'c\\3a\\\\net'],
    ['c:\\cool stuff', 'c\\3a\\cool\\20stuff'],
    ['c:\\5commas', 'c\\3a\\5c5commas'],
  ];
  for (const [raw, escaped] of table) {
    it(`${raw} <-> ${escaped}`, () => {
      expect(escapeLocal(raw)).toBe(escaped);
      expect(unescapeLocal(escaped)).toBe(raw);
      // The escaped form is a valid localpart.
      expect(prepareLocalpart(escaped)).toBe(escaped.toLowerCase());
    });
  }
  it('leading or trailing spaces cannot be escaped', () => {
    expect(() => escapeLocal(' a')).toThrow(JidError);
    expect(() => escapeLocal('a ')).toThrow(JidError);
  });
});

describe('in-band registration uses the localpart preparation', () => {
  it('prepareUsername', () => {
    expect(prepareUsername('J\u00DCRGEN')).toBe('j\u00FCrgen');
    expect(prepareUsername('\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34')).toBe('juliet');
    expect(prepareUsername('a b')).toBeUndefined();
    expect(prepareUsername('a@b')).toBeUndefined();
    expect(prepareUsername('\u265A')).toBeUndefined();
    expect(prepareUsername('')).toBeUndefined();
    expect(prepareUsername('a'.repeat(1024))).toBeUndefined();
  });
});
