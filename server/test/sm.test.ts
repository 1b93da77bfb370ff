// XEP-0198 Stream Management against the real server over real sockets, by hand (exact
// elements and counts): enable, acks both ways, resumption after a dead TCP connection with
// the unacknowledged stanzas replayed in order, the session looking continuous to others,
// hibernation timing out (messages to offline storage or the other resources, iq senders
// answered), clean close and stream errors (no hibernation), bad input (h too high, unknown or
// foreign ids), the per-account and queue limits, and shutdown with sessions hibernated.
// https://xmpp.org/extensions/xep-0198.html (version 1.6.3)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModule } from '../src/core/module.js';
import { parseH, SmState } from '../src/core/sm.js';
import { Element } from '../src/xml/element.js';
import { builtinModules } from '../src/modules/index.js';
import { loggedIn, RawStream, NS_STREAM_ERRORS } from './helpers/raw.js';
import { NS_SM, StanzaCounter, tick } from './helpers/raw-mobile.js';
import { startTestServer } from './helpers/server.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
const HIBERNATION = 2;
let srv: Srv;
const events: string[] = [];

// Records the stream-management hooks, as the push module would consume them.
const probe = defineModule({
  name: 'sm-probe',
  load(api) {
    for (const h of ['sm-hibernated', 'sm-resumed', 'sm-stanza-queued', 'session-closed']) {
      api.hook<any>(h, (e) => {
        events.push(`${h} ${e.session.jid?.full ?? ''}${e.stanza ? ' ' + (e.stanza.getChildText('body') ?? e.stanza.name) : ''}`);
        return false;
      });
    }
  },
});

const opts = (s: Srv = srv) => ({ port: s.port, domain: s.host, ca: s.certPem });

beforeAll(async () => {
  srv = await startTestServer({ streamManagement: { hibernation: HIBERNATION }, modules: [...builtinModules, probe] });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory']) await srv.addUser(u, `${u}-pw`);
});

afterAll(async () => {
  await srv?.stop();
});

interface SmSession {
  s: RawStream;
  jid: string;
  enabled: any;
  counter: StanzaCounter;
}

/** Logged in (SCRAM-SHA-256), bound, stream management enabled with resume='true'. */
async function smLogin(user: string, resource?: string, server: Srv = srv, extra = ''): Promise<SmSession> {
  const { s, jid } = await loggedIn(opts(server), user, `${user}-pw`, resource);
  expect(s.features.getChild('sm', NS_SM)).toBeDefined();
  const counter = new StanzaCounter(s.socket);
  s.write(`<enable xmlns='${NS_SM}' resume='true'${extra}/>`);
  const enabled = await s.next((el) => el.name === 'enabled' || el.name === 'failed');
  return { s, jid, enabled, counter };
}

/** A plain bound session (no stream management). */
async function plain(user: string, resource?: string, server: Srv = srv): Promise<{ s: RawStream; jid: string }> {
  return loggedIn(opts(server), user, `${user}-pw`, resource);
}

/** A new connection, authenticated (SASL1 + restart), sending <resume/>. */
async function resume(user: string, previd: string, h: number | string, server: Srv = srv): Promise<{ s: RawStream; answer: any; counter: StanzaCounter }> {
  const s = new RawStream(opts(server));
  await s.secure();
  const r = await s.scram('SCRAM-SHA-256', user, `${user}-pw`);
  expect(r.name).toBe('success');
  await s.open();
  const counter = new StanzaCounter(s.socket);
  s.write(`<resume xmlns='${NS_SM}' previd='${previd}' h='${h}'/>`);
  const answer = await s.next((el) => el.name === 'resumed' || el.name === 'failed');
  return { s, answer, counter };
}

