// The real TUI in a real terminal: tmux runs the real `roost setup` (bin/roost.js), keys are
// typed from the first screen to the last on a loopback domain (local dns2 server, pebble as the
// certificate authority, HTTP-01), the daemon is started, and then a chat login with the
// certificate verified against pebble's root succeeds. A second run on the configured box opens
// prefilled, and Ctrl-C leaves the configuration as it was.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import YAML from 'yaml';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPebble, type Pebble } from '../../appliance/test/helpers/pebble.js';
import { ROOST_BIN, ROOT, ensureBuilt } from './helpers/build.js';
import { runSetup } from '../src/index.js';
import { captureIo, freePorts, listenerFlags, type Ports, publishGoodRecords, sandbox, type Sandbox, startDnsServer, type TestDns, writeCa } from './helpers/setup-env.js';
import { startTmux, type Tmux } from './helpers/tmux.js';
import { xmppLogin } from './helpers/xmpp-login.js';

const run = promisify(execFile);
const D = 'tmux-office.test';
const PASSWORD = 'correct-horse-42';
let dns: TestDns;
let pebble: Pebble;
let ports: Ports;
let sb: Sandbox;
const terms: Tmux[] = [];

beforeAll(async () => {
  ensureBuilt();
  dns = await startDnsServer();
  ports = await freePorts();
  publishGoodRecords(dns, D, ports);
  pebble = await startPebble(dns.port);
  sb = await sandbox('tmux');
}, 180_000);

afterAll(async () => {
  for (const t of terms) t.kill();
  // The daemon setup started (no systemd here): stop it by the pid it recorded.
  try {
    const pid = Number((await readFile(join(sb.dataDir, 'roost.pid'), 'utf8')).trim());
    if (pid > 1) process.kill(pid, 'SIGTERM');
  } catch {
    /* not started */
  }
  await pebble?.stop();
  await dns?.close();
  await sb?.close();
});

// Ink draws nothing but its last frame when CI is set (CI machines set it): the screens must show
// anyway, so the terminal runs with CI=true wherever the test runs.
const CI_SET = { CI: 'true' };

function setupCommand(extra: string[]): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [process.execPath, ROOST_BIN, 'setup', ...extra].map(q).join(' ');
}

