// Host integration: atomic writes, data directories, the systemd unit, readiness, pre-flight.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPort,
  ensureDataDirs,
  ensureSystemUser,
  installService,
  renderUnit,
  runPreflight,
  waitForReady,
  writeFileAtomic,
} from '../src/index.js';
import { ensureDebianPackage, freePort, tempDir } from './helpers/infra.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('system');
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces the file whole, keeps the previous version as .bak, leaves no temp files', async () => {
    const f = join(dir, 'roost.yaml');
    await writeFileAtomic(f, 'one\n', { mode: 0o640 });
    expect(await readFile(f, 'utf8')).toBe('one\n');
    expect((await stat(f)).mode & 0o777).toBe(0o640);
    await writeFileAtomic(f, 'two\n');
    expect(await readFile(f, 'utf8')).toBe('two\n');
    expect(await readFile(`${f}.bak`, 'utf8')).toBe('one\n');
    expect((await stat(f)).mode & 0o777).toBe(0o640); // keeps the mode of the file it replaces
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('cleans up temp files left by a killed writer (old ones only)', async () => {
    const { readdir, utimes } = await import('node:fs/promises');
    const f = join(dir, 'interrupted.yaml');
    await writeFileAtomic(f, 'v1\n');
    const stale = join(dir, '.interrupted.yaml.0123456789ab.tmp');
    const fresh = join(dir, '.interrupted.yaml.ba9876543210.tmp');
    await writeFile(stale, 'half');
    await writeFile(fresh, 'half');
    const old = new Date(Date.now() - 3600_000);
    await utimes(stale, old, old);
    await writeFileAtomic(f, 'v2\n');
    const left = (await readdir(dir)).filter((n) => n.startsWith('.interrupted.yaml.'));
    expect(left).toEqual(['.interrupted.yaml.ba9876543210.tmp']);
    expect(await readFile(f, 'utf8')).toBe('v2\n');
    await rm(fresh);
  });

  it('a failed write leaves the old file untouched', async () => {
    const f = join(dir, 'keep.yaml');
    await writeFileAtomic(f, 'good\n');
    // uid/gid that chown rejects for a non-root user, or a huge write into /dev/full is not portable;
    // make the rename fail instead: the target turns into a directory.
    const sub = join(dir, 'is-a-dir');
    await mkdir(sub);
    await writeFile(join(sub, 'x'), 'x');
    await expect(writeFileAtomic(sub, 'new')).rejects.toThrow();
    expect(await readFile(f, 'utf8')).toBe('good\n');
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('data directories and the system user', () => {
  it('creates a system user (root) and directories owned by it', async () => {
    if (process.getuid?.() !== 0) {
      expect(await ensureSystemUser('roost-test-nobody')).toBeNull();
      return;
    }
    const name = `roosttest${process.pid}`;
    try {
      const ids = await ensureSystemUser(name, join(dir, 'home'));
      expect(ids).not.toBeNull();
      expect(ids?.uid).toBeGreaterThan(0);
      expect(await ensureSystemUser(name)).toEqual(ids); // idempotent
      const data = join(dir, 'var', 'lib', 'roost');
      await ensureDataDirs([data, join(data, 'certs')], ids);
      const st = await stat(join(data, 'certs'));
      expect([st.uid, st.gid]).toEqual([ids?.uid, ids?.gid]);
      expect(st.mode & 0o777).toBe(0o750);
    } finally {
      try {
        execFileSync('userdel', [name], { stdio: 'pipe' });
      } catch {
        /* not created */
      }
    }
  });
});

describe('systemd unit', () => {
  it('the repository unit is the default rendering and passes systemd-analyze verify', async () => {
    const analyze = ensureDebianPackage('systemd-analyze', ['systemd']);
    const file = new URL('../../systemd/roost.service', import.meta.url);
    const text = await readFile(file, 'utf8');
    expect(text).toBe(renderUnit());
    for (const line of ['Type=notify', 'NotifyAccess=all', 'User=roost', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/roost'])
      expect(text).toContain(`${line}\n`);
    execFileSync(analyze, ['verify', file.pathname], { stdio: 'pipe' });
    // A rendering with other paths (as `roost setup` writes it) verifies too; a broken one does not.
    const custom = join(dir, 'roost.service');
    await writeFile(custom, renderUnit({ execStart: `${process.execPath} /opt/roost/bin/roost.js serve --config /etc/roost/x.yaml`, dataDir: '/srv/roost' }));
    execFileSync(analyze, ['verify', custom], { stdio: 'pipe' });
    await writeFile(custom, renderUnit({ execStart: 'roost serve' }));
    expect(() => execFileSync(analyze, ['verify', custom], { stdio: 'pipe' })).toThrow();
  });

  it('without systemd: nothing installed, instructions to start the daemon', async () => {
    const r = await installService({ unitDir: join(dir, 'units'), systemdRunDir: join(dir, 'no-such-dir'), configPath: '/etc/roost/roost.yaml' });
    expect(r).toMatchObject({ systemd: false, installed: false, started: false });
    expect(r.instructions).toContain('roost serve --config /etc/roost/roost.yaml');
  });
});

describe('waitForReady', () => {
  it('reads the stream features once the server comes up; times out with a clear error otherwise', async () => {
    const port = await freePort();
    let server: Server | undefined;
    setTimeout(() => {
      server = createServer((s) => {
        s.once('data', () =>
          s.write(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.test' id='1' version='1.0'>" +
              "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>",
          ),
        );
      }).listen(port, '127.0.0.1');
    }, 300);
    try {
      const r = await waitForReady({ port, domain: 'example.test', timeoutMs: 5000 });
      expect(r).toMatchObject({ ok: true, features: ['starttls', 'mechanisms'] });
      expect(r.ms).toBeGreaterThanOrEqual(250);
    } finally {
      server?.close();
    }
    const dead = await waitForReady({ port: await freePort(), domain: 'example.test', timeoutMs: 600 });
    expect(dead.ok).toBe(false);
    expect(dead.error).toMatch(/did not become ready on port \d+: connect ECONNREFUSED/);
  });
});

describe('pre-flight', () => {
  it('reports OS, architecture, memory, disk, ports and clock', async () => {
    const port = await freePort();
    const results = await runPreflight({ ports: [port], dataDir: join(dir, 'not', 'yet'), bindAddress: '127.0.0.1' });
    expect(results.map((r) => r.id)).toEqual(['os', 'arch', 'memory', 'disk', `port-${port}`, 'clock']);
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));
    expect(byId.os?.message).toMatch(/^operating system: /);
    expect(byId[`port-${port}`]).toMatchObject({ ok: true, message: `port ${port} is free` });
    expect(byId.disk?.message).toContain(dir); // nearest existing parent of the data dir
    for (const r of results) if (r.ok !== true) expect(r.fix ?? r.message).toBeTruthy();
  });

  it('a busy port: names the other program, or accepts Roost itself', async () => {
    const port = await freePort();
    // Another program (not Roost) holds the port.
    const other = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => other.once('listening', r));
    try {
      const r = await checkPort(port, { bindAddress: '127.0.0.1' });
      expect(r.ok).toBe(false);
      if (process.getuid?.() === 0) expect(r.message).toMatch(new RegExp(`port ${port} is used by another program: .+ \\(pid ${process.pid}\\)`));
      expect(r.fix).toBeTruthy();
    } finally {
      other.close();
    }
    // A process whose command line is `roost serve` holds it.
    const roost = spawn(process.execPath, ['-e', `require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('up'))`, 'roost', 'serve'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise((r) => roost.stdout.once('data', r));
      const r = await checkPort(port, { bindAddress: '127.0.0.1', isRoost: (p) => p.cmdline.includes('roost') });
      if (process.getuid?.() === 0) expect(r).toMatchObject({ ok: true, message: `port ${port} is used by Roost itself (pid ${roost.pid})` });
      else expect(r.ok).toBe(false);
    } finally {
      roost.kill();
    }
  });
});
