// `roost setup` on a configured box: current values prefill everything, data is kept, the old
// configuration stays as roost.yaml.bak; bad input gets a clear error and changes nothing;
// Ctrl-C in the middle leaves the configuration as it was.
import { spawn } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { render } from 'ink-testing-library';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSilentUdp } from '../../appliance/test/helpers/dns-server.js';
import { startPebble, type Pebble } from '../../appliance/test/helpers/pebble.js';
import { runSetup } from '../src/index.js';
import { type ApplyEvent, applyStep } from '../src/steps/apply.js';
import { certStep } from '../src/steps/certs.js';
import { WelcomeScreen } from '../src/ui/screens/Welcome.js';
import { frameMatching } from './helpers/ink.js';
import { captureIo, freePorts, listenerFlags, type Ports, publishGoodRecords, sandbox, startDnsServer, type TestDns, writeCa } from './helpers/setup-env.js';
import { stateFrom } from './helpers/state.js';

const D = 'again.test';
const here = dirname(fileURLToPath(import.meta.url));
let dns: TestDns;
let ports: Ports;
let pebble: Pebble;

beforeAll(async () => {
  dns = await startDnsServer();
  ports = await freePorts();
  publishGoodRecords(dns, D, ports);
  pebble = await startPebble(dns.port);
});
afterAll(async () => {
  await pebble?.stop();
  await dns?.close();
});

const common = (sb: { configPath: string; dataDir: string }): string[] => [
  '--non-interactive',
  '--config', sb.configPath,
  '--user', 'nobody',
  '--resolver', `127.0.0.1:${dns.port}`,
  '--no-systemd',
  '--no-start',
];

describe('running setup again', { timeout: 90_000 }, () => {
  it('prefills from the current configuration, keeps data and hand edits, keeps the previous file as .bak', async () => {
    const sb = await sandbox('again');
    try {
      const first = captureIo();
      expect(await runSetup([...common(sb), '--domain', D, '--data-dir', sb.dataDir, '--cert', 'self-signed', '--host', `chat.${D}`, ...listenerFlags(ports)], first.io), first.err()).toBe(0);
      // The admin edits the file by hand, and the server has data.
      const original = await readFile(sb.configPath, 'utf8');
      const edited = original.replace(/stanzaSize: 256KiB/, 'stanzaSize: 512KiB');
      expect(edited).not.toBe(original);
      await writeFile(sb.configPath, edited);
      await writeFile(join(sb.dataDir, 'roost.sqlite'), 'pretend database');
      const cert1 = (YAML.parse(edited) as { tls: { certificate: string } }).tls.certificate;
      const certPem1 = await readFile(cert1, 'utf8');

      // The screens open with the current values.
      const s = await stateFrom(['--config', sb.configPath]);
      expect(s.answers).toMatchObject({ domain: D, host: `chat.${D}`, dataDir: sb.dataDir, cert: { mode: 'keep' }, registration: 'invite', service: { user: 'nobody' } });
      const app = render(<WelcomeScreen state={s} onNext={() => {}} onBack={() => {}} />);
      await frameMatching(app, /It is already set up \(.*roost\.yaml\): the screens show the current settings, and your data is kept/);
      app.unmount();

      // Second run: no domain, no ports, no data dir on the command line; one change from an answers file.
      const answers = join(sb.dir, 'answers.yaml');
      await writeFile(answers, 'upload:\n  maxFileSize: 200MB\nregistration: closed\n');
      const second = captureIo();
      expect(await runSetup([...common(sb), '--answers', answers], second.io), second.out() + second.err()).toBe(0);
      const now = YAML.parse(await readFile(sb.configPath, 'utf8')) as Record<string, any>;
      expect(now.hosts).toEqual([D]);
      expect(now.upload.maxFileSize).toBe(200 * 1024 * 1024);
      expect(now.registration).toMatchObject({ mode: 'closed', enabled: false });
      expect(now.limits.stanzaSize).toBe('512KiB');
      expect(now.listeners.c2s.port).toBe(ports.c2s);
      expect(await readFile(`${sb.configPath}.bak`, 'utf8')).toBe(edited);
      expect(await readFile(join(sb.dataDir, 'roost.sqlite'), 'utf8')).toBe('pretend database');
      // Users already accepted the self-signed certificate: it is kept, not replaced.
      expect(await readFile(now.tls.certificate, 'utf8')).toBe(certPem1);
      expect(second.out()).toContain(`SRV _xmpp-client._tcp.${D}`);
      expect(second.out()).toContain(`wrong target: points to ${D} instead of chat.${D}`);
    } finally {
      await sb.close();
    }
  });
});

