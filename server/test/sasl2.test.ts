// XEP-0388 SASL2, XEP-0386 Bind2 and XEP-0484 FAST against the real server over real sockets:
// the offered mechanisms (the SASL1 set, stable), SCRAM with and without channel binding and
// no stream restart, Bind2 resources (tag + id stable per user agent) with stream management
// and CSI inline, XEP-0198 resumption inline, every failure path; FAST tokens with
// HT-SHA-256-NONE/-ENDP/-EXPR (stored hashed, bound to mechanism and user agent, count replay
// protection, rotation, invalidation, revocation by a password change and per client); and
// issue scenario 4 through @xmpp/client (SASL2 + Bind2 login, FAST reconnect, password change).
// https://xmpp.org/extensions/xep-0388.html https://xmpp.org/extensions/xep-0386.html
// https://xmpp.org/extensions/xep-0484.html
import { createHash, randomUUID } from 'node:crypto';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { NS_SASL, RawStream } from './helpers/raw.js';
import {
  NS_BIND2,
  NS_CSI,
  NS_FAST,
  NS_SASL2,
  NS_SM,
  sasl2Scram,
  sasl2Token,
  securedStream,
  StanzaCounter,
  tick,
  tlsExporterOf,
  userAgent,
} from './helpers/raw-mobile.js';
import { startTestServer } from './helpers/server.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
const open = (directTls = false, s: Srv = srv) => securedStream({ port: directTls ? s.directTlsPort : s.port, domain: s.host, ca: s.certPem, directTls });
const pw = (u: string) => `${u}-secret`;

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']) await srv.addUser(u, pw(u));
});

afterAll(async () => {
  await srv?.stop();
});

const cond = (el: any) => el.children.find((c: any) => typeof c !== 'string' && c.attrs.xmlns === NS_SASL)?.name;
const smCond = (el: any) => el.children.find((c: any) => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text')?.name;
const tokenOf = (success: any) => success.getChild('token', NS_FAST);
const endPointOf = (s: RawStream) => createHash('sha256').update((s.socket as tls.TLSSocket).getPeerCertificate().raw).digest();

/** SCRAM-SHA-256 over SASL2 with a user agent and a token request; the token. */
async function getToken(user: string, ua: string, mechanism = 'HT-SHA-256-NONE'): Promise<{ token: string; expiry: string }> {
  const s = await open();
  const r = await sasl2Scram(s, { username: user, password: pw(user), inner: `${userAgent(ua)}<request-token xmlns='${NS_FAST}' mechanism='${mechanism}'/>` });
  expect(r.end.name).toBe('success');
  const t = tokenOf(r.end);
  s.destroy();
  return { token: t.attrs.token, expiry: t.attrs.expiry };
}

describe('the offer', () => {
  it('SASL2 lists exactly the SASL1 mechanisms, with Bind2 (SM, CSI, carbons inline), SM and FAST inline; the same on every connection', async () => {
    const offers: string[] = [];
    for (const direct of [false, true, false]) {
      const s = await open(direct);
      const f = s.features;
      const sasl1 = f.getChild('mechanisms', NS_SASL).getChildren('mechanism').map((m: any) => m.text());
      const auth = f.getChild('authentication', NS_SASL2);
      const sasl2 = auth.getChildren('mechanism').map((m: any) => m.text());
      expect(sasl2).toEqual(sasl1);
      for (const m of ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'SCRAM-SHA-256-PLUS']) expect(sasl2).toContain(m);
      const inline = auth.getChild('inline');
      const bind = inline.getChild('bind', NS_BIND2);
      const vars = bind.getChild('inline').getChildren('feature').map((x: any) => x.attrs.var);
      expect(vars).toEqual(expect.arrayContaining([NS_SM, NS_CSI, 'urn:xmpp:carbons:2']));
      expect(inline.getChild('sm', NS_SM)).toBeDefined();
      const fast = inline.getChild('fast', NS_FAST).getChildren('mechanism').map((m: any) => m.text());
      expect(fast).toEqual(['HT-SHA-256-EXPR', 'HT-SHA-256-ENDP', 'HT-SHA-256-NONE']);
      // FAST mechanisms are only inside <fast/>, never in the password list.
      expect(sasl2.some((m: string) => m.startsWith('HT-'))).toBe(false);
      offers.push(JSON.stringify([sasl2, vars, fast]));
      s.destroy();
    }
    expect(new Set(offers).size).toBe(1);
  });
});