const chat = (to: string, body: string, id = body) => `<message type='chat' to='${to}' id='${id}'><body>${body}</body></message>`;
const bodies = (els: any[]) => els.filter((e) => e.name === 'message').map((e) => e.getChildText('body'));
const cond = (el: any) => el.children.find((c: any) => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text')?.name;

/** Kills the client side of a connection (no </stream>), waits until the server saw it. */
async function cut(s: RawStream): Promise<void> {
  s.destroy();
  await s.closed;
  await tick(100);
}

/** Waits until the counter has seen `n` stanzas. */
async function until(counter: StanzaCounter, n: number, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (counter.n < n) {
    if (Date.now() > end) throw new Error(`only ${counter.n} of ${n} stanzas arrived`);
    await tick(20);
  }
}

describe('counters', () => {
  it("'h' wraps at 2^32 (§4), acks count across the wrap, and an h past what was sent is refused", () => {
    const sm = new SmState();
    sm.acked = 2 ** 32 - 2;
    for (let i = 0; i < 4; i++) sm.push(new Element('message', { id: `w${i}` }));
    expect(sm.sent).toBe(2);
    expect(sm.check(3).ok).toBe(false);
    expect(sm.ack(1)).toEqual({ ok: true });
    expect(sm.unacked).toBe(1);
    expect(sm.pending()[0]!.stanza.attrs.id).toBe('w3');
    expect(sm.ack(2 ** 32 - 1)).toMatchObject({ ok: false });
    expect(sm.ack(2)).toEqual({ ok: true });
    expect(sm.unacked).toBe(0);
    sm.handled = 2 ** 32 - 1;
    sm.countHandled();
    expect(sm.handled).toBe(0);
    expect(parseH('4294967295')).toBe(4294967295);
    expect(parseH('4294967296')).toBeUndefined();
    expect(parseH('-1')).toBeUndefined();
    expect(parseH('1e3')).toBeUndefined();
  });
});

describe('enabling and acks', () => {
  it('enable with resume: <enabled id resume max/> (max = the hibernation time); enable before bind or twice: <failed/>', async () => {
    const s = new RawStream(opts());
    await s.secure();
    await s.scram('SCRAM-SHA-256', 'alice', 'alice-pw');
    const f = await s.open();
    expect(f.getChild('sm', NS_SM)).toBeDefined();
    s.write(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const early = await s.next((el) => el.name === 'failed');
    expect(cond(early)).toBe('unexpected-request');
    const b = await s.iq('set', `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>one</resource></bind>`);
    expect(b.attrs.type).toBe('result');
    s.write(`<enable xmlns='${NS_SM}' resume='true' max='100000'/>`);
    const en = await s.next((el) => el.name === 'enabled');
    expect(en.attrs.id).toMatch(/^[\w-]{20,}$/);
    expect(en.attrs.resume).toBe('true');
    expect(en.attrs.max).toBe(String(HIBERNATION));
    s.write(`<enable xmlns='${NS_SM}'/>`);
    expect(cond(await s.next((el) => el.name === 'failed'))).toBe('unexpected-request');
    s.destroy();
  });

  it('without resume: enabled carries no id; the connection dropping ends the session at once', async () => {
    const { s, jid } = await plain('alice', 'nores');
    s.write(`<enable xmlns='${NS_SM}'/>`);
    const en = await s.next((el) => el.name === 'enabled');
    expect(en.attrs.id).toBeUndefined();
    expect(en.attrs.resume).toBeUndefined();
    await cut(s);
    expect(srv.server.hosts.get(srv.host)!.sessions.get('alice', 'nores')).toBeUndefined();
    expect(events).toContain(`session-closed ${jid}`);
  });

  it('<r/> is answered with the number of stanzas handled; the server asks for acks and counts what it sent', async () => {
    const a = await smLogin('alice', 'acks');
    for (let i = 0; i < 3; i++) a.s.write(`<iq type='get' id='p${i}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    a.s.write(`<r xmlns='${NS_SM}'/>`);
    const ack = await a.s.next((el) => el.name === 'a');
    expect(ack.attrs.h).toBe('3');
    // Three iq results were sent and the server asked for an ack.
    await until(a.counter, 3);
    await a.s.next((el) => el.name === 'r');
    a.s.write(`<a xmlns='${NS_SM}' h='${a.counter.n}'/>`);
    await tick(100);
    const live = srv.server.hosts.get(srv.host)!.sessions.get('alice', 'acks') as any;
    expect(live.sm.unacked).toBe(0);
    expect(live.sm.acked).toBe(3);
    a.s.destroy();
  });

  it('an ack for more than was sent: stream error undefined-condition with handled-count-too-high', async () => {
    const a = await smLogin('alice', 'toohigh');
    a.s.write(`<a xmlns='${NS_SM}' h='5'/>`);
    const err = await a.s.next((el) => el.name === 'stream:error');
    expect(err.getChild('undefined-condition', NS_STREAM_ERRORS)).toBeDefined();
    const detail = err.getChild('handled-count-too-high', NS_SM);
    expect(detail.attrs.h).toBe('5');
    expect(detail.attrs['send-count']).toBe('0');
    await a.s.closed;
  });

  it('an <a/> without a numeric h is invalid-xml', async () => {
    const a = await smLogin('alice', 'badh');
    a.s.write(`<a xmlns='${NS_SM}' h='lots'/>`);
    expect(await a.s.streamError()).toBe('invalid-xml');
    await a.s.closed;
  });
});

describe('resumption', () => {
  it('after the TCP connection dies: <resumed/> with our h, the unacknowledged stanzas again in order (stamped), then new ones; same JID', async () => {
    const a = await smLogin('bob', 'phone');
    const carol = await plain('carol');
    a.s.write(`<presence/>`);
    a.s.write(`<iq type='get' id='v1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    // The presence reflection and the ping result first: carol's messages come from another
    // session, so without this wait they may overtake them and h=2 would ack 'one'.
    await until(a.counter, 2);
    for (const b of ['one', 'two', 'three']) carol.s.write(chat(a.jid, b));
    // bob has read the presence reflection, the ping result and the three messages, acks two.
    await until(a.counter, 5);
    a.s.write(`<a xmlns='${NS_SM}' h='2'/>`);
    await tick(100);
    await cut(a.s);
    // While the connection is gone, more arrive.
    for (const b of ['four', 'five']) carol.s.write(chat(a.jid, b));
    await tick(200);
    const r = await resume('bob', a.enabled.attrs.id, 2);
    expect(r.answer.name).toBe('resumed');
    expect(r.answer.attrs.previd).toBe(a.enabled.attrs.id);
    expect(r.answer.attrs.h).toBe('2'); // the presence and the iq
    await until(r.counter, 5);
    expect(bodies(r.counter.stanzas)).toEqual(['one', 'two', 'three', 'four', 'five']);
    const first = r.counter.stanzas[0];
    expect(first.getChild('delay', 'urn:xmpp:delay')?.attrs.from).toBe(`bob@${srv.host}`);
    // The session goes on under the same JID: a new message arrives, counters continue.
    carol.s.write(chat(a.jid, 'six'));
    await until(r.counter, 6);
    expect(bodies(r.counter.stanzas).at(-1)).toBe('six');
    r.s.write(`<iq type='get' id='v2'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const pong = await r.s.next((el) => el.name === 'iq' && el.attrs.id === 'v2');
    expect(pong.attrs.to).toBe(a.jid);
    r.s.write(`<r xmlns='${NS_SM}'/>`);
    expect((await r.s.next((el) => el.name === 'a')).attrs.h).toBe('3');
    r.s.write(`<a xmlns='${NS_SM}' h='${2 + r.counter.n}'/>`);
    await tick(100);
    expect((srv.server.hosts.get(srv.host)!.sessions.get('bob', 'phone') as any).sm.unacked).toBe(0);
    r.s.destroy();
    carol.s.destroy();
  });

  it('is invisible to others: no unavailable while hibernated; the hooks tell push and friends (and session-closed only at the end)', async () => {
    events.length = 0;
    const dave = await smLogin('dave', 'mobile');
    const erin = await plain('erin', 'desk');
    erin.s.write(`<presence/>`);
    await erin.s.next((el) => el.name === 'presence');
    dave.s.write(`<presence to='${erin.jid}'><status>here</status></presence>`);
    await erin.s.next((el) => el.name === 'presence' && el.attrs.from === dave.jid && !el.attrs.type);
    await cut(dave.s);
    expect(events).toContain(`sm-hibernated ${dave.jid}`);
    erin.s.write(chat(dave.jid, 'while away'));
    await tick(800);
    expect(events).toContain(`sm-stanza-queued ${dave.jid} while away`);
    expect(erin.s.received).not.toMatch(new RegExp(`<presence[^>]*type=.unavailable.[^>]*from=.${dave.jid}|<presence[^>]*from=.${dave.jid}[^>]*type=.unavailable`));
    expect(events.some((e) => e.startsWith('session-closed') && e.includes(dave.jid))).toBe(false);
    const r = await resume('dave', dave.enabled.attrs.id, 0);
    expect(r.answer.name).toBe('resumed');
    expect(events).toContain(`sm-resumed ${dave.jid}`);
    // Still available to erin and still tracked: when it really ends, erin hears it.
    r.s.write('</stream:stream>');
    const gone = await erin.s.next((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === dave.jid);
    expect(gone).toBeDefined();
    expect(events).toContain(`session-closed ${dave.jid}`);
    erin.s.destroy();
  });

  it('the old connection, if the server still had it, gets a conflict stream error', async () => {
    const a = await smLogin('frank', 'twice');
    const r = await resume('frank', a.enabled.attrs.id, 0);
    expect(r.answer.name).toBe('resumed');
    expect(await a.s.streamError()).toBe('conflict');
    r.s.destroy();
  });

  it('a resumed session can drop and be resumed again', async () => {
    const a = await smLogin('frank', 'again');
    const carol = await plain('carol');
    carol.s.write(chat(a.jid, 'x1'));
    await until(a.counter, 1);
    await cut(a.s);
    const r1 = await resume('frank', a.enabled.attrs.id, 1);
    expect(r1.answer.name).toBe('resumed');
    carol.s.write(chat(a.jid, 'x2'));
    await until(r1.counter, 1);
    await cut(r1.s);
    carol.s.write(chat(a.jid, 'x3'));
    await tick(100);
    const r2 = await resume('frank', a.enabled.attrs.id, 1);
    expect(r2.answer.name).toBe('resumed');
    await until(r2.counter, 2);
    expect(bodies(r2.counter.stanzas)).toEqual(['x2', 'x3']);
    r2.s.destroy();
    carol.s.destroy();
  });
});

describe('resumption refused', () => {
  it('an unknown id, another account\'s id, or no previd: <failed/> item-not-found / bad-request, then binding still works', async () => {
    const a = await smLogin('grace', 'g');
    const unknown = await resume('grace', 'no-such-session-id', 0);
    expect(unknown.answer.name).toBe('failed');
    expect(cond(unknown.answer)).toBe('item-not-found');
    expect(unknown.answer.attrs.h).toBeUndefined();
    // The same stream can go on with a normal bind.
    const jid = await (async () => {
      const r = await unknown.s.iq('set', `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>after</resource></bind>`);
      return r.getChild('bind').getChildText('jid');
    })();
    expect(jid).toBe(`grace@${srv.host}/after`);
    unknown.s.destroy();
    const foreign = await resume('heidi', a.enabled.attrs.id, 0);
    expect(cond(foreign.answer)).toBe('item-not-found');
    foreign.s.destroy();
    const bad = await resume('grace', a.enabled.attrs.id, 'x');
    expect(cond(bad.answer)).toBe('bad-request');
    bad.s.destroy();
    a.s.destroy();
  });

  it('an h larger than what was sent: <failed/> undefined-condition with handled-count-too-high; the right h then works', async () => {
    const a = await smLogin('heidi', 'h');
    const carol = await plain('carol');
    carol.s.write(chat(a.jid, 'm1'));
    carol.s.write(chat(a.jid, 'm2'));
    await until(a.counter, 2);
    await cut(a.s);
    const r = await resume('heidi', a.enabled.attrs.id, 7);
    expect(r.answer.name).toBe('failed');
    expect(cond(r.answer)).toBe('undefined-condition');
    const detail = r.answer.getChild('handled-count-too-high', NS_SM);
    expect(detail.attrs.h).toBe('7');
    expect(detail.attrs['send-count']).toBe('2');
    r.s.destroy();
    const ok = await resume('heidi', a.enabled.attrs.id, 0);
    expect(ok.answer.name).toBe('resumed');
    await until(ok.counter, 2);
    expect(bodies(ok.counter.stanzas)).toEqual(['m1', 'm2']);
    ok.s.destroy();
    carol.s.destroy();
  });

  it('after the session ended: <failed h=.../> item-not-found telling how many of our stanzas it had handled', async () => {
    const a = await smLogin('ivan', 'i');
    a.s.write(`<iq type='get' id='z1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    a.s.write(`<iq type='get' id='z2'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await until(a.counter, 2);
    a.s.write('</stream:stream>');
    await a.s.closed;
    const r = await resume('ivan', a.enabled.attrs.id, 2);
    expect(cond(r.answer)).toBe('item-not-found');
    expect(r.answer.attrs.h).toBe('2');
    r.s.destroy();
  });
});

describe('when the session ends without resumption', () => {
  it('hibernation times out: unacknowledged chat messages go to offline storage, in order, with their first stamp; an iq sender gets service-unavailable', async () => {
    const a = await smLogin('judy', 'phone');
    const carol = await plain('carol', 'c-judy');
    carol.s.write(chat(a.jid, 'before-1'));
    carol.s.write(chat(a.jid, 'before-2'));
    await until(a.counter, 2);
    const t0 = Date.now();
    await cut(a.s);
    carol.s.write(chat(a.jid, 'during'));
    carol.s.write(`<message type='chat' to='${a.jid}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    carol.s.write(`<iq type='get' id='to-gone' to='${a.jid}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const err = await carol.s.next((el) => el.name === 'iq' && el.attrs.id === 'to-gone', (HIBERNATION + 3) * 1000);
    expect(err.attrs.type).toBe('error');
    expect(cond(err.getChild('error'))).toBe('service-unavailable');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(HIBERNATION * 1000 - 200);
    expect(srv.server.hosts.get(srv.host)!.sessions.get('judy', 'phone')).toBeUndefined();
    await tick(200);
    const next = await plain('judy', 'laptop');
    const counter = new StanzaCounter(next.s.socket);
    next.s.write('<presence/>');
    await until(counter, 4);
    const msgs = counter.stanzas.filter((e) => e.name === 'message');
    expect(bodies(msgs)).toEqual(['before-1', 'before-2', 'during']);
    const stamp = Date.parse(msgs[0].getChild('delay', 'urn:xmpp:delay').attrs.stamp);
    expect(stamp).toBeLessThanOrEqual(t0);
    next.s.destroy();
    carol.s.destroy();
  });

  it('a clean </stream:stream> ends it at once: no hibernation, the unacknowledged messages go to offline storage', async () => {
    const a = await smLogin('mallory', 'm');
    const carol = await plain('carol', 'c-mal');
    carol.s.write(chat(a.jid, 'unacked-1'));
    carol.s.write(chat(a.jid, 'unacked-2'));
    await until(a.counter, 2);
    a.s.write('</stream:stream>');
    await a.s.closed;
    expect(srv.server.hosts.get(srv.host)!.sessions.get('mallory', 'm')).toBeUndefined();
    const next = await plain('mallory', 'm2');
    const counter = new StanzaCounter(next.s.socket);
    next.s.write('<presence/>');
    await until(counter, 3);
    expect(bodies(counter.stanzas)).toEqual(['unacked-1', 'unacked-2']);
    next.s.destroy();
    carol.s.destroy();
  });

  it('a stream error ends it at once too (no hibernation)', async () => {
    const a = await smLogin('mallory', 'err');
    a.s.write('<message><unclosed></message>');
    expect(await a.s.streamError()).toBe('not-well-formed');
    await a.s.closed;
    const r = await resume('mallory', a.enabled.attrs.id, 0);
    expect(cond(r.answer)).toBe('item-not-found');
    r.s.destroy();
  });

  it('with other resources online: each gets what it did not see (full-JID messages, and bare ones for a resource that came later); no duplicates', async () => {
    const phone = await smLogin('erin', 'phone');
    phone.s.write('<presence/>');
    const desk = await plain('erin', 'desk2');
    const deskCounter = new StanzaCounter(desk.s.socket);
    desk.s.write('<presence/>');
    await tick(200);
    const carol = await plain('carol', 'c-erin');
    carol.s.write(chat(phone.jid, 'to-phone'));
    carol.s.write(chat(`erin@${srv.host}`, 'to-both'));
    await until(phone.counter, 4);
    await cut(phone.s);
    const late = await plain('erin', 'late');
    const lateCounter = new StanzaCounter(late.s.socket);
    late.s.write('<presence/>');
    // After the hibernation: desk gets only the full-JID one (it had the bare one), late both.
    await tick((HIBERNATION + 1) * 1000);
    const deskBodies = bodies(deskCounter.stanzas);
    expect(deskBodies.filter((b) => b === 'to-both')).toHaveLength(1);
    expect(deskBodies.filter((b) => b === 'to-phone')).toHaveLength(1);
    expect(bodies(lateCounter.stanzas).sort()).toEqual(['to-both', 'to-phone']);
    desk.s.destroy();
    late.s.destroy();
    carol.s.destroy();
  });
});

describe('limits', () => {
  it('beyond streamManagement.maxResumablePerAccount sessions are enabled without resumption', async () => {
    const own = await startTestServer({ streamManagement: { hibernation: 5, maxResumablePerAccount: 1 } });
    await own.addUser('alice', 'alice-pw');
    const one = await smLogin('alice', 'one', own);
    const two = await smLogin('alice', 'two', own);
    expect(one.enabled.attrs.id).toBeDefined();
    expect(two.enabled.attrs.id).toBeUndefined();
    one.s.destroy();
    two.s.destroy();
    await own.stop();
  });

  it('a hibernated session whose queue passes streamManagement.maxQueue ends; its messages go to offline storage', async () => {
    const own = await startTestServer({ streamManagement: { hibernation: 60, maxQueue: 10 } });
    await own.addUser('alice', 'alice-pw');
    await own.addUser('bob', 'bob-pw');
    const a = await smLogin('alice', 'q', own);
    await cut(a.s);
    const b = await plain('bob', undefined, own);
    for (let i = 1; i <= 12; i++) b.s.write(chat(a.jid, `q${i}`));
    await tick(500);
    expect(own.server.hosts.get(own.host)!.sessions.get('alice', 'q')).toBeUndefined();
    const next = await plain('alice', 'q2', own);
    const counter = new StanzaCounter(next.s.socket);
    next.s.write('<presence/>');
    await until(counter, 13);
    expect(bodies(counter.stanzas)).toEqual(Array.from({ length: 12 }, (_, i) => `q${i + 1}`));
    next.s.destroy();
    b.s.destroy();
    await own.stop();
  });

  it('at limits.maxSessionsPerAccount a hibernated session makes room for a new one', async () => {
    const own = await startTestServer({ streamManagement: { hibernation: 60 }, limits: { maxSessionsPerAccount: 1 } });
    await own.addUser('alice', 'alice-pw');
    const a = await smLogin('alice', 'old', own);
    await cut(a.s);
    const b = await plain('alice', 'new', own);
    expect(b.jid).toBe(`alice@${own.host}/new`);
    expect(own.server.hosts.get(own.host)!.sessions.get('alice', 'old')).toBeUndefined();
    b.s.destroy();
    await own.stop();
  });
});

describe('shutdown', () => {
  it('hibernated sessions end at a graceful stop and their unacknowledged messages survive a restart in offline storage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roost-sm-'));
    try {
      const one = await startTestServer({ dataDir: dir, streamManagement: { hibernation: 600 } });
      await one.addUser('alice', 'alice-pw');
      await one.addUser('bob', 'bob-pw');
      const a = await smLogin('alice', 'phone', one);
      const b = await plain('bob', undefined, one);
      b.s.write(chat(a.jid, 'kept-1'));
      await until(a.counter, 1);
      await cut(a.s);
      b.s.write(chat(a.jid, 'kept-2'));
      await tick(200);
      b.s.destroy();
      await one.stop();
      const two = await startTestServer({ dataDir: dir });
      const next = await plain('alice', 'again', two);
      const counter = new StanzaCounter(next.s.socket);
      next.s.write('<presence/>');
      await until(counter, 3);
      expect(bodies(counter.stanzas)).toEqual(['kept-1', 'kept-2']);
      next.s.destroy();
      await two.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
