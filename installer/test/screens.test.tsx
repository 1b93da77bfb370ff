// Each setup screen rendered with ink-testing-library: keys typed as a terminal sends them, the
// frame asserted. Screens talk to real things: the machine's ports, a dns2 server, pebble.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSilentUdp } from '../../appliance/test/helpers/dns-server.js';
import { startPebble, type Pebble } from '../../appliance/test/helpers/pebble.js';
import { parseSize } from '../src/answers.js';
import { applyStep } from '../src/steps/apply.js';
import type { SetupState } from '../src/steps/context.js';
import { doneInfo } from '../src/steps/done.js';
import { AccountsScreen } from '../src/ui/screens/Accounts.js';
import { ApplyScreen } from '../src/ui/screens/Apply.js';
import { CertsScreen } from '../src/ui/screens/Certs.js';
import { DnsScreen } from '../src/ui/screens/Dns.js';
import { DomainScreen } from '../src/ui/screens/Domain.js';
import { DoneScreen } from '../src/ui/screens/Done.js';
import { FeaturesScreen } from '../src/ui/screens/Features.js';
import { WelcomeScreen } from '../src/ui/screens/Welcome.js';
import { App } from '../src/ui/App.js';
import { KEY, frame, frameMatching, press, type } from './helpers/ink.js';
import { freePorts, listenerFlags, type Ports, publishGoodRecords, sandbox, type Sandbox, startDnsServer, type TestDns, writeCa } from './helpers/setup-env.js';
import { stateFrom } from './helpers/state.js';

const D = 'screens.test';
let dns: TestDns;
let ports: Ports;
let sb: Sandbox;
let pebble: Pebble;

beforeAll(async () => {
  dns = await startDnsServer();
  ports = await freePorts();
  sb = await sandbox('screens');
  pebble = await startPebble(dns.port);
});
afterAll(async () => {
  await pebble?.stop();
  await dns?.close();
  await sb?.close();
});

function nav(): { next: number; back: number; onNext(): void; onBack(): void } {
  const n = { next: 0, back: 0, onNext: () => void n.next++, onBack: () => void n.back++ };
  return n;
}

async function state(extra: string[] = []): Promise<SetupState> {
  return stateFrom(['--config', sb.configPath, '--data-dir', sb.dataDir, '--user', 'nobody', '--resolver', `127.0.0.1:${dns.port}`, '--no-systemd', '--no-start', ...listenerFlags(ports), ...extra]);
}

describe('Welcome (pre-flight)', { timeout: 90_000 }, () => {
  let holder: Server | undefined;
  afterAll(() => holder?.close());

  it('lists the machine checks, marks a port held by another program red with a fix, and re-checks with R', async () => {
    holder = createServer();
    await new Promise<void>((r) => holder?.listen(ports.c2s, '0.0.0.0', r));
    const s = await state();
    const n = nav();
    const app = render(<WelcomeScreen state={s} {...n} />);
    let f = await frameMatching(app, /problem\(s\) above/);
    expect(f).toContain('step 1 of 8');
    expect(f).toMatch(/operating system: /);
    expect(f).toMatch(/memory: \d+ MB/);
    expect(f).toMatch(new RegExp(`✘ port ${ports.c2s} \\(chat apps\\) is used by another program`));
    expect(f).toContain('fix: Stop that program');
    expect(s.warnings.some((w) => w.step === 'preflight' && w.message.includes(`port ${ports.c2s}`))).toBe(true);
    await new Promise<void>((r) => holder?.close(() => r()));
    holder = undefined;
    await press(app, 'r');
    f = await frameMatching(app, new RegExp(`✔ port ${ports.c2s} \\(chat apps\\) is free`));
    expect(s.warnings.some((w) => w.message.includes(`port ${ports.c2s}`))).toBe(false);
    await press(app, KEY.enter);
    expect(n.next).toBe(1);
    app.unmount();
  });
});

