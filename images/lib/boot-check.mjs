// Boots a Roost image in qemu (software emulation, TCG: no KVM needed) and waits until the Roost
// daemon inside answers an XMPP stream header with <stream:features> on a forwarded loopback
// port (RFC 6120 section 4.3.2: the receiving entity sends features after its stream header).
//
//   amd64: UEFI (OVMF) -> systemd-boot on the image's ESP -> the image's kernel, as a VM would.
//   arm64: qemu's generic "virt" board with the image's own kernel and initrd given directly
//          (qemu cannot run the Pi's GPU firmware); everything after the kernel is the image's.
//
// The image itself is never written: qemu runs on a qcow2 overlay, larger than the image so the
// first boot's partition growth is exercised. With a seed (an answers file of `roost setup`) a
// copy of the image gets it as roost-setup.yaml on its FAT partition, as a user would put it
// there, and the first boot sets Roost up unattended. Guest networking is qemu's user mode with
// restrict=on: the guest reaches nothing; only the forwarded ports on 127.0.0.1 reach it.
//
// CLI: node boot-check.mjs IMAGE --arch amd64|arm64 [--seed FILE] [--boot-dir DIR] [--timeout S]
//      [--keep] (prints timings; exit 0 when the features arrived)
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** A free TCP port on 127.0.0.1 (for hostfwd). */
export async function freeLoopbackPort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', () => r(undefined)));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise((r) => srv.close(() => r(undefined)));
  return port;
}

/**
 * Sends an XMPP client stream header and resolves with what came back once </stream:features>
 * arrived, or null (nothing listening yet, connection closed, or no features in `timeoutMs`).
 * qemu's port forward accepts the TCP connection before the guest listens, so "connected" alone
 * proves nothing.
 * @param {{ port: number, domain: string, host?: string, timeoutMs?: number }} o
 * @returns {Promise<string | null>}
 */
export function streamFeatures(o) {
  return new Promise((done) => {
    let buf = '';
    const sock = connect(o.port, o.host ?? '127.0.0.1');
    const finish = (/** @type {string | null} */ v) => {
      clearTimeout(timer);
      sock.destroy();
      done(v);
    };
    const timer = setTimeout(() => finish(null), o.timeoutMs ?? 5000);
    sock.on('connect', () =>
      sock.write(`<?xml version='1.0'?><stream:stream to='${o.domain}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`),
    );
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('</stream:features>')) finish(buf);
    });
    sock.on('error', () => finish(null));
    sock.on('close', () => finish(null));
  });
}

