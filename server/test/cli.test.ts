// The `roost` command as a real process (node bin/roost.js, the compiled code in dist/): the
// embedded default (no config, ROOST_DATA), `roost user` while the daemon runs (password from a
// flag, a pipe and a prompt in a real terminal), a config with errors (exit 78, file:line:col),
// SIGTERM (system-shutdown, exit 0, offline messages kept), SIGHUP (new certificate for new
// connections, old sessions untouched, a broken file keeps the running config), sd_notify
// through systemd-notify to a real unix datagram socket, and logs free of passwords and bodies.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEcdsaSelfSigned } from '../../appliance/src/acme/ecdsa-cert.js';
import { ensureDebianPackage } from '../../appliance/test/helpers/infra.js';
import { startTmux } from '../../installer/test/helpers/tmux.js';
import { loadConfig, parseConfigText } from '../src/config/load.js';
import { failureCondition, loggedIn, RawStream } from './helpers/raw.js';
import { ensureBuilt, listenersOnlyConfig, ROOST_BIN, ROOT, runRoost, startDaemon, type Daemon } from './helpers/cli.js';

// Each test starts processes (node loads the whole daemon each time): slow on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

const NS_DELAY = 'urn:xmpp:delay';
const tmp: string[] = [];
const daemons: Daemon[] = [];
/** Every password and message body used in this file: none may appear in any log. */
const secrets: string[] = [];
const secret = (label: string): string => {
  const s = `${label}-${randomBytes(6).toString('hex')}`;
  secrets.push(s);
  return s;
};

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `roost-cli-${prefix}-`));
  tmp.push(d);
  return d;
}

interface Site {
  dir: string;
  dataDir: string;
  env: Record<string, string>;
  config: string;
  /** YAML after the listeners (kept when the ports are picked again). */
  extra: string;
  /** The daemon's certificate (read after start). */
  cert(): string;
}

/** A working folder with roost.yaml (only the listener ports changed, plus `extra` YAML) and ROOST_DATA. */
async function site(prefix: string, extra = ''): Promise<Site> {
  const dir = await tempDir(prefix);
  const dataDir = join(dir, 'state');
  const { yaml } = await listenersOnlyConfig();
  const config = join(dir, 'roost.yaml');
  await writeFile(config, yaml + extra);
  return { dir, dataDir, env: { ROOST_DATA: dataDir }, config, extra, cert: () => readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8') };
}

/** Starts `roost serve --config` for the site; a port taken meanwhile by another program gets new ones. */
async function serve(s: Site, env: Record<string, string> = {}): Promise<Daemon> {
  for (let attempt = 0; ; attempt++) {
    const d = await startDaemon(['--config', s.config], { cwd: s.dir, env: { ...s.env, ...env } });
    daemons.push(d);
    if (d.ports.c2s) return d;
    const ended = await d.exited;
    if (attempt < 3 && /already in use/.test(d.log())) {
      await writeFile(s.config, (await listenersOnlyConfig()).yaml + s.extra);
      continue;
    }
    throw new Error(`roost serve exited (${JSON.stringify(ended)}); log:\n${d.log()}`);
  }
}

const user = (s: Site, args: string[], input?: string) => runRoost(['user', ...args, '--config', s.config], { cwd: s.dir, env: s.env, ...(input !== undefined ? { input } : {}) });

/** SCRAM-SHA-256 login over STARTTLS: 'success' or the SASL failure condition. */
async function login(port: number, ca: string, username: string, password: string): Promise<string> {
  const s = new RawStream({ port, domain: 'localhost', ca });
  try {
    await s.secure();
    const r = await s.scram('SCRAM-SHA-256', username, password);
    return r.name === 'success' ? 'success' : (failureCondition(r) ?? 'failure');
  } finally {
    s.destroy();
  }
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;
const peerFingerprint = (s: tls.TLSSocket): string => {
  const raw = s.getPeerCertificate().raw;
  return new X509Certificate(raw).fingerprint256;
};

/** The certificate a direct-TLS port presents, with or without SNI (without: an IP and no servername). */
function directTlsCert(port: number, sni: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...(sni ? { servername: 'localhost' } : {}), rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'] }, () => {
      const f = peerFingerprint(s);
      s.destroy();
      resolve(f);
    });
    s.once('error', reject);
  });
}

