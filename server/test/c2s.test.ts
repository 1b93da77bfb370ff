// RFC 6120 client streams against the real server: STARTTLS required, SASL (SCRAM-SHA-1 through
// a real client library; SCRAM-SHA-256/512, -PLUS and PLAIN by hand), resource binding with
// conflicts, legacy session, direct TLS (XEP-0368), stanza checks, stream errors.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { failureCondition, loggedIn, NS_BIND, NS_SASL, NS_TLS, RawStream } from './helpers/raw.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
const raw = (directTls = false) => new RawStream({ port: directTls ? srv.directTlsPort : srv.port, domain: srv.host, ca: srv.certPem, directTls });

beforeAll(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'alice-secret');
  await srv.addUser('bob', 'bob-secret');
  await srv.addUser('ünïcode', 'pässwörd');
});

afterAll(async () => {
  await srv?.stop();
});

describe('before TLS', () => {
  it('offers only STARTTLS, marked required', async () => {
    const s = await raw().connect();
    const f = await s.open();
    expect(f.getChild('starttls', NS_TLS)?.getChild('required')).toBeDefined();
    expect(f.getChild('mechanisms', NS_SASL)).toBeUndefined();
    expect(s.header.attrs.from).toBe(srv.host);
    expect(s.header.attrs.version).toBe('1.0');
    expect(s.header.attrs.id).toMatch(/.{16,}/);
    s.destroy();
  });

  it('refuses SASL PLAIN with encryption-required, and any stanza with a stream error', async () => {
    const s = await raw().connect();
    await s.open();
    s.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from('\0alice\0alice-secret').toString('base64')}</auth>`);
    expect(failureCondition(await s.next((el) => el.name === 'failure'))).toBe('encryption-required');
    s.write(`<message to='bob@${srv.host}'><body>in the clear</body></message>`);
    expect(await s.streamError()).toBe('policy-violation');
    await s.closed;
  });

  it('discards plaintext sent after <starttls/> (no command injection)', async () => {
    const s = await raw().connect();
    await s.open();
    // The injected stanza would be processed after TLS if the server kept its buffer.
    s.write(`<starttls xmlns='${NS_TLS}'/><iq type='get' id='injected'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await s.next((el) => el.name === 'proceed');
    const plain = s.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const { default: tlsMod } = await import('node:tls');
    const t = tlsMod.connect({ socket: plain, servername: srv.host, ca: srv.certPem });
    await new Promise<void>((res, rej) => t.once('secureConnect', res).once('error', rej));
    let text = '';
    t.on('data', (d) => (text += d.toString()));
    t.write(`<?xml version='1.0'?><stream:stream to='${srv.host}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    await new Promise((r) => setTimeout(r, 500));
    expect(text).toContain('<stream:features>');
    expect(text).not.toContain('injected');
    t.destroy();
  });
});

describe('SASL', () => {
  it('offers SCRAM with channel binding, plain SCRAM and PLAIN after TLS, and the XEP-0440 types', async () => {
    const s = raw();
    const f = await s.secure();
    const mechs = s.mechanisms();
    for (const m of ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'PLAIN']) expect(mechs).toContain(m);
    expect(mechs.indexOf('SCRAM-SHA-256-PLUS')).toBeLessThan(mechs.indexOf('PLAIN'));
    const cb = f.getChild('sasl-channel-binding', 'urn:xmpp:sasl-cb:0');
    expect(cb.getChildren('channel-binding').map((c: any) => c.attrs.type).sort()).toEqual(['tls-exporter', 'tls-server-end-point']);
    expect(f.getChild('starttls', NS_TLS)).toBeUndefined();
    s.destroy();
  });

  it('SCRAM-SHA-1 with a real client library (@xmpp/client), then chat', async () => {
    const a = await srv.client('alice', 'alice-secret', 'lib');
    const b = await srv.client('bob', 'bob-secret', 'lib');
    const got = new Promise<any>((resolve) => b.on('stanza', (st: any) => st.is('message') && resolve(st)));
    // The library logs in with SASL2 + Bind2 when offered: the resource is '<tag>/<server id>'.
    expect(b.jid.toString()).toMatch(new RegExp(`^bob@${srv.host}/lib/.+$`));
    await a.send(xml('message', { to: b.jid.toString(), type: 'chat' }, xml('body', {}, 'hello bob')));
    const m = await got;
    expect(m.attrs.from).toBe(a.jid.toString());
    expect(m.getChildText('body')).toBe('hello bob');
    await Promise.all([a.stop(), b.stop()]);
  });

  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    it(`${mech}: success verifies the server signature; the account name may be Unicode`, async () => {
      const s = raw();
      await s.secure();
      expect((await s.scram(mech, 'ünïcode', 'pässwörd')).name).toBe('success');
      expect(await s.bind('r1')).toBe(`ünïcode@${srv.host}/r1`);
      s.destroy();
    });
  }

  it('SCRAM-SHA-256-PLUS with tls-exporter and with tls-server-end-point', async () => {
    const s1 = raw();
    await s1.secure();
    const exporter = (s1.socket as tls.TLSSocket).exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    expect((await s1.scram('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret', { type: 'tls-exporter', data: exporter })).name).toBe('success');
    s1.destroy();

    const s2 = raw();
    await s2.secure();
    const der = new X509Certificate(srv.certPem).raw; // ECDSA with SHA-256: hashed with SHA-256 (RFC 5929 §4.1)
    const endPoint = createHash('sha256').update(der).digest();
    expect((await s2.scram('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret', { type: 'tls-server-end-point', data: endPoint })).name).toBe('success');
    s2.destroy();
  });

  it("the 'y' flag where -PLUS is offered is a downgrade and refused (RFC 5802 §6)", async () => {
    const s = raw();
    await s.secure();
    expect(failureCondition(await s.scram('SCRAM-SHA-256', 'alice', 'alice-secret', undefined, 'y'))).toBe('not-authorized');
    s.destroy();
  });

  it('channel-binding data of another connection is refused (a man in the middle)', async () => {
    const s = raw();
    await s.secure();
    const wrong = Buffer.alloc(32, 7);
    expect(failureCondition(await s.scram('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret', { type: 'tls-exporter', data: wrong }))).toBe('not-authorized');
    s.destroy();
  });

  it('a wrong password gets not-authorized, and the same stream may try again', async () => {
    const s = raw();
    await s.secure();
    expect(failureCondition(await s.scram('SCRAM-SHA-256', 'alice', 'not-her-password'))).toBe('not-authorized');
    expect(failureCondition(await s.scram('SCRAM-SHA-256', 'nobody-here', 'whatever'))).toBe('not-authorized');
    expect((await s.scram('SCRAM-SHA-256', 'alice', 'alice-secret')).name).toBe('success');
    s.destroy();
    await expect(srv.client('alice', 'wrong-password')).rejects.toThrow(/not-authorized/);
  });

  it('PLAIN works inside TLS', async () => {
    const s = raw();
    await s.secure();
    expect((await s.plain('bob', 'bob-secret')).name).toBe('success');
    await s.bind();
    s.destroy();
  });

  it('unknown mechanism, bad base64, abort', async () => {
    const s = raw();
    await s.secure();
    s.write(`<auth xmlns='${NS_SASL}' mechanism='DIGEST-MD5'/>`);
    expect(failureCondition(await s.next((el) => el.name === 'failure'))).toBe('invalid-mechanism');
    s.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>***not base64***</auth>`);
    expect(failureCondition(await s.next((el) => el.name === 'failure'))).toBe('incorrect-encoding');
    s.write(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-256'>${Buffer.from('n,,n=alice,r=abcdefgh').toString('base64')}</auth>`);
    await s.next((el) => el.name === 'challenge');
    s.write(`<abort xmlns='${NS_SASL}'/>`);
    expect(failureCondition(await s.next((el) => el.name === 'failure'))).toBe('aborted');
    s.destroy();
  });

  it('a stanza before authentication ends the stream with not-authorized', async () => {
    const s = raw();
    await s.secure();
    s.write(`<message to='bob@${srv.host}'><body>sneaky</body></message>`);
    expect(await s.streamError()).toBe('not-authorized');
    await s.closed;
  });
});