describe('service names follow the configuration', { timeout: 90_000 }, () => {
  it('group chats moved to rooms.<domain>, file sharing off: DNS plan, certificate and roost check use exactly those names', async () => {
    const sb = await sandbox('subdomains');
    try {
      dns.set(`rooms.${D}`, [{ type: 'A', address: '127.0.0.1' }]);
      const cap = captureIo();
      const args = [...common(sb), '--data-dir', sb.dataDir, '--domain', D, '--cert', 'self-signed', '--set', 'muc.subdomain=rooms', '--set', 'upload.enabled=false', ...listenerFlags(ports)];
      expect(await runSetup(args, cap.io), cap.out() + cap.err()).toBe(0);
      expect(cap.out()).toContain(`A rooms.${D}`);
      expect(cap.out()).not.toContain(`A conference.${D}`);
      expect(cap.out()).not.toContain(`A upload.${D}`);
      expect(cap.out()).toContain(`certificate for ${D}, rooms.${D}, pubsub.${D}, proxy.${D}`);
      // roost check found the certificate covering every served name (nothing red about names).
      expect(cap.out()).not.toContain('does not cover');
    } finally {
      await sb.close();
    }
  });
});

describe('the invitation follows the registration mode', { timeout: 90_000 }, () => {
  it('closed registration: a contact invitation from the first admin (no ibr=y); without an admin, no link at all', async () => {
    for (const withAdmin of [true, false]) {
      const sb = await sandbox(withAdmin ? 'closed-admin' : 'closed-none');
      try {
        const cap = captureIo();
        const admin = withAdmin ? ['--admin', 'boss', '--admin-password', 'boss-secret-1'] : [];
        const args = [...common(sb), '--data-dir', sb.dataDir, '--domain', D, '--cert', 'self-signed', '--registration', 'closed', ...admin, ...listenerFlags(ports)];
        expect(await runSetup(args, cap.io), cap.out() + cap.err()).toBe(0);
        if (withAdmin) {
          expect(cap.out()).toMatch(new RegExp(`xmpp:boss@${D.replace('.', '\\.')}\\?roster;preauth=[A-Za-z0-9_-]{24}(\\s|$)`));
          expect(cap.out()).not.toContain('ibr=y');
          const inv = JSON.parse(await readFile(join(sb.dataDir, 'invites.json'), 'utf8')) as { invites: Array<{ type: string; inviter: string }> };
          expect(inv.invites[0]).toMatchObject({ type: 'roster', inviter: `boss@${D}` });
        } else {
          expect(cap.out()).not.toMatch(/preauth=/);
          expect(cap.out()).toContain('registration is closed');
        }
      } finally {
        await sb.close();
      }
    }
  });
});

describe('bad input', { timeout: 90_000 }, () => {
  it('an invalid domain: exit 2 with the reason, nothing written', async () => {
    const sb = await sandbox('bad-domain');
    try {
      const cap = captureIo();
      expect(await runSetup([...common(sb), '--data-dir', sb.dataDir, '--domain', 'office_chat.example', '--cert', 'self-signed', ...listenerFlags(ports)], cap.io)).toBe(2);
      expect(cap.err()).toContain('invalid domain "office_chat.example": The domain must not contain underscores (_)');
      await expect(stat(sb.configPath)).rejects.toThrow(/ENOENT/);
    } finally {
      await sb.close();
    }
  });

  it('an unknown flag or a broken answers file: usage error; no terminal without --non-interactive: a clear hint', async () => {
    const sb = await sandbox('bad-args');
    try {
      let cap = captureIo();
      expect(await runSetup(['--help'], cap.io)).toBe(0);
      expect(cap.out()).toContain('--acme-directory URL');
      cap = captureIo();
      // Tests run without a terminal on stdin: the screens cannot open.
      expect(await runSetup(['--config', sb.configPath], cap.io)).toBe(2);
      expect(cap.err()).toContain('no terminal to show the screens in; use --non-interactive');
      cap = captureIo();
      expect(await runSetup(['--domian', D], cap.io)).toBe(2);
      expect(cap.err()).toContain('unknown option "--domian"');
      const answers = join(sb.dir, 'answers.yaml');
      await writeFile(answers, 'upload: [unclosed\n');
      cap = captureIo();
      expect(await runSetup([...common(sb), '--answers', answers], cap.io)).toBe(2);
      expect(cap.err()).toContain(`the answers file ${answers} is not valid YAML or JSON`);
      await writeFile(answers, 'upload:\n  maxFileSize: huge\n');
      cap = captureIo();
      expect(await runSetup([...common(sb), '--answers', answers], cap.io)).toBe(2);
      expect(cap.err()).toContain('upload.maxFileSize: "huge" is not a size');
    } finally {
      await sb.close();
    }
  });

  it('a DNS server that does not answer: the records are red with the reason, the setup still finishes (and says so)', async () => {
    const sb = await sandbox('dns-timeout');
    const silent = await startSilentUdp();
    try {
      const cap = captureIo();
      const args = [...common(sb), '--data-dir', sb.dataDir, '--domain', D, '--cert', 'self-signed', '--resolver', `127.0.0.1:${silent.port}`, '--dns-timeout', '300', ...listenerFlags(ports)];
      expect(await runSetup(args, cap.io), cap.err()).toBe(0);
      expect(cap.out()).toMatch(/✘ A again\.test: the DNS server did not answer/);
      expect(cap.out()).toMatch(/Still to fix:\n {2}✘ DNS: A again\.test the DNS server did not answer/);
    } finally {
      await silent.close();
      await sb.close();
    }
  });
});

