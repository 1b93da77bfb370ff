// The answers <-> roost.yaml mapping, checked with the daemon's own schema (parseConfigText):
// what the installer writes is valid and reads back as the same answers.
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING } from '../../server/src/config/index.js';
import { GB, MB, defaultAnswers, type Answers } from '../src/answers.js';
import { ConfigInvalidError, answersFromConfig, renderConfig } from '../src/config-output.js';

const tls = { certificate: '/var/lib/roost/certs/example.org/cert.pem', key: '/var/lib/roost/certs/example.org/key.pem' };

function answers(patch: (a: Answers) => void): Answers {
  const a = defaultAnswers();
  a.domain = 'example.org';
  a.cert.email = 'admin@example.org';
  a.admin.username = 'boss';
  patch(a);
  return a;
}

describe('config output', () => {
  it("Let's Encrypt production by default, staging when asked, a custom ACME server kept", () => {
    const prod = renderConfig(undefined, answers(() => {}), tls).config;
    expect(prod.acme).toMatchObject({ enabled: true, directoryUrl: LETSENCRYPT_PRODUCTION, email: 'admin@example.org', challenge: 'http-01', httpPort: 80 });
    const staging = renderConfig(undefined, answers((a) => (a.cert.staging = true)), tls).config;
    expect(staging.acme.directoryUrl).toBe(LETSENCRYPT_STAGING);
    const custom = renderConfig(undefined, answers((a) => (a.cert.directoryUrl = 'https://acme.internal.example/dir')), tls).config;
    expect(custom.acme.directoryUrl).toBe('https://acme.internal.example/dir');
    expect(renderConfig(undefined, answers((a) => (a.cert.mode = 'self-signed')), tls).config.acme.enabled).toBe(false);
  });

  it('federation opens the server-to-server listener; directory logins close registration; TURN and limits land where the daemon reads them', () => {
    const c = renderConfig(
      undefined,
      answers((a) => {
        a.federation.enabled = true;
        a.accounts = 'ldap';
        a.registration = 'open';
        a.ldap = { ...a.ldap, url: 'ldaps://dc1.example.org', bindDn: 'cn=roost,dc=example,dc=org', bindPassword: 'pw', baseDn: 'dc=example,dc=org' };
        a.turn = { enabled: true, host: 'turn.example.org', port: 3478, secret: 's3cret', ttl: 3600 };
        a.upload = { maxFileSize: 50 * MB, dailyQuota: 2 * GB, retentionDays: 10 };
        a.archive.retentionDays = 90;
      }),
      tls,
    ).config;
    expect(c.listeners.s2s.enabled).toBe(true);
    expect(c.federation.enabled).toBe(true);
    expect(c.registration).toMatchObject({ enabled: false, mode: 'closed' });
    expect(c.ldap).toMatchObject({ enabled: true, url: 'ldaps://dc1.example.org', baseDn: 'dc=example,dc=org' });
    expect(c.admins).toEqual([]);
    expect(c.turn).toMatchObject({ enabled: true, host: 'turn.example.org', port: 3478, ttl: 3600 });
    expect(c.upload).toMatchObject({ maxFileSize: 50 * MB, dailyQuota: 2 * GB, retentionDays: 10 });
    expect(c.archive.retentionDays).toBe(90);
  });

  it('reads back as the same answers, and keeps settings it does not manage', () => {
    const a = answers((x) => {
      x.registration = 'closed';
      x.cert.challenge = 'dns-01';
      x.cert.staging = true;
      x.federation = { enabled: true, pushGateways: ['p2.siacs.eu'] };
      x.upload.maxFileSize = 5 * MB;
    });
    const existing = { limits: { stanzaSize: '512KiB' }, log: { level: 'debug' }, hosts: ['old.example'] };
    const { text, config } = renderConfig(existing, a, tls);
    expect(config.limits.stanzaSize).toBe(512 * 1024);
    expect(config.log.level).toBe('debug');
    expect(config.hosts).toEqual(['example.org']);
    expect(config.admins).toEqual(['boss@example.org']);
    const back = answersFromConfig(YAML.parse(text) as Record<string, unknown>, '/etc/roost/roost.yaml');
    expect(back).toMatchObject({
      domain: 'example.org',
      registration: 'closed',
      accounts: 'local',
      admin: { username: 'boss' },
      cert: { mode: 'letsencrypt', challenge: 'dns-01', staging: true, email: 'admin@example.org', certFile: tls.certificate, keyFile: tls.key },
      federation: { enabled: true, pushGateways: ['p2.siacs.eu'] },
      upload: { maxFileSize: 5 * MB },
    });
    expect(back.cert?.directoryUrl).toBeUndefined();
  });

  it("a value the daemon's schema refuses is reported by setting name, before anything is written", () => {
    const a = answers((x) => (x.overrides = { listeners: { c2s: { port: 70000 } } }));
    expect(() => renderConfig(undefined, a, tls)).toThrow(ConfigInvalidError);
    expect(() => renderConfig(undefined, a, tls)).toThrow(/listeners\.c2s\.port/);
  });
});