describe('roost setup in a real terminal', () => {
  it('first screen to last, then the configured server accepts a login with a trusted certificate', async () => {
    const ca = await writeCa(sb.dir, pebble.listenerCa);
    const t = startTmux(
      setupCommand([
        '--config', sb.configPath,
        '--data-dir', sb.dataDir,
        '--user', 'nobody',
        '--resolver', `127.0.0.1:${dns.port}`,
        '--acme-directory', pebble.directoryUrl,
        '--ca-bundle', ca,
        '--http-port', String(pebble.httpPort),
        '--no-systemd',
        '--start-daemon',
        ...listenerFlags(ports),
      ]),
      { cwd: ROOT, env: CI_SET },
    );
    terms.push(t);
    // 1. Welcome
    // The first screen waits for node to load the installer and for the pre-flight checks: on a
    // loaded CI machine (every test file starting its servers at once) that took more than 20 s.
    await t.waitFor(/step 1 of 8 · Welcome.*(This machine is ready|problem\(s\) above)/, 90_000);
    await t.keys('Enter');
    // 2. Domain
    await t.waitFor(/step 2 of 8 · Domain/);
    await t.text(D);
    await t.keys('Enter', 'Enter', 'Enter');
    // 3. DNS
    let s = await t.waitFor(/step 3 of 8 · DNS records.*All required records are right/);
    expect(s).toContain(`SRV   _xmpp-client._tcp.${D} — points to ${D} port ${ports.c2s}`);
    await t.keys('Enter');
    // 4. Certificate: Let's Encrypt (pebble) over HTTP-01
    await t.waitFor(/step 4 of 8 · Certificate/);
    await t.keys('Enter', 'Enter', 'Enter', 'Enter');
    await t.waitFor(/› \[ Get the certificate \]/);
    await t.keys('Enter');
    s = await t.waitFor(/Press Enter to continue/, 60_000);
    expect(s).toContain(`✔ Certificate for ${D}, conference.${D}, pubsub.${D}, upload.${D}, proxy.${D}`);
    await t.keys('Enter');
    // 5. Accounts: first administrator "admin"
    await t.waitFor(/step 5 of 8 · Accounts/);
    await t.keys('Enter', 'Enter');
    await t.text(PASSWORD);
    await t.keys('Enter');
    await t.text(PASSWORD);
    await t.keys('Enter');
    // 6. Features: the usual values
    await t.waitFor(/step 6 of 8 · Features and limits/);
    for (let i = 0; i < 8; i++) await t.keys('Enter');
    // 7. Apply
    s = await t.waitFor(/step 7 of 8 · Apply.*Ready to apply/);
    expect(s).toContain(`first administrator admin@${D}`);
    await t.keys('Enter');
    s = await t.waitFor(/(Done\. Press Enter\.|Finished with problems)/, 90_000);
    expect(s).toContain(`wrote ${sb.configPath}`);
    expect(s).toContain(`admin@${D} created`);
    expect(s).toMatch(/the server answers \(\d+ ms\)/);
    await t.keys('Enter');
    // 8. Done
    s = await t.waitFor(/step 8 of 8 · Done/);
    expect(s).toContain(`Users type: ${D}`);
    expect(s).toContain(`First administrator: admin@${D}`);
    expect(s, t.raw()).toMatch(/xmpp:admin@tmux-office\.test\?roster;preauth=[A-Za-z0-9_-]{24};ibr=y/);
    expect(t.raw()).toMatch(/█▀▀▀▀▀█/);
    await t.keys('Enter');
    await t.waitFor(/\[exited with \d+\]/);

    // The server it configured: STARTTLS with a certificate chat apps trust, then a login.
    const login = await xmppLogin({ host: '127.0.0.1', port: ports.c2s, domain: D, username: 'admin', password: PASSWORD, ca: await pebble.root() });
    expect(login.certificateTrusted).toBe(true);
    expect(login.success, login.failure).toBe(true);
    const wrong = await xmppLogin({ host: '127.0.0.1', port: ports.c2s, domain: D, username: 'admin', password: 'not-it', ca: await pebble.root() });
    expect(wrong.success).toBe(false);
  }, 240_000);

  it('again, unattended, while the daemon holds the HTTP-01 port: challenge answered through the daemon, which is reloaded (not restarted): a logged-in session stays, new connections get the new certificate', async () => {
    const cfg = YAML.parse(await readFile(sb.configPath, 'utf8')) as { tls: { certificate: string }; acme: { httpPort: number } };
    expect(cfg.acme.httpPort).toBe(pebble.httpPort);
    const before = await readFile(cfg.tls.certificate, 'utf8');
    const pidBefore = (await readFile(join(sb.dataDir, 'roost.pid'), 'utf8')).trim();
    // A colleague is logged in while the admin re-runs setup.
    const colleague = await xmppLogin({ host: '127.0.0.1', port: ports.c2s, domain: D, username: 'admin', password: PASSWORD, ca: await pebble.root(), keep: true });
    expect(await colleague.session?.ping()).toBe(true);
    const cap = captureIo();
    // Everything else (domain, ACME server, CA bundle, ports, data dir) comes from the current configuration.
    const code = await runSetup(['--non-interactive', '--config', sb.configPath, '--resolver', `127.0.0.1:${dns.port}`, '--no-systemd', '--start-daemon'], cap.io);
    expect(code, cap.out() + cap.err()).toBe(0);
    expect(cap.out()).toMatch(new RegExp(`port ${pebble.httpPort} \\(Let's Encrypt's certificate check, HTTP-01\\) is used by Roost itself`));
    expect(cap.out()).toContain('serving the HTTP-01 answer');
    const after = await readFile(cfg.tls.certificate, 'utf8');
    expect(new X509Certificate(after).serialNumber).not.toBe(new X509Certificate(before).serialNumber);
    // Only the certificate changed: the daemon was reloaded (same process), not restarted...
    expect(cap.out()).toContain(`daemon reloaded (pid ${pidBefore}): sessions kept`);
    expect((await readFile(join(sb.dataDir, 'roost.pid'), 'utf8')).trim()).toBe(pidBefore);
    // ...the colleague's session is still there...
    expect(colleague.session?.closed()).toBe(false);
    expect(await colleague.session?.ping()).toBe(true);
    colleague.session?.close();
    // ...and new connections get the new certificate.
    const servedSerial = (): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: ports.c2sDirectTls, servername: D, rejectUnauthorized: false }, () => {
          resolve(s.getPeerX509Certificate()?.serialNumber ?? '');
          s.destroy();
        });
        s.on('error', reject);
      });
    const want = new X509Certificate(after).serialNumber;
    const deadline = Date.now() + 10_000;
    let served = await servedSerial();
    while (served !== want && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      served = await servedSerial();
    }
    expect(served, await readFile(join(sb.dataDir, 'roost.log'), 'utf8')).toBe(want);
    const login = await xmppLogin({ host: '127.0.0.1', port: ports.c2s, domain: D, username: 'admin', password: PASSWORD, ca: await pebble.root() });
    expect(login.success && login.certificateTrusted).toBe(true);
    // The admins' own check, as a script would run it.
    const check = await run(process.execPath, [ROOST_BIN, 'check', 'all', '--config', sb.configPath, '--resolver', `127.0.0.1:${dns.port}`, '--json'], { encoding: 'utf8' }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, out: e.stdout ?? '' }),
    );
    const report = JSON.parse(check.out) as { ok: boolean; results: Array<{ section: string; id: string; ok: boolean | 'warn' }> };
    expect(check.code, check.out).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.results.find((r) => r.id === 'certs:names')?.ok).toBe(true);
    expect(report.results.find((r) => r.id === 'ports:c2s')?.ok).toBe(true);
  }, 120_000);

  it('again on the configured box: the screens show the current values, Ctrl-C changes nothing', async () => {
    const before = await readFile(sb.configPath, 'utf8');
    const t = startTmux(setupCommand(['--config', sb.configPath, '--resolver', `127.0.0.1:${dns.port}`, '--no-systemd']), { cwd: ROOT, env: CI_SET });
    terms.push(t);
    await t.waitFor(/It is already set up/);
    await t.waitFor(/(This machine is ready|problem\(s\) above)/);
    await t.keys('Enter');
    await t.waitFor(new RegExp(`Domain: ${D.replace(/\./g, '\\.')}`));
    await t.keys('C-c');
    await t.waitFor(/\[exited with 130\]/);
    expect(await readFile(sb.configPath, 'utf8')).toBe(before);
  }, 60_000);
});
