// Test helpers for the IM modules (roster, presence, messages, carbons, archive, blocking): logged-in
// and online sessions with an inbox each (helpers/inbox.ts), roster pushes and presence to wait
// for, subscriptions made over the wire, and an archive query that collects the <result/>
// messages of one queryid with the final <fin/>.
import { randomBytes } from 'node:crypto';
import { xml } from '@xmpp/client';
import { expect } from 'vitest';
import { available, Inbox, type InboxOptions } from './inbox.js';

export const ROSTER = 'jabber:iq:roster';
export const MAM = 'urn:xmpp:mam:2';
export const RSM = 'http://jabber.org/protocol/rsm';
export const CARBONS = 'urn:xmpp:carbons:2';
export const FORWARD = 'urn:xmpp:forward:0';
export const SID = 'urn:xmpp:sid:0';
export const HINTS = 'urn:xmpp:hints';
export const BLOCKING = 'urn:xmpp:blocking';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const DATA = 'jabber:x:data';

export { Inbox, type InboxOptions } from './inbox.js';

export interface Peer {
  c: any;
  inbox: Inbox;
  /** Full JID. */
  jid: string;
  bare: string;
}

type Srv = { client(u: string, pw: string, resource?: string): Promise<any>; host: string };

export interface LoginOptions {
  /** Default: the username + 'pw', as the test files create their accounts. */
  password?: string;
  inbox?: InboxOptions;
  /**
   * Ignore the client's 'error' events (default). false leaves them unhandled, so a stream
   * error fails the test instead of passing unseen.
   */
  quiet?: boolean;
}

/**
 * Logged in, nothing sent yet; roster and blocking pushes are acknowledged as clients should
 * (RFC 6121 §2.1.6, XEP-0191 §3.2).
 */
export async function login(srv: Srv, user: string, resource?: string, opts: LoginOptions = {}): Promise<Peer> {
  const c = await srv.client(user, opts.password ?? user + 'pw', resource);
  if (opts.quiet !== false) c.on('error', () => {});
  const inbox = new Inbox(c, opts.inbox);
  c.iqCallee.set(ROSTER, 'query', () => true);
  c.iqCallee.set(BLOCKING, 'block', () => true);
  c.iqCallee.set(BLOCKING, 'unblock', () => true);
  const jid = c.jid.toString();
  return { c, inbox, jid, bare: jid.split('/')[0]! };
}

export interface OnlineOptions extends LoginOptions {
  /** Send initial presence (default true). */
  presence?: boolean;
  priority?: number;
}

/** Logged in with roster fetched (pushes acknowledged); available when `presence` (default). */
export async function online(srv: Srv, user: string, resource?: string, opts: OnlineOptions = {}): Promise<Peer> {
  const p = await login(srv, user, resource, opts);
  await p.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
  if (opts.presence !== false) await available(p, opts.priority);
  return p;
}

/**
 * connect/online bound to a server the file keeps in a module variable (set in beforeAll), with
 * the file's inbox timing: connect(user, pw, resource) only logs in, online(user, resource,
 * priority) also fetches the roster and becomes available.
 */
export function clientsOf(srv: () => Srv, inbox?: InboxOptions) {
  return {
    connect: (user: string, password: string, resource?: string) => login(srv(), user, resource, { password, inbox }),
    online: (user: string, resource?: string, priority?: number) => online(srv(), user, resource, { priority, inbox }),
  };
}

/** A roster push (for `jid` when given, with subscription `sub` when given). */
export const isPush = (jid?: string, sub?: string) => (s: any) =>
  s.name === 'iq' &&
  s.attrs.type === 'set' &&
  s.getChild('query', ROSTER) !== undefined &&
  (!jid || s.getChild('query', ROSTER).getChild('item')?.attrs.jid === jid) &&
  (sub === undefined || s.getChild('query', ROSTER).getChild('item')?.attrs.subscription === sub);

export const rosterItem = (push: any) => push.getChild('query', ROSTER).getChild('item');

/** Presence of `type` (undefined: available), from `from` when given. */
export const pres = (type: string | undefined, from?: string) => (s: any) =>
  s.name === 'presence' && s.attrs.type === type && (from === undefined || s.attrs.from === from);

/** Mutual subscription (Both) between two online users, via pre-approval. */
export async function befriend(a: Peer, b: Peer): Promise<void> {
  await a.c.send(xml('presence', { to: b.bare, type: 'subscribed' }));
  await a.inbox.wait(isPush(b.bare));
  await b.c.send(xml('presence', { to: a.bare, type: 'subscribed' }));
  await b.inbox.wait(isPush(a.bare));
  await a.c.send(xml('presence', { to: b.bare, type: 'subscribe' }));
  await b.c.send(xml('presence', { to: a.bare, type: 'subscribe' }));
  await a.inbox.wait(isPush(b.bare, 'both'));
  await b.inbox.wait(isPush(a.bare, 'both'));
  a.inbox.clear();
  b.inbox.clear();
}

/** One-way: `follower` sees `owner`'s presence (owner's roster: from; follower's: to). */
export async function follow(follower: Peer, owner: Peer): Promise<void> {
  await owner.c.send(xml('presence', { to: follower.bare, type: 'subscribed' }));
  await owner.inbox.wait(isPush(follower.bare));
  await follower.c.send(xml('presence', { to: owner.bare, type: 'subscribe' }));
  await follower.inbox.wait(isPush(owner.bare, 'to'));
  await owner.inbox.wait(isPush(follower.bare, 'from'));
  follower.inbox.clear();
  owner.inbox.clear();
}

