// SASL mechanisms (RFC 5802 SCRAM, RFC 7677 SCRAM-SHA-256, RFC 4616 PLAIN) against the RFC
// test vectors, real client libraries (sasl-scram-sha-1 from xmpp.js's stack, node-postgres's
// SCRAM-SHA-256(-PLUS)), real TLS 1.3 socket pairs for channel binding (RFC 5929
// tls-server-end-point, RFC 9266 tls-exporter), and the failed-login limiter.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Real client implementations from npm.
import pgSasl from 'pg/lib/crypto/sasl.js';
import PlainClient from 'sasl-plain';
import ScramSha1Client from 'sasl-scram-sha-1';
import SaslFactory from 'saslmechanisms';
import { ensureDebianPackage } from '../../appliance/test/helpers/infra.js';
import { createAccounts, type Accounts, type AccountRecord } from '../src/core/accounts.js';
import { LoginLimiter } from '../src/core/ratelimit.js';
import {
  availableMechanisms,
  channelBindingFeature,
  certificateSignatureHash,
  decodeSaslData,
  encodeSaslData,
  saslMechanisms,
  serverEndPointHash,
  stepBase64,
  tlsChannelBindings,
  WRONG_CREDENTIALS,
  type SaslContext,
  type SaslExchange,
  type SaslMechanism,
  type SaslStep,
} from '../src/core/sasl/index.js';
import { deriveScramCredentials } from '../src/core/sasl/scram-crypto.js';
import { createStorage } from '../src/storage/index.js';
import type { JsonValue, Storage } from '../src/storage/types.js';

const HOST = 'example.org';
const dir = mkdtempSync(join(tmpdir(), 'roost-sasl-'));
let storage: Storage;
let accounts: Accounts;

beforeAll(async () => {
  storage = createStorage({ type: 'sqlite', path: join(dir, 'roost.sqlite') });
  await storage.open();
  accounts = createAccounts(storage, HOST);
  await accounts.create('juliet', 'r0m30myr0m30');
  await accounts.create('*', 'pg-password'); // node-postgres always sends n=*
});

