// Live test of LDAP / Active Directory settings for the installer's "Test" button.
// Specs: RFC 4511 (LDAP, result codes), RFC 4513 (StartTLS, simple bind), RFC 4515 (filter
// escaping), RFC 4519 / RFC 2307 (groupOfNames member, memberUid), and Microsoft's
// LDAP_MATCHING_RULE_IN_CHAIN (OID 1.2.840.113556.1.4.1941) for nested AD groups.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, type Entry } from 'ldapts';
import type { LdapSettings, LdapTestResult } from '../types.js';

const MATCHING_RULE_IN_CHAIN = '1.2.840.113556.1.4.1941';
const AD_CAPABILITY = '1.2.840.113556.1.4.800'; // LDAP_CAP_ACTIVE_DIRECTORY_OID
const SAMPLE = 10;

/** RFC 4515 section 3: escape a value for use inside a filter. */
export function escapeFilterValue(v: string): string {
  return v.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function first(entry: Entry, attr: string): string | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase());
  const v = key ? entry[key] : undefined;
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : Buffer.isBuffer(s) ? s.toString('utf8') : String(s);
}

function all(entry: Entry, attr: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase());
  const v = key ? entry[key] : undefined;
  const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return list.map((s) => (Buffer.isBuffer(s) ? s.toString('utf8') : String(s)));
}

