// The systemd path. (1) The unit `roost setup` installs passes `systemd-analyze verify`.
// (2) Real systemd: the host's /usr booted in a systemd-nspawn container (--volatile=yes: empty
// tmpfs root, /usr from the host, nothing of the host changed), `roost setup --non-interactive`
// run inside it installs, enables and starts roost.service (Type=notify: systemd waits for the
// daemon's READY=1), and the server answers a login on the shared loopback network.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUnit } from '../../appliance/src/system/service.js';
import { containerSystemd, powerOff } from '../../appliance/test/helpers/nspawn.js';
import { ensureDebianPackage } from '../../appliance/test/helpers/infra.js';
import { serviceUnitOptions } from '../src/steps/apply.js';
import { ROOST_BIN, ROOT, ensureBuilt } from './helpers/build.js';
import { freePorts, listenerFlags, type Ports, publishGoodRecords, sandbox, type Sandbox, startDnsServer, type TestDns } from './helpers/setup-env.js';
import { stateFrom } from './helpers/state.js';
import { xmppLogin } from './helpers/xmpp-login.js';

const run = promisify(execFile);
const D = 'nspawn.test';
/** Where the sandbox appears inside the container. */
const IN = '/srv/roost-test';
let dns: TestDns;
let ports: Ports;
let sb: Sandbox;

beforeAll(async () => {
  ensureBuilt();
  dns = await startDnsServer();
  ports = await freePorts();
  publishGoodRecords(dns, D, ports);
  sb = await sandbox('systemd');
}, 180_000);
afterAll(async () => {
  await dns?.close();
  await sb?.close();
});

describe('the systemd unit roost setup installs', () => {
  it('passes systemd-analyze verify, runs this installation as the chosen user, may write only the data directory', async () => {
    const analyze = ensureDebianPackage('systemd-analyze', ['systemd']);
    const s = await stateFrom(['--config', sb.configPath, '--data-dir', sb.dataDir, '--domain', D, '--user', 'nobody']);
    const unit = renderUnit(serviceUnitOptions(s.answers, ROOST_BIN, { uid: 65534, gid: 65534 }));
    expect(unit).toContain(`ExecStart=${process.execPath} ${ROOST_BIN} serve --config ${sb.configPath}`);
    expect(unit).toContain('User=nobody');
    // Debian's nobody has the group nogroup, not "nobody".
    expect(unit).toContain('Group=nogroup');
    expect(unit).toContain(`ReadWritePaths=${sb.dataDir}`);
    expect(unit).toMatch(/^Type=notify$/m);
    const file = join(sb.dir, 'roost.service');
    await writeFile(file, unit);
    execFileSync(analyze, ['verify', file], { stdio: 'pipe' });
    // The check has teeth: a program that is not an absolute path is refused.
    await writeFile(file, unit.replace(/^ExecStart=.*$/m, 'ExecStart=roost serve'));
    expect(() => execFileSync(analyze, ['verify', file], { stdio: 'pipe' })).toThrow();
  });
});

// The checkout as the container sees it. The unit has PrivateTmp=yes, so a checkout under /tmp
// (a fresh clone to try CI) would be invisible to the daemon: it is bound elsewhere then.
const SRC = ROOT.startsWith(tmpdir()) ? '/srv/roost-src' : ROOT;
const SRC_BIN = join(SRC, 'bin', 'roost.js');