describe('resource binding', () => {
  it('binds the requested resource, or makes one up', async () => {
    const { s, jid } = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'alice', 'alice-secret', 'desk');
    expect(jid).toBe(`alice@${srv.host}/desk`);
    s.destroy();
    const two = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'alice', 'alice-secret');
    expect(two.jid).toMatch(new RegExp(`^alice@${srv.host}/.{4,}$`));
    two.s.destroy();
  });

  it('a second session with the same resource wins; the first gets <conflict/>', async () => {
    const first = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'bob', 'bob-secret', 'phone');
    const second = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'bob', 'bob-secret', 'phone');
    expect(second.jid).toBe(`bob@${srv.host}/phone`);
    expect(await first.s.streamError()).toBe('conflict');
    await first.s.closed;
    // The survivor is the one messages reach.
    const a = await srv.client('alice', 'alice-secret');
    await a.send(xml('message', { to: `bob@${srv.host}/phone`, type: 'chat' }, xml('body', {}, 'to the new one')));
    const m = await second.s.next((el) => el.name === 'message');
    expect(m.getChildText('body')).toBe('to the new one');
    second.s.destroy();
    await a.stop();
  });

  it('a resource that fails PRECIS is refused with bad-request', async () => {
    const s = raw();
    await s.secure();
    await s.scram('SCRAM-SHA-256', 'alice', 'alice-secret');
    await s.open();
    // U+0378 is unassigned: valid XML, refused by the OpaqueString profile.
    for (const bad of ['bad\u0378', 'x'.repeat(1024)]) {
      const r = await s.iq('set', `<bind xmlns='${NS_BIND}'><resource>${bad}</resource></bind>`);
      expect(r.attrs.type).toBe('error');
      expect(r.getChild('error').getChild('bad-request')).toBeDefined();
    }
    s.destroy();
  });

  it('the legacy session element is offered as optional and answered', async () => {
    const s = raw();
    await s.secure();
    await s.scram('SCRAM-SHA-256', 'alice', 'alice-secret');
    const f = await s.open();
    expect(f.getChild('bind', NS_BIND)).toBeDefined();
    expect(f.getChild('session', 'urn:ietf:params:xml:ns:xmpp-session')?.getChild('optional')).toBeDefined();
    await s.iq('set', `<bind xmlns='${NS_BIND}'/>`);
    const r = await s.iq('set', `<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>`);
    expect(r.attrs.type).toBe('result');
    s.destroy();
  });
});

