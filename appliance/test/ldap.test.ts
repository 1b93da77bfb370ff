// LDAP settings test against a real OpenLDAP (slapd) started for this file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLdap, type LdapSettings } from '../src/index.js';
import { freePort } from './helpers/infra.js';
import { ADMIN_DN, ADMIN_PW, startSlapd, SUFFIX, type Slapd } from './helpers/slapd.js';

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => slapd?.stop());

const settings = (over: Partial<LdapSettings> = {}): LdapSettings => ({
  url: slapd.url,
  bindDn: ADMIN_DN,
  bindPassword: ADMIN_PW,
  baseDn: SUFFIX,
  ...over,
});

describe('testLdap against OpenLDAP', () => {
  it('plain LDAP: bind ok, users counted, admin group members listed (nested group followed)', async () => {
    const r = await testLdap(settings());
    expect(r).toMatchObject({
      ok: true,
      bindOk: true,
      flavor: 'openldap',
      userCount: 4,
      sampleUsers: ['alice', 'bob', 'carol', 'dave'],
      adminGroupDn: `cn=jabberadmins,ou=groups,${SUFFIX}`,
      adminGroupMembers: ['alice', 'bob'],
      errors: [],
    });
  });

  it('StartTLS and ldaps:// with the CA file; an untrusted certificate is explained', async () => {
    const tls = await testLdap(settings({ startTls: true, caFile: slapd.caFile }));
    expect(tls).toMatchObject({ ok: true, userCount: 4, adminGroupMembers: ['alice', 'bob'] });
    const ldaps = await testLdap(settings({ url: slapd.ldapsUrl, caFile: slapd.caFile }));
    expect(ldaps).toMatchObject({ ok: true, userCount: 4 });
    const untrusted = await testLdap(settings({ url: slapd.ldapsUrl }));
    expect(untrusted.ok).toBe(false);
    expect(untrusted.errors[0]).toMatch(/TLS certificate is not trusted .*set the CA file/);
  });

  it('a user filter and the admin group given as a DN', async () => {
    const r = await testLdap(settings({ userFilter: '(mail=*@example.test)', adminGroup: `cn=helpdesk,ou=groups,${SUFFIX}` }));
    expect(r).toMatchObject({ ok: true, userCount: 4, adminGroupMembers: ['bob'] });
  });

  it('bad input: wrong password, unknown group, bad base DN, unreachable, bad URL', async () => {
    const wrong = await testLdap(settings({ bindPassword: 'nope' }));
    expect(wrong).toMatchObject({ ok: false, bindOk: false });
    expect(wrong.errors).toEqual(['the directory rejected the bind password (or the bind DN is wrong): check both']);
    const userBind = await testLdap(settings({ bindDn: `uid=carol,ou=people,${SUFFIX}`, bindPassword: 'carolpw', adminGroup: 'nosuchgroup' }));
    expect(userBind.bindOk).toBe(true);
    expect(userBind.errors).toEqual([`the admin group "nosuchgroup" was not found under ${SUFFIX}: create it, or type the group's name or full DN`]);
    const base = await testLdap(settings({ baseDn: 'dc=nowhere,dc=test' }));
    expect(base.errors).toEqual(['the base DN "dc=nowhere,dc=test" does not exist in the directory']);
    const port = await freePort();
    const down = await testLdap(settings({ url: `ldap://127.0.0.1:${port}` }));
    expect(down.errors).toEqual([`could not connect to 127.0.0.1:${port}: the connection was refused (is the directory server running, and is the port right?)`]);
    expect((await testLdap(settings({ url: 'http://example.test' }))).errors[0]).toMatch(/is not an LDAP URL/);
  });
});
