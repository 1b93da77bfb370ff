// Group chat test helpers: a startTestServer() server with its accounts and real @xmpp/client
// sessions, each with an inbox (helpers/inbox.ts) to wait for (or rule out) stanzas, and the MUC
// conversations tests repeat (join, form submission, admin items).
import { expect } from 'vitest';
import { xml } from '@xmpp/client';
import { errorCondition, login } from './im.js';
import { available, Inbox } from './inbox.js';
import { startTestServer } from './server.js';

export { xml };
export type Srv = Awaited<ReturnType<typeof startTestServer>>;

export const NS = {
  muc: 'http://jabber.org/protocol/muc',
  user: 'http://jabber.org/protocol/muc#user',
  admin: 'http://jabber.org/protocol/muc#admin',
  owner: 'http://jabber.org/protocol/muc#owner',
  data: 'jabber:x:data',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  discoItems: 'http://jabber.org/protocol/disco#items',
  sid: 'urn:xmpp:sid:0',
  oid: 'urn:xmpp:occupant-id:0',
  mam: 'urn:xmpp:mam:2',
  rsm: 'http://jabber.org/protocol/rsm',
  forward: 'urn:xmpp:forward:0',
  delay: 'urn:xmpp:delay',
  ping: 'urn:xmpp:ping',
  vcard: 'vcard-temp',
  retract: 'urn:xmpp:message-retract:1',
  moderate: 'urn:xmpp:message-moderate:1',
  conference: 'jabber:x:conference',
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
};

export { Inbox };

export interface User {
  c: any;
  inbox: Inbox;
  /** Full JID. */
  jid: string;
  bare: string;
  send(el: any): Promise<void>;
  /** iq request; resolves with the result, rejects with the StanzaError (condition, text). */
  iq(el: any): Promise<any>;
  stop(): Promise<void>;
}

/** A logged-in client that has sent its initial presence (so messages to its bare JID reach it). */
export async function connect(srv: Srv, username: string, resource?: string): Promise<User> {
  // Client errors stay unhandled here: a stream error during a MUC test fails it.
  const p = await login(srv, username, resource, { password: username + '-pw', quiet: false, inbox: { noneMs: 300 } });
  await available(p);
  const { c } = p;
  return {
    ...p,
    send: (el: any) => c.send(el),
    iq: (el: any) => c.iqCaller.request(el),
    stop: () => c.stop().catch(() => {}),
  };
}

export interface MucTestServer<C extends readonly string[]> {
  srv: Srv;
  /** The MUC service's domain (conference.<host>). */
  svc: string;
  /** The `connected` users, in that order. */
  users: { -readonly [K in keyof C]: User };
}

/**
 * A test server with `overrides`, accounts (password name + '-pw') for `connected` and
 * `offline`, and the `connected` ones logged in and available.
 */
export async function startMucServer<const C extends readonly string[]>(overrides: Record<string, unknown>, connected: C, offline: string[] = []): Promise<MucTestServer<C>> {
  const srv = await startTestServer(overrides as never);
  for (const u of [...connected, ...offline]) await srv.addUser(u, u + '-pw');
  const users = await Promise.all(connected.map((u) => connect(srv, u)));
  return { srv, svc: `conference.${srv.host}`, users: users as MucTestServer<C>['users'] };
}

export const isPresence = (from?: string, type?: string) => (s: any) =>
  s.name === 'presence' && (from === undefined || s.attrs.from === from) && (type === undefined ? s.attrs.type === undefined : s.attrs.type === type);

export const statusCodes = (s: any): number[] =>
  (s.getChild('x', NS.user)?.getChildren('status') ?? []).map((st: any) => Number(st.attrs.code)).sort((a: number, b: number) => a - b);

export const mucItem = (s: any) => s.getChild('x', NS.user)?.getChild('item');

export { errorCondition };

export const errorText = (s: any): string | undefined => s.getChild('error')?.getChildText('text');

export const isSelf = (room: string, nick: string) => (s: any) => isPresence(`${room}/${nick}`)(s) && statusCodes(s).includes(110);

/** The XEP-0359 stanza id a room (not a user's archive) stamped on a message. */
export const roomStanzaId = (s: any) => s.getChildren('stanza-id', NS.sid).find((e: any) => e.attrs.by?.includes('@conference'))?.attrs.id;

export const isMsg = (body: string) => (s: any) => s.name === 'message' && s.getChildText('body') === body;

export const isSubject = (room: string) => (s: any) => s.name === 'message' && s.attrs.from?.startsWith(room) && s.getChild('subject') !== undefined && !s.getChild('body');

export interface JoinResult {
  self: any;
  /** Presence of others received before the self-presence. */
  others: any[];
  history: any[];
  subject: any;
}

