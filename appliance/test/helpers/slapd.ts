// A throwaway OpenLDAP (Debian slapd) from a temp slapd.conf on loopback: plain LDAP (with
// StartTLS) and LDAPS, seeded online so the memberof overlay fills memberOf.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { ensureDebianPackage, freePort, tempDir, waitFor } from './infra.js';

export const SUFFIX = 'dc=example,dc=test';
export const ADMIN_DN = `cn=admin,${SUFFIX}`;
export const ADMIN_PW = 'adminpw';

export interface Slapd {
  url: string;
  ldapsUrl: string;
  caFile: string;
  stop(): Promise<void>;
}

function ssha(pw: string): string {
  const salt = randomBytes(8);
  return `{SSHA}${Buffer.concat([createHash('sha1').update(pw).update(salt).digest(), salt]).toString('base64')}`;
}

export async function startSlapd(): Promise<Slapd> {
  const bin = ensureDebianPackage('slapd', ['slapd', 'ldap-utils']);
  const dir = await tempDir('slapd');
  mkdirSync(join(dir, 'db'));
  const ssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=test directory CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'req.csr']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl(['x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'cert.pem']);
  const [port, tlsPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'slapd.conf'),
    [
      ...['core', 'cosine', 'nis', 'inetorgperson'].map((s) => `include /etc/ldap/schema/${s}.schema`),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload memberof',
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      `TLSCACertificateFile ${join(dir, 'ca.pem')}`,
      `TLSCertificateFile ${join(dir, 'cert.pem')}`,
      `TLSCertificateKeyFile ${join(dir, 'key.pem')}`,
      'database mdb',
      'maxsize 10485760',
      `suffix "${SUFFIX}"`,
      `rootdn "${ADMIN_DN}"`,
      `rootpw ${ssha(ADMIN_PW)}`,
      `directory ${join(dir, 'db')}`,
      'index objectClass,uid,cn,member eq',
      'overlay memberof',
      'access to attrs=userPassword by self write by anonymous auth by * none',
      'access to * by * read',
      '',
    ].join('\n'),
  );
  // Daemonizes and writes its pid file.
  execFileSync(bin, ['-f', join(dir, 'slapd.conf'), '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${tlsPort}/`, '-s', '0'], { stdio: 'pipe' });
  const url = `ldap://127.0.0.1:${port}`;
  await waitFor(async () => {
    const c = new Client({ url, connectTimeout: 500 });
    try {
      await c.bind(ADMIN_DN, ADMIN_PW);
      return true;
    } finally {
      await c.unbind().catch(() => {});
    }
  }, 10_000, 'slapd to start');
  const c = new Client({ url });
  await c.bind(ADMIN_DN, ADMIN_PW);
  await c.add(SUFFIX, { objectClass: ['dcObject', 'organization'], o: 'Example', dc: 'example' });
  await c.add(`ou=people,${SUFFIX}`, { objectClass: 'organizationalUnit', ou: 'people' });
  await c.add(`ou=groups,${SUFFIX}`, { objectClass: 'organizationalUnit', ou: 'groups' });
  for (const u of ['alice', 'bob', 'carol', 'dave'])
    await c.add(`uid=${u},ou=people,${SUFFIX}`, {
      objectClass: 'inetOrgPerson',
      uid: u,
      cn: u[0]?.toUpperCase() + u.slice(1),
      sn: 'Test',
      mail: `${u}@example.test`,
      userPassword: ssha(`${u}pw`),
    });
  // bob is an admin through a nested group.
  await c.add(`cn=helpdesk,ou=groups,${SUFFIX}`, { objectClass: 'groupOfNames', cn: 'helpdesk', member: `uid=bob,ou=people,${SUFFIX}` });
  await c.add(`cn=jabberadmins,ou=groups,${SUFFIX}`, {
    objectClass: 'groupOfNames',
    cn: 'jabberadmins',
    member: [`uid=alice,ou=people,${SUFFIX}`, `cn=helpdesk,ou=groups,${SUFFIX}`],
  });
  await c.unbind();
  return {
    url,
    ldapsUrl: `ldaps://127.0.0.1:${tlsPort}`,
    caFile: join(dir, 'ca.pem'),
    stop: async () => {
      try {
        const pid = Number(readFileSync(join(dir, 'slapd.pid'), 'utf8').trim());
        process.kill(pid, 'SIGTERM');
        await waitFor(async () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        }, 5000, 'slapd to stop');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
