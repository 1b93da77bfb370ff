// The amd64 appliance image, end to end: images/build.sh builds the rootfs and the UEFI disk
// image from scratch (Debian packages from the host's mirror, node from the npm registry), then
//  1. systemd-nspawn boots the rootfs with its own systemd (private network namespace): the first
//     boot is as designed for an unconfigured appliance (Roost skipped, how-to on the console, SSH
//     host keys made here, admin password expired), then the admin's `roost setup` starts the
//     daemon and it answers an XMPP stream header;
//  2. qemu (TCG, UEFI firmware) boots the .img through systemd-boot with roost-setup.yaml put on
//     its EFI partition: the first boot grows the root partition, runs the unattended setup, and a
//     chat login over the forwarded loopback port succeeds.
// The arm64 (Raspberry Pi) image is built and booted by hand (images/README.md): 5-20 min.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync, statfsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDebianPackage } from '../../appliance/test/helpers/infra.js';
import { containerSystemd, powerOff } from '../../appliance/test/helpers/nspawn.js';
import { xmppLogin } from '../../installer/test/helpers/xmpp-login.js';
// @ts-expect-error plain ES module of the image build, no type declarations
import { bootAndWaitForXmpp, kernelTimeOf, readFatFile } from '../../images/lib/boot-check.mjs';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = join(ROOT, 'images/build.sh');
const NODE_VERSION = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, 'images/versions.env'), 'utf8'))?.[1];
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
// Kept between runs on the same machine (keyed by inputs + day inside build.sh); a fresh CI
// machine starts empty and builds everything.
const CACHE = join(tmpdir(), 'roost-image-cache');

let out: string;
let image: string;
let rootfs: string;