describe('Domain', { timeout: 90_000 }, () => {
  it('explains the domain with an example and refuses a bad one in plain words', async () => {
    const s = await state();
    const n = nav();
    const app = render(<DomainScreen state={s} {...n} />);
    expect(frame(app)).toContain('the part after the @');
    expect(frame(app)).toContain('For addresses like alice@example.org, enter example.org.');
    await type(app, 'my_office.example');
    await press(app, KEY.enter, KEY.enter, KEY.enter);
    let f = await frameMatching(app, /underscores/);
    expect(f).toContain('must not contain underscores (_)');
    expect(n.next).toBe(0);
    await press(app, KEY.up, KEY.up);
    for (let i = 0; i < 'my_office.example'.length; i++) await press(app, KEY.backspace);
    await type(app, '192.0.2.1');
    await press(app, KEY.enter, KEY.enter, KEY.enter);
    f = await frameMatching(app, /not an IP address/);
    expect(f).toContain('must be a name, not an IP address');
    expect(n.next).toBe(0);
    app.unmount();
  });

  it('accepts an IDN domain, shows how DNS writes it, and stores the public IP', async () => {
    const s = await state();
    const n = nav();
    const app = render(<DomainScreen state={s} {...n} />);
    await type(app, 'bücher.example');
    await frameMatching(app, /written in DNS as xn--bcher-kva\.example/);
    await press(app, KEY.enter, KEY.enter);
    await type(app, '203.0.113.7');
    await press(app, KEY.enter);
    expect(n.next).toBe(1);
    expect(s.answers.domain).toBe('xn--bcher-kva.example');
    expect(s.answers.publicIpv4).toEqual(['203.0.113.7']);
    app.unmount();
  });
});

