import { describe, expect, it } from 'vitest';
import { DOMAIN_HELP, validateDomain, validateHost } from '../src/index.js';

describe('validateDomain', () => {
  it('accepts ordinary names, normalises case and a trailing dot', () => {
    expect(validateDomain('Example.ORG.')).toEqual({ ok: true, ascii: 'example.org', unicode: 'example.org', errors: [] });
    expect(validateDomain('chat.my-office.co.uk').ok).toBe(true);
    expect(validateDomain('localhost').ok).toBe(true);
  });

  it('handles internationalised names (IDN)', () => {
    const r = validateDomain('bücher.example');
    expect(r).toMatchObject({ ok: true, ascii: 'xn--bcher-kva.example', unicode: 'bücher.example' });
    expect(validateDomain('xn--bcher-kva.example').unicode).toBe('bücher.example');
  });

  it('refuses bad input with plain words', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /is empty/],
      ['my_office.example', /must not contain underscores/],
      ['192.0.2.1', /must be a name, not an IP address/],
      ['[2001:db8::1]', /not an IP address/],
      ['2001:db8::1', /not an IP address/],
      ['office', /needs at least one dot/],
      ['alice@example.org', /only the part after the @/],
      ['https://example.org/', /without http:\/\//],
      ['-bad.example', /must not start or end with a hyphen/],
      ['a..example', /two dots in a row/],
      [`${'a'.repeat(64)}.example`, /longer than 63 characters/],
      ['my office.example', /must not contain spaces/],
      ['example.123', /all digits/],
      ['exa!mple.org', /letters, digits/],
    ];
    for (const [input, re] of cases) {
      const r = validateDomain(input);
      expect(r.ok, input).toBe(false);
      expect(r.errors.join(' '), input).toMatch(re);
    }
  });

  it('explains itself in one sentence with an example', () => {
    expect(DOMAIN_HELP.explanation.split('. ').length).toBe(1);
    expect(DOMAIN_HELP.example).toContain('alice@example.org');
    expect(validateHost('chat.example.org').ok).toBe(true);
    expect(validateHost('10.0.0.2').errors[0]).toMatch(/^The host must be a name/);
  });
});