export async function enableCarbons(p: Peer): Promise<void> {
  await p.c.iqCaller.set(xml('enable', { xmlns: CARBONS }));
}

export const chat = (to: string, body: string, extra: any[] = [], attrs: Record<string, string> = {}) =>
  xml('message', { to, type: 'chat', id: 'm-' + randomBytes(4).toString('hex'), ...attrs }, xml('body', {}, body), ...extra);

/** The defined condition of a stanza error (the <error/> child that is not <text/>). */
export const errorCondition = (s: any): string | undefined =>
  s.getChild('error')?.children.find((c: any) => typeof c !== 'string' && c.name !== 'text')?.name;

export const isBody = (body: string) => (s: any) => s.name === 'message' && s.getChildText('body') === body;

/** A carbon of `direction` whose forwarded message has `body`. */
export const isCarbon = (direction: 'sent' | 'received', body?: string) => (s: any) => {
  const w = s.name === 'message' ? s.getChild(direction, CARBONS) : undefined;
  const m = w?.getChild('forwarded', FORWARD)?.getChild('message');
  return m !== undefined && (body === undefined || m.getChildText('body') === body);
};

export const forwardedOf = (carbon: any, direction: 'sent' | 'received') => carbon.getChild(direction, CARBONS).getChild('forwarded', FORWARD).getChild('message');

export function stanzaId(msg: any, by: string): string | undefined {
  return msg.getChildren('stanza-id', SID).find((e: any) => e.attrs.by === by)?.attrs.id;
}

export interface MamPage {
  results: { id: string; stamp: string; message: any }[];
  fin: any;
  complete: boolean;
  first?: string;
  last?: string;
  count?: number;
}

export interface MamArgs {
  with?: string;
  start?: string;
  end?: string;
  beforeId?: string;
  afterId?: string;
  ids?: string[];
  text?: string;
  textField?: string;
  max?: number;
  after?: string;
  before?: string;
  flip?: boolean;
  extraFields?: Record<string, string>;
}

export function mamQuery(a: MamArgs, queryid: string): any {
  const fields: any[] = [xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM))];
  const f = (name: string, ...values: string[]) => fields.push(xml('field', { var: name }, ...values.map((v) => xml('value', {}, v))));
  if (a.with !== undefined) f('with', a.with);
  if (a.start !== undefined) f('start', a.start);
  if (a.end !== undefined) f('end', a.end);
  if (a.beforeId !== undefined) f('before-id', a.beforeId);
  if (a.afterId !== undefined) f('after-id', a.afterId);
  if (a.ids !== undefined) f('ids', ...a.ids);
  if (a.text !== undefined) f(a.textField ?? 'withtext', a.text);
  for (const [k, v] of Object.entries(a.extraFields ?? {})) f(k, v);
  const set =
    a.max !== undefined || a.after !== undefined || a.before !== undefined
      ? xml(
          'set',
          { xmlns: RSM },
          a.max !== undefined ? xml('max', {}, String(a.max)) : undefined,
          a.after !== undefined ? xml('after', {}, a.after) : undefined,
          a.before !== undefined ? xml('before', {}, a.before) : undefined,
        )
      : undefined;
  return xml('query', { xmlns: MAM, queryid }, xml('x', { xmlns: DATA, type: 'submit' }, ...fields), set, a.flip ? xml('flip-page') : undefined);
}

/** Runs one archive query and returns its results in the order they arrived. */
export async function mam(p: Peer, a: MamArgs = {}): Promise<MamPage> {
  const queryid = 'q' + randomBytes(4).toString('hex');
  const res = await p.c.iqCaller.request(xml('iq', { type: 'set' }, mamQuery(a, queryid)));
  const fin = res.getChild('fin', MAM);
  expect(fin).toBeDefined();
  // The results were sent before the iq result; they are in the inbox by now.
  const msgs = p.inbox.take((s) => s.name === 'message' && s.getChild('result', MAM)?.attrs.queryid === queryid);
  const results = msgs.map((m) => {
    const r = m.getChild('result', MAM);
    const fwd = r.getChild('forwarded', FORWARD);
    expect(m.attrs.from === undefined || m.attrs.from === p.bare).toBe(true);
    // The archived message is in jabber:client inside <forwarded/> (XEP-0297).
    expect(fwd.getChild('message')?.attrs.xmlns).toBe('jabber:client');
    return { id: r.attrs.id, stamp: fwd.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp, message: fwd.getChild('message') };
  });
  const set = fin.getChild('set', RSM);
  const count = set?.getChildText('count');
  const page: MamPage = { results, fin, complete: fin.attrs.complete === 'true' };
  if (set?.getChildText('first') !== undefined) page.first = set.getChildText('first');
  if (set?.getChildText('last') !== undefined) page.last = set.getChildText('last');
  if (count !== undefined && count !== null) page.count = Number(count);
  return page;
}

/** The condition of the error an iq request ends with, or 'no error' when it succeeds. */
export function errCondition(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: { condition?: string }) => e.condition ?? String(e),
  );
}

/** The condition of an iq error raised by iqCaller. */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e: any) {
    return e.condition ?? e.name ?? String(e);
  }
  throw new Error('expected an error');
}

export const bodies = (page: MamPage) => page.results.map((r) => r.message.getChildText('body'));