// Before the tests that start servers of their own: the test helper trusts the certificate of
// the latest server for 'localhost', which @xmpp/client then verifies.
describe('with a real client library', () => {
  it('scenario 4: SASL2 + Bind2 login, a FAST reconnect with the token, then the token revoked by a password change', async () => {
    await srv.addUser('zoe', 'zoe-secret');
    const c = await srv.client('zoe', 'zoe-secret', 'lib');
    const sent: string[] = [];
    const got: string[] = [];
    c.on('send', (el: any) => el.is('authenticate', NS_SASL2) && sent.push(el.attrs.mechanism));
    c.on('nonza', (el: any) => el.attrs.xmlns === NS_SASL2 && got.push(el.name));
    expect(c.jid.toString()).toMatch(new RegExp(`^zoe@${srv.host}/lib/`));
    const resource = c.jid.resource;
    // First login used SASL2 and asked for a token (xmpp.js keeps it in memory).
    const token = await c.fast.fetch();
    expect(token?.mechanism).toBe('HT-SHA-256-NONE');
    await c.stop();
    await c.reconnect.reconnect();
    await new Promise<void>((resolve) => (c.status === 'online' ? resolve() : c.once('online', () => resolve())));
    expect(sent).toEqual(['HT-SHA-256-NONE']);
    expect(got).toContain('success');
    // The same user agent and tag: the same resource.
    expect(c.jid.resource).toBe(resource);
    // The password changes (in-band, from this very session).
    await c.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:register' }, xml('username', {}, 'zoe'), xml('password', {}, 'zoe-changed'))));
    await c.stop();
    sent.length = 0;
    got.length = 0;
    // The token is refused; the library falls back to its (old) password, which fails too.
    const failure = new Promise<any>((resolve) => c.on('error', (e: any) => resolve(e)));
    await c.reconnect.reconnect();
    const err = await Promise.race([failure, tick(5000).then(() => new Error('no error'))]);
    expect(String(err?.condition ?? err?.message)).toMatch(/not-authorized/);
    expect(sent[0]).toBe('HT-SHA-256-NONE');
    expect(got[0]).toBe('failure');
    await c.stop().catch(() => {});
    const fresh = await srv.client('zoe', 'zoe-changed', 'lib');
    expect(fresh.jid.bare().toString()).toBe(`zoe@${srv.host}`);
    await fresh.stop();
  });
});

