// Hostile and broken input over real sockets: each gets the right stream error (RFC 6120 §4.9.3)
// and ends only its own stream, while a witness session on the same server keeps working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { failureCondition, loggedIn, NS_SASL, RawStream } from './helpers/raw.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let witness: RawStream;
const opts = () => ({ port: srv.port, domain: srv.host, ca: srv.certPem });

beforeAll(async () => {
  srv = await startTestServer({ limits: { stanzaSize: 64 * 1024, preAuthSize: 8 * 1024, depth: 16, stanzasPerSecond: 100 } });
  for (const u of ['alice', 'bob', 'witness']) await srv.addUser(u, `${u}-secret`);
  witness = (await loggedIn(opts(), 'witness', 'witness-secret', 'w')).s;
});

afterAll(async () => {
  witness?.destroy();
  await srv?.stop();
});

/** The witness still gets answers: the server is alive and its other sessions unharmed. */
async function witnessAlive(): Promise<void> {
  const r = await witness.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, srv.host);
  expect(r.attrs.type).toBe('result');
}

async function authenticated(): Promise<RawStream> {
  return (await loggedIn(opts(), 'alice', 'alice-secret')).s;
}

const header = `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

describe('malformed and restricted XML', () => {
  it('garbage bytes: not-well-formed', async () => {
    const s = await new RawStream(opts()).connect();
    s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    expect(await s.streamError()).toBe('not-well-formed');
    await s.closed;
    await witnessAlive();
  });

  it('invalid UTF-8 inside a stanza: not-well-formed', async () => {
    const s = await authenticated();
    s.write(Buffer.concat([Buffer.from(`<message to='bob@localhost'><body>`), Buffer.from([0xc3, 0x28]), Buffer.from('</body></message>')]));
    expect(await s.streamError()).toBe('not-well-formed');
    await witnessAlive();
  });

  it('a DOCTYPE: restricted-xml', async () => {
    const s = await new RawStream(opts()).connect();
    s.write(`<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY x 'y'>]>` + header.slice(21));
    expect(await s.streamError()).toBe('restricted-xml');
    await witnessAlive();
  });

  it('an entity-expansion bomb is never expanded: restricted-xml at once', async () => {
    const s = await authenticated();
    const levels = Array.from({ length: 10 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('');
    const started = process.memoryUsage().rss;
    s.write(`<!DOCTYPE bomb [<!ENTITY l0 "lol">${levels}]><message><body>&l10;</body></message>`);
    expect(await s.streamError()).toBe('restricted-xml');
    expect(process.memoryUsage().rss - started).toBeLessThan(64 * 1024 * 1024);
    await witnessAlive();
  });

  it('an undeclared entity reference: restricted-xml', async () => {
    const s = await authenticated();
    s.write(`<message to='bob@localhost'><body>&nbsp;</body></message>`);
    expect(await s.streamError()).toBe('restricted-xml');
    await witnessAlive();
  });

  it('a comment and a processing instruction: restricted-xml', async () => {
    const a = await authenticated();
    a.write(`<message to='bob@localhost'><!-- hi --><body>x</body></message>`);
    expect(await a.streamError()).toBe('restricted-xml');
    const b = await authenticated();
    b.write(`<?php echo 1; ?>`);
    expect(await b.streamError()).toBe('restricted-xml');
    await witnessAlive();
  });

  it('mismatched tags and an unbound prefix', async () => {
    const a = await authenticated();
    a.write(`<message><body>x</message>`);
    expect(await a.streamError()).toBe('not-well-formed');
    const b = await authenticated();
    b.write(`<message><foo:bar/></message>`);
    expect(['bad-namespace-prefix', 'not-well-formed']).toContain(await b.streamError());
    await witnessAlive();
  });
});

describe('limits', () => {
  it('an oversize stanza after login (limits.stanzaSize): policy-violation, even in small pieces', async () => {
    const s = await authenticated();
    s.write(`<message to='bob@localhost'><body>`);
    const piece = 'x'.repeat(1000);
    for (let i = 0; i < 80 && !s.ended; i++) {
      s.write(piece);
      await new Promise((r) => setImmediate(r));
    }
    expect(await s.streamError()).toBe('policy-violation');
    await witnessAlive();
  });

  it('before login the limit is limits.preAuthSize', async () => {
    const s = await new RawStream(opts()).connect();
    await s.open();
    await s.starttls();
    await s.open();
    s.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${'A'.repeat(10 * 1024)}</auth>`);
    expect(await s.streamError()).toBe('policy-violation');
    await witnessAlive();
  });

  it('nesting deeper than limits.depth: policy-violation', async () => {
    const s = await authenticated();
    s.write(`<message>${'<x>'.repeat(40)}`);
    expect(await s.streamError()).toBe('policy-violation');
    await witnessAlive();
  });

  it('a stanza before authentication: not-authorized', async () => {
    const r = new RawStream(opts());
    await r.secure();
    r.write(`<presence/>`);
    expect(await r.streamError()).toBe('not-authorized');
    await witnessAlive();
  });

  it('a flood of stanzas is throttled, not lost: all arrive, in order', async () => {
    const a = await authenticated();
    const { s: b, jid } = await loggedIn(opts(), 'bob', 'bob-secret', 'flood');
    const n = 400; // four seconds' worth at limits.stanzasPerSecond = 100
    let burst = '';
    for (let i = 0; i < n; i++) burst += `<message to='${jid}' type='chat'><body>${i}</body></message>`;
    a.write(burst);
    const got: string[] = [];
    while (got.length < n) got.push((await b.next((el) => el.name === 'message', 15_000)).getChildText('body'));
    expect(got).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    await witnessAlive();
    a.destroy();
    b.destroy();
  }, 30_000);
});

