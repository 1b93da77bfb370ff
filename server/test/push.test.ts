// XEP-0357 push, against an app server on a second local domain (push.localhost, a host of the
// same server whose pubsub iq handler plays the app server): enable with publish-options,
// disable, issue scenario 5 (a message for an account with no session left publishes a summary
// with count and sender and NO body, and the message is still stored offline), body only when
// configured, chat states do not push, error answers disable the registration (transient ones
// after maxTransientErrors), the app server's remote disabling, federation policy (remote
// gateways only from federation.pushGateways while federation is off; isAllowedRemote), sessions
// hibernated by stream management (the hooks part A fires, fired here on the live sessions),
// and room mentions through muc/push-candidate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { DATA, DISCO_INFO, connect, iqError, type Peer } from './helpers/pep.js';
import { isAllowedRemote, isLocalDomain } from '../src/core/remote-policy.js';
import { errorReply, iqResult } from '../src/core/stanza-error.js';
import { xml as sxml, type Element } from '../src/xml/element.js';
import type { StanzaEvent } from '../src/core/module.js';
import { DEFAULT_PUSH_GATEWAYS } from '../src/config/presets.js';
import { loggedIn } from './helpers/raw.js';

const PUSH = 'urn:xmpp:push:0';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const APP = 'push.localhost';

type Srv = Awaited<ReturnType<typeof startTestServer>>;

