// Test helpers for PEP and the modules on it: sessions with an inbox and subscriptions made over
// the wire (helpers/im.ts), and XEP-0115 caps a client announces and answers disco#info for (computed
// here independently of the server's code, so a server-side hashing bug cannot hide).
import { createHash } from 'node:crypto';
import { xml } from '@xmpp/client';
import { online, type Peer as ImPeer } from './im.js';

export const PUBSUB = 'http://jabber.org/protocol/pubsub';
export const PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner';
export const PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';
export const PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors';
export const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const CAPS = 'http://jabber.org/protocol/caps';
export const DATA = 'jabber:x:data';

export { befriend, follow, isPush } from './im.js';

export interface Peer extends ImPeer {
  /** The username. */
  name: string;
}

type Srv = { client(u: string, pw: string, resource?: string): Promise<any>; host: string };

/** Logged in, roster fetched (roster pushes are acknowledged), no presence sent yet. */
export async function connect(srv: Srv, name: string, resource?: string): Promise<Peer> {
  const p = await online(srv, name, resource, { presence: false, inbox: { waitMs: 4000, noneMs: 400 } });
  return { ...p, name };
}

export interface Identity {
  category: string;
  type: string;
  name?: string;
  lang?: string;
}

const octets = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** XEP-0115 §5.1 ver for identities + features (no extension forms), with `algo`. */
export function capsVer(identities: Identity[], features: string[], algo = 'sha1'): string {
  let s = '';
  for (const i of identities.map((i) => `${i.category}/${i.type}/${i.lang ?? ''}/${i.name ?? ''}`).sort(octets)) s += i + '<';
  for (const f of [...features].sort(octets)) s += f + '<';
  return createHash(algo).update(s, 'utf8').digest('base64');
}

const NODE = 'https://roost.test/caps';
const defaultIdentities: Identity[] = [{ category: 'client', type: 'phone', name: 'Roost test' }];

export interface Announced {
  ver: string;
  /** disco#info queries this client answered for its caps node. */
  queries: () => number;
}

const answering = new WeakMap<object, { features: string[]; identities: Identity[]; count: number }>();

/**
 * Makes the client answer disco#info for its caps (once per client) and sends available presence
 * with <c/>. `ver` overrides the computed one (a lying client); `to` makes it directed.
 */
export async function announce(
  peer: Peer,
  features: string[],
  opts: { priority?: number; ver?: string; hash?: string; to?: string; identities?: Identity[]; extra?: any[] } = {},
): Promise<Announced> {
  const all = [DISCO_INFO, ...features];
  const identities = opts.identities ?? defaultIdentities;
  let st = answering.get(peer.c);
  if (!st) {
    st = { features: all, identities, count: 0 };
    answering.set(peer.c, st);
    const state = st;
    peer.c.iqCallee.get(DISCO_INFO, 'query', (ctx: any) => {
      const node = ctx.element.attrs.node;
      if (node?.startsWith(NODE + '#')) state.count++;
      return xml(
        'query',
        { xmlns: DISCO_INFO, node },
        ...state.identities.map((i) => xml('identity', { category: i.category, type: i.type, name: i.name, 'xml:lang': i.lang })),
        ...state.features.map((f) => xml('feature', { var: f })),
      );
    });
  }
  st.features = all;
  st.identities = identities;
  const hash = opts.hash ?? 'sha-1';
  const algo = hash.replace('-', '');
  const ver = opts.ver ?? capsVer(identities, all, algo);
  await peer.c.send(
    xml(
      'presence',
      { to: opts.to },
      opts.priority === undefined ? undefined : xml('priority', {}, String(opts.priority)),
      xml('c', { xmlns: CAPS, hash, node: NODE, ver }),
      ...(opts.extra ?? []),
    ),
  );
  const state = st;
  return { ver, queries: () => state.count };
}

/** An iq error's condition and pubsub#errors condition. */
export async function iqError(p: Promise<unknown>): Promise<{ condition: string; app?: string; type?: string; text?: string }> {
  try {
    await p;
  } catch (e: any) {
    const app = e.application?.attrs?.xmlns === PUBSUB_ERRORS ? e.application.name : e.application?.name;
    return { condition: e.condition ?? String(e), app, type: e.type, text: e.text };
  }
  return { condition: 'no error' };
}

export function publishIq(node: string, payload: any, id?: string, options?: Record<string, string>): any {
  return xml(
    'pubsub',
    { xmlns: PUBSUB },
    xml('publish', { node }, xml('item', { id }, payload)),
    options ? xml('publish-options', {}, form('http://jabber.org/protocol/pubsub#publish-options', options)) : undefined,
  );
}

export function form(type: string, fields: Record<string, string | string[]>, formType = 'submit'): any {
  return xml(
    'x',
    { xmlns: DATA, type: formType },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, type)),
    ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, ...(Array.isArray(v) ? v : [v]).map((x) => xml('value', {}, x)))),
  );
}

/** Field values of a data form by var. */
export function formFields(x: any): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of x.getChildren('field')) out[f.attrs.var] = f.getChildren('value').map((v: any) => v.text());
  return out;
}

export const isEvent = (node: string, from?: string) => (s: any) =>
  s.name === 'message' && s.getChild('event', PUBSUB_EVENT) !== undefined &&
  (s.getChild('event', PUBSUB_EVENT).getChildElements().some((c: any) => c.attrs.node === node)) &&
  (from === undefined || s.attrs.from === from);