describe('direct TLS (XEP-0368)', () => {
  it('negotiates ALPN xmpp-client and offers SASL at once', async () => {
    const s = raw(true);
    await s.connect();
    expect((s.socket as tls.TLSSocket).alpnProtocol).toBe('xmpp-client');
    await s.open();
    expect(s.features.getChild('starttls', NS_TLS)).toBeUndefined();
    expect(s.mechanisms()).toContain('SCRAM-SHA-256');
    expect((await s.scram('SCRAM-SHA-256', 'alice', 'alice-secret')).name).toBe('success');
    expect(await s.bind('direct')).toBe(`alice@${srv.host}/direct`);
    s.destroy();
  });
});

describe('stream and stanza errors', () => {
  it('unknown domain: host-unknown; wrong namespace: invalid-namespace; no version: unsupported-version', async () => {
    const a = await raw().connect();
    a.write(`<stream:stream to='elsewhere.example' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    expect(await a.streamError()).toBe('host-unknown');
    const b = await raw().connect();
    b.write(`<stream:stream to='${srv.host}' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>`);
    expect(await b.streamError()).toBe('invalid-namespace');
    const c = await raw().connect();
    c.write(`<stream:stream to='${srv.host}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    expect(await c.streamError()).toBe('unsupported-version');
    await Promise.all([a.closed, b.closed, c.closed]);
  });

  it('a client closing its stream gets the closing tag back', async () => {
    const { s } = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'alice', 'alice-secret');
    s.write('</stream:stream>');
    await s.closed;
    expect(s.received.trimEnd().endsWith('</stream:stream>')).toBe(true);
  });

  it('a forged from: invalid-from', async () => {
    const { s } = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'alice', 'alice-secret');
    s.write(`<message from='bob@${srv.host}/x' to='alice@${srv.host}'><body>forged</body></message>`);
    expect(await s.streamError()).toBe('invalid-from');
  });

  it('iqs: no id or bad type: bad-request; two payloads: bad-request; unknown payload: one service-unavailable; bad to: jid-malformed', async () => {
    const { s } = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'alice', 'alice-secret');
    s.write(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const noId = await s.next((el) => el.name === 'iq');
    expect(noId.getChild('error').getChild('bad-request')).toBeDefined();
    s.write(`<iq type='fetch' id='t1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect((await s.next((el) => el.attrs.id === 't1')).getChild('error').getChild('bad-request')).toBeDefined();
    const two = await s.iq('get', `<ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:version'/>`);
    expect(two.getChild('error').getChild('bad-request')).toBeDefined();
    const unknown = await s.iq('get', `<query xmlns='urn:example:nothing'/>`, srv.host);
    expect(unknown.attrs.type).toBe('error');
    expect(unknown.getChild('error').getChild('service-unavailable')).toBeDefined();
    const toUser = await s.iq('set', `<query xmlns='urn:example:nothing'/>`, `bob@${srv.host}`);
    expect(toUser.getChild('error').getChild('service-unavailable')).toBeDefined();
    const bad = await s.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, 'a@b@c');
    expect(bad.getChild('error').getChild('jid-malformed')).toBeDefined();
    // Exactly one answer each: nothing else arrives.
    await new Promise((r) => setTimeout(r, 300));
    expect(s.received.match(/<iq /g)?.length).toBe(7); // bind result + six answers
    s.destroy();
  });

  it('a remote domain is unreachable while federation is off: remote-server-not-found', async () => {
    const { s } = await loggedIn({ port: srv.port, domain: srv.host, ca: srv.certPem }, 'alice', 'alice-secret');
    s.write(`<message to='someone@remote.example' type='chat' id='m1'><body>hi</body></message>`);
    const e = await s.next((el) => el.name === 'message' && el.attrs.type === 'error');
    expect(e.attrs.id).toBe('m1');
    expect(e.getChild('error').getChild('remote-server-not-found')).toBeDefined();
    s.destroy();
  });
});