beforeAll(() => {
  ensureBuilt();
}, 120_000);

afterAll(async () => {
  for (const d of daemons) await d.stop(3000);
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

describe('roost as a command', () => {
  it('--help prints the usage and exits 0; no command or an unknown one exits 2', async () => {
    const dir = await tempDir('help');
    // Independent processes: run at once.
    const [help, none, unknown, badServe, badUser, version] = await Promise.all([
      runRoost(['--help'], { cwd: dir }),
      runRoost([], { cwd: dir }),
      runRoost(['frobnicate'], { cwd: dir }),
      runRoost(['serve', 'extra'], { cwd: dir }),
      runRoost(['user', 'rename', 'x'], { cwd: dir }),
      runRoost(['--version'], { cwd: dir }),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: roost <command>/);
    for (const c of ['serve', 'user add', 'user passwd', 'user del', 'user list', 'check', 'setup']) expect(help.stdout).toContain(c);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^usage: roost/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^roost: unknown command "frobnicate"/);
    expect(unknown.stdout).toBe('');
    expect(badServe.code).toBe(2);
    expect(badServe.stderr).toContain('unexpected argument "extra"');
    expect(badUser.code).toBe(2);
    expect(badUser.stderr).toMatch(/^usage: roost user add/);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^roost \d+\.\d+\.\d+\n$/);
    // None of these touched the folder (no ./data made by a command that does not serve).
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('the embedded default: domain localhost, SQLite and an auto certificate in ROOST_DATA, the documented ports', async () => {
    const dir = await tempDir('defaults');
    const c = await loadConfig({ env: { ROOST_DATA: join(dir, 'state') }, cwd: dir });
    expect(c.hosts).toEqual(['localhost']);
    expect(c.dataDir).toBe(join(dir, 'state'));
    expect(c.storage).toMatchObject({ type: 'sqlite', path: join(dir, 'state', 'roost.sqlite') });
    expect(c.tls.certificate).toBe('auto');
    const ports = Object.fromEntries(Object.entries(c.listeners).map(([k, l]) => [k, l.port]));
    expect(ports).toEqual({ c2s: 5222, c2sDirectTls: 5223, s2s: 5269, http: 5280, https: 5281 });
    expect(c.listeners.s2s.enabled).toBe(false);
    // The example file documents the same values, and the README names them.
    const example = parseConfigText(readFileSync(join(ROOT, 'roost.example.yaml'), 'utf8'), 'roost.example.yaml', { ROOST_DATA: join(dir, 'state') }, { cwd: dir, baseDir: dir });
    expect(example.listeners).toEqual(c.listeners);
    expect(example.hosts).toEqual(c.hosts);
    // Without ROOST_DATA the data is ./data in the working folder.
    expect((await loadConfig({ env: {}, cwd: dir })).dataDir).toBe(join(dir, 'data'));
  });

  it('`roost serve` with no config at all: starts on 5222/5223 in ROOST_DATA, or says clearly that the port is taken', async () => {
    const dir = await tempDir('noconfig');
    const dataDir = join(dir, 'state');
    const d = await startDaemon([], { cwd: dir, env: { ROOST_DATA: dataDir } });
    daemons.push(d);
    if (d.ports.c2s === undefined) {
      // Another program (or a parallel test) holds a default port on this machine.
      const r = await d.exited;
      expect(r.code).toBe(1);
      expect(d.log()).toMatch(/cannot start .*port (5222|5223|5280|5281) on :: is already in use by another program/);
      return;
    }
    expect(d.ports).toEqual({ c2s: 5222, directTls: 5223 });
    await d.waitForLog(/warn .*self-signed certificate/);
    expect(existsSync(join(dataDir, 'roost.sqlite'))).toBe(true);
    const cert = new X509Certificate(readFileSync(join(dataDir, 'tls', 'cert.pem')));
    expect(cert.subjectAltName).toBe('DNS:localhost, DNS:conference.localhost, DNS:pubsub.localhost, DNS:upload.localhost');
    expect(existsSync(join(dir, 'data'))).toBe(false);
    const pw = secret('default-pw');
    const add = await runRoost(['user', 'add', 'dflt', '--password', pw], { cwd: dir, env: { ROOST_DATA: dataDir } });
    expect(add).toMatchObject({ code: 0, stdout: 'created dflt@localhost\n' });
    expect(await login(5222, cert.toString(), 'dflt', pw)).toBe('success');
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('roost user while the daemon runs', () => {
  let s: Site;
  let d: Daemon;
  let port: number;
  const pw = { alice: '', bob: '', carol: '', alice2: '' };

  beforeAll(async () => {
    s = await site('users');
    d = await serve(s);
    port = d.ports.c2s!;
    pw.alice = secret('alice-pw');
    pw.bob = secret('bob-pw');
    pw.carol = secret('carol-pw');
    pw.alice2 = secret('alice-new-pw');
  }, 60_000);

  it('made the embedded default in ROOST_DATA (database, self-signed certificate), nothing in the working folder', () => {
    expect(existsSync(join(s.dataDir, 'roost.sqlite'))).toBe(true);
    expect(new X509Certificate(s.cert()).subjectAltName).toContain('DNS:localhost');
    expect(existsSync(join(s.dir, 'data'))).toBe(false);
    expect(d.log()).toMatch(/info .*server started hosts=localhost/);
  });

  it('add with --password: the account logs in at once', async () => {
    const r = await user(s, ['add', 'alice', '--password', pw.alice]);
    expect(r).toMatchObject({ code: 0, stdout: 'created alice@localhost\n', stderr: '' });
    expect(await login(port, s.cert(), 'alice', pw.alice)).toBe('success');
    expect(await login(port, s.cert(), 'alice', pw.alice + 'x')).toBe('not-authorized');
  });

  it('add with the password piped on stdin (first line), also as NAME@domain', async () => {
    const r = await user(s, ['add', 'bob@localhost'], `${pw.bob}\nignored second line\n`);
    expect(r).toMatchObject({ code: 0, stdout: 'created bob@localhost\n' });
    expect(await login(port, s.cert(), 'bob', pw.bob)).toBe('success');
  });

  it('add with the password typed twice at a prompt in a real terminal, never echoed', async () => {
    const q = (x: string): string => `'${x.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, ROOST_BIN, 'user', 'add', 'carol', '--config', s.config].map(q).join(' ');
    const t = startTmux(cmd, { cwd: s.dir, env: s.env, width: 100, height: 20 });
    try {
      await t.waitFor(/Password: *$/);
      await t.text(pw.carol);
      await t.keys('Enter');
      await t.waitFor(/Password again: *$/);
      await t.text(pw.carol);
      await t.keys('Enter');
      const screen = await t.waitFor(/\[exited with \d+\]/);
      expect(screen).toMatch(/created carol@localhost \[exited with 0\]/);
      expect(screen).not.toContain(pw.carol);
    } finally {
      t.kill();
    }
    expect(await login(port, s.cert(), 'carol', pw.carol)).toBe('success');

    // Two different answers: nothing is created.
    const t2 = startTmux(cmd.replace("'carol'", "'carol2'"), { cwd: s.dir, env: s.env, width: 100, height: 20 });
    try {
      await t2.waitFor(/Password: *$/);
      await t2.text('first-answer');
      await t2.keys('Enter');
      await t2.waitFor(/Password again: *$/);
      await t2.text('second-answer');
      await t2.keys('Enter');
      expect(await t2.waitFor(/\[exited with \d+\]/)).toMatch(/the two passwords differ \[exited with 1\]/);
    } finally {
      t2.kill();
    }
    expect((await user(s, ['list'])).stdout).not.toContain('carol2');
  });

  it('add refuses an existing name, a name that is not a valid localpart, a domain not served, an empty password', async () => {
    const [exists, bad, foreign, empty] = await Promise.all([
      user(s, ['add', 'alice', '--password', 'whatever']),
      user(s, ['add', 'two words', '--password', 'x']),
      user(s, ['add', 'x@example.org', '--password', 'x']),
      user(s, ['add', 'nopw'], ''),
    ]);
    expect(exists).toMatchObject({ code: 1, stdout: '' });
    expect(exists.stderr).toBe('roost user: alice already exists\n');
    expect(await login(port, s.cert(), 'alice', pw.alice)).toBe('success');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/localpart "two words": U\+0020 is a space/);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/example\.org is not a domain this server serves \(localhost\)/);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/the password is empty/);
    expect((await user(s, ['list'])).stdout).toBe('alice@localhost\nbob@localhost\ncarol@localhost\n');
  });

  it('passwd: the new password works at once, the old one no longer; an unknown account is refused', async () => {
    // Read from a pipe its writer keeps open: the first line is enough, nothing waits for EOF.
    const r = await runRoost(['user', 'passwd', 'alice', '--config', s.config], { cwd: s.dir, env: s.env, input: pw.alice2 + '\n', keepStdinOpen: true, timeoutMs: 15_000 });
    expect(r).toMatchObject({ code: 0, stdout: 'password changed for alice@localhost\n' });
    expect(await login(port, s.cert(), 'alice', pw.alice2)).toBe('success');
    expect(await login(port, s.cert(), 'alice', pw.alice)).toBe('not-authorized');
    const nobody = await user(s, ['passwd', 'nobody', '--password', 'x']);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toBe('roost user: no account nobody@localhost\n');
  });

  it('chat between two accounts through the daemon (bodies kept out of the log)', async () => {
    const a = await loggedIn({ port, domain: 'localhost', ca: s.cert() }, 'alice', pw.alice2, 'desk');
    const b = await loggedIn({ port, domain: 'localhost', ca: s.cert() }, 'bob', pw.bob, 'phone');
    a.s.write('<presence/>');
    b.s.write('<presence/>');
    const body = secret('online-body');
    a.s.write(`<message to='bob@localhost' type='chat' id='m1'><body>${body}</body></message>`);
    const got = await b.s.next((el) => el.name === 'message');
    expect(got.getChildText('body')).toBe(body);
    expect(got.attrs.from).toBe(a.jid);
    b.s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const offline = secret('offline-body');
    a.s.write(`<message to='carol@localhost' type='chat'><body>${offline}</body></message>`);
    await a.s.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, 'localhost');
    a.s.destroy();
  });

  it('del: the account can no longer log in, list no longer shows it; deleting it again is refused', async () => {
    const r = await user(s, ['del', 'bob']);
    expect(r).toMatchObject({ code: 0, stdout: 'deleted bob@localhost\n' });
    expect(await login(port, s.cert(), 'bob', pw.bob)).toBe('not-authorized');
    const [again, list] = await Promise.all([user(s, ['del', 'bob']), user(s, ['list', '--host', 'localhost'])]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('roost user: no account bob@localhost\n');
    expect(list).toMatchObject({ code: 0, stdout: 'alice@localhost\ncarol@localhost\n', stderr: '' });
  });
});

describe('a configuration with errors', () => {
  it('stops serve (and user) with exit code 78 and one file:line:col message per problem', async () => {
    const dir = await tempDir('badconfig');
    const text = [
      'hosts: [localhost]', // 1
      'listeners:', // 2
      '  c2s: { port: 99999 }', // 3
      'limits:', // 4
      '  stanzaSize: lots', // 5
      'bogus: 1', // 6
      'storage:', // 7
      '  type: sqlite', // 8
      '  pathh: x', // 9
      '',
    ].join('\n');
    await writeFile(join(dir, 'bad.yaml'), text);
    await writeFile(join(dir, 'syntax.yaml'), 'hosts: [localhost\nlisteners: {\n');
    const env = { ROOST_DATA: join(dir, 'state') };
    const [r, y, missing, u, viaEnv] = await Promise.all([
      runRoost(['serve', '--config', 'bad.yaml'], { cwd: dir, env }),
      runRoost(['serve', '--config', 'syntax.yaml'], { cwd: dir, env }),
      runRoost(['serve', '--config', 'nope.yaml'], { cwd: dir, env }),
      runRoost(['user', 'list', '--config', 'bad.yaml'], { cwd: dir, env }),
      // ROOST_CONFIG is the default --config.
      runRoost(['serve'], { cwd: dir, env: { ...env, ROOST_CONFIG: 'bad.yaml' } }),
    ]);
    expect(r.code).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('roost: the configuration cannot be used:');
    const problems = lines.slice(1);
    expect(problems.map((l) => /^bad\.yaml:(\d+:\d+): (\S+): /.exec(l)?.slice(1, 3).join(' '))).toEqual([
      '3:16 listeners.c2s.port',
      '5:15 limits.stanzaSize',
      '6:1 bogus',
      '9:3 storage.pathh',
    ]);
    expect(r.stderr).toContain('did you mean "path"?');
    expect(existsSync(join(dir, 'state'))).toBe(false);

    expect(y.code).toBe(78);
    expect(y.stderr.trim().split('\n').length).toBeGreaterThan(1);
    for (const l of y.stderr.trim().split('\n').slice(1)) expect(l).toMatch(/^syntax\.yaml:\d+:\d+: YAML syntax: /);

    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('nope.yaml: the file does not exist');

    expect(u.code).toBe(78);
    expect(u.stderr).toContain('bad.yaml:3:16: listeners.c2s.port');
    expect(viaEnv.code).toBe(78);
  });
});

describe('SIGTERM', () => {
  it('connected clients get system-shutdown and </stream:stream>, exit 0; an accepted offline message survives the restart', async () => {
    const s = await site('sigterm');
    const d = await serve(s);
    const pwCarol = secret('carol-pw');
    const pwDave = secret('dave-pw');
    const added = await Promise.all([user(s, ['add', 'carol', '--password', pwCarol]), user(s, ['add', 'dave', '--password', pwDave])]);
    expect(added.map((r) => r.code)).toEqual([0, 0]);
    const { s: c } = await loggedIn({ port: d.ports.c2s!, domain: 'localhost', ca: s.cert() }, 'carol', pwCarol);
    // One more on the direct-TLS port, and one that has not logged in yet.
    const { s: c2 } = await loggedIn({ port: d.ports.directTls!, domain: 'localhost', ca: s.cert(), directTls: true }, 'carol', pwCarol, 'second');
    const early = new RawStream({ port: d.ports.c2s!, domain: 'localhost', ca: s.cert() });
    await early.secure();
    c.write('<presence/>');
    const body = secret('kept-body');
    c.write(`<message to='dave@localhost' type='chat'><body>${body}</body></message>`);
    // Answered after the message (in order): it is stored by then.
    await c.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, 'localhost');
    d.signal('SIGTERM');
    for (const x of [c, c2, early]) {
      expect(await x.streamError()).toBe('system-shutdown');
      await x.closed;
      expect(x.received.trimEnd().endsWith('</stream:stream>')).toBe(true);
    }
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(d.log()).toMatch(/signal received, shutting down signal=SIGTERM/);
    expect(d.log()).toMatch(/server stopped/);

    const again = await serve(s);
    const { s: dv } = await loggedIn({ port: again.ports.c2s!, domain: 'localhost', ca: s.cert() }, 'dave', pwDave);
    dv.write('<presence/>');
    const m = await dv.next((el) => el.name === 'message');
    expect(m.getChildText('body')).toBe(body);
    expect(m.attrs.from).toMatch(/^carol@localhost\//);
    expect(m.getChild('delay', NS_DELAY)?.attrs.from).toBe('localhost');
    dv.destroy();
    expect(await again.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('SIGHUP', () => {
  it('serves a changed certificate to new connections, keeps existing sessions, and a broken file keeps the running config', async () => {
    const first = createEcdsaSelfSigned({ names: ['localhost'] });
    const second = createEcdsaSelfSigned({ names: ['localhost'] });
    const s = await site('sighup', 'tls:\n  certificate: certs/cert.pem\n  key: certs/key.pem\n');
    await mkdir(join(s.dir, 'certs'));
    const writeCert = async (c: { certPem: string; keyPem: string }): Promise<void> => {
      await writeFile(join(s.dir, 'certs', 'cert.pem'), c.certPem);
      await writeFile(join(s.dir, 'certs', 'key.pem'), c.keyPem);
    };
    await writeCert(first);
    const d = await serve(s);
    expect(d.log()).not.toMatch(/self-signed certificate: chat apps/);
    const port = d.ports.c2s!;
    const pwErin = secret('erin-pw');
    expect((await user(s, ['add', 'erin', '--password', pwErin])).code).toBe(0);
    const old = await loggedIn({ port, domain: 'localhost', ca: first.certPem }, 'erin', pwErin, 'old');
    expect(peerFingerprint(old.s.socket as tls.TLSSocket)).toBe(fingerprint(first.certPem));
    const stillWorks = async (): Promise<void> => {
      const r = await old.s.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, 'localhost');
      expect(r.attrs.type).toBe('result');
    };
    const hup = async (re: RegExp): Promise<string> => {
      const from = d.log().length;
      d.signal('SIGHUP');
      await d.waitForLog(re, 10_000, from);
      return d.log().slice(from);
    };

    await writeCert(second);
    const reloaded = await hup(/configuration reloaded/);
    expect(reloaded).toMatch(/certificate loaded path=\S*certs\/cert\.pem/);
    expect(await login(port, second.certPem, 'erin', pwErin)).toBe('success');
    // A client that trusts only the old certificate is refused by its own TLS check now.
    await expect(login(port, first.certPem, 'erin', pwErin)).rejects.toThrow();
    expect(await directTlsCert(d.ports.directTls!, true)).toBe(fingerprint(second.certPem));
    expect(await directTlsCert(d.ports.directTls!, false)).toBe(fingerprint(second.certPem));
    await stillWorks();
    expect(peerFingerprint(old.s.socket as tls.TLSSocket)).toBe(fingerprint(first.certPem));

    // A file with a mistake: logged with file:line:col, the running configuration stays.
    const good = await readFile(s.config, 'utf8');
    await writeFile(s.config, good + 'limits:\n  stanzaSize: huge\n');
    const broken = await hup(/reload failed/);
    expect(broken).toMatch(/error .*reload failed; the previous configuration stays in use/);
    expect(broken).toMatch(/roost\.yaml:\d+:\d+: limits\.stanzaSize/);
    expect(await login(port, second.certPem, 'erin', pwErin)).toBe('success');
    await stillWorks();

    // A certificate that does not match its key (a half-done copy): also kept.
    await writeFile(s.config, good);
    await writeFile(join(s.dir, 'certs', 'cert.pem'), first.certPem);
    const mismatch = await hup(/reload failed/);
    expect(mismatch).toMatch(/reload failed; the previous configuration stays in use/);
    expect(await directTlsCert(d.ports.directTls!, false)).toBe(fingerprint(second.certPem));
    expect(await login(port, second.certPem, 'erin', pwErin)).toBe('success');
    await stillWorks();
    expect(d.child.exitCode).toBe(null);
    old.s.destroy();
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('NOTIFY_SOCKET (sd_notify through systemd-notify)', () => {
  it('READY=1 arrives once the listener accepts connections; RELOADING=1/READY=1 on SIGHUP; STOPPING=1 on SIGTERM', async () => {
    ensureDebianPackage('systemd-notify', ['systemd']);
    const python = ensureDebianPackage('python3', ['python3-minimal']);
    const s = await site('notify');
    const sock = join(s.dir, 'notify.sock');
    // Node cannot bind a unix datagram socket: Python receives, prints each datagram as one JSON
    // line and, like systemd, closes the file descriptors that come with BARRIER=1 (systemd-notify
    // waits for that before it exits).
    const receiver = [
      'import array, json, os, socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'while True:',
      '    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4))',
      '    for level, kind, payload in anc:',
      '        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:',
      '            fds = array.array("i")',
      '            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])',
      '            for fd in fds: os.close(fd)',
      '    print(json.dumps(data.decode()), flush=True)',
    ].join('\n');
    const rx: ChildProcess = spawn(python, ['-c', receiver, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let got = '';
    rx.stdout!.on('data', (b: Buffer) => (got += b.toString('utf8')));
    rx.stderr!.on('data', (b: Buffer) => (got += b.toString('utf8')));
    const datagrams = (): string[] => got.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string);
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(sock)).toBe(true);
      const until = async (re: RegExp, ms = 10_000): Promise<void> => {
        const end = Date.now() + ms;
        while (!re.test(datagrams().join('|'))) {
          if (Date.now() > end) throw new Error(`no ${re} on the notify socket; got ${got}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const yaml = await readFile(s.config, 'utf8');
      const c2sPort = Number(/c2s: \{ address: 127\.0\.0\.1, port: (\d+) \}/.exec(yaml)![1]);
      // Started without waiting for its log: READY=1 alone says when to connect.
      const started = startDaemon(['--config', s.config], { cwd: s.dir, env: { ...s.env, NOTIFY_SOCKET: sock } });
      await until(/READY=1/);
      const features = await new Promise<string>((resolve, reject) => {
        const c = net.connect(c2sPort, '127.0.0.1', () =>
          c.write(`<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`),
        );
        let buf = '';
        c.on('data', (b: Buffer) => {
          buf += b.toString('utf8');
          if (buf.includes('</stream:features>')) {
            c.destroy();
            resolve(buf);
          }
        });
        c.on('error', reject);
      });
      expect(features).toContain('urn:ietf:params:xml:ns:xmpp-tls');
      const d = await started;
      daemons.push(d);
      const ready = datagrams().find((g) => g.includes('READY=1'))!;
      expect(ready.split('\n').sort()).toEqual(['MAINPID=' + d.pid, 'READY=1', 'STATUS=serving localhost']);
      expect(datagrams().join('|')).not.toMatch(/STOPPING|RELOADING/);

      // A reload that also raises the log level: debug lines appear without a restart.
      await writeFile(s.config, (await readFile(s.config, 'utf8')) + 'log:\n  level: debug\n');
      d.signal('SIGHUP');
      await until(/RELOADING=1.*READY=1/);
      await login(c2sPort, s.cert(), 'nobody', 'x');
      await d.waitForLog(/debug .*connection id=/);
      expect(await d.stop()).toEqual({ code: 0, signal: null });
      await until(/STOPPING=1/);
      expect(d.log()).not.toMatch(/could not notify systemd/);
    } finally {
      rx.kill();
    }
  });
});

describe('logs', () => {
  it('no daemon log of this file holds a password or a message body at info level', () => {
    const all = daemons.map((d) => d.log()).join('\n');
    // The logs are at info: logins and sessions were logged...
    expect(all).toMatch(/info .*authenticated .*user=alice@localhost/);
    expect(all).toMatch(/info .*authentication failed/);
    expect(secrets.length).toBeGreaterThan(8);
    // ...but nothing secret.
    for (const x of secrets) expect(all.includes(x), `the log holds ${x}`).toBe(false);
    expect(all).not.toMatch(/<body>|<message /);
  });
});
