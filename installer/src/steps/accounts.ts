// Step 5: where accounts live. Local accounts (the first administrator is created now), or an
// LDAP / Active Directory directory whose settings are tested live (bind, users, admin group).
// Localpart rules: RFC 7622 section 3.3 (UsernameCaseMapped profile of PRECIS, RFC 8265),
// reduced here to what an office admin needs: no spaces, no @ / : " & ' < >, at most 1023 bytes.
import { testLdap } from '../../../appliance/src/ldap/test.js';
import type { LdapTestResult } from '../../../appliance/src/types.js';
import type { Answers, LdapAnswers } from '../answers.js';

export const MIN_PASSWORD_LENGTH = 8;

export function validateUsername(name: string): string[] {
  const n = name.trim();
  if (!n) return ['Type a user name for the first administrator, like admin or alice.'];
  const errors: string[] = [];
  if (/\s/.test(n)) errors.push('The user name must not contain spaces.');
  const bad = [...new Set(n.match(/["&'/:<>@]/g) ?? [])];
  if (bad.length) errors.push(`The user name must not contain ${bad.join(' ')} (type only the part before the @).`);
  if (Buffer.byteLength(n.normalize('NFC')) > 1023) errors.push('The user name is too long.');
  return errors;
}

export function validatePassword(pw: string): string[] {
  if (pw.length < MIN_PASSWORD_LENGTH) return [`The password needs at least ${MIN_PASSWORD_LENGTH} characters.`];
  return [];
}

/** What must be right before leaving the accounts step (local mode). */
export function localAccountErrors(a: Answers): string[] {
  // No password: no account is created now (a re-run keeps the existing ones).
  if (!a.admin.password) return [];
  return [...validateUsername(a.admin.username), ...validatePassword(a.admin.password)];
}

export function ldapMissing(l: LdapAnswers): string[] {
  const out: string[] = [];
  if (!l.url) out.push('the directory URL (like ldaps://dc1.example.org)');
  if (!l.bindDn) out.push('the bind DN (the account Roost logs in with)');
  if (!l.bindPassword) out.push('the bind password');
  if (!l.baseDn) out.push('the base DN (where users are, like dc=example,dc=org)');
  return out;
}

export async function ldapStep(l: LdapAnswers): Promise<LdapTestResult> {
  const missing = ldapMissing(l);
  if (missing.length)
    return { ok: false, bindOk: false, flavor: 'unknown', userCount: 0, sampleUsers: [], adminGroupMembers: [], errors: [`Missing: ${missing.join(', ')}.`], warnings: [] };
  return testLdap({
    url: l.url,
    startTls: l.startTls,
    bindDn: l.bindDn,
    bindPassword: l.bindPassword,
    baseDn: l.baseDn,
    ...(l.userFilter ? { userFilter: l.userFilter } : {}),
    adminGroup: l.adminGroup || 'jabberadmins',
    ...(l.caFile ? { caFile: l.caFile } : {}),
  });
}

/** Plain-words lines for the screen and the unattended log. */
export function describeLdapResult(r: LdapTestResult, group: string): string[] {
  const lines: string[] = [];
  if (r.bindOk) lines.push('✔ bind ok');
  if (r.bindOk) lines.push(`${r.userCount > 0 ? '✔' : '!'} ${r.userCount} user${r.userCount === 1 ? '' : 's'} found${r.sampleUsers.length ? ` (${r.sampleUsers.slice(0, 5).join(', ')}${r.userCount > 5 ? ', …' : ''})` : ''}`);
  if (r.adminGroupDn) lines.push(`${r.adminGroupMembers.length ? '✔' : '!'} admin group ${group}: ${r.adminGroupMembers.length ? r.adminGroupMembers.join(', ') : 'no members'}`);
  for (const e of r.errors) lines.push(`✘ ${e}`);
  for (const w of r.warnings) lines.push(`! ${w}`);
  return lines;
}