describe('DNS', { timeout: 90_000 }, () => {
  it('checks each record live: missing, wrong port and CNAME in red with the reason, then green after a fix and R', async () => {
    publishGoodRecords(dns, D, ports);
    dns.remove(`conference.${D}`);
    dns.set(`_xmpp-client._tcp.${D}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5999, target: D }]);
    dns.set(D, [{ type: 'CNAME', domain: 'hosting.elsewhere.test' }]);
    dns.set('hosting.elsewhere.test', [{ type: 'A', address: '127.0.0.1' }]);
    const s = await state(['--domain', D]);
    const n = nav();
    const app = render(<DnsScreen state={s} {...n} />);
    let f = await frameMatching(app, /record\(s\) not right yet/);
    expect(f).toContain('step 3 of 8');
    expect(f).toMatch(/✘ A +conference\.screens\.test — missing: the name conference\.screens\.test does not exist in DNS/);
    expect(f).toMatch(new RegExp(`✘ SRV +_xmpp-client\\._tcp\\.screens\\.test — wrong port: points to port 5999; Roost listens on ${ports.c2s}`));
    expect(f).toMatch(/! A +pubsub\.screens\.test — points to a private address \(127\.0\.0\.1\)/);
    expect(f).toMatch(/✘ A +screens\.test — is an alias of hosting\.elsewhere\.test — the SRV records point here, and an SRV target must not be an alias \(CNAME\)/);
    expect(s.warnings.some((w) => w.message.includes('conference.screens.test does not exist'))).toBe(true);
    // The zone snippet to copy.
    await press(app, 'z');
    f = await frameMatching(app, /_xmpp-client\._tcp\.screens\.test\.\s+3600\s+IN SRV\s+0 5/);
    expect(f).toContain(`conference.${D}.`);
    // Fix DNS, re-check.
    publishGoodRecords(dns, D, ports);
    await press(app, 'z', 'r');
    f = await frameMatching(app, /All required records are right/);
    expect(f).not.toContain('✘');
    expect(s.warnings.some((w) => w.message.includes('does not exist'))).toBe(false);
    await press(app, KEY.enter);
    expect(n.next).toBe(1);
    app.unmount();
  });

  it('a DNS server that does not answer: red with "did not answer", not a hang', async () => {
    const silent = await startSilentUdp();
    try {
      const s = await state(['--domain', D, '--resolver', `127.0.0.1:${silent.port}`, '--dns-timeout', '300']);
      const app = render(<DnsScreen state={s} {...nav()} />);
      const f = await frameMatching(app, /not right yet/, 15_000);
      expect(f).toMatch(/✘ A +screens\.test — the DNS server did not answer/);
      app.unmount();
    } finally {
      await silent.close();
    }
  });
});

describe('Certificate', { timeout: 90_000 }, () => {
  it("Let's Encrypt over HTTP-01 against pebble, with progress, then the names and expiry", async () => {
    publishGoodRecords(dns, D, ports);
    const s = await state(['--domain', D, '--acme-directory', pebble.directoryUrl, '--ca-bundle', await writeCa(sb.dir, pebble.listenerCa), '--http-port', String(pebble.httpPort)]);
    const n = nav();
    const app = render(<CertsScreen state={s} {...n} />);
    let f = frame(app);
    expect(f).toContain("Let's Encrypt gives a free certificate");
    expect(f).toContain(`Names: ${D}, conference.${D}, pubsub.${D}, upload.${D}, proxy.${D}`);
    // mode → e-mail → check → staging → button
    await press(app, KEY.enter, KEY.enter, KEY.enter, KEY.enter);
    await frameMatching(app, /› \[ Get the certificate \]/);
    await press(app, KEY.enter);
    f = await frameMatching(app, /Press Enter to continue/, 20_000);
    expect(f).toMatch(new RegExp(`✔ Certificate for ${D}, conference\\.${D}.*valid until \\d{4}-\\d\\d-\\d\\d`));
    expect(f).toContain('renews by itself');
    const pem = await readFile(s.cert?.certPath as string, 'utf8');
    expect(new X509Certificate(pem).subjectAltName).toContain(`DNS:proxy.${D}`);
    await press(app, KEY.enter);
    expect(n.next).toBe(1);
    app.unmount();
  });

  it('an unreachable certificate authority: the error in plain words, then S falls back to self-signed with the warning users will see', async () => {
    const s = await state(['--domain', D, '--acme-directory', 'https://127.0.0.1:1/dir']);
    const app = render(<CertsScreen state={s} {...nav()} />);
    await press(app, KEY.enter, KEY.enter, KEY.enter, KEY.enter, KEY.enter);
    let f = await frameMatching(app, /S use a self-signed/, 20_000);
    expect(f).toContain('could not reach the certificate authority at 127.0.0.1:1: the connection was refused');
    expect(f).toContain('The certificate files in use before are unchanged.');
    await press(app, 's');
    f = await frameMatching(app, /Press Enter to continue/, 20_000);
    expect(f).toContain('Conversations asks whether to trust the certificate');
    expect(f).toMatch(/SHA-256 fingerprint is [0-9A-F:]{95}/);
    expect(s.cert?.mode).toBe('self-signed');
    app.unmount();
  });
});

describe('Certificate over DNS-01', { timeout: 90_000 }, () => {
  it('shows the TXT records to add, waits until DNS has them, then issues the certificate', async () => {
    publishGoodRecords(dns, D, ports);
    const s = await state(['--domain', D, '--acme-directory', pebble.directoryUrl, '--ca-bundle', await writeCa(sb.dir, pebble.listenerCa), '--dns-wait', '30']);
    const app = render(<CertsScreen state={s} {...nav()} />);
    await press(app, KEY.enter, KEY.enter, KEY.right); // mode → e-mail → check: DNS TXT record
    let f = await frameMatching(app, /\(•\) DNS TXT record/);
    expect(f).toContain('You add one TXT record per name at your DNS provider');
    await press(app, KEY.enter, KEY.enter, KEY.enter);
    f = await frameMatching(app, /Add these TXT records at your DNS provider now/, 20_000);
    const shown = [...f.matchAll(/(_acme-challenge\.[a-z.]+)\. 60 IN TXT "([A-Za-z0-9_-]{43})"/g)];
    expect(shown.length).toBeGreaterThan(0);
    // The admin adds the records a little later; setup keeps checking DNS until they show up.
    await new Promise((r) => setTimeout(r, 700));
    expect(frame(app)).toContain('waiting until the TXT record');
    const published = new Set<string>();
    const deadline = Date.now() + 30_000;
    while (!/Press Enter to continue/.test(frame(app))) {
      for (const m of frame(app).matchAll(/(_acme-challenge\.[a-z.]+)\. 60 IN TXT "([A-Za-z0-9_-]{43})"/g)) {
        if (published.has(m[0])) continue;
        published.add(m[0]);
        dns.set(m[1] as string, [{ type: 'TXT', data: m[2] as string }]);
      }
      if (Date.now() > deadline) throw new Error(`no certificate:\n${frame(app)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(frame(app)).toMatch(new RegExp(`✔ Certificate for ${D}, conference\\.${D}`));
    expect(published.size).toBe(5);
    expect(s.answers.cert.challenge).toBe('dns-01');
    app.unmount();
  });
});

describe('Accounts (local)', { timeout: 90_000 }, () => {
  it('asks for the first administrator, refuses a short or mismatched password, then goes on', async () => {
    const s = await state(['--domain', D]);
    const n = nav();
    const app = render(<AccountsScreen state={s} {...n} />);
    expect(frame(app)).toContain(`signs in as user-name@${D}`);
    await press(app, KEY.enter); // mode → user name (prefilled "admin")
    for (let i = 0; i < 5; i++) await press(app, KEY.backspace);
    await type(app, 'boss');
    await press(app, KEY.enter);
    await type(app, 'short');
    await press(app, KEY.enter);
    await type(app, 'short');
    await press(app, KEY.enter);
    let f = await frameMatching(app, /at least 8 characters/);
    expect(f).toContain('Password: •••••');
    expect(n.next).toBe(0);
    await press(app, KEY.up);
    await type(app, '-and-long');
    await press(app, KEY.enter);
    await type(app, '-typo');
    await press(app, KEY.enter);
    f = await frameMatching(app, /not the same/);
    await press(app, ...Array(5).fill(KEY.backspace));
    await type(app, '-and-long');
    await press(app, KEY.enter);
    expect(n.next).toBe(1);
    expect(s.answers.admin).toEqual({ username: 'boss', password: 'short-and-long' });
    app.unmount();
  });
});

describe('Features and limits', { timeout: 90_000 }, () => {
  it('shows the usual limits, refuses a size it cannot read, stores the new ones', async () => {
    const s = await state(['--domain', D]);
    const n = nav();
    const app = render(<FeaturesScreen state={s} {...n} />);
    let f = frame(app);
    expect(f).toContain('Largest file: 100MB');
    expect(f).toContain('Daily quota per person: 1GB');
    expect(f).toContain('Keep shared files (days): 30');
    expect(f).toContain('Keep message history (days): 365');
    expect(f).toContain('(•) Invitation only');
    await press(app, KEY.right); // registration → open
    expect(frame(app)).toContain('(•) Open (CAPTCHA)');
    await press(app, KEY.down, ...Array(5).fill(KEY.backspace));
    await type(app, 'lots');
    for (let i = 0; i < 7; i++) await press(app, KEY.enter);
    f = await frameMatching(app, /Largest file: "lots" is not a size/);
    expect(n.next).toBe(0);
    await press(app, ...Array(7).fill(KEY.up), KEY.down, ...Array(4).fill(KEY.backspace));
    await type(app, '200MB');
    await press(app, KEY.down, KEY.down, KEY.down, KEY.down, KEY.right); // federation → off→on
    for (let i = 0; i < 3; i++) await press(app, KEY.enter);
    expect(n.next, frame(app)).toBe(1);
    expect(s.answers.upload.maxFileSize).toBe(parseSize('200MB'));
    expect(s.answers.registration).toBe('open');
    expect(s.answers.federation.enabled).toBe(true);
    expect(s.warnings.some((w) => w.message.startsWith('open registration'))).toBe(true);
    app.unmount();
  });
});

describe('Apply and Done', { timeout: 90_000 }, () => {
  it('the summary lists the warnings kept from earlier steps; Enter applies with progress; Done shows address, ports and the invitation QR', async () => {
    publishGoodRecords(dns, D, ports);
    const s = await state(['--domain', D, '--cert', 'self-signed']);
    s.warnings.push({ step: 'dns', message: 'DNS: A conference.screens.test missing', level: 'red' }, { step: 'features', message: 'federation is off', level: 'warn' });
    const { certStep } = await import('../src/steps/certs.js');
    s.cert = (await certStep(s)).outcome;
    const n = nav();
    let result: Awaited<ReturnType<typeof applyStep>> | undefined;
    const app = render(<ApplyScreen state={s} {...n} onResult={(r) => (result = r)} />);
    let f = frame(app);
    expect(f).toContain('Ready to apply:');
    expect(f).toContain(`Domain       ${D}`);
    expect(f).toContain('✘ [DNS records] DNS: A conference.screens.test missing');
    expect(f).toContain('! [Features and limits] federation is off');
    await press(app, KEY.enter);
    f = await frameMatching(app, /Press Enter\./, 30_000);
    expect(f).toContain(`✔ wrote ${sb.configPath}`);
    expect(f).toContain('invitation link ready');
    expect(result).toBeDefined();
    app.unmount();
    const info = doneInfo(s, result as NonNullable<typeof result>);
    const done = render(<DoneScreen info={info} onExit={() => {}} />);
    f = frame(done);
    expect(f).toContain(`Users type: ${D}`);
    expect(f).toContain(`Ports to open in the firewall: ${ports.c2s} for chat apps (STARTTLS); ${ports.c2sDirectTls} for chat apps (direct TLS)`);
    expect(f).toMatch(/xmpp:screens\.test\?register;preauth=[A-Za-z0-9_-]{24}/);
    expect(f).toMatch(/█▀▀▀▀▀█/); // the QR code's finder pattern, drawn with block characters
    expect(f).toContain('Still to fix: ✘ DNS: A conference.screens.test missing');
    expect(f).toContain('Notes: ! federation is off');
    done.unmount();
  });
});

describe('the screens in order (App)', { timeout: 90_000 }, () => {
  it('Enter moves on, Esc goes back with the answers kept, Ctrl-C quits with 130 before anything is written', async () => {
    const own = await sandbox('app');
    const s = await stateFrom(['--config', own.configPath, '--data-dir', own.dataDir, '--resolver', `127.0.0.1:${dns.port}`, ...listenerFlags(ports)]);
    let code: number | undefined;
    const app = render(<App state={s} onExit={(c) => (code = c)} />);
    await frameMatching(app, /step 1 of 8 · Welcome.*(This machine is ready|problem\(s\) above)/);
    await press(app, KEY.enter);
    await frameMatching(app, /step 2 of 8 · Domain/);
    await type(app, 'typed.example');
    await press(app, KEY.enter, KEY.enter, KEY.enter);
    await frameMatching(app, /step 3 of 8 · DNS records/);
    await press(app, KEY.esc);
    await frameMatching(app, /step 2 of 8 · Domain.*Domain: typed\.example/);
    await press(app, KEY.esc);
    await frameMatching(app, /step 1 of 8 · Welcome/);
    await press(app, KEY.ctrlC);
    expect(code).toBe(130);
    await expect(readFile(own.configPath, 'utf8')).rejects.toThrow(/ENOENT/);
    app.unmount();
    await own.close();
  });
});

describe('keys read in one chunk (a busy machine)', { timeout: 90_000 }, () => {
  it('text and several Enters delivered at once still move through the screens', async () => {
    const own = await sandbox('chunks');
    const s = await stateFrom(['--config', own.configPath, '--data-dir', own.dataDir, '--resolver', `127.0.0.1:${dns.port}`, ...listenerFlags(ports)]);
    const app = render(<App state={s} onExit={() => {}} />);
    await frameMatching(app, /(This machine is ready|problem\(s\) above)/);
    await type(app, '\r');
    await frameMatching(app, /step 2 of 8 · Domain/);
    await type(app, 'chunk.example\r\r\r');
    await frameMatching(app, /step 3 of 8 · DNS records/);
    expect(s.answers.domain).toBe('chunk.example');
    app.unmount();
    await own.close();
  });
});