beforeAll(async () => {
  ensureDebianPackage('mmdebstrap', ['mmdebstrap']);
  ensureDebianPackage('systemd-nspawn', ['systemd-container']);
  ensureDebianPackage('qemu-system-x86_64', ['qemu-system-x86']);
  ensureDebianPackage('qemu-img', ['qemu-utils']);
  ensureDebianPackage('mcopy', ['mtools']);
  ensureDebianPackage('mkfs.vfat', ['dosfstools']);
  ensureDebianPackage('sfdisk', ['fdisk']);
  if (!existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd')) ensureDebianPackage('ovmf-placeholder-never-present', ['ovmf']);
  // The rootfs, the disk image, their cache and the VM's overlay took 3 GiB at the peak: say so
  // rather than fail half-way through a build with ENOSPC.
  const { bavail, bsize } = statfsSync(tmpdir());
  const freeGiB = (bavail * bsize) / 2 ** 30;
  if (freeGiB < 5) throw new Error(`the image test needs 5 GiB free in ${tmpdir()} (TMPDIR); there are ${freeGiB.toFixed(1)} GiB`);
  out = await mkdtemp(join(tmpdir(), 'roost-images-'));
  image = join(out, `roost-${VERSION}-amd64.img`);
  rootfs = join(out, 'rootfs-amd64');
}, 600_000);

afterAll(async () => {
  // rm stays on this filesystem: nothing of the host is ever mounted below `out` after the build.
  if (out) await run('rm', ['-rf', '--one-file-system', out]);
});

describe('amd64 appliance image', () => {
  it('images/build.sh amd64 builds the rootfs and a GPT/UEFI disk image', async () => {
    const logFile = join(out, 'build.log');
    const logStream = createWriteStream(logFile);
    const t0 = Date.now();
    const code = await new Promise<number | null>((r) => {
      const p = spawn('bash', [BUILD, 'amd64', '--out', out, '--cache', CACHE], { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.pipe(logStream, { end: false });
      p.stderr.pipe(logStream, { end: false });
      p.on('exit', r);
    });
    logStream.end();
    const log = await readFile(logFile, 'utf8');
    expect(code, `build.sh failed:\n${log.slice(-6000)}`).toBe(0);
    // The step table and sizes, for the record.
    console.log(`build.sh amd64: ${((Date.now() - t0) / 1000).toFixed(0)} s\n${log.slice(log.lastIndexOf('step '))}`);
    expect(log).toMatch(new RegExp(`in the rootfs: x64 v${NODE_VERSION} sqlite 3\\.\\d+\\.\\d+ 7`));
    expect(existsSync(image)).toBe(true);
    expect(readFileSync(`${image}.sha256`, 'utf8')).toMatch(/^[0-9a-f]{64} {2}roost-.*-amd64\.img\n$/);
    // GPT: EFI system partition, then an x86-64 root partition (Discoverable Partitions type).
    const table = JSON.parse(execFileSync('sfdisk', ['--json', image], { encoding: 'utf8' })).partitiontable as { label: string; partitions: Array<{ type: string }> };
    expect(table.label).toBe('gpt');
    expect(table.partitions.map((p) => p.type)).toEqual(['C12A7328-F81F-11D2-BA4B-00A0C93EC93B', '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709']);
    const entry = readFatFile(image, 'loader/entries/' + (execFileSync('mdir', ['-b', '-i', `${image}@@1048576`, '::/loader/entries'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } }).trim().split('/').pop() ?? ''));
    expect(entry).toMatch(/^options\s+root=UUID=[0-9a-f-]{36} ro /m);
    expect(readFatFile(image, 'EFI/BOOT/BOOTX64.EFI')).not.toBeNull();
    expect(readFatFile(image, 'loader/random-seed')).toBeNull();
    // Nothing per-machine in the image.
    expect(readFileSync(join(rootfs, 'etc/machine-id'), 'utf8')).toBe('');
    expect(readdirSync(join(rootfs, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_'))).toEqual([]);
    expect(existsSync(join(rootfs, 'opt/roost/node_modules/vitest'))).toBe(false);
  }, 30 * 60_000);

  describe('first boot of the rootfs under systemd-nspawn', () => {
    let nspawn: ChildProcess | undefined;
    let pid = 0;
    let log = '';
    const inside = async (args: string[], timeout = 60_000): Promise<string> =>
      (await run('nsenter', ['-t', String(pid), '-a', ...args], { encoding: 'utf8', timeout })).stdout;
    // systemctl show prints properties in the unit's order, not in the order they were asked for.
    const unitProps = async (unit: string, ...props: string[]): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await inside(['systemctl', 'show', ...props.flatMap((p) => ['-p', p]), unit]))
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );

    beforeAll(async () => {
      expect(existsSync(join(rootfs, 'usr/local/bin/node')), 'the build did not produce a rootfs').toBe(true);
      const started = Date.now();
      nspawn = spawn(
        'systemd-nspawn',
        [
          '-D', rootfs,
          // Writes go to a tmpfs overlay: the rootfs stays as built.
          '--volatile=overlay',
          '--register=no', '--keep-unit', '--console=pipe',
          // Its own network namespace (loopback only): its sshd and Roost bind nothing of the host.
          '--private-network',
          `--machine=roost-image-${process.pid}`,
          '-b',
          // The image's fstab names disks a container has not got; and with no network there is
          // nothing to wait for (the image gives up after 30 s, which would only slow the test).
          'systemd.mask=systemd-remount-fs.service',
          'systemd.mask=systemd-networkd-wait-online.service',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      nspawn.stdout?.on('data', (d: Buffer) => (log += d.toString()));
      nspawn.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      pid = await containerSystemd(nspawn, 60_000, () => log);
      console.log(`nspawn: systemd started after ${Date.now() - started} ms`);
    }, 120_000);

    afterAll(() => powerOff(nspawn, 20_000));

    it('boots to "running" with nothing failed: Roost skipped until configured, the console says how to set it up', async () => {
      const t0 = Date.now();
      let state = '';
      // Right after PID 1 appears its bus socket may not exist yet: systemctl then fails at once
      // with no state, so ask again until it answers one (--wait then waits for boot to end).
      while (state === '' && Date.now() - t0 < 90_000) {
        try {
          state = (await inside(['systemctl', 'is-system-running', '--wait'], 90_000)).trim();
        } catch (e) {
          state = String((e as { stdout?: string }).stdout ?? '').trim();
          if (state === '') await new Promise((r) => setTimeout(r, 200));
        }
      }
      console.log(`nspawn: is-system-running=${state} after ${Date.now() - t0} ms more`);
      expect(state, `failed units: ${await inside(['systemctl', '--failed', '--no-legend']).catch(() => '?')}`).toBe('running');
      // Skipped (condition), not failed: no configuration yet.
      expect(await unitProps('roost.service', 'ActiveState', 'ConditionResult', 'UnitFileState')).toEqual({ ConditionResult: 'no', ActiveState: 'inactive', UnitFileState: 'enabled' });
      expect((await inside(['systemctl', 'show', '-p', 'ActiveState', '--value', 'roost-firstboot.service'])).trim()).toBe('active');
      const journal = await inside(['journalctl', '-b', '-u', 'roost-firstboot.service', '-o', 'cat', '--no-pager']);
      expect(journal).toContain('roost-firstboot: Roost is not set up yet.');
      expect(journal).toContain('run: sudo roost setup');
      // In a container the disk is not ours to grow.
      expect((await inside(['systemctl', 'show', '-p', 'ConditionResult', '--value', 'roost-grow-root.service'])).trim()).toBe('no');
      expect(await inside(['sh', '-c', 'run-parts /etc/update-motd.d'])).toContain('Roost is not set up yet. Run:  sudo roost setup');
    });

    it('this machine got its own identity: machine-id and SSH host keys made at boot, sshd running', async () => {
      expect((await inside(['cat', '/etc/machine-id'])).trim()).toMatch(/^[0-9a-f]{32}$/);
      expect(await inside(['sh', '-c', 'ls /etc/ssh/ssh_host_*_key'])).toMatch(/ssh_host_ed25519_key/);
      expect((await inside(['systemctl', 'is-active', 'ssh.service'])).trim()).toBe('active');
      const keygen = await inside(['journalctl', '-b', '-u', 'roost-ssh-keygen.service', '-o', 'cat', '--no-pager']);
      expect(keygen).toMatch(/SHA256:\S+ root@roost \(ED25519\)/);
      expect(await inside(['sshd', '-T'])).toMatch(/^permitrootlogin no$/m);
    });

    it('the admin login exists, is in sudo, and must change its first password; root is locked', async () => {
      expect((await inside(['id', '-nG', 'admin'])).trim().split(' ')).toEqual(expect.arrayContaining(['admin', 'sudo', 'adm', 'systemd-journal']));
      expect(await inside(['chage', '-l', 'admin'])).toMatch(/Last password change\s*:\s*password must be changed/);
      expect((await inside(['passwd', '-S', 'root'])).split(' ')[1]).toBe('L');
      expect((await inside(['node', '-v'])).trim()).toBe(`v${NODE_VERSION}`);
      expect((await inside(['roost', '--version'])).trim()).toBe(`roost ${VERSION}`);
    });

    it('`roost setup` by the admin starts the enabled service (unit unchanged) and Roost answers XMPP', async () => {
      const unitBefore = readFileSync(join(rootfs, 'etc/systemd/system/roost.service'), 'utf8');
      const t0 = Date.now();
      const setup = await inside(
        ['roost', 'setup', '--non-interactive', '--domain', 'image.test', '--cert', 'self-signed', '--admin', 'admin', '--admin-password', 'nspawn-Pw-1'],
        150_000,
      ).catch((e: { stdout?: string; stderr?: string }) => {
        throw new Error(`setup failed:\n${e.stdout}\n${e.stderr}`);
      });
      console.log(`nspawn: roost setup took ${Date.now() - t0} ms`);
      expect(setup).toContain('/var/lib/roost is ready (owned by roost)');
      expect(setup).toContain('service installed and enabled at boot (/etc/systemd/system/roost.service)');
      expect(setup).toMatch(/the server answers \(\d+ ms\)/);
      expect(await unitProps('roost.service', 'ActiveState', 'ConditionResult', 'User')).toEqual({ User: 'roost', ConditionResult: 'yes', ActiveState: 'active' });
      // The image's unit is what setup writes for this installation.
      expect(await inside(['cat', '/etc/systemd/system/roost.service'])).toBe(unitBefore);
      // An XMPP client stream from inside the container's network namespace (host's node).
      const probe = `import('${join(ROOT, 'images/lib/boot-check.mjs')}').then(async (m) => { const f = await m.streamFeatures({ port: 5222, domain: 'image.test', timeoutMs: 10000 }); process.stdout.write(String(f)); })`;
      const { stdout } = await run('nsenter', ['-t', String(pid), '-n', process.execPath, '-e', probe], { encoding: 'utf8', timeout: 30_000 });
      expect(stdout).toMatch(/from='image\.test'/);
      expect(stdout).toMatch(/<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required\/><\/starttls><\/stream:features>/);
      expect(await inside(['sh', '-c', 'run-parts /etc/update-motd.d'])).toContain('Roost: the chat server is active.');
    }, 200_000);
  });

  it('qemu boots the .img via UEFI + systemd-boot: root grown, unattended setup from the EFI partition, chat login works', async () => {
    ensureDebianPackage('qemu-system-x86_64', ['qemu-system-x86']);
    const seedDir = await mkdtemp(join(tmpdir(), 'roost-seed-'));
    const seed = join(seedDir, 'roost-setup.yaml');
    const password = 'qemu-Boot-pw-1';
    await writeFile(seed, `domain: vm.test\ncert: { mode: self-signed }\nadmin: { username: admin, password: ${password} }\n`);
    const vm = await bootAndWaitForXmpp({ arch: 'amd64', image, seed, domain: 'vm.test', diskSize: '3G', timeoutMs: 15 * 60_000 });
    try {
      // The daemon answers during setup's step 7; its summary and "done" follow a moment later.
      for (const until = Date.now() + 120_000; !vm.serial().includes('unattended setup done') && Date.now() < until; ) await new Promise((r) => setTimeout(r, 1000));
      const serial = vm.serial();
      const at = (re: RegExp): number | null => kernelTimeOf(serial, re);
      console.log(
        `qemu amd64 (TCG, UEFI): <stream:features> ${(vm.featuresAfterMs / 1000).toFixed(0)} s after start; kernel time: root grown ${at(/roost-grow-root: .* grown/)} s, ` +
          `unattended setup ${at(/unattended setup with/)}-${at(/unattended setup done/)} s`,
      );
      expect(vm.features).toMatch(/<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required\/><\/starttls>/);
      // The 3 GiB disk: root partition grown from the image's size to the end of the disk.
      const grown = /roost-grow-root: \/dev\/vda2 grown from (\d+) MiB to (\d+) MiB/.exec(serial);
      expect(grown, serial.slice(-3000)).not.toBeNull();
      expect(Number(grown?.[2])).toBeGreaterThan(3072 - 256 - 16);
      expect(serial).toContain('roost-firstboot: unattended setup with /boot/efi/roost-setup.yaml');
      expect(serial).toContain('admin@vm.test created');
      expect(serial).toContain('roost-firstboot: unattended setup done');
      const login = await xmppLogin({ host: '127.0.0.1', port: vm.port, domain: 'vm.test', username: 'admin', password, ca: '', keep: true });
      expect(login.success, login.failure).toBe(true);
      expect(await login.session?.ping()).toBe(true);
      login.session?.close();
    } finally {
      await vm.stop();
    }
    // What the guest left on its EFI partition: the answers (with the password) gone, the log there.
    const raw = join(vm.workDir, 'after.img');
    execFileSync('qemu-img', ['convert', '-O', 'raw', join(vm.workDir, 'overlay.qcow2'), raw]);
    expect(readFatFile(raw, 'roost-setup.yaml')).toBeNull();
    expect(readFatFile(raw, 'roost-setup.log')).toContain('8. Done');
    await rm(vm.workDir, { recursive: true, force: true });
    await rm(seedDir, { recursive: true, force: true });
  }, 20 * 60_000);
});