describe('logins', () => {
  it('a flood of wrong passwords from one address gets temporary-auth-failure; other sessions keep working', async () => {
    // A server of its own: the limiter counts per address and the tests all come from 127.0.0.1.
    const own = await startTestServer({ limits: { loginFailuresPerAddress: 5, loginFailuresPerAccount: 50 } });
    await own.addUser('victim', 'right-password');
    const o = { port: own.port, domain: own.host, ca: own.certPem };
    const bystander = (await loggedIn(o, 'victim', 'right-password', 'already-in')).s;
    const conditions: string[] = [];
    for (let i = 0; i < 8; i++) {
      const s = new RawStream(o);
      await s.secure();
      conditions.push(failureCondition(await s.scram('SCRAM-SHA-256', 'victim', `guess-${i}`))!);
      s.destroy();
    }
    expect(conditions.slice(0, 5)).toEqual(Array(5).fill('not-authorized'));
    expect(conditions.slice(5)).toEqual(Array(3).fill('temporary-auth-failure'));
    // Even the right password waits while the address is blocked: guesses learn nothing.
    const s = new RawStream(o);
    await s.secure();
    expect(failureCondition(await s.scram('SCRAM-SHA-256', 'victim', 'right-password'))).toBe('temporary-auth-failure');
    s.destroy();
    const r = await bystander.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, own.host);
    expect(r.attrs.type).toBe('result');
    bystander.destroy();
    await own.stop();
  });

  it('more than limits.authTimeout without logging in: connection-timeout', async () => {
    const own = await startTestServer({ limits: { authTimeout: 1 } });
    const s = new RawStream({ port: own.port, domain: own.host, ca: own.certPem });
    await s.secure();
    expect(await s.streamError(4000)).toBe('connection-timeout');
    await own.stop();
  });

  it('more connections from one address than limits.connectionsPerAddress are refused', async () => {
    const own = await startTestServer({ limits: { connectionsPerAddress: 3 } });
    const o = { port: own.port, domain: own.host, ca: own.certPem };
    const open = await Promise.all([1, 2, 3].map(() => new RawStream(o).connect()));
    const fourth = await new RawStream(o).connect();
    await fourth.closed;
    expect(fourth.received).toBe('');
    for (const s of open) s.destroy();
    await own.stop();
  });
});