/** Turns a connection / bind / search failure into plain words. */
export function describeLdapError(e: unknown, s: LdapSettings, during: string): string {
  const err = e as { code?: number | string; message?: string; name?: string };
  let where = s.url;
  try {
    const u = new URL(s.url);
    where = `${u.hostname}:${u.port || (u.protocol === 'ldaps:' ? 636 : 389)}`;
  } catch {
    /* keep the url as given */
  }
  const msg = err.message ?? String(e);
  if (typeof err.code === 'number') {
    switch (err.code) {
      case 49:
        return 'the directory rejected the bind password (or the bind DN is wrong): check both';
      case 32:
        return during === 'bind'
          ? 'the bind DN does not exist in the directory'
          : `the base DN "${s.baseDn}" does not exist in the directory`;
      case 8:
      case 13:
        return 'the directory requires an encrypted connection: use an ldaps:// URL or turn on StartTLS';
      case 34:
        return `a DN is not valid LDAP syntax (${msg})`;
      case 50:
        return `the bind account is not allowed to ${during === 'bind' ? 'log in' : 'search the directory'} (insufficient access rights)`;
      case 48:
        return 'the directory does not allow this kind of login (inappropriate authentication): check the bind DN and password';
      case 53:
        return `the directory refused the request (${msg})`;
      case 87:
        return `the user filter is not valid LDAP filter syntax (${msg})`;
      default:
        return `the directory answered with error ${err.code} during ${during}: ${msg}`;
    }
  }
  switch (err.code) {
    case 'ECONNREFUSED':
      return `could not connect to ${where}: the connection was refused (is the directory server running, and is the port right?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `could not connect: the name in ${s.url} does not resolve`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `could not connect to ${where}: no answer (wrong address, or a firewall in the way)`;
    case 'ECONNRESET':
      return `the connection to ${where} was closed by the server (for ldaps:// check the port is the TLS one, usually 636; for plain ldap:// usually 389)`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `the directory's TLS certificate is not trusted (${err.code}): set the CA file to the certificate authority that signed it`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the directory's TLS certificate is for a different name than ${where}: use the name written in the certificate in the URL`;
    case 'CERT_HAS_EXPIRED':
      return "the directory's TLS certificate has expired";
    default:
      break;
  }
  if (/timeout|timed out/i.test(msg)) return `no answer from ${where} in time during ${during}`;
  if (/wrong version number|packet length too long|EPROTO/i.test(msg))
    return `TLS failed with ${where}: the port does not speak TLS (use ldap:// with StartTLS, or the ldaps port)`;
  return `${during} failed: ${msg}`;
}

/** Tests the settings: bind, count users, list the admin group's members. Never throws. */
export async function testLdap(s: LdapSettings): Promise<LdapTestResult> {
  const result: LdapTestResult = {
    ok: false,
    bindOk: false,
    flavor: 'unknown',
    userCount: 0,
    sampleUsers: [],
    adminGroupMembers: [],
    errors: [],
    warnings: [],
  };
  let url: URL;
  try {
    url = new URL(s.url);
    if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') throw new Error('scheme');
  } catch {
    result.errors.push(`"${s.url}" is not an LDAP URL: write it like ldap://dc1.example.org or ldaps://dc1.example.org`);
    return result;
  }
  if (s.startTls && url.protocol === 'ldaps:') result.warnings.push('StartTLS is ignored with ldaps:// (the connection is already encrypted)');
  if (!s.startTls && url.protocol === 'ldap:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    result.warnings.push('the connection is not encrypted: the bind password and user passwords travel in clear text; use ldaps:// or StartTLS');

  let tlsOptions: ConnectionOptions = {};
  if (s.caFile) {
    try {
      tlsOptions = { ca: await readFile(s.caFile) };
    } catch (e) {
      result.errors.push(`cannot read the CA file ${s.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return result;
    }
  }
  const timeout = s.timeoutMs ?? 5000;
  // ldapts speaks TLS from the first byte whenever tlsOptions is given: only pass it for ldaps://.
  const client = new Client({
    url: s.url,
    timeout,
    connectTimeout: timeout,
    ...(url.protocol === 'ldaps:' ? { tlsOptions } : {}),
  });
  let step = 'connect';
  try {
    if (s.startTls && url.protocol === 'ldap:') {
      step = 'StartTLS';
      const host = url.hostname.replace(/^\[|\]$/g, '');
      // SNI only for names (RFC 6066 forbids IP literals); a fresh object each time, since ldapts mutates it.
      await client.startTLS({ ...tlsOptions, ...(isIP(host) === 0 ? { servername: host } : {}) });
    }
    step = 'bind';
    await client.bind(s.bindDn, s.bindPassword);
    result.bindOk = true;

    step = 'detecting the directory type';
    let flavor: 'openldap' | 'ad' | 'unknown' = s.flavor && s.flavor !== 'auto' ? s.flavor : 'unknown';
    if (flavor === 'unknown') {
      const dse = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['supportedCapabilities', 'vendorName', 'objectClass', 'structuralObjectClass'] });
      const root = dse.searchEntries[0];
      flavor = root && all(root, 'supportedCapabilities').includes(AD_CAPABILITY) ? 'ad' : 'openldap';
    }
    result.flavor = flavor;
    const loginAttr = flavor === 'ad' ? 'sAMAccountName' : 'uid';
    const userFilter = s.userFilter?.trim() || (flavor === 'ad' ? '(&(objectClass=user)(objectCategory=person))' : '(objectClass=inetOrgPerson)');
    const filter = userFilter.startsWith('(') ? userFilter : `(${userFilter})`;

    step = 'searching users';
    const users = await client.search(s.baseDn, { scope: 'sub', filter, attributes: [loginAttr, 'cn'], paged: { pageSize: 500 } });
    result.userCount = users.searchEntries.length;
    result.sampleUsers = users.searchEntries
      .map((e) => first(e, loginAttr) ?? first(e, 'cn') ?? e.dn)
      .sort()
      .slice(0, SAMPLE);
    if (result.userCount === 0)
      result.warnings.push(`no users matched the filter ${filter} under ${s.baseDn}: check the base DN and the user filter`);

    step = 'looking up the admin group';
    const group = s.adminGroup?.trim() || 'jabberadmins';
    let groupDn: string | undefined;
    let groupEntry: Entry | undefined;
    if (group.includes('=')) {
      const r = await client
        .search(group, { scope: 'base', filter: '(objectClass=*)', attributes: ['member', 'uniqueMember', 'memberUid'] })
        .catch(() => ({ searchEntries: [] as Entry[] }));
      groupEntry = r.searchEntries[0];
    } else {
      const cn = escapeFilterValue(group);
      const r = await client.search(s.baseDn, {
        scope: 'sub',
        filter: `(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))(|(cn=${cn})(sAMAccountName=${cn})))`,
        attributes: ['member', 'uniqueMember', 'memberUid'],
      });
      groupEntry = r.searchEntries[0];
      if (r.searchEntries.length > 1) result.warnings.push(`several groups are named "${group}"; using ${groupEntry?.dn}`);
    }
    groupDn = groupEntry?.dn;
    if (!groupEntry || !groupDn) {
      result.errors.push(`the admin group "${group}" was not found under ${s.baseDn}: create it, or type the group's name or full DN`);
    } else {
      result.adminGroupDn = groupDn;
      step = 'listing the admin group members';
      if (flavor === 'ad') {
        // Nested membership is resolved by the DC itself.
        const r = await client.search(s.baseDn, {
          scope: 'sub',
          filter: `(&${filter}(memberOf:${MATCHING_RULE_IN_CHAIN}:=${escapeFilterValue(groupDn)}))`,
          attributes: [loginAttr],
          paged: { pageSize: 500 },
        });
        result.adminGroupMembers = r.searchEntries.map((e) => first(e, loginAttr) ?? e.dn);
      } else {
        result.adminGroupMembers = await openLdapMembers(client, groupEntry, loginAttr);
      }
      result.adminGroupMembers.sort();
      if (result.adminGroupMembers.length === 0)
        result.warnings.push(`the admin group ${groupDn} has no members: nobody will be an administrator`);
    }
  } catch (e) {
    result.errors.push(describeLdapError(e, s, step));
  } finally {
    await client.unbind().catch(() => {});
  }
  result.ok = result.bindOk && result.errors.length === 0;
  return result;
}

/** groupOfNames/groupOfUniqueNames member DNs (nested groups followed) and posixGroup memberUid. */
async function openLdapMembers(client: Client, group: Entry, loginAttr: string): Promise<string[]> {
  const names = new Set<string>(all(group, 'memberUid'));
  const seen = new Set<string>([group.dn.toLowerCase()]);
  const queue = [...all(group, 'member'), ...all(group, 'uniqueMember').map((m) => m.replace(/#'[01]*'B$/, ''))];
  while (queue.length > 0 && seen.size < 1000) {
    const dn = queue.shift() as string;
    if (seen.has(dn.toLowerCase())) continue;
    seen.add(dn.toLowerCase());
    const r = await client
      .search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [loginAttr, 'objectClass', 'member', 'uniqueMember', 'memberUid'] })
      .catch(() => ({ searchEntries: [] as Entry[] }));
    const e = r.searchEntries[0];
    if (!e) continue; // dangling member (deleted user): not a member
    const classes = all(e, 'objectClass').map((c) => c.toLowerCase());
    if (classes.includes('groupofnames') || classes.includes('groupofuniquenames') || classes.includes('posixgroup')) {
      queue.push(...all(e, 'member'), ...all(e, 'uniqueMember'));
      for (const u of all(e, 'memberUid')) names.add(u);
    } else names.add(first(e, loginAttr) ?? dn);
  }
  return [...names];
}