/** Enters a room and waits until the subject (the end of the join, XEP-0045 §7.2.15). */
export async function join(u: User, room: string, nick: string, o: { password?: string; history?: Record<string, string>; gc1?: boolean; status?: string } = {}): Promise<JoinResult> {
  const x = o.gc1 ? undefined : xml('x', { xmlns: NS.muc }, o.password !== undefined ? xml('password', {}, o.password) : undefined, o.history ? xml('history', o.history) : undefined);
  await u.send(xml('presence', { to: `${room}/${nick}` }, x, o.status ? xml('status', {}, o.status) : undefined));
  const self = await u.inbox.wait((s) => (isSelf(room, nick)(s) || (s.name === 'presence' && s.attrs.type === 'error' && s.attrs.from === `${room}/${nick}`)), 5000, `self-presence in ${room} as ${nick}`);
  if (self.attrs.type === 'error') throw Object.assign(new Error(`join refused: ${errorCondition(self)} ${errorText(self) ?? ''}`), { condition: errorCondition(self), stanza: self });
  // Everything before the subject: others' presence (already in the inbox), history messages.
  const subject = await u.inbox.wait(isSubject(room), 5000, `subject of ${room}`);
  const others: any[] = [];
  const history: any[] = [];
  u.inbox.items = u.inbox.items.filter((s) => {
    if (s.name === 'presence' && s.attrs.from?.startsWith(room + '/') && !s.attrs.type) {
      others.push(s);
      return false;
    }
    if (s.name === 'message' && s.attrs.from?.startsWith(room) && s.getChild('delay', NS.delay)) {
      history.push(s);
      return false;
    }
    return true;
  });
  return { self, others, history, subject };
}

/** Joins expecting an error presence; returns its condition. */
export async function joinError(u: User, room: string, nick: string, o: { password?: string } = {}): Promise<{ condition: string | undefined; text: string | undefined }> {
  try {
    await join(u, room, nick, o);
  } catch (e: any) {
    if (e.condition) return { condition: e.condition, text: errorText(e.stanza) };
    throw e;
  }
  throw new Error('join unexpectedly succeeded');
}

export async function leave(u: User, room: string, nick: string): Promise<void> {
  await u.send(xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }));
  await u.inbox.wait((s) => isPresence(`${room}/${nick}`, 'unavailable')(s) && statusCodes(s).includes(110));
}

/** A submit form with FORM_TYPE and the given fields (arrays are multi-valued). */
export function form(formType: string, fields: Record<string, string | string[] | boolean>): any {
  return xml(
    'x',
    { xmlns: NS.data, type: 'submit' },
    xml('field', { var: 'FORM_TYPE' }, xml('value', {}, formType)),
    ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, ...(Array.isArray(v) ? v : [typeof v === 'boolean' ? (v ? '1' : '0') : v]).map((x) => xml('value', {}, x)))),
  );
}

export function configure(u: User, room: string, fields: Record<string, string | string[] | boolean>): Promise<any> {
  return u.iq(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: NS.owner }, form('http://jabber.org/protocol/muc#roomconfig', fields))));
}

/** Creates a room as `nick`: reserved (locked) and configured with `fields`, or instant when fields is omitted. */
export async function createRoom(u: User, room: string, nick: string, fields?: Record<string, string | string[] | boolean>): Promise<JoinResult> {
  const r = await join(u, room, nick);
  expect(statusCodes(r.self)).toContain(201);
  if (fields) await configure(u, room, fields);
  else await u.iq(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: NS.owner }, xml('x', { xmlns: NS.data, type: 'submit' }))));
  return r;
}

export function adminSet(u: User, room: string, items: Record<string, string | undefined>[], reasons: (string | undefined)[] = []): Promise<any> {
  return u.iq(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: NS.admin }, ...items.map((it, i) => xml('item', it, reasons[i] ? xml('reason', {}, reasons[i]) : undefined)))));
}

export async function adminList(u: User, room: string, attr: Record<string, string>): Promise<any[]> {
  const r = await u.iq(xml('iq', { type: 'get', to: room }, xml('query', { xmlns: NS.admin }, xml('item', attr))));
  return r.getChild('query', NS.admin).getChildren('item');
}

/** Expects an iq to fail; returns the error condition and text. */
export async function iqError(p: Promise<any>): Promise<{ condition: string; text: string | undefined; type: string }> {
  try {
    await p;
  } catch (e: any) {
    if (e?.name === 'StanzaError') return { condition: e.condition, text: e.text, type: e.type };
    throw e;
  }
  throw new Error('iq unexpectedly succeeded');
}

export function groupchat(u: User, room: string, body: string, extra: any[] = []): Promise<void> {
  return u.send(xml('message', { to: room, type: 'groupchat', id: 'm-' + Math.random().toString(36).slice(2) }, xml('body', {}, body), ...extra));
}

export async function discoInfo(u: User, jid: string): Promise<{ features: string[]; identities: any[]; form: Map<string, string[]> }> {
  const r = await u.iq(xml('iq', { type: 'get', to: jid }, xml('query', { xmlns: NS.discoInfo })));
  const q = r.getChild('query', NS.discoInfo);
  const f = new Map<string, string[]>();
  for (const x of q.getChildren('x', NS.data)) for (const field of x.getChildren('field')) f.set(field.attrs.var, field.getChildren('value').map((v: any) => v.text()));
  return { features: q.getChildren('feature').map((e: any) => e.attrs.var), identities: q.getChildren('identity'), form: f };
}

let n = 0;
export const uniq = (p: string) => `${p}${++n}${Math.random().toString(36).slice(2, 6)}`;