describe('graceful shutdown', () => {
  it('every stream gets system-shutdown and a closing tag; accepted offline messages survive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roost-c2s-'));
    const own = await startTestServer({ dataDir: dir });
    await own.addUser('carol', 'carol-secret');
    await own.addUser('dave', 'dave-secret');
    const { s } = await loggedIn({ port: own.port, domain: own.host, ca: own.certPem }, 'carol', 'carol-secret');
    s.write(`<presence/>`);
    s.write(`<message to='dave@${own.host}' type='chat'><body>kept</body></message>`);
    s.write(`<message to='dave@${own.host}' type='chat'><body>kept too</body></message>`);
    // The pings are answered after the messages (in order), so both are stored by then.
    await s.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, own.host);
    const stopped = own.server.stop();
    expect(await s.streamError()).toBe('system-shutdown');
    await s.closed;
    expect(s.received.trimEnd().endsWith('</stream:stream>')).toBe(true);
    await stopped;

    const again = await startTestServer({ dataDir: dir });
    const { s: d } = await loggedIn({ port: again.port, domain: again.host, ca: again.certPem }, 'dave', 'dave-secret');
    d.write('<presence/>');
    const bodies = [];
    for (let i = 0; i < 2; i++) bodies.push((await d.next((el) => el.name === 'message')).getChildText('body'));
    expect(bodies).toEqual(['kept', 'kept too']);
    d.destroy();
    await again.stop();
    await rm(dir, { recursive: true, force: true });
  });
});