/** Byte offset of the image's first FAT partition (ESP on amd64, RASPIFIRM on the Pi image). */
export function fatPartitionOffset(image) {
  const table = JSON.parse(execFileSync('sfdisk', ['--json', image], { encoding: 'utf8' })).partitiontable;
  const fatTypes = ['C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'c', 'b', 'e'];
  const p = table.partitions.find((x) => fatTypes.includes(String(x.type).toUpperCase()) || fatTypes.includes(String(x.type).toLowerCase()));
  if (!p) throw new Error(`${image} has no FAT partition`);
  return p.start * (table.sectorsize ?? 512);
}

/** Reads a file from the image's FAT partition (mtools: no mount, no loop device); null if absent. */
export function readFatFile(image, name) {
  try {
    return execFileSync('mtype', ['-i', `${image}@@${fatPartitionOffset(image)}`, `::/${name}`], {
      encoding: 'utf8',
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null;
  }
}

/**
 * @typedef {{ arch: 'amd64' | 'arm64', image: string, seed?: string, bootDir?: string,
 *   diskSize?: string, domain: string, timeoutMs?: number, memoryMiB?: number,
 *   log?: (s: string) => void }} BootOptions
 * @typedef {{ port: number, workDir: string, serialLog: string, disk: string,
 *   featuresAfterMs: number, features: string, serial: () => string, stop: () => Promise<void> }} BootedVm
 */

/**
 * Boots the image and resolves once the daemon answers; rejects with the serial log's tail when
 * qemu exits or the timeout passes. Call stop() when done.
 * @param {BootOptions} o
 * @returns {Promise<BootedVm>}
 */
export async function bootAndWaitForXmpp(o) {
  const log = o.log ?? (() => {});
  const work = mkdtempSync(join(tmpdir(), `roost-boot-${o.arch}-`));
  const serialLog = join(work, 'serial.log');
  let base = resolve(o.image);
  if (o.seed) {
    // A sparse copy (seconds): the seed goes into the copy's FAT partition, never the build output.
    base = join(work, 'disk.img');
    execFileSync('cp', ['--sparse=always', resolve(o.image), base]);
    execFileSync('mcopy', ['-o', '-i', `${base}@@${fatPartitionOffset(base)}`, o.seed, '::/roost-setup.yaml'], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    });
  }
  const disk = join(work, 'overlay.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base, disk, o.diskSize ?? '3G']);
  const port = await freeLoopbackPort();
  const net = ['-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:5222`, '-device', 'virtio-net-pci,netdev=n0'];
  const common = ['-m', String(o.memoryMiB ?? 1024), '-smp', '2', '-display', 'none', '-monitor', 'none', '-serial', `file:${serialLog}`, '-no-reboot'];
  /** @type {[string, string[]]} */
  let cmd;
  if (o.arch === 'amd64') {
    for (const f of [OVMF_CODE, OVMF_VARS]) if (!existsSync(f)) throw new Error(`${f} is missing (Debian package ovmf)`);
    copyFileSync(OVMF_VARS, join(work, 'vars.fd'));
    cmd = [
      'qemu-system-x86_64',
      [
        // Emulation (TCG), not KVM: on the build VMs /dev/kvm exists but qemu stops with "KVM
        // internal error" before the firmware prints anything; TCG boots to Roost in ~2.5 min.
        '-machine', 'q35', '-accel', 'tcg', ...common,
        '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
        '-drive', `if=pflash,format=raw,file=${join(work, 'vars.fd')}`,
        '-drive', `file=${disk},format=qcow2,if=virtio`,
        ...net,
      ],
    ];
  } else {
    const bootDir = o.bootDir ?? join(dirname(resolve(o.image)), 'boot-arm64');
    cmd = [
      'qemu-system-aarch64',
      [
        '-machine', 'virt', '-cpu', 'cortex-a72', ...common,
        '-kernel', join(bootDir, 'vmlinuz'), '-initrd', join(bootDir, 'initrd.img'),
        // What the Pi's cmdline.txt says, with the virt board's serial port.
        '-append', 'root=LABEL=RASPIROOT rw rootwait console=ttyAMA0',
        '-drive', `file=${disk},format=qcow2,if=virtio`,
        ...net,
      ],
    ];
  }
  const t0 = Date.now();
  log(`${cmd[0]} ${cmd[1].join(' ')}`);
  const qemu = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  qemu.stderr.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise((r) => qemu.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const serial = () => (existsSync(serialLog) ? readFileSync(serialLog, 'latin1') : '');
  const stop = async () => {
    if (!gone) {
      qemu.kill('SIGTERM');
      const t = setTimeout(() => qemu.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
  };
  const deadline = t0 + (o.timeoutMs ?? 600_000);
  for (;;) {
    if (gone) throw new Error(`qemu exited before Roost answered: ${stderr.trim()}\n--- serial log (tail)\n${serial().slice(-4000)}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`no <stream:features> on the forwarded port within ${Math.round((o.timeoutMs ?? 600_000) / 1000)} s\n--- serial log (tail)\n${serial().slice(-4000)}`);
    }
    const features = await streamFeatures({ port, domain: o.domain, timeoutMs: 4000 });
    if (features) {
      const featuresAfterMs = Date.now() - t0;
      log(`<stream:features> after ${(featuresAfterMs / 1000).toFixed(1)} s`);
      return { port, workDir: work, serialLog, disk: base, featuresAfterMs, features, serial, stop };
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Seconds since boot (the kernel's printk stamp) of the first serial line matching `re`, or null. */
export function kernelTimeOf(serialText, re) {
  for (const line of serialText.split('\n')) {
    if (!re.test(line)) continue;
    const m = /^\[\s*(\d+\.\d+)\]/.exec(line);
    if (m) return Number(m[1]);
  }
  return null;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const keep = args.includes('--keep');
  const arch = /** @type {'amd64' | 'arm64'} */ (opt('--arch') ?? 'amd64');
  const seedFile = opt('--seed');
  const bootDir = opt('--boot-dir');
  const timeoutS = Number(opt('--timeout') ?? 900);
  const image = args.find((a) => !a.startsWith('--'));
  if (!image || !['amd64', 'arm64'].includes(arch)) {
    process.stderr.write('usage: node boot-check.mjs IMAGE --arch amd64|arm64 [--seed answers.yaml] [--boot-dir DIR] [--timeout S] [--keep]\n');
    process.exit(2);
  }
  let seed = seedFile;
  let domain = 'roost.test';
  if (!seed) {
    // Default check: a self-signed setup of roost.test with an admin account.
    const dir = mkdtempSync(join(tmpdir(), 'roost-seed-'));
    seed = join(dir, 'roost-setup.yaml');
    writeFileSync(seed, `domain: ${domain}\ncert: { mode: self-signed }\nadmin: { username: admin, password: boot-check-Pw-1 }\n`);
  } else {
    const m = /^domain:\s*(\S+)/m.exec(readFileSync(seed, 'utf8'));
    if (m?.[1]) domain = m[1].replace(/^["']|["']$/g, '');
  }
  const t0 = Date.now();
  try {
    const vm = await bootAndWaitForXmpp({ arch, image, seed, bootDir, domain, timeoutMs: timeoutS * 1000, log: (s) => process.stderr.write(`${s}\n`) });
    const text = vm.serial();
    const at = (re) => kernelTimeOf(text, re);
    process.stdout.write(
      [
        `arch ${arch}: <stream:features> on 127.0.0.1:${vm.port} after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        `  kernel time of: login prompt ${at(/login:/)} s, grow-root ${at(/roost-grow-root: .*grown/)} s, unattended setup start ${at(/unattended setup with/)} s, done ${at(/unattended setup done/)} s`,
        `  features: ${vm.features.slice(vm.features.indexOf('<stream:features>'))}`,
        ...text.split('\n').filter((l) => /roost-grow-root:|roost-firstboot: /.test(l)).map((l) => `  ${l.trim()}`),
      ].join('\n') + '\n',
    );
    await vm.stop();
    if (!keep) rmSync(vm.workDir, { recursive: true, force: true });
    else process.stdout.write(`kept ${vm.workDir}\n`);
  } catch (e) {
    process.stderr.write(`${/** @type {Error} */ (e).message}\n`);
    process.exit(1);
  }
}
