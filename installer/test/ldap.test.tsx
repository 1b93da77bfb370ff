// The accounts step with LDAP against a real OpenLDAP (Debian slapd) seeded with users and a
// jabberadmins group: the screen's live test button, and the unattended run.
import { readFile, stat } from 'node:fs/promises';
import { render } from 'ink-testing-library';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_DN, ADMIN_PW, SUFFIX, startSlapd, type Slapd } from '../../appliance/test/helpers/slapd.js';
import { runSetup } from '../src/index.js';
import { AccountsScreen } from '../src/ui/screens/Accounts.js';
import { KEY, frameMatching, press, type } from './helpers/ink.js';
import { captureIo, freePorts, listenerFlags, type Ports, publishGoodRecords, sandbox, startDnsServer, type TestDns } from './helpers/setup-env.js';
import { stateFrom } from './helpers/state.js';

const D = 'ldap-setup.test';
let slapd: Slapd;
let dns: TestDns;
let ports: Ports;

beforeAll(async () => {
  slapd = await startSlapd();
  dns = await startDnsServer();
  ports = await freePorts();
  publishGoodRecords(dns, D, ports);
});
afterAll(async () => {
  await slapd?.stop();
  await dns?.close();
});

async function fillLdap(app: ReturnType<typeof render>, password: string): Promise<void> {
  await press(app, KEY.right); // accounts: on this server → LDAP
  await frameMatching(app, /Directory URL/);
  await press(app, KEY.down);
  await type(app, slapd.url);
  await press(app, KEY.down, KEY.down); // StartTLS stays No
  await type(app, ADMIN_DN);
  await press(app, KEY.down);
  await type(app, password);
  await press(app, KEY.down);
  await type(app, SUFFIX);
  // user filter (auto), admin group (jabberadmins), CA file: keep; go to the button.
  await press(app, KEY.down, KEY.down, KEY.down, KEY.down);
}

describe('accounts screen with LDAP', { timeout: 90_000 }, () => {
  it('the Test button binds, counts users and lists the jabberadmins members (nested group included)', async () => {
    const sb = await sandbox('ldap-screen');
    try {
      const s = await stateFrom(['--config', sb.configPath, '--data-dir', sb.dataDir, '--domain', D]);
      const n = { next: 0, onNext: () => void n.next++, onBack: () => {} };
      const app = render(<AccountsScreen state={s} {...n} />);
      await fillLdap(app, ADMIN_PW);
      await frameMatching(app, /› \[ Test the connection \]/);
      await press(app, KEY.enter);
      const f = await frameMatching(app, /admin group jabberadmins/);
      expect(f).toContain('✔ bind ok');
      expect(f).toMatch(/✔ 4 users found \(alice, bob, carol, dave\)/);
      expect(f).toContain('✔ admin group jabberadmins: alice, bob');
      expect(f).toContain('Bind password: •••••••');
      await frameMatching(app, /› \[ Continue \]/);
      await press(app, KEY.enter);
      expect(n.next).toBe(1);
      expect(s.answers.accounts).toBe('ldap');
      expect(s.answers.ldap).toMatchObject({ url: slapd.url, bindDn: ADMIN_DN, baseDn: SUFFIX, adminGroup: 'jabberadmins', startTls: false });
      app.unmount();
    } finally {
      await sb.close();
    }
  });

  it('a wrong bind password is shown in plain words, and changing a field allows a new test', async () => {
    const sb = await sandbox('ldap-wrong');
    try {
      const s = await stateFrom(['--config', sb.configPath, '--data-dir', sb.dataDir, '--domain', D]);
      const app = render(<AccountsScreen state={s} onNext={() => {}} onBack={() => {}} />);
      await fillLdap(app, 'not-the-password');
      await press(app, KEY.enter);
      let f = await frameMatching(app, /✘ the directory rejected the bind password/);
      expect(f).not.toContain('bind ok');
      // Fix the password: the result is cleared and the button tests again.
      await press(app, ...Array(5).fill(KEY.up));
      for (let i = 0; i < 'not-the-password'.length; i++) await press(app, KEY.backspace);
      await type(app, ADMIN_PW);
      await frameMatching(app, /Test the connection/);
      await press(app, ...Array(5).fill(KEY.down), KEY.enter);
      f = await frameMatching(app, /✔ bind ok/);
      app.unmount();
    } finally {
      await sb.close();
    }
  });
});

describe('roost setup --non-interactive --accounts ldap', { timeout: 90_000 }, () => {
  const args = (sb: { configPath: string; dataDir: string }, pw: string): string[] => [
    '--non-interactive',
    '--domain', D,
    '--config', sb.configPath,
    '--data-dir', sb.dataDir,
    '--user', 'nobody',
    '--resolver', `127.0.0.1:${dns.port}`,
    '--cert', 'self-signed',
    '--accounts', 'ldap',
    '--ldap-url', slapd.url,
    '--ldap-bind-dn', ADMIN_DN,
    '--ldap-bind-password', pw,
    '--ldap-base-dn', SUFFIX,
    '--no-systemd',
    '--no-start',
    ...listenerFlags(ports),
  ];

  it('tests the directory, then stores the settings (the admins are the group members)', async () => {
    const sb = await sandbox('ldap-ni');
    try {
      const cap = captureIo();
      const code = await runSetup(args(sb, ADMIN_PW), cap.io);
      expect(code, cap.out() + cap.err()).toBe(0);
      expect(cap.out()).toContain('✔ admin group jabberadmins: alice, bob');
      expect(cap.out()).toContain(`First administrator: alice@${D} (members of jabberadmins)`);
      const cfg = YAML.parse(await readFile(sb.configPath, 'utf8')) as Record<string, any>;
      expect(cfg.ldap).toMatchObject({ enabled: true, url: slapd.url, bindDn: ADMIN_DN, baseDn: SUFFIX, bindPassword: ADMIN_PW });
      expect(cfg.adminGroup).toBe('jabberadmins');
      // The file holds the bind password: not world-readable.
      expect((await stat(sb.configPath)).mode & 0o007).toBe(0);
    } finally {
      await sb.close();
    }
  });

  it('a wrong bind password stops the run with the reason; no configuration is written', async () => {
    const sb = await sandbox('ldap-ni-wrong');
    try {
      const cap = captureIo();
      const code = await runSetup(args(sb, 'wrong'), cap.io);
      expect(code).toBe(1);
      expect(cap.err()).toContain('the directory test failed: the directory rejected the bind password (or the bind DN is wrong): check both');
      await expect(stat(sb.configPath)).rejects.toThrow(/ENOENT/);
    } finally {
      await sb.close();
    }
  });
});