afterAll(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

function limiter(perAddress = 10, perAccount = 20, now?: () => number): LoginLimiter {
  return new LoginLimiter({ perAddress, perAccount, now });
}

function ctxOf(over: Partial<SaslContext> & { bindings?: Record<string, Buffer> } = {}): SaslContext {
  const bindings = over.bindings ?? {};
  return {
    host: HOST,
    address: '127.0.0.1',
    secure: true,
    accounts,
    limiter: limiter(),
    channelBinding: (t) => bindings[t],
    channelBindingTypes: () => Object.keys(bindings),
    ...over,
  };
}

function mech(name: string, opts: Parameters<typeof saslMechanisms>[0] = {}): SaslMechanism {
  const m = saslMechanisms(opts).find((x) => x.name === name);
  if (!m) throw new Error(`no mechanism ${name}`);
  return m;
}

const b = (s: string) => Buffer.from(s, 'utf8');
const str = (step: SaslStep) => (step.kind === 'failure' ? '' : (step.data ?? Buffer.alloc(0)).toString('utf8'));

function expectFailure(step: SaslStep, condition: string, text?: RegExp): void {
  expect(step.kind).toBe('failure');
  if (step.kind !== 'failure') return;
  expect(step.condition).toBe(condition);
  if (text) expect(step.text ?? '').toMatch(text);
}

async function putRecord(username: string, record: AccountRecord): Promise<void> {
  await storage.keyval('accounts').set(`${username}@${HOST}`, 'credentials', record as unknown as JsonValue);
}

describe('SCRAM against the RFC examples', () => {
  it('SCRAM-SHA-1: the exact exchange of RFC 5802 §5', async () => {
    const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
    await putRecord('user', { created: 0, scram: { 'SHA-1': await deriveScramCredentials('SHA-1', 'pencil', 4096, salt) } });
    const ex = mech('SCRAM-SHA-1', { nonce: () => '3rfcNHYJY1ZVvWVs7j' }).start(ctxOf());
    const s1 = await ex.step(b('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
    expect(s1.kind).toBe('challenge');
    expect(str(s1)).toBe('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    const s2 = await ex.step(b('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='));
    expect(s2).toMatchObject({ kind: 'success', username: 'user' });
    expect(str(s2)).toBe('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  });

  it('SCRAM-SHA-1: the real sasl-scram-sha-1 client with the RFC nonce produces the RFC messages', async () => {
    const client = new ScramSha1Client({ genNonce: () => 'fyko+d2lbbFgONRv9qkxdawL' });
    const cred = { username: 'user', password: 'pencil' };
    const first = client.response(cred);
    expect(first).toBe('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const ex = mech('SCRAM-SHA-1', { nonce: () => '3rfcNHYJY1ZVvWVs7j' }).start(ctxOf());
    const s1 = await ex.step(b(first));
    client.challenge(str(s1));
    const fin = await client.response(cred);
    expect(fin).toBe('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    const s2 = await ex.step(b(fin));
    expect(s2.kind).toBe('success');
    expect(str(s2)).toBe(`v=${Buffer.from(client._serverSignature).toString('base64')}`);
  });

  it('SCRAM-SHA-256: the exact exchange of RFC 7677 §3', async () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    await putRecord('user', { created: 0, scram: { 'SHA-256': await deriveScramCredentials('SHA-256', 'pencil', 4096, salt) } });
    const ex = mech('SCRAM-SHA-256', { nonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' }).start(ctxOf());
    const s1 = await ex.step(b('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    expect(str(s1)).toBe('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const s2 = await ex.step(
      b('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='),
    );
    expect(s2).toMatchObject({ kind: 'success', username: 'user' });
    expect(str(s2)).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });
});

// ----------------------------------------------------------------- real TLS socket pairs

interface Certs {
  [name: string]: { cert: string; key: string; der: Buffer };
}
let certs: Certs = {};

beforeAll(() => {
  const openssl = ensureDebianPackage('openssl', ['openssl']);
  const make = (name: string, args: string[]) => {
    const key = join(dir, `${name}.key`);
    const crt = join(dir, `${name}.crt`);
    execFileSync(openssl, ['req', '-x509', '-nodes', '-days', '1', '-subj', `/CN=${HOST}`, '-keyout', key, '-out', crt, ...args], {
      stdio: 'pipe',
    });
    const cert = readFileSync(crt, 'utf8');
    certs[name] = { cert, key: readFileSync(key, 'utf8'), der: new X509Certificate(cert).raw };
  };
  make('rsa-sha256', ['-newkey', 'rsa:2048', '-sha256']);
  make('ec-sha384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-sha384']);
  make('rsa-sha1', ['-newkey', 'rsa:2048', '-sha1']);
  make('rsa-sha512', ['-newkey', 'rsa:2048', '-sha512']);
  make('pss-sha384', ['-newkey', 'rsa:2048', '-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_mgf1_md:sha384']);
  make('pss-mixed', ['-newkey', 'rsa:2048', '-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_mgf1_md:sha256']);
  make('ed25519', ['-newkey', 'ed25519']);
});

/**
 * A loopback TLS 1.3 connection whose server end runs SASL exchanges over a line protocol
 * (JSON per line; SASL data in RFC 6120 base64 form, decoded by decodeSaslData like c2s does).
 */
class SaslWire {
  private lines: string[] = [];
  private waiting: ((l: string) => void)[] = [];
  private exchange?: SaslExchange;

  private constructor(
    readonly server: tls.Server,
    readonly serverSocket: tls.TLSSocket,
    readonly client: tls.TLSSocket,
    readonly ctx: SaslContext,
    mechanisms: SaslMechanism[],
  ) {
    createInterface({ input: client }).on('line', (l) => {
      const w = this.waiting.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
    createInterface({ input: serverSocket }).on('line', async (line) => {
      const msg = JSON.parse(line) as { auth?: string; data?: string };
      let step: SaslStep;
      if (msg.auth !== undefined) {
        const m = availableMechanisms(mechanisms, ctx).find((x) => x.name === msg.auth);
        if (!m) {
          serverSocket.write(JSON.stringify({ failure: 'invalid-mechanism' }) + '\n');
          return;
        }
        this.exchange = m.start(ctx);
      }
      step = await stepBase64(this.exchange!, msg.data);
      serverSocket.write(
        JSON.stringify(
          step.kind === 'failure'
            ? { failure: step.condition, text: step.text }
            : { [step.kind]: encodeSaslData(step.data), username: step.kind === 'success' ? step.username : undefined },
        ) + '\n',
      );
    });
  }

  static async open(certName: string, ctxOver: Partial<SaslContext> = {}, mechanisms = saslMechanisms()): Promise<SaslWire> {
    const { cert, key } = certs[certName]!;
    const server = tls.createServer({ cert, key, minVersion: 'TLSv1.3' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<tls.TLSSocket>((r) => server.once('secureConnection', r));
    const client = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => resolve(c));
      c.once('error', reject);
    });
    const serverSocket = await accepted;
    const cb = tlsChannelBindings(serverSocket, 'server');
    const ctx = ctxOf({
      channelBinding: cb.get,
      channelBindingTypes: cb.types,
      address: serverSocket.remoteAddress ?? '127.0.0.1',
      ...ctxOver,
    });
    return new SaslWire(server, serverSocket, client, ctx, mechanisms);
  }

  mechanisms(): string[] {
    return availableMechanisms(saslMechanisms(), this.ctx).map((m) => m.name);
  }

  private next(): Promise<Record<string, string | undefined>> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    return new Promise((r) => this.waiting.push((x) => r(JSON.parse(x))));
  }

  /** <auth mechanism=...>base64</auth>; returns the server's answer. */
  auth(mechanism: string, data?: string) {
    this.client.write(JSON.stringify({ auth: mechanism, data: data === undefined ? undefined : encodeSaslData(b(data)) }) + '\n');
    return this.next();
  }

  respond(data: string | undefined, raw = false) {
    this.client.write(JSON.stringify({ data: raw ? data : data === undefined ? undefined : encodeSaslData(b(data)) }) + '\n');
    return this.next();
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.serverSocket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const unb64 = (s: string | undefined) => {
  const d = decodeSaslData(s);
  if (!d.ok || !d.data) throw new Error(`bad server data ${s}`);
  return d.data.toString('utf8');
};

/** A SCRAM client written from RFC 5802 §3 for the bindings node-postgres does not do (tls-exporter). */
async function scramClient(hash: 'SHA-1' | 'SHA-256' | 'SHA-512', password: string, gs2: string, cbind: Buffer, user = 'juliet') {
  const { createHash, createHmac, pbkdf2Sync, randomBytes } = await import('node:crypto');
  const node = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' }[hash];
  const cnonce = randomBytes(12).toString('base64');
  const bare = `n=${user},r=${cnonce}`;
  return {
    first: gs2 + bare,
    final(serverFirst: string) {
      const attrs = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]));
      const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), createHash(node).digest().length, node);
      const clientKey = createHmac(node, salted).update('Client Key').digest();
      const storedKey = createHash(node).update(clientKey).digest();
      const withoutProof = `c=${Buffer.concat([b(gs2), cbind]).toString('base64')},r=${attrs.r}`;
      const auth = `${bare},${serverFirst},${withoutProof}`;
      const sig = createHmac(node, storedKey).update(auth).digest();
      const proof = Buffer.from(clientKey.map((x, i) => x ^ sig[i]!));
      const serverKey = createHmac(node, salted).update('Server Key').digest();
      return {
        message: `${withoutProof},p=${proof.toString('base64')}`,
        serverSignature: `v=${createHmac(node, serverKey).update(auth).digest('base64')}`,
      };
    },
  };
}

describe('channel binding over a real TLS 1.3 socket pair', () => {
  it('tls-exporter: the server computes what the client exports (RFC 9266)', async () => {
    const w = await SaslWire.open('rsa-sha256');
    try {
      const clientSide = w.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding');
      expect(w.serverSocket.getProtocol()).toBe('TLSv1.3');
      expect(w.ctx.channelBinding('tls-exporter')).toEqual(clientSide);
      expect(w.ctx.channelBindingTypes()).toEqual(['tls-exporter', 'tls-server-end-point']);
      expect(w.mechanisms()).toEqual([
        'SCRAM-SHA-512-PLUS',
        'SCRAM-SHA-256-PLUS',
        'SCRAM-SHA-1-PLUS',
        'SCRAM-SHA-512',
        'SCRAM-SHA-256',
        'SCRAM-SHA-1',
        'PLAIN',
      ]);
    } finally {
      await w.close();
    }
  });

  for (const hash of ['SHA-1', 'SHA-256', 'SHA-512'] as const) {
    it(`SCRAM-${hash}-PLUS with tls-exporter succeeds and the server signature verifies`, async () => {
      const w = await SaslWire.open('rsa-sha256');
      try {
        const cb = w.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding');
        const c = await scramClient(hash, 'r0m30myr0m30', 'p=tls-exporter,,', cb);
        const r1 = await w.auth(`SCRAM-${hash}-PLUS`, c.first);
        expect(r1.challenge).toBeDefined();
        const fin = c.final(unb64(r1.challenge));
        const r2 = await w.respond(fin.message);
        expect(r2.username).toBe('juliet');
        expect(unb64(r2.success)).toBe(fin.serverSignature);
      } finally {
        await w.close();
      }
    });
  }

  it('tls-exporter data of another connection is refused (channel-bindings-dont-match)', async () => {
    const w1 = await SaslWire.open('rsa-sha256');
    const w2 = await SaslWire.open('rsa-sha256');
    try {
      const foreign = w2.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding');
      const c = await scramClient('SHA-256', 'r0m30myr0m30', 'p=tls-exporter,,', foreign);
      const r1 = await w1.auth('SCRAM-SHA-256-PLUS', c.first);
      const r2 = await w1.respond(c.final(unb64(r1.challenge)).message);
      expect(r2.failure).toBe('not-authorized');
      expect(r2.text).toMatch(/channel-bindings-dont-match/);
    } finally {
      await w1.close();
      await w2.close();
    }
  });

  for (const name of ['rsa-sha256', 'ec-sha384']) {
    it(`node-postgres's SCRAM-SHA-256-PLUS (tls-server-end-point, ${name}) authenticates and verifies the server`, async () => {
      const w = await SaslWire.open(name);
      try {
        const session = pgSasl.startSession(w.mechanisms(), w.client);
        expect(session.mechanism).toBe('SCRAM-SHA-256-PLUS');
        expect(session.response.startsWith('p=tls-server-end-point,,')).toBe(true);
        const r1 = await w.auth(session.mechanism, session.response);
        await pgSasl.continueSession(session, 'pg-password', unb64(r1.challenge), w.client);
        const r2 = await w.respond(session.response);
        expect(r2.username).toBe('*');
        pgSasl.finalizeSession(session, unb64(r2.success)); // throws when the server signature is wrong
      } finally {
        await w.close();
      }
    });
  }

  it('tls-server-end-point hashes per RFC 5929 §4.1 (the certificate signature hash, MD5/SHA-1 → SHA-256)', async () => {
    expect(certificateSignatureHash(certs['rsa-sha256']!.der)).toBe('sha256');
    expect(serverEndPointHash(certs['rsa-sha256']!.der)).toBe('sha256');
    expect(certificateSignatureHash(certs['ec-sha384']!.der)).toBe('sha384');
    expect(serverEndPointHash(certs['ec-sha384']!.der)).toBe('sha384');
    expect(certificateSignatureHash(certs['rsa-sha1']!.der)).toBe('sha1');
    expect(serverEndPointHash(certs['rsa-sha1']!.der)).toBe('sha256');
    expect(serverEndPointHash(certs['rsa-sha512']!.der)).toBe('sha512');
    expect(serverEndPointHash(certs['pss-sha384']!.der)).toBe('sha384');
    // Two different hashes (PSS with another MGF1 hash) or none (Ed25519): undefined.
    expect(serverEndPointHash(certs['pss-mixed']!.der)).toBeUndefined();
    expect(serverEndPointHash(certs['ed25519']!.der)).toBeUndefined();
    expect(serverEndPointHash(Buffer.from('not a certificate'))).toBeUndefined();
    const w = await SaslWire.open('ec-sha384');
    try {
      const { createHash } = await import('node:crypto');
      const peer = w.client.getPeerCertificate().raw;
      expect(w.ctx.channelBinding('tls-server-end-point')).toEqual(createHash('sha384').update(peer).digest());
    } finally {
      await w.close();
    }
  });

  it('an Ed25519 certificate offers tls-exporter only; -PLUS still works with it', async () => {
    const w = await SaslWire.open('ed25519');
    try {
      expect(w.ctx.channelBindingTypes()).toEqual(['tls-exporter']);
      const c = await scramClient('SHA-256', 'r0m30myr0m30', 'p=tls-server-end-point,,', Buffer.alloc(32));
      expect((await w.auth('SCRAM-SHA-256-PLUS', c.first)).failure).toBe('malformed-request');
    } finally {
      await w.close();
    }
  });

  it("downgrade: node-postgres's 'y' flag is refused where -PLUS is offered (RFC 5802 §6)", async () => {
    // The attacker strips the -PLUS mechanisms from what the client sees.
    const w = await SaslWire.open('rsa-sha256');
    try {
      const stripped = w.mechanisms().filter((m) => !m.endsWith('-PLUS'));
      const session = pgSasl.startSession(stripped, w.client);
      expect(session.response.startsWith('y,,')).toBe(true);
      const r1 = await w.auth(session.mechanism, session.response);
      expect(r1.failure).toBe('not-authorized');
      expect(r1.text).toMatch(/server-does-support-channel-binding/);
    } finally {
      await w.close();
    }
  });

  it("'y' is accepted where the server has no channel binding (no -PLUS offered)", async () => {
    const session = pgSasl.startSession(['SCRAM-SHA-256'], { getPeerCertificate: () => ({}) });
    expect(session.response.startsWith('y,,')).toBe(true);
    const ex = mech('SCRAM-SHA-256').start(ctxOf());
    const s1 = await ex.step(b(session.response));
    await pgSasl.continueSession(session, 'pg-password', str(s1), { getPeerCertificate: () => ({}) });
    const s2 = await ex.step(b(session.response));
    expect(s2.kind).toBe('success');
    pgSasl.finalizeSession(session, str(s2));
  });

  it('XEP-0440 feature lists the types', () => {
    expect(channelBindingFeature(['tls-exporter', 'tls-server-end-point']).toString()).toBe(
      "<sasl-channel-binding xmlns=\"urn:xmpp:sasl-cb:0\"><channel-binding type=\"tls-exporter\"/><channel-binding type=\"tls-server-end-point\"/></sasl-channel-binding>",
    );
  });
});

describe('SCRAM with real clients, wrong passwords, unknown users', () => {
  it('sasl-scram-sha-1 (through saslmechanisms) logs in over TLS without an initial response', async () => {
    const w = await SaslWire.open('rsa-sha256');
    try {
      const factory = new SaslFactory();
      factory.use(ScramSha1Client);
      const client = factory.create(['SCRAM-SHA-1']);
      const cred = { username: 'juliet', password: 'r0m30myr0m30' };
      // No initial response: the server asks with an empty challenge ("=").
      const r0 = await w.auth('SCRAM-SHA-1');
      expect(r0.challenge).toBe('=');
      const r1 = await w.respond(client.response(cred));
      client.challenge(unb64(r1.challenge));
      const r2 = await w.respond(await client.response(cred));
      expect(r2.username).toBe('juliet');
      expect(unb64(r2.success)).toBe(`v=${Buffer.from(client._serverSignature).toString('base64')}`);
    } finally {
      await w.close();
    }
  });

  async function attempt(user: string, password: string, hash: 'SHA-1' | 'SHA-256' = 'SHA-256', ctx = ctxOf()) {
    const c = await scramClient(hash, password, 'n,,', Buffer.alloc(0), user);
    const ex = mech(`SCRAM-${hash}`).start(ctx);
    const s1 = await ex.step(b(c.first));
    if (s1.kind !== 'challenge') return { s1, s2: s1, serverFirst: '' };
    const serverFirst = str(s1);
    const s2 = await ex.step(b(c.final(serverFirst).message));
    return { s1, s2, serverFirst };
  }
  const saltOf = (serverFirst: string) => /,s=([^,]+),/.exec(serverFirst)?.[1];
  const iterOf = (serverFirst: string) => /,i=(\d+)/.exec(serverFirst)?.[1];

  it('a wrong password fails with not-authorized', async () => {
    const { s2 } = await attempt('juliet', 'wrong');
    expectFailure(s2, 'not-authorized');
    expect(s2.kind === 'failure' && s2.text).toBe(WRONG_CREDENTIALS);
  });

  it('the user name is prepared as a localpart (case-insensitive)', async () => {
    const { s2 } = await attempt('Juliet', 'r0m30myr0m30');
    expect(s2).toMatchObject({ kind: 'success', username: 'juliet' });
  });

  it('an unknown user looks like a wrong password: same failure, stable salt, same iterations', async () => {
    const known = await attempt('juliet', 'wrong');
    const u1 = await attempt('nobody', 'whatever');
    const u2 = await attempt('nobody', 'other');
    const other = await attempt('somebody-else', 'x');
    expect(u1.s2).toEqual({ ...known.s2, username: 'nobody' });
    expect(saltOf(u1.serverFirst)).toBe(saltOf(u2.serverFirst));
    expect(saltOf(u1.serverFirst)).not.toBe(saltOf(other.serverFirst));
    expect(Buffer.from(saltOf(u1.serverFirst)!, 'base64').length).toBe(Buffer.from(saltOf(known.serverFirst)!, 'base64').length);
    expect(iterOf(u1.serverFirst)).toBe(iterOf(known.serverFirst));
    // Stable across restarts: the decoy secret is in storage, not in the process.
    const again = await attempt('nobody', 'x', 'SHA-256', ctxOf({ accounts: createAccounts(storage, HOST) }));
    expect(saltOf(again.serverFirst)).toBe(saltOf(u1.serverFirst));
    // Even the right proof for a guessed decoy cannot succeed: no password matches a decoy.
    expect(u1.s2.kind).toBe('failure');
  });

  it('a name that cannot be a localpart fails like an unknown user', async () => {
    const { s1, s2 } = await attempt('a@b', 'x');
    expect(s1.kind).toBe('challenge');
    expectFailure(s2, 'not-authorized', new RegExp(WRONG_CREDENTIALS));
  });

  it('saslname escapes: =2C and =3D decode to , and =', async () => {
    await accounts.create('a,b=c', 'pw-escape');
    const { s2 } = await attempt('a=2Cb=3Dc', 'pw-escape');
    expect(s2).toMatchObject({ kind: 'success', username: 'a,b=c' });
  });
});

describe('SCRAM malformed messages', () => {
  const first = async (msg: string | Buffer | undefined, name = 'SCRAM-SHA-256', ctx = ctxOf()) =>
    mech(name).start(ctx).step(typeof msg === 'string' ? b(msg) : msg);

  const badFirst: [string, string, RegExp?][] = [
    ['x,,n=juliet,r=abc', 'malformed-request'],
    ['n', 'malformed-request'],
    ['n,n=juliet,r=abc', 'malformed-request'],
    ['n,b=x,n=juliet,r=abc', 'malformed-request'],
    ['n,,r=abc,n=juliet', 'malformed-request'], // attribute order
    ['n,,n=juliet', 'malformed-request'], // no nonce
    ['n,,n=juliet,r=', 'malformed-request'], // empty nonce
    ['n,,n=juliet,r=a\u0001b', 'malformed-request'], // unprintable nonce
    ['n,,n=juliet,r=ab\u00e9', 'malformed-request'], // non-ASCII nonce
    ['n,,n=,r=abc', 'malformed-request'], // empty user name
    ['n,,n=jul=iet,r=abc', 'malformed-request', /invalid-username-encoding/],
    ['n,,n=jul=2Ciet=3,r=abc', 'malformed-request', /invalid-username-encoding/],
    ['n,a=ju=x,n=juliet,r=abc', 'malformed-request', /invalid-username-encoding/],
    ['n,,m=ext,n=juliet,r=abc', 'malformed-request', /extensions-not-supported/],
    ['n,,n=juliet,r=abc,1=bad', 'malformed-request'], // extension name must be ALPHA
    ['n,,n=juliet,r=abc,x', 'malformed-request'],
    ['p=tls-exporter,,n=juliet,r=abc', 'malformed-request', /-PLUS/], // binding on a non-PLUS mechanism
    ['p=bad name,,n=juliet,r=abc', 'malformed-request'],
    ['n,a=romeo@example.org,n=juliet,r=abc', 'invalid-authzid'],
    ['n,a=juliet@example.org/balcony,n=juliet,r=abc', 'invalid-authzid'],
    ['n,a=juliet@other.example,n=juliet,r=abc', 'invalid-authzid'],
  ];
  for (const [msg, cond, text] of badFirst) {
    it(`client-first ${JSON.stringify(msg)} → ${cond}`, async () => expectFailure(await first(msg), cond, text));
  }

  it('an unknown extension after the nonce is ignored', async () => {
    expect((await first('n,,n=juliet,r=abc,x=whatever')).kind).toBe('challenge');
  });

  it('authzid equal to the own bare JID is accepted (also case-insensitively prepared)', async () => {
    expect((await first('n,a=juliet@example.org,n=juliet,r=abc')).kind).toBe('challenge');
    expect((await first('n,a=Juliet@Example.org,n=juliet,r=abc')).kind).toBe('challenge');
  });

  it('empty, non-UTF-8 and oversized first messages are malformed-request', async () => {
    expectFailure(await first(Buffer.alloc(0)), 'malformed-request');
    expectFailure(await first(Buffer.from([0x6e, 0x2c, 0x2c, 0xff, 0xfe])), 'malformed-request', /UTF-8/);
    expectFailure(await first(`n,,n=juliet,r=${'a'.repeat(5000)}`), 'malformed-request', /larger than 4096/);
    const small = saslMechanisms({ maxMessageSize: 64 }).find((m) => m.name === 'SCRAM-SHA-1')!;
    expectFailure(await small.start(ctxOf()).step(b(`n,,n=juliet,r=${'a'.repeat(60)}`)), 'malformed-request', /larger than 64/);
  });

  it('no initial response: one empty challenge, a second empty response is malformed', async () => {
    const ex = mech('SCRAM-SHA-1').start(ctxOf());
    expect(await ex.step(undefined)).toEqual({ kind: 'challenge', data: Buffer.alloc(0) });
    expectFailure(await ex.step(undefined), 'malformed-request');
  });

  it('-PLUS mechanisms need p=, and only offered types', async () => {
    const ctx = ctxOf({ bindings: { 'tls-exporter': Buffer.alloc(32, 1) } });
    expectFailure(await first('n,,n=juliet,r=abc', 'SCRAM-SHA-256-PLUS', ctx), 'malformed-request', /requires channel binding/);
    expectFailure(await first('y,,n=juliet,r=abc', 'SCRAM-SHA-256-PLUS', ctx), 'malformed-request');
    expectFailure(await first('p=tls-unique,,n=juliet,r=abc', 'SCRAM-SHA-256-PLUS', ctx), 'malformed-request', /unsupported-channel-binding-type/);
    expect((await first('p=tls-exporter,,n=juliet,r=abc', 'SCRAM-SHA-256-PLUS', ctx)).kind).toBe('challenge');
    expect(mech('SCRAM-SHA-256-PLUS').available(ctxOf())).toBe(false);
    expect(mech('SCRAM-SHA-256-PLUS').available(ctx)).toBe(true);
  });

  async function started(gs2 = 'n,,', ctx = ctxOf()) {
    const ex = mech('SCRAM-SHA-256', { nonce: () => 'SERVER' }).start(ctx);
    const s1 = await ex.step(b(`${gs2}n=juliet,r=CLIENT`));
    expect(s1.kind).toBe('challenge');
    return ex;
  }
  const proof = Buffer.alloc(32, 7).toString('base64');
  const badFinal: [string, string, RegExp?][] = [
    [`c=biws,r=CLIENTSERVERX,p=${proof}`, 'malformed-request', /nonce/],
    [`c=biws,r=CLIENT,p=${proof}`, 'malformed-request', /nonce/],
    [`r=CLIENTSERVER,c=biws,p=${proof}`, 'malformed-request'], // order
    [`p=${proof},c=biws,r=CLIENTSERVER`, 'malformed-request'],
    [`c=biws,r=CLIENTSERVER`, 'malformed-request'], // no proof
    [`c=biws,r=CLIENTSERVER,p=${proof},x=1`, 'malformed-request'], // proof not last
    [`c=biws,r=CLIENTSERVER,r=again,p=${proof}`, 'malformed-request'], // repeated attribute
    [`c=bi!s,r=CLIENTSERVER,p=${proof}`, 'incorrect-encoding'],
    [`c=biws,r=CLIENTSERVER,p=AAA`, 'incorrect-encoding'],
    [`c=eSws,r=CLIENTSERVER,p=${proof}`, 'not-authorized', /channel-bindings-dont-match/], // 'y,,' instead of 'n,,'
    [`c=biws,r=CLIENTSERVER,p=AAAA`, 'not-authorized', new RegExp(WRONG_CREDENTIALS)], // proof of the wrong length
    [`c=biws,r=CLIENTSERVER,x=ext,p=${proof}`, 'not-authorized', new RegExp(WRONG_CREDENTIALS)], // extension allowed, proof wrong
  ];
  for (const [msg, cond, text] of badFinal) {
    it(`client-final ${JSON.stringify(msg)} → ${cond}`, async () => {
      const ex = await started();
      expectFailure(await ex.step(b(msg)), cond, text);
      expectFailure(await ex.step(b(msg)), 'malformed-request', /already over/);
    });
  }

  it('missing, empty or oversized final message', async () => {
    expectFailure(await (await started()).step(undefined), 'malformed-request');
    expectFailure(await (await started()).step(Buffer.alloc(0)), 'malformed-request');
    expectFailure(await (await started()).step(b('c=biws,r=CLIENTSERVER,p=' + 'A'.repeat(5000))), 'malformed-request');
  });

  it('bad base64 around the exchange is incorrect-encoding; "=" is an empty response', async () => {
    expectFailure(await stepBase64(mech('SCRAM-SHA-1').start(ctxOf()), 'not*base64'), 'incorrect-encoding');
    expectFailure(await stepBase64(mech('SCRAM-SHA-1').start(ctxOf()), 'bmFtZQ'), 'incorrect-encoding'); // missing padding
    expect(decodeSaslData('=')).toEqual({ ok: true, data: Buffer.alloc(0) });
    expect(decodeSaslData('')).toEqual({ ok: true, data: undefined });
    expect(decodeSaslData(undefined)).toEqual({ ok: true, data: undefined });
    expect(decodeSaslData('bm,,')).toEqual({ ok: false });
    expect(decodeSaslData('bmFt\nZQ==')).toEqual({ ok: true, data: b('name') });
    expect(encodeSaslData(Buffer.alloc(0))).toBe('=');
    expectFailure(await stepBase64(mech('SCRAM-SHA-1').start(ctxOf()), '='), 'malformed-request');
  });

  it('concurrent steps on one exchange are refused, not interleaved', async () => {
    const ex = mech('SCRAM-SHA-256').start(ctxOf());
    const [a, c] = await Promise.all([ex.step(b('n,,n=juliet,r=abc')), ex.step(b('n,,n=juliet,r=abc'))]);
    expect(a.kind).toBe('challenge');
    expectFailure(c, 'malformed-request');
  });

  it('a storage failure is temporary-auth-failure, not a crash', async () => {
    const broken: Accounts = { ...accounts, scram: async () => Promise.reject(new Error('disk gone')) };
    expectFailure(await first('n,,n=juliet,r=abc', 'SCRAM-SHA-256', ctxOf({ accounts: broken })), 'temporary-auth-failure');
  });
});

describe('PLAIN', () => {
  const plain = (user: string, password: string, authzid?: string) => b(new PlainClient().response({ username: user, password, authzid }));

  it('is offered and works inside TLS only; outside: encryption-required', async () => {
    expect(mech('PLAIN').available(ctxOf({ secure: false }))).toBe(false);
    expectFailure(await mech('PLAIN').start(ctxOf({ secure: false })).step(plain('juliet', 'r0m30myr0m30')), 'encryption-required');
    expect(await mech('PLAIN').start(ctxOf()).step(plain('juliet', 'r0m30myr0m30'))).toEqual({ kind: 'success', username: 'juliet' });
    expect(saslMechanisms({ plain: false }).map((m) => m.name)).not.toContain('PLAIN');
  });

  it('over a real TLS connection with the sasl-plain client', async () => {
    const w = await SaslWire.open('rsa-sha256');
    try {
      const r = await w.auth('PLAIN', new PlainClient().response({ username: 'juliet', password: 'r0m30myr0m30' }));
      expect(r).toMatchObject({ success: '', username: 'juliet' });
    } finally {
      await w.close();
    }
  });

  it('wrong password and unknown user: same not-authorized', async () => {
    const wrong = await mech('PLAIN').start(ctxOf()).step(plain('juliet', 'nope'));
    const unknown = await mech('PLAIN').start(ctxOf()).step(plain('nobody', 'nope'));
    expectFailure(wrong, 'not-authorized');
    expect(unknown).toEqual({ ...wrong, username: 'nobody' });
  });

  it('authzid rules as for SCRAM', async () => {
    expect((await mech('PLAIN').start(ctxOf()).step(plain('juliet', 'r0m30myr0m30', 'juliet@example.org'))).kind).toBe('success');
    expectFailure(await mech('PLAIN').start(ctxOf()).step(plain('juliet', 'r0m30myr0m30', 'romeo@example.org')), 'invalid-authzid');
  });

  it('malformed PLAIN messages', async () => {
    const step = (buf: Buffer | undefined) => mech('PLAIN').start(ctxOf()).step(buf);
    expectFailure(await step(b('juliet')), 'malformed-request');
    expectFailure(await step(b('\0juliet')), 'malformed-request');
    expectFailure(await step(b('\0juliet\0pw\0extra')), 'malformed-request');
    expectFailure(await step(b('\0\0pw')), 'malformed-request');
    expectFailure(await step(b('\0juliet\0')), 'malformed-request');
    expectFailure(await step(Buffer.from([0, 0xff, 0, 0x41])), 'malformed-request', /UTF-8/);
    expectFailure(await step(Buffer.alloc(5000, 0x41)), 'malformed-request', /larger/);
    const ex = mech('PLAIN').start(ctxOf());
    expect((await ex.step(undefined)).kind).toBe('challenge');
    expect((await ex.step(plain('juliet', 'r0m30myr0m30'))).kind).toBe('success');
    expectFailure(await ex.step(plain('juliet', 'r0m30myr0m30')), 'malformed-request');
  });
});

describe('failed-login limiter in the mechanisms', () => {
  async function scramLogin(user: string, password: string, ctx: SaslContext) {
    const c = await scramClient('SHA-256', password, 'n,,', Buffer.alloc(0), user);
    const ex = mech('SCRAM-SHA-256').start(ctx);
    const s1 = await ex.step(b(c.first));
    if (s1.kind !== 'challenge') return s1;
    return ex.step(b(c.final(str(s1)).message));
  }

  it('by address: after 10 failures from one address even the right password gets temporary-auth-failure', async () => {
    let t = 1_000_000;
    const lim = limiter(10, 1000, () => t);
    const ctx = ctxOf({ limiter: lim, address: '192.0.2.7' });
    for (let i = 0; i < 10; i++) expectFailure(await scramLogin(`user${i}`, 'guess', ctx), 'not-authorized');
    const blocked = await scramLogin('juliet', 'r0m30myr0m30', ctx);
    expectFailure(blocked, 'temporary-auth-failure', /wait \d+ seconds/);
    expect(blocked.kind === 'failure' && blocked.retryAfter).toBeGreaterThan(0);
    // PLAIN shares the limiter and does not even run PBKDF2.
    expectFailure(await mech('PLAIN').start(ctx).step(b('\0juliet\0r0m30myr0m30')), 'temporary-auth-failure');
    // Another address is unaffected.
    expect((await scramLogin('juliet', 'r0m30myr0m30', { ...ctx, address: '192.0.2.8' })).kind).toBe('success');
    // Two minutes later the window has passed.
    t += 120_000;
    expect((await scramLogin('juliet', 'r0m30myr0m30', ctx)).kind).toBe('success');
  });

  it('by account: 20 failures from 20 addresses lock the account, wherever the next try comes from', async () => {
    const lim = limiter(1000, 20);
    for (let i = 0; i < 20; i++) {
      expectFailure(await scramLogin('juliet', 'guess', ctxOf({ limiter: lim, address: `198.51.100.${i}` })), 'not-authorized');
    }
    const ctx = ctxOf({ limiter: lim, address: '203.0.113.1' });
    expectFailure(await scramLogin('juliet', 'r0m30myr0m30', ctx), 'temporary-auth-failure');
    expectFailure(await mech('PLAIN').start(ctx).step(b('\0juliet\0r0m30myr0m30')), 'temporary-auth-failure');
    // Other accounts from the same address are fine.
    expect((await scramLogin('*', 'pg-password', ctx)).kind).toBe('success');
  });

  it('unknown accounts are counted and locked like real ones (no enumeration through the limiter)', async () => {
    const lim = limiter(1000, 3);
    for (let i = 0; i < 3; i++) await scramLogin('ghost', 'x', ctxOf({ limiter: lim, address: `10.9.9.${i}` }));
    expectFailure(await scramLogin('ghost', 'x', ctxOf({ limiter: lim })), 'temporary-auth-failure');
  });

  it('a success forgives the own typos from that address only', async () => {
    const lim = limiter(3, 1000);
    const ctx = ctxOf({ limiter: lim, address: '192.0.2.50' });
    await scramLogin('juliet', 'typo', ctx);
    await scramLogin('juliet', 'typo', ctx);
    expect((await scramLogin('juliet', 'r0m30myr0m30', ctx)).kind).toBe('success');
    await scramLogin('juliet', 'typo', ctx);
    await scramLogin('juliet', 'typo', ctx);
    // 2 forgiven, 2 new: still under 3.
    expect((await scramLogin('juliet', 'r0m30myr0m30', ctx)).kind).toBe('success');
    // Failures against other accounts are not forgiven by logging into this one.
    for (const u of ['x1', 'x2', 'x3']) await scramLogin(u, 'guess', ctx);
    expect((await scramLogin('juliet', 'r0m30myr0m30', ctx)).kind).toBe('failure');
  });
});