describe('authentication', () => {
  it('SCRAM-SHA-256: server signature in <additional-data/>, bare JID, features at once (no stream restart), legacy bind after', async () => {
    const s = await open();
    const headerBefore = s.header;
    const r = await sasl2Scram(s, { username: 'alice', password: pw('alice') });
    expect(r.end.name).toBe('success');
    expect(r.end.getChildText('authorization-identifier')).toBe(`alice@${srv.host}`);
    expect(s.header).toBe(headerBefore);
    expect(r.features.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind')).toBeDefined();
    expect(r.features.getChild('sm', NS_SM)).toBeDefined();
    const b = await s.iq('set', `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>legacy</resource></bind>`);
    expect(b.getChild('bind').getChildText('jid')).toBe(`alice@${srv.host}/legacy`);
    s.destroy();
  });

  it('SCRAM-SHA-512-PLUS with tls-exporter and SCRAM-SHA-256-PLUS with tls-server-end-point', async () => {
    const a = await open();
    const r1 = await sasl2Scram(a, { username: 'alice', password: pw('alice'), mechanism: 'SCRAM-SHA-512-PLUS', cb: { type: 'tls-exporter', data: tlsExporterOf(a.socket as tls.TLSSocket) } });
    expect(r1.end.name).toBe('success');
    a.destroy();
    const b = await open();
    const r2 = await sasl2Scram(b, { username: 'alice', password: pw('alice'), mechanism: 'SCRAM-SHA-256-PLUS', cb: { type: 'tls-server-end-point', data: endPointOf(b) } });
    expect(r2.end.name).toBe('success');
    b.destroy();
  });

  it('failures: wrong password, unknown or missing mechanism, upgrade tasks, bad base64, FAST mechanism without <fast/>, response out of turn, abort; the stream may try again', async () => {
    const s = await open();
    const wrong = await sasl2Scram(s, { username: 'alice', password: 'nope' });
    expect(wrong.end.name).toBe('failure');
    expect(cond(wrong.end)).toBe('not-authorized');
    const attempt = async (x: string) => {
      s.write(x);
      return s.next((el) => el.attrs.xmlns === NS_SASL2 && (el.name === 'failure' || el.name === 'success' || el.name === 'challenge'));
    };
    expect(cond(await attempt(`<authenticate xmlns='${NS_SASL2}' mechanism='DIGEST-MD5'/>`))).toBe('invalid-mechanism');
    expect(cond(await attempt(`<authenticate xmlns='${NS_SASL2}'/>`))).toBe('invalid-mechanism');
    expect(cond(await attempt(`<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-1' upgrade='SCRAM-SHA-256'/>`))).toBe('invalid-mechanism');
    // The attempts above count (RFC 6120 §6.4.5: a few retries); a fresh stream for the rest.
    s.destroy();
    const t = await open();
    const again = async (x: string) => {
      t.write(x);
      return t.next((el) => el.attrs.xmlns === NS_SASL2 && (el.name === 'failure' || el.name === 'success' || el.name === 'challenge'));
    };
    expect(cond(await again(`<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-256'><initial-response>!!!not base64</initial-response></authenticate>`))).toBe('incorrect-encoding');
    expect(cond(await again(`<response xmlns='${NS_SASL2}'>abc</response>`))).toBe('malformed-request');
    const failed = await again(`<authenticate xmlns='${NS_SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${Buffer.from('alice\0x').toString('base64')}</initial-response></authenticate>`);
    expect(cond(failed)).toBe('invalid-mechanism');
    expect(failed.getChildText('text')).toMatch(/fast/i);
    expect((await again(`<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-256'/>`)).name).toBe('challenge');
    expect(cond(await again(`<abort xmlns='${NS_SASL2}'/>`))).toBe('aborted');
    const ok = await sasl2Scram(t, { username: 'alice', password: pw('alice') });
    expect(ok.end.name).toBe('success');
    // §3.4 (Multiple Authentication): after <success/>, another <authenticate/> is a stream error.
    t.write(`<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-256'/>`);
    expect(await t.streamError()).toBeDefined();
    await t.closed;
  });

  it('five failed attempts close the stream (policy-violation); anything but SASL2 during authentication closes it', async () => {
    const s = await open();
    for (let i = 0; i < 5; i++) {
      s.write(`<authenticate xmlns='${NS_SASL2}' mechanism='NOPE'/>`);
      await s.next((el) => el.name === 'failure');
    }
    expect(await s.streamError()).toBe('policy-violation');
    await s.closed;
    const t = await open();
    t.write(`<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-256'/>`);
    await t.next((el) => el.name === 'challenge');
    t.write(`<message to='bob@${srv.host}'><body>sneaky</body></message>`);
    expect(await t.streamError()).toBe('not-authorized');
    await t.closed;
  });
});

describe('Bind2', () => {
  it('binds <tag>/<id> with SM and CSI inline; no bind or sm in the features after; the id is stable per user agent and the newer session replaces the older', async () => {
    const ua = randomUUID();
    const inner = `${userAgent(ua, 'Roost Phone', "Bob's phone")}<bind xmlns='${NS_BIND2}'><tag>Phone</tag><enable xmlns='${NS_SM}' resume='true'/><inactive xmlns='${NS_CSI}'/></bind>`;
    const s1 = await open();
    const r1 = await sasl2Scram(s1, { username: 'bob', password: pw('bob'), inner });
    expect(r1.end.name).toBe('success');
    const jid1 = r1.end.getChildText('authorization-identifier');
    expect(jid1).toMatch(new RegExp(`^bob@${srv.host}/Phone/[\\w-]{8,}$`));
    expect(jid1).not.toContain(ua);
    const bound = r1.end.getChild('bound', NS_BIND2);
    const enabled = bound.getChild('enabled', NS_SM);
    expect(enabled.attrs.resume).toBe('true');
    expect(enabled.attrs.id).toBeDefined();
    expect(r1.features.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind')).toBeUndefined();
    expect(r1.features.getChild('sm', NS_SM)).toBeUndefined();
    expect(r1.features.getChild('csi', NS_CSI)).toBeDefined();
    const resource = jid1.split('/').slice(1).join('/');
    const live = srv.server.hosts.get(srv.host)!.sessions.get('bob', resource) as any;
    expect(live.inactive).toBe(true);
    expect(live.userAgent).toEqual({ id: ua, software: 'Roost Phone', device: "Bob's phone" });
    // Stanzas work at once, and are counted from the inline enable.
    const pong = await s1.iq('get', `<ping xmlns='urn:xmpp:ping'/>`);
    expect(pong.attrs.to).toBe(jid1);
    s1.write(`<r xmlns='${NS_SM}'/>`);
    expect((await s1.next((el) => el.name === 'a')).attrs.h).toBe('1');
    // The same client again: the same resource, the old session is replaced.
    const s2 = await open();
    const r2 = await sasl2Scram(s2, { username: 'bob', password: pw('bob'), inner });
    expect(r2.end.getChildText('authorization-identifier')).toBe(jid1);
    expect(await s1.streamError()).toBe('conflict');
    // Another client with the same tag: another resource.
    const s3 = await open();
    const r3 = await sasl2Scram(s3, { username: 'bob', password: pw('bob'), inner: inner.replace(ua, randomUUID()) });
    expect(r3.end.getChildText('authorization-identifier')).not.toBe(jid1);
    s2.destroy();
    s3.destroy();
  });

  it('without a tag or user agent the resource is random; a bad tag is dropped, not an error', async () => {
    const s = await open();
    const r = await sasl2Scram(s, { username: 'carol', password: pw('carol'), inner: `<bind xmlns='${NS_BIND2}'/>` });
    expect(r.end.getChildText('authorization-identifier')).toMatch(new RegExp(`^carol@${srv.host}/[\\w-]{8,}$`));
    const t = await open();
    const r2 = await sasl2Scram(t, { username: 'carol', password: pw('carol'), inner: `<bind xmlns='${NS_BIND2}'><tag>\u0378bad</tag></bind>` });
    expect(r2.end.getChildText('authorization-identifier')).toMatch(new RegExp(`^carol@${srv.host}/[\\w-]{8,}$`));
    s.destroy();
    t.destroy();
  });

  it('carbons inline: <enable/> inside <bind/> turns carbons on for that resource only, from its first stanza', async () => {
    const NS_CARBONS = 'urn:xmpp:carbons:2';
    const phone = await open();
    const r1 = await sasl2Scram(phone, { username: 'grace', password: pw('grace'), inner: `<bind xmlns='${NS_BIND2}'><tag>phone</tag><enable xmlns='${NS_CARBONS}'/></bind>` });
    expect(r1.end.name).toBe('success');
    // The XEP defines no answer for carbons in <bound/>.
    expect(r1.end.getChild('bound', NS_BIND2).getChild('enabled', NS_CARBONS)).toBeUndefined();
    const desk = await open();
    const r2 = await sasl2Scram(desk, { username: 'grace', password: pw('grace'), inner: `<bind xmlns='${NS_BIND2}'><tag>desk</tag></bind>` });
    const deskJid = r2.end.getChildText('authorization-identifier');
    const phoneJid = r1.end.getChildText('authorization-identifier');
    const heidi = await open();
    await sasl2Scram(heidi, { username: 'heidi', password: pw('heidi'), inner: `<bind xmlns='${NS_BIND2}'/>` });
    // To the desk's full JID: the phone (carbons on) gets a <received/> copy.
    heidi.write(`<message type='chat' to='${deskJid}' id='c1'><body>to the desk</body></message>`);
    const copy = await phone.next((el) => el.name === 'message');
    const fwd = copy.getChild('received', NS_CARBONS)?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message');
    expect(fwd?.attrs.to).toBe(deskJid);
    expect(fwd?.getChildText('body')).toBe('to the desk');
    expect((await desk.next((el) => el.name === 'message')).getChildText('body')).toBe('to the desk');
    // To the phone's full JID: the desk (carbons never enabled) gets nothing.
    heidi.write(`<message type='chat' to='${phoneJid}' id='c2'><body>to the phone</body></message>`);
    expect((await phone.next((el) => el.name === 'message')).getChildText('body')).toBe('to the phone');
    desk.write(`<iq type='get' id='after'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const next = await desk.next((el) => el.name === 'message' || (el.name === 'iq' && el.attrs.id === 'after'));
    expect(next.name).toBe('iq');
    for (const x of [phone, desk, heidi]) x.destroy();
  });

  it('a module joins in through bind2-features / bind2-inline/<ns> (a carbons-like feature)', async () => {
    const own = await startTestServer({
      modules: [
        ...(await import('../src/modules/index.js')).builtinModules,
        {
          name: 'inline-probe',
          load(api) {
            api.hook<any>('bind2-features', ({ inline }) => void inline.c('feature', { var: 'urn:example:probe' }));
            api.hook<any>('bind2-inline/urn:example:probe', ({ session, bound }) => {
              session.data.set('probe', true);
              bound.c('probed', { xmlns: 'urn:example:probe' });
              return true;
            });
          },
        },
      ],
    });
    await own.addUser('alice', pw('alice'));
    const s = await open(false, own);
    const vars = s.features.getChild('authentication', NS_SASL2).getChild('inline').getChild('bind', NS_BIND2).getChild('inline').getChildren('feature').map((x: any) => x.attrs.var);
    expect(vars).toContain('urn:example:probe');
    const r = await sasl2Scram(s, { username: 'alice', password: pw('alice'), inner: `<bind xmlns='${NS_BIND2}'><enable xmlns='urn:example:probe'/></bind>` });
    expect(r.end.getChild('bound', NS_BIND2).getChild('probed', 'urn:example:probe')).toBeDefined();
    const jid = r.end.getChildText('authorization-identifier');
    const live = own.server.hosts.get(own.host)!.sessions.get('alice', jid.split('/').slice(1).join('/')) as any;
    expect(live.data.get('probe')).toBe(true);
    s.destroy();
    await own.stop();
  });

  it('XEP-0198 resumption inline: <resumed/> in <success/> (bind ignored), the replay after the features; a failed one binds instead', async () => {
    const ua = randomUUID();
    const s1 = await open();
    const counter1 = new StanzaCounter(s1.socket);
    const r1 = await sasl2Scram(s1, { username: 'dave', password: pw('dave'), inner: `${userAgent(ua)}<bind xmlns='${NS_BIND2}'><tag>T</tag><enable xmlns='${NS_SM}' resume='true'/></bind>` });
    const jid = r1.end.getChildText('authorization-identifier');
    const previd = r1.end.getChild('bound', NS_BIND2).getChild('enabled', NS_SM).attrs.id;
    const sender = await open();
    await sasl2Scram(sender, { username: 'erin', password: pw('erin'), inner: `<bind xmlns='${NS_BIND2}'/>` });
    sender.write(`<message type='chat' to='${jid}'><body>first</body></message>`);
    while (counter1.n < 1) await tick(20);
    s1.destroy();
    await s1.closed;
    await tick(100);
    sender.write(`<message type='chat' to='${jid}'><body>second</body></message>`);
    await tick(100);
    const s2 = await open();
    const counter2 = new StanzaCounter(s2.socket);
    const r2 = await sasl2Scram(s2, { username: 'dave', password: pw('dave'), inner: `${userAgent(ua)}<resume xmlns='${NS_SM}' previd='${previd}' h='1'/><bind xmlns='${NS_BIND2}'><tag>T</tag></bind>` });
    expect(r2.end.name).toBe('success');
    const resumed = r2.end.getChild('resumed', NS_SM);
    expect(resumed.attrs.previd).toBe(previd);
    expect(resumed.attrs.h).toBe('0');
    expect(r2.end.getChildText('authorization-identifier')).toBe(jid);
    expect(r2.end.getChild('bound', NS_BIND2)).toBeUndefined();
    while (counter2.n < 1) await tick(20);
    expect(counter2.stanzas[0].getChildText('body')).toBe('second');
    // The replay comes after the features (nothing before them).
    expect(s2.received.indexOf('</stream:features>')).toBeLessThan(s2.received.indexOf('second'));
    s2.destroy();
    // A resumption that fails: <failed/> inside <success/>, and the bind happens.
    const s3 = await open();
    const r3 = await sasl2Scram(s3, { username: 'dave', password: pw('dave'), inner: `<resume xmlns='${NS_SM}' previd='gone' h='0'/><bind xmlns='${NS_BIND2}'><tag>T</tag></bind>` });
    expect(smCond(r3.end.getChild('failed', NS_SM))).toBe('item-not-found');
    expect(r3.end.getChild('bound', NS_BIND2)).toBeDefined();
    s3.destroy();
    sender.destroy();
  });
});

describe('FAST tokens', () => {
  it('a token is issued on request, logs in with HT-SHA-256-NONE (responder checked), is never stored in clear', async () => {
    const ua = randomUUID();
    const { token, expiry } = await getToken('frank', ua);
    expect(token.length).toBeGreaterThanOrEqual(64);
    const days = (Date.parse(expiry) - Date.now()) / 86400_000;
    expect(days).toBeGreaterThan(20);
    expect(days).toBeLessThan(22);
    const s = await open();
    const r = await sasl2Token(s, { username: 'frank', token, inner: `${userAgent(ua)}<bind xmlns='${NS_BIND2}'/>` });
    expect(r.end.name).toBe('success');
    expect(r.end.getChildText('authorization-identifier')).toMatch(new RegExp(`^frank@${srv.host}/`));
    s.destroy();
    const stored = await srv.server.storage.keyval('sasl2-clients').getAll(`frank@${srv.host}`);
    const text = JSON.stringify([...stored.values()]);
    expect(text).not.toContain(token);
    expect(text).not.toContain(Buffer.from(token).toString('base64'));
    expect(text).not.toContain(ua);
  });

  it('refused: a wrong token, another user agent, another mechanism, no user agent, another account', async () => {
    const ua = randomUUID();
    const { token } = await getToken('grace', ua);
    const tries: [string, Parameters<typeof sasl2Token>[1], string][] = [
      ['wrong token', { username: 'grace', token: token.slice(0, -2) + 'xx', inner: userAgent(ua) }, 'not-authorized'],
      ['other agent', { username: 'grace', token, inner: userAgent(randomUUID()) }, 'not-authorized'],
      ['no agent', { username: 'grace', token }, 'malformed-request'],
      ['other account', { username: 'heidi', token, inner: userAgent(ua) }, 'not-authorized'],
    ];
    for (const [what, o, expected] of tries) {
      const s = await open();
      const r = await sasl2Token(s, o);
      expect(r.end.name, what).toBe('failure');
      expect(cond(r.end), what).toBe(expected);
      s.destroy();
    }
    // Bound to HT-SHA-256-NONE: the same token with channel binding fails.
    const s = await open();
    const r = await sasl2Token(s, { username: 'grace', token, mechanism: 'HT-SHA-256-EXPR', cb: tlsExporterOf(s.socket as tls.TLSSocket), inner: userAgent(ua) });
    expect(cond(r.end)).toBe('not-authorized');
    s.destroy();
  });

  it('HT-SHA-256-EXPR and -ENDP tokens need the channel binding of the connection', async () => {
    for (const [mechanism, cbOf] of [
      ['HT-SHA-256-EXPR', (x: RawStream) => tlsExporterOf(x.socket as tls.TLSSocket)],
      ['HT-SHA-256-ENDP', endPointOf],
    ] as const) {
      const ua = randomUUID();
      const { token } = await getToken('grace', ua, mechanism);
      const good = await open();
      expect((await sasl2Token(good, { username: 'grace', token, mechanism, cb: cbOf(good), inner: userAgent(ua) })).end.name).toBe('success');
      good.destroy();
      const bad = await open();
      const r = await sasl2Token(bad, { username: 'grace', token, mechanism, cb: Buffer.alloc(32, 7), inner: userAgent(ua) });
      expect(cond(r.end)).toBe('not-authorized');
      bad.destroy();
    }
  });

  it("'count' must grow: a replayed count is refused", async () => {
    const ua = randomUUID();
    const { token } = await getToken('heidi', ua);
    const use = async (count: number) => {
      const s = await open();
      const r = await sasl2Token(s, { username: 'heidi', token, count, inner: userAgent(ua) });
      s.destroy();
      return r.end.name === 'success' ? 'success' : cond(r.end);
    };
    expect(await use(5)).toBe('success');
    expect(await use(5)).toBe('not-authorized');
    expect(await use(3)).toBe('not-authorized');
    expect(await use(6)).toBe('success');
  });

  it('invalidate: the login succeeds, no new token, and the token is void afterwards', async () => {
    const ua = randomUUID();
    const { token } = await getToken('heidi', ua);
    const s = await open();
    const r = await sasl2Token(s, { username: 'heidi', token, invalidate: true, inner: userAgent(ua) });
    expect(r.end.name).toBe('success');
    expect(tokenOf(r.end)).toBeUndefined();
    s.destroy();
    const t = await open();
    expect(cond((await sasl2Token(t, { username: 'heidi', token, inner: userAgent(ua) })).end)).toBe('not-authorized');
    t.destroy();
  });

  it('rotation past half the lifetime: a new token comes with success, the old one works until the new one is used', async () => {
    const own = await startTestServer({ fast: { tokenLifetime: 4 } });
    await own.addUser('alice', pw('alice'));
    const ua = randomUUID();
    const login = async (token: string) => {
      const s = await open(false, own);
      const r = await sasl2Token(s, { username: 'alice', token, inner: userAgent(ua) });
      s.destroy();
      return r.end;
    };
    const s = await open(false, own);
    const first = tokenOf((await sasl2Scram(s, { username: 'alice', password: pw('alice'), inner: `${userAgent(ua)}<request-token xmlns='${NS_FAST}' mechanism='HT-SHA-256-NONE'/>` })).end).attrs.token;
    s.destroy();
    const early = await login(first);
    expect(early.name).toBe('success');
    expect(tokenOf(early)).toBeUndefined();
    await tick(2300);
    const due = await login(first);
    expect(due.name).toBe('success');
    const second = tokenOf(due).attrs.token;
    expect(second).not.toBe(first);
    // The client may not have received it: the old token still works...
    expect((await login(first)).name).toBe('success');
    // ...until the newest one is used.
    const newest = tokenOf(await login(first)).attrs.token;
    expect((await login(newest)).name).toBe('success');
    expect(cond(await login(first))).toBe('not-authorized');
    expect(cond(await login(second))).toBe('not-authorized');
    // Once expired: credentials-expired (the client logs in with its password).
    await tick(4200);
    expect(cond(await login(newest))).toBe('credentials-expired');
    await own.stop();
  });

  it('a password change revokes every token: in-band (password-changed hook) or behind the server\'s back (credentials fingerprint)', async () => {
    const ua1 = randomUUID();
    const ua2 = randomUUID();
    const a = await getToken('erin', ua1);
    const b = await getToken('erin', ua2);
    // In-band (XEP-0077) from a session of the account.
    const s = await open();
    await sasl2Scram(s, { username: 'erin', password: pw('erin'), inner: `<bind xmlns='${NS_BIND2}'/>` });
    const res = await s.iq('set', `<query xmlns='jabber:iq:register'><username>erin</username><password>erin-new</password></query>`);
    expect(res.attrs.type).toBe('result');
    s.destroy();
    for (const [t, ua] of [[a.token, ua1], [b.token, ua2]] as const) {
      const x = await open();
      expect(cond((await sasl2Token(x, { username: 'erin', token: t, inner: userAgent(ua) })).end)).toBe('not-authorized');
      x.destroy();
    }
    // Changed without the hook (e.g. `roost user passwd` against the same database).
    const c = await (async () => {
      const x = await open();
      const r = await sasl2Scram(x, { username: 'erin', password: 'erin-new', inner: `${userAgent(ua1)}<request-token xmlns='${NS_FAST}' mechanism='HT-SHA-256-NONE'/>` });
      x.destroy();
      return tokenOf(r.end).attrs.token;
    })();
    await srv.server.accounts(srv.host)!.setPassword('erin', pw('erin'));
    const y = await open();
    const r = await sasl2Token(y, { username: 'erin', token: c, inner: userAgent(ua1) });
    expect(cond(r.end)).toBe('credentials-expired');
    y.destroy();
  });

  it('clients are remembered per account (software, device, last seen) and can be revoked one by one', async () => {
    const ua = randomUUID();
    const { token } = await getToken('carol', ua);
    const owner = `carol@${srv.host}`;
    const list = await srv.server.fast.clients(owner);
    const mine = list.find((c) => c.software === 'RoostTest' && c.tokenExpiry !== undefined);
    expect(mine).toBeDefined();
    expect(mine!.device).toBe('test bench');
    expect(mine!.lastAddress).toBe('127.0.0.1');
    expect(await srv.server.fast.revoke(owner, mine!.id)).toBe(true);
    const s = await open();
    expect(cond((await sasl2Token(s, { username: 'carol', token, inner: userAgent(ua) })).end)).toBe('not-authorized');
    s.destroy();
    expect((await srv.server.fast.clients(owner)).find((c) => c.id === mine!.id)).toBeUndefined();
  });
});