describe('Ctrl-C', { timeout: 90_000 }, () => {
  it('during the apply step: it stops between two steps, the configuration written whole, nothing after it started', async () => {
    const sb = await sandbox('ctrl-c-apply');
    try {
      const s = await stateFrom([...common(sb), '--data-dir', sb.dataDir, '--domain', D, '--cert', 'self-signed', '--start-daemon', ...listenerFlags(ports)]);
      s.cert = (await certStep(s)).outcome;
      let quit = false;
      const events: ApplyEvent[] = [];
      const r = await applyStep(s, (e) => {
        events.push(e);
        // The admin presses Ctrl-C while the configuration is being written.
        if (e.id === 'write' && e.status === 'running') quit = true;
      }, { cancelled: () => quit });
      expect(r.written).toBe(true);
      expect((YAML.parse(await readFile(sb.configPath, 'utf8')) as { hosts: string[] }).hosts).toEqual([D]);
      expect(events.find((e) => e.id === 'admin')).toMatchObject({ status: 'fail', message: expect.stringContaining('cancelled (Ctrl-C)') });
      expect(events.some((e) => e.id === 'service' || e.id === 'invite')).toBe(false);
      await expect(stat(join(sb.dataDir, 'invites.json'))).rejects.toThrow(/ENOENT/);
      await expect(stat(join(sb.dataDir, 'roost.pid'))).rejects.toThrow(/ENOENT/);
      expect(r.ok).toBe(false);
    } finally {
      await sb.close();
    }
  });

  it('in the middle (waiting for a DNS-01 record): exit 130, the configuration and certificate are unchanged, no temp files', async () => {
    const sb = await sandbox('ctrl-c');
    try {
      const ca = await writeCa(sb.dir, pebble.listenerCa);
      const acme = ['--acme-directory', pebble.directoryUrl, '--ca-bundle', ca, '--http-port', String(pebble.httpPort)];
      const first = captureIo();
      expect(await runSetup([...common(sb), '--data-dir', sb.dataDir, '--domain', D, ...acme, ...listenerFlags(ports)], first.io), first.out() + first.err()).toBe(0);
      const cfgBefore = await readFile(sb.configPath, 'utf8');
      const certPath = (YAML.parse(cfgBefore) as { tls: { certificate: string } }).tls.certificate;
      const certBefore = await readFile(certPath, 'utf8');

      const child = spawn(join(here, '../../node_modules/.bin/vite-node'), [join(here, 'helpers/run-setup.ts'), ...common(sb), '--challenge', 'dns-01', '--dns-wait', '60', '--upload-max-file', '5MB', ...acme], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const deadline = Date.now() + 30_000;
      while (!/_acme-challenge\.\S+ 60 IN TXT/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`setup never showed the TXT record:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(err).toContain('cancelled (Ctrl-C)');
      expect(await readFile(sb.configPath, 'utf8')).toBe(cfgBefore);
      expect(await readFile(certPath, 'utf8')).toBe(certBefore);
      const leftovers = [...(await readdir(dirname(sb.configPath))), ...(await readdir(dirname(certPath)))].filter((n) => n.endsWith('.tmp'));
      expect(leftovers).toEqual([]);
    } finally {
      await sb.close();
    }
  });
});