describe('under real systemd (systemd-nspawn)', () => {
  let nspawn: ChildProcess | undefined;
  let log = '';
  // SIGTERM to nspawn powers the container off cleanly.
  afterAll(() => powerOff(nspawn, 15_000));

  it('setup installs, enables and starts roost.service; systemd sees it active (READY=1) and it accepts a login', async () => {
    const bin = ensureDebianPackage('systemd-nspawn', ['systemd-container']);
    const etc = join(sb.dir, 'container-etc');
    await mkdir(etc);
    for (const f of ['passwd', 'group', 'shadow', 'gshadow', 'nsswitch.conf', 'login.defs']) await copyFile(`/etc/${f}`, join(etc, f));
    const hostPasswd = readFileSync('/etc/passwd', 'utf8');
    const started = Date.now();
    nspawn = spawn(
      bin,
      [
        '-D', '/',
        '--volatile=yes',
        '--register=no',
        '--keep-unit',
        '--console=pipe',
        `--bind-ro=${ROOT}:${SRC}`,
        // Not under /tmp inside: the unit has PrivateTmp=yes.
        `--bind=${sb.dir}:${IN}`,
        // A small /etc of its own with copies of the user database, so setup really creates the
        // roost system user (useradd replaces files by renaming, so the directory is bound, not files).
        `--bind=${etc}:/etc`,
        '-b',
        'systemd.mask=systemd-firstboot.service',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    nspawn.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    nspawn.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const pid = await containerSystemd(nspawn, 30_000, () => log);
    // Asynchronous: this process also runs the test DNS server the setup inside asks.
    const inside = async (args: string[], timeout = 60_000): Promise<string> =>
      (await run('nsenter', ['-t', String(pid), '-a', ...args], { encoding: 'utf8', timeout })).stdout;
    const state = await (async () => {
      for (;;) {
        try {
          return (await inside(['systemctl', 'is-system-running', '--wait'], 30_000)).trim();
        } catch (e) {
          const out = String((e as { stdout?: string }).stdout ?? '').trim();
          if (out === 'degraded' || out === 'running') return out;
          if (Date.now() - started > 45_000) throw new Error(`systemd in the container did not settle (${out}):\n${log}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
    expect(['running', 'degraded']).toContain(state);

    let out: string;
    try {
      out = await inside([
        process.execPath, SRC_BIN, 'setup', '--non-interactive',
        '--domain', D,
        '--config', `${IN}/etc/roost.yaml`,
        '--data-dir', `${IN}/data`,
        '--cert', 'self-signed',
        '--admin', 'admin',
        '--admin-password', 'inside-systemd-1',
        '--resolver', `127.0.0.1:${dns.port}`,
        ...listenerFlags(ports),
        // This test is about systemd; the web listeners are another issue's.
        '--set', 'listeners.http.enabled=false',
        '--set', 'listeners.https.enabled=false',
      ], 150_000);
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; status?: number };
      throw new Error(`setup failed in the container (exit ${err.status}):\n${err.stdout}\n${err.stderr}\n${await inside(['journalctl', '-u', 'roost', '--no-pager', '-n', '30']).catch(() => '')}`);
    }
    expect(out).toContain(`${IN}/data is ready (owned by roost)`);
    expect(out).toContain('service installed and enabled at boot (/etc/systemd/system/roost.service), started');
    expect(out).toMatch(/the server answers \(\d+ ms\)/);
    expect((await inside(['systemctl', 'is-active', 'roost.service'])).trim()).toBe('active');
    expect((await inside(['systemctl', 'is-enabled', 'roost.service'])).trim()).toBe('enabled');
    expect((await inside(['systemctl', 'show', '-p', 'User', '--value', 'roost.service'])).trim()).toBe('roost');
    // The user was created in the container's copy of the user database only.
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(hostPasswd);
    expect(readFileSync(join(etc, 'passwd'), 'utf8')).toMatch(/^roost:x:\d+:\d+:/m);

    // Setup again with nothing changed: systemd reloads the service (SIGHUP), the process stays.
    const mainPid = (await inside(['systemctl', 'show', '-p', 'MainPID', '--value', 'roost.service'])).trim();
    const again = await inside([process.execPath, SRC_BIN, 'setup', '--non-interactive', '--config', `${IN}/etc/roost.yaml`, '--resolver', `127.0.0.1:${dns.port}`], 150_000);
    expect(again).toContain('service installed and enabled at boot (/etc/systemd/system/roost.service), reloaded (sessions kept)');
    expect((await inside(['systemctl', 'show', '-p', 'MainPID', '--value', 'roost.service'])).trim()).toBe(mainPid);
    expect((await inside(['systemctl', 'is-active', 'roost.service'])).trim()).toBe('active');

    const cfg = YAML.parse(await readFile(sb.configPath, 'utf8')) as { tls: { certificate: string } };
    const ca = await readFile(cfg.tls.certificate.replace(IN, sb.dir), 'utf8');
    const login = await xmppLogin({ host: '127.0.0.1', port: ports.c2s, domain: D, username: 'admin', password: 'inside-systemd-1', ca });
    expect(login.certificateTrusted).toBe(true);
    expect(login.success, login.failure).toBe(true);
  }, 200_000);
});
