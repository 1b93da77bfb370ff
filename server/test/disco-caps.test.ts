// XEP-0115 §5.2/§5.3 worked examples: the verification string and hash must match the XEP.
import { describe, expect, it } from 'vitest';
import { capsHash, capsVerificationString } from '../src/modules/disco.js';
import { buildForm, formType, formValues, parseForm, simpleForm } from '../src/modules/dataforms.js';

describe('XEP-0115 ver', () => {
  it('simple example (§5.2)', () => {
    const s = capsVerificationString(
      [{ category: 'client', type: 'pc', name: 'Exodus 0.9.1' }],
      [
        'http://jabber.org/protocol/disco#info',
        'http://jabber.org/protocol/disco#items',
        'http://jabber.org/protocol/muc',
        'http://jabber.org/protocol/caps',
      ],
      [],
    );
    expect(s).toBe(
      'client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<',
    );
    expect(capsHash(s)).toBe('QgayPKawpkPSDYmwT/WM94uAlu0=');
  });

  it('complex example with an extension form (§5.3)', () => {
    const form = buildForm({
      type: 'result',
      fields: [
        { var: 'FORM_TYPE', type: 'hidden', values: ['urn:xmpp:dataforms:softwareinfo'] },
        { var: 'ip_version', values: ['ipv4', 'ipv6'] },
        { var: 'os', values: ['Mac'] },
        { var: 'os_version', values: ['10.5.1'] },
        { var: 'software', values: ['Psi'] },
        { var: 'software_version', values: ['0.11'] },
      ],
    });
    // A form without FORM_TYPE is ignored.
    const stray = buildForm({ type: 'result', fields: [{ var: 'x', values: ['y'] }] });
    const s = capsVerificationString(
      [
        { category: 'client', type: 'pc', lang: 'en', name: 'Psi 0.11' },
        { category: 'client', type: 'pc', lang: 'el', name: 'Ψ 0.11' },
      ],
      [
        'http://jabber.org/protocol/caps',
        'http://jabber.org/protocol/disco#info',
        'http://jabber.org/protocol/disco#items',
        'http://jabber.org/protocol/muc',
      ],
      [stray, form],
    );
    expect(capsHash(s)).toBe('q07IKJEyjvHSyhy//CH0CxmKi8w=');
  });
});

describe('data forms', () => {
  it('round-trips a form', () => {
    const el = simpleForm('urn:example', { a: 'x', b: ['1', '2'], c: true });
    const form = parseForm(el)!;
    expect(formType(form)).toBe('urn:example');
    expect(formValues(form).get('b')).toEqual(['1', '2']);
    expect(formValues(form).get('c')).toEqual(['1']);
    expect(parseForm(el.getChild('field'))).toBeUndefined();
  });
});