/** The app server: records every publish, answers as told. */
class AppServer {
  publishes: Element[] = [];
  mode: 'ok' | 'item-not-found' | 'wait' | 'silent' = 'ok';
  private waiters: ((e: Element) => void)[] = [];
  constructor(private readonly srv: Srv) {
    const host = srv.server.hosts.get(APP)!;
    host.hooks.on(`iq-set/host/${PUBSUB}`, (event: StanzaEvent) => {
      this.publishes.push(event.stanza);
      const w = this.waiters.shift();
      if (w) w(event.stanza);
      if (this.mode === 'silent') return true;
      const reply =
        this.mode === 'ok'
          ? iqResult(event.stanza)
          : this.mode === 'wait'
            ? errorReply(event.stanza, 'wait', 'resource-constraint')
            : errorReply(event.stanza, 'cancel', 'item-not-found');
      void srv.server.router.reply(reply, event.origin);
      return true;
    }, 100);
  }
  /** How many publishes the test has looked at. */
  private taken = 0;
  /** The next publish not yet looked at (it may have arrived already). */
  next(ms = 4000): Promise<Element> {
    if (this.publishes.length > this.taken) return Promise.resolve(this.publishes[this.taken++]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no publish reached the app server (have ${this.publishes.length})`)), ms);
      this.waiters.push((e) => {
        clearTimeout(t);
        this.taken++;
        resolve(e);
      });
    });
  }
  /** Nothing more arrives (beyond what was looked at) within `ms`. */
  async none(ms = 400): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    expect(this.publishes.slice(this.taken).map((p) => p.toString())).toEqual([]);
  }
  /** The summary form's fields and the publish-options of one publish. */
  static read(iq: Element): { node?: string; summary: Record<string, string[]>; options: Record<string, string[]> } {
    const ps = iq.getChild('pubsub', PUBSUB)!;
    const publish = ps.getChild('publish')!;
    const x = publish.getChild('item')!.getChild('notification', PUSH)!.getChild('x', DATA)!;
    const po = ps.getChild('publish-options')?.getChild('x', DATA);
    const fields = (f: Element) => Object.fromEntries(f.getChildren('field').map((fl) => [fl.attrs.var!, fl.getChildren('value').map((v) => v.text())]));
    return { node: publish.attrs.node, summary: fields(x), options: po ? fields(po) : {} };
  }
}

const enable = (p: Peer, jid: string, node: string, secret?: string) =>
  p.c.iqCaller.set(
    xml(
      'enable',
      { xmlns: PUSH, jid, node },
      secret
        ? xml('x', { xmlns: DATA, type: 'submit' }, xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/pubsub#publish-options')), xml('field', { var: 'secret' }, xml('value', {}, secret)))
        : undefined,
    ),
  );
const chat = (to: string, body: string, id?: string) => xml('message', { to, type: 'chat', id }, xml('body', {}, body));

async function registrations(srv: Srv, user: string): Promise<any[]> {
  return [...(await srv.server.storage.keyval('push').getAll(`${user}@localhost`)).values()];
}

describe('push to an app server on a second local domain (default settings: no body)', () => {
  let srv: Srv;
  let app: AppServer;
  let juliet: Peer;

  beforeAll(async () => {
    srv = await startTestServer({ hosts: ['localhost', APP] });
    app = new AppServer(srv);
    for (const u of ['romeo', 'juliet', 'tybalt']) await srv.addUser(u, u + 'pw');
    juliet = await connect(srv, 'juliet');
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('the account advertises urn:xmpp:push:0', async () => {
    const info = await juliet.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), 'juliet@localhost');
    expect(info.getChildren('feature').map((f: any) => f.attrs.var)).toContain(PUSH);
  });

  it('scenario 5: with the phone gone, a message publishes a summary (count, sender, no body) with the secret; the message is still stored', async () => {
    const phone = await connect(srv, 'romeo', 'phone');
    await enable(phone, APP, 'node-romeo-1', 's3cret');
    await phone.c.stop();
    await juliet.c.send(chat('romeo@localhost', 'Wherefore art thou, Romeo?', 'm1'));
    const iq = await app.next();
    expect(iq.attrs.from).toBe('romeo@localhost');
    expect(iq.attrs.to).toBe(APP);
    const { node, summary, options } = AppServer.read(iq);
    expect(node).toBe('node-romeo-1');
    expect(summary).toEqual({ FORM_TYPE: ['urn:xmpp:push:summary'], 'message-count': ['1'], 'last-message-sender': ['juliet@localhost'] });
    expect(iq.toString()).not.toContain('Wherefore');
    expect(options).toEqual({ FORM_TYPE: ['http://jabber.org/protocol/pubsub#publish-options'], secret: ['s3cret'] });
    await juliet.c.send(chat('romeo@localhost', 'Second', 'm2'));
    expect(AppServer.read(await app.next()).summary['message-count']).toEqual(['2']);
    // The offline module still stored both.
    const back = await connect(srv, 'romeo', 'phone');
    const inbox = back.inbox;
    await back.c.send(xml('presence'));
    await inbox.wait((s) => s.name === 'message' && s.getChildText('body') === 'Wherefore art thou, Romeo?');
    await inbox.wait((s) => s.name === 'message' && s.getChildText('body') === 'Second');
    await back.c.stop();
  });

  it('a reconnect resets the count; chat states alone do not push', async () => {
    await juliet.c.send(xml('message', { to: 'romeo@localhost', type: 'chat' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await app.none();
    await juliet.c.send(chat('romeo@localhost', 'Third', 'm3'));
    expect(AppServer.read(await app.next()).summary['message-count']).toEqual(['1']);
  });

  it('while a session is connected and awake, nothing is pushed', async () => {
    const desk = await connect(srv, 'romeo', 'desk');
    await desk.c.send(xml('presence', {}, xml('priority', {}, '-1')));
    await juliet.c.send(chat('romeo@localhost', 'To the negative-priority desk', 'm4'));
    await app.none();
    await desk.c.stop();
  });

  it('stream management: all sessions hibernated -> queued messages push once; an awake session stops it; resume resets the count', async () => {
    const phone = await connect(srv, 'romeo', 'phone');
    await phone.c.send(xml('presence'));
    await phone.inbox.wait((s) => s.name === 'presence' && s.attrs.from === phone.jid);
    const host = srv.server.hosts.get('localhost')!;
    // With Bind2 the server picks the resource: look the session up by the bound JID.
    const session = host.sessions.get('romeo', phone.jid.slice(phone.jid.indexOf('/') + 1))!;
    expect(session).toBeDefined();
    await host.hooks.fireAsync('sm-hibernated', { session });
    const msg = sxml('message', { from: 'juliet@localhost/x', to: 'romeo@localhost', type: 'chat', id: 'q1' }, sxml('body', {}, 'queued'));
    await host.hooks.fireAsync('sm-stanza-queued', { session, stanza: msg });
    // The same stanza queued twice (two hibernated sessions) pushes once.
    await host.hooks.fireAsync('sm-stanza-queued', { session, stanza: msg.clone() });
    const iq = await app.next();
    expect(AppServer.read(iq).summary['last-message-sender']).toEqual(['juliet@localhost']);
    await app.none();
    // A second, awake session: nothing.
    const desk = await connect(srv, 'romeo', 'desk');
    await host.hooks.fireAsync('sm-stanza-queued', { session, stanza: sxml('message', { from: 'juliet@localhost/x', type: 'chat', id: 'q2' }, sxml('body', {}, 'x')) });
    await app.none();
    await desk.c.stop();
    await new Promise((r) => setTimeout(r, 100));
    await host.hooks.fireAsync('sm-resumed', { session });
    await host.hooks.fireAsync('sm-stanza-queued', { session, stanza: sxml('message', { from: 'juliet@localhost/x', type: 'chat', id: 'q3' }, sxml('body', {}, 'x')) });
    await app.none();
    await host.hooks.fireAsync('sm-hibernated', { session });
    await host.hooks.fireAsync('sm-stanza-queued', { session, stanza: sxml('message', { from: 'juliet@localhost/x', type: 'chat', id: 'q4' }, sxml('body', {}, 'x')) });
    expect(AppServer.read(await app.next()).summary['message-count']).toEqual(['1']);
    await phone.c.stop();
  });

  it('room messages: a mention of an away user pushes (sender = occupant JID), a plain room message does not', async () => {
    const host = srv.server.hosts.get('localhost')!;
    const stanza = sxml('message', { from: 'hall@conference.localhost/Tybalt', type: 'groupchat' }, sxml('body', {}, 'Romeo, a word'));
    await host.hooks.fireAsync('muc/push-candidate', { room: 'hall@conference.localhost', occupantJid: 'hall@conference.localhost/Tybalt', userBare: 'romeo@localhost', stanza, mention: true });
    const iq = await app.next();
    expect(AppServer.read(iq).summary['last-message-sender']).toEqual(['hall@conference.localhost/Tybalt']);
    await host.hooks.fireAsync('muc/push-candidate', { room: 'hall@conference.localhost', occupantJid: 'hall@conference.localhost/Tybalt', userBare: 'romeo@localhost', stanza, mention: false });
    await app.none();
  });

  it('an error answer (item-not-found) disables the registration', async () => {
    app.mode = 'item-not-found';
    await juliet.c.send(chat('romeo@localhost', 'Are you there?', 'm5'));
    await app.next();
    await waitFor(async () => (await registrations(srv, 'romeo')).length === 0);
    app.mode = 'ok';
    await juliet.c.send(chat('romeo@localhost', 'Hello?', 'm6'));
    await app.none();
  });

  it('disable removes one node or every node of an app server', async () => {
    const phone = await connect(srv, 'romeo', 'phone');
    await enable(phone, APP, 'n1');
    await enable(phone, APP, 'n2');
    await enable(phone, APP, 'n3');
    expect((await registrations(srv, 'romeo')).map((r) => r.node).sort()).toEqual(['n1', 'n2', 'n3']);
    await phone.c.iqCaller.set(xml('disable', { xmlns: PUSH, jid: APP, node: 'n1' }));
    expect((await registrations(srv, 'romeo')).map((r) => r.node).sort()).toEqual(['n2', 'n3']);
    await phone.c.iqCaller.set(xml('disable', { xmlns: PUSH, jid: APP }));
    expect(await registrations(srv, 'romeo')).toEqual([]);
    await phone.c.stop();
  });

  it('the app server can withdraw a registration by message (§7)', async () => {
    const phone = await connect(srv, 'romeo', 'phone');
    await enable(phone, APP, 'n9');
    await phone.c.stop();
    const host = srv.server.hosts.get(APP)!;
    srv.server.router.route(
      sxml('message', { from: APP, to: 'romeo@localhost' }, sxml('pubsub', { xmlns: PUBSUB, node: 'n9' }, sxml('affiliation', { jid: 'romeo@localhost', affiliation: 'none' }))),
      host.serverSession,
    );
    await waitFor(async () => (await registrations(srv, 'romeo')).length === 0);
  });

  it('bad enables are refused and store nothing', async () => {
    const phone = await connect(srv, 'tybalt');
    expect((await iqError(phone.c.iqCaller.set(xml('enable', { xmlns: PUSH, jid: APP })))).condition).toBe('bad-request');
    expect((await iqError(phone.c.iqCaller.set(xml('enable', { xmlns: PUSH, jid: 'a@@b', node: 'x' })))).condition).toBe('jid-malformed');
    const wrongForm = xml('enable', { xmlns: PUSH, jid: APP, node: 'x' }, xml('x', { xmlns: DATA, type: 'submit' }, xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'urn:other'))));
    expect((await iqError(phone.c.iqCaller.set(wrongForm))).condition).toBe('bad-request');
    expect(await registrations(srv, 'tybalt')).toEqual([]);
    await phone.c.stop();
  });

  it('federation off: a remote app server outside federation.pushGateways is refused; a listed gateway is accepted', async () => {
    const phone = await connect(srv, 'tybalt');
    const e = await iqError(enable(phone, 'push.example.net', 'x'));
    expect(e.condition).toBe('not-allowed');
    expect(e.text).toContain('federation.pushGateways');
    await enable(phone, 'p2.siacs.eu', 'tok');
    await phone.c.stop();
    // Until s2s exists the gateway cannot answer: a transient failure, the registration stays.
    const host = srv.server.hosts.get('localhost')!;
    const seen = new Promise<any>((resolve) => host.hooks.on('push-published', (ev: any) => resolve(ev)));
    await juliet.c.send(chat('tybalt@localhost', 'You rat-catcher', 't1'));
    const ev = await seen;
    expect(ev.result).toBe('transient');
    expect((await registrations(srv, 'tybalt')).map((r) => [r.jid, r.errors])).toEqual([['p2.siacs.eu', 1]]);
  });
});

describe('scenario 5 with real stream management (XEP-0198 hibernation)', () => {
  let srv: Srv;
  let app: AppServer;

  beforeAll(async () => {
    srv = await startTestServer({ hosts: ['localhost', APP], streamManagement: { hibernation: 2 } });
    app = new AppServer(srv);
    for (const u of ['romeo', 'juliet']) await srv.addUser(u, u + 'pw');
  });
  afterAll(async () => {
    await srv?.stop();
  });

  /** A phone: SM with resumption, push enabled, available; then its TCP connection dies. */
  async function phoneThatDies(node: string, beforeDrop?: () => Promise<void>) {
    const { s } = await loggedIn({ port: srv.port, domain: 'localhost', ca: srv.certPem }, 'romeo', 'romeopw', 'phone');
    const r = await s.iq('set', `<enable xmlns='${PUSH}' jid='${APP}' node='${node}'/>`);
    expect(r.attrs.type).toBe('result');
    s.write(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    await s.next((el: any) => el.name === 'enabled');
    s.write('<presence/>');
    await s.next((el: any) => el.name === 'presence');
    await beforeDrop?.();
    s.destroy();
    const host = srv.server.hosts.get('localhost')!;
    await waitFor(async () => (host.sessions.get('romeo', 'phone') as any)?.hibernating === true);
    return host.sessions.get('romeo', 'phone')!;
  }

  it('a message for a hibernated session publishes a summary without the body; no second push when it goes to offline storage', async () => {
    const juliet = await connect(srv, 'juliet');
    await phoneThatDies('sm-1');
    await juliet.c.send(chat('romeo@localhost', 'Thou art asleep', 's1'));
    const iq = await app.next();
    const { node, summary } = AppServer.read(iq);
    expect(node).toBe('sm-1');
    expect(summary['message-count']).toEqual(['1']);
    expect(summary['last-message-sender']).toEqual(['juliet@localhost']);
    expect(iq.toString()).not.toContain('asleep');
    // Hibernation (2 s) runs out: the unacknowledged message goes to offline storage, stamped by
    // this server; that is not a new message, so no new push.
    const host = srv.server.hosts.get('localhost')!;
    await waitFor(async () => host.sessions.get('romeo', 'phone') === undefined, 5000);
    await app.none(500);
    const back = await connect(srv, 'romeo', 'phone');
    await back.c.send(xml('presence'));
    await back.inbox.wait((m) => m.name === 'message' && m.getChildText('body') === 'Thou art asleep');
    await back.c.stop();
    await juliet.c.stop();
  });

  it('messages the phone never acknowledged when its connection died push at once, counted', async () => {
    const juliet = await connect(srv, 'juliet');
    await phoneThatDies('sm-2', async () => {
      await juliet.c.send(chat('romeo@localhost', 'one', 'u1'));
      await juliet.c.send(chat('romeo@localhost', 'two', 'u2'));
      await new Promise((r) => setTimeout(r, 200));
    });
    const iq = await app.next();
    expect(AppServer.read(iq).summary['message-count']).toEqual(['2']);
    await juliet.c.stop();
  });
});

describe('push with the body configured, and transient errors', () => {
  let srv: Srv;
  let app: AppServer;

  beforeAll(async () => {
    srv = await startTestServer({ hosts: ['localhost', APP], modules: { push: { includeBody: true, bodyLength: 10, maxTransientErrors: 2, timeoutMs: 500 } } });
    app = new AppServer(srv);
    for (const u of ['romeo', 'juliet']) await srv.addUser(u, u + 'pw');
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('includes last-message-body, cut to bodyLength; wait errors and timeouts disable after maxTransientErrors', async () => {
    const phone = await connect(srv, 'romeo');
    await enable(phone, APP, 'n');
    await phone.c.stop();
    const juliet = await connect(srv, 'juliet');
    await juliet.c.send(chat('romeo@localhost', 'Wherefore art thou, Romeo?', 'b1'));
    expect(AppServer.read(await app.next()).summary['last-message-body']).toEqual(['Wherefore ']);
    app.mode = 'wait';
    await juliet.c.send(chat('romeo@localhost', 'one', 'b2'));
    await app.next();
    await waitFor(async () => (await registrations(srv, 'romeo'))[0]?.errors === 1);
    app.mode = 'silent';
    await juliet.c.send(chat('romeo@localhost', 'two', 'b3'));
    await app.next();
    await waitFor(async () => (await registrations(srv, 'romeo')).length === 0, 3000);
  });
});

describe('isAllowedRemote (what outbound s2s will consult)', () => {
  const off = { enabled: false, pushGateways: DEFAULT_PUSH_GATEWAYS };
  it('federation off: only the push gateways, whatever the case or a final dot', () => {
    expect(isAllowedRemote(off, 'p2.siacs.eu')).toBe(true);
    expect(isAllowedRemote(off, 'P2.Siacs.EU.')).toBe(true);
    expect(isAllowedRemote(off, 'eu.prod.push.monal-im.org')).toBe(true);
    expect(isAllowedRemote(off, 'example.org')).toBe(false);
    expect(isAllowedRemote(off, 'evil.p2.siacs.eu')).toBe(false);
    expect(isAllowedRemote(off, 'not a domain')).toBe(false);
    expect(isAllowedRemote({ enabled: false, pushGateways: [] }, 'p2.siacs.eu')).toBe(false);
  });
  it('federation on: every valid domain', () => {
    expect(isAllowedRemote({ enabled: true, pushGateways: [] }, 'example.org')).toBe(true);
    expect(isAllowedRemote({ enabled: true, pushGateways: [] }, '')).toBe(false);
  });
  it('local domains are hosts and their subdomains', () => {
    expect(isLocalDomain(['example.org'], 'conference.example.org')).toBe(true);
    expect(isLocalDomain(['example.org'], 'EXAMPLE.org')).toBe(true);
    expect(isLocalDomain(['example.org'], 'badexample.org')).toBe(false);
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
