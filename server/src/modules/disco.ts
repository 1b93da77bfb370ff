// XEP-0030: Service Discovery
// https://xmpp.org/extensions/xep-0030.html
// Version 2.5rc3 (2017-10-03)
// XEP-0115: Entity Capabilities (the server's own caps, announced in stream features)
// https://xmpp.org/extensions/xep-0115.html
// Version 1.6.0 (2020-06-10)
// XEP-0128: Service Discovery Extensions
// https://xmpp.org/extensions/xep-0128.html
// Version 1.0 (2004-10-20)
//
// Answers disco#info/#items for the domain (from api.disco) and, on an account's behalf, for its
// bare JID, like Prosody's mod_disco. Other modules extend the answers through hooks:
//   host-disco-info-node / host-disco-items-node      ({ event, node, reply }) → true if known
//   account-disco-info / account-disco-items          ({ event, username, reply, trusted })
//   account-disco-info-node / account-disco-items-node ({ event, username, node, reply, trusted })
// `trusted` is true for the account owner and for contacts the account shares presence with
// (subscription from/both); strangers only get what is public.
import { createHash } from 'node:crypto';
import { defineModule, type DiscoIdentity, type ModuleApi, type StanzaEvent } from '../core/module.js';
import { Element, xml } from '../xml/element.js';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from '../xmpp/xep0030.js';
import { NS_CAPS } from '../xmpp/xep0115.js';
import { formType, parseForm } from './dataforms.js';

export { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_CAPS };

/** Default caps node: a URI naming the software (XEP-0115 §4). */
export const DEFAULT_CAPS_NODE = 'urn:roost:server';

export interface HostDiscoNodeEvent {
  event: StanzaEvent;
  node: string;
  /** The <query/> being built; handlers append identities/features/items. */
  reply: Element;
}

export interface AccountDiscoEvent {
  event: StanzaEvent;
  username: string;
  node?: string;
  reply: Element;
  trusted: boolean;
}

/** The event of the `stream-features` hook (fired by c2s before sending <stream:features/>). */
export interface StreamFeaturesEvent {
  session: { username?: string; secure: boolean; address: string };
  features: Element;
}

/** Compares strings by their UTF-8 octets (the i;octet collation XEP-0115 §5.1 requires). */
export function octetCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * XEP-0115 §5.1 verification string and its base64 SHA-1. Identities are
 * category/type/lang/name; features; then each extension form (ordered by FORM_TYPE) as
 * FORM_TYPE, then fields ordered by var, each followed by its sorted values.
 */
export function capsVerificationString(
  identities: (DiscoIdentity & { lang?: string })[],
  features: string[],
  forms: Element[],
): string {
  let s = '';
  const ids = identities
    .map((i) => `${i.category}/${i.type}/${i.lang ?? ''}/${i.name ?? ''}`)
    .sort(octetCompare);
  for (const i of ids) s += i + '<';
  for (const f of [...new Set(features)].sort(octetCompare)) s += f + '<';
  const parsed = forms
    .map((el) => parseForm(el))
    .filter((f): f is NonNullable<typeof f> => f !== undefined)
    .map((f) => ({ type: formType(f), form: f }))
    // §5.4: forms without a FORM_TYPE are not part of the hash.
    .filter((f): f is { type: string; form: NonNullable<ReturnType<typeof parseForm>> } => f.type !== undefined)
    .sort((a, b) => octetCompare(a.type, b.type));
  for (const { type, form } of parsed) {
    s += type + '<';
    const fields = form.fields
      .filter((f) => f.var !== undefined && f.var !== 'FORM_TYPE')
      .sort((a, b) => octetCompare(a.var!, b.var!));
    for (const f of fields) {
      s += f.var! + '<';
      for (const v of [...f.values].sort(octetCompare)) s += v + '<';
    }
  }
  return s;
}

export function capsHash(s: string): string {
  return createHash('sha1').update(s, 'utf8').digest('base64');
}

function identityKey(i: DiscoIdentity): string {
  return `${i.category}/${i.type}/${i.name ?? ''}`;
}

/** What the server's own disco#info holds: identities, features and extension forms. */
export function serverInfo(api: ModuleApi): { identities: DiscoIdentity[]; features: string[]; forms: Element[] } {
  const seen = new Set<string>();
  const identities: DiscoIdentity[] = [];
  const name = typeof api.options.name === 'string' ? api.options.name : 'Roost';
  for (const i of [{ category: 'server', type: 'im', name }, ...api.disco.identities()]) {
    // Another module may also register server/im; one entry is enough.
    const k = i.category === 'server' && i.type === 'im' ? 'server/im' : identityKey(i);
    if (seen.has(k)) continue;
    seen.add(k);
    identities.push(i);
  }
  const features = [...new Set([NS_DISCO_INFO, NS_DISCO_ITEMS, ...api.disco.features()])];
  return { identities, features, forms: api.disco.extensions() };
}

/** The server's current caps `ver` (sha-1). */
export function serverCapsVer(api: ModuleApi): string {
  const { identities, features, forms } = serverInfo(api);
  return capsHash(capsVerificationString(identities, features, forms));
}

function appendInfo(query: Element, identities: DiscoIdentity[], features: string[], forms: Element[] = []): void {
  for (const i of identities) query.c('identity', { category: i.category, type: i.type, name: i.name });
  for (const f of features) query.c('feature', { var: f });
  for (const f of forms) query.append(f.clone());
}

/**
 * True when `username`'s roster shares presence with `contact` (subscription from or both),
 * i.e. the contact may see the account's presence and activity. Reads the roster store
 * written by the roster module: keyval 'roster', owner = bare JID, key = contact bare JID.
 */
export async function isContactSubscribed(api: ModuleApi, username: string, contact: string): Promise<boolean> {
  const owner = `${username}@${api.host}`;
  if (contact === owner) return true;
  const item = await api.keyval('roster').get(owner, contact);
  if (!item || typeof item !== 'object' || Array.isArray(item)) return false;
  const sub = item.subscription;
  return sub === 'from' || sub === 'both';
}

export default defineModule({
  name: 'disco',
  spec: 'XEP-0030: Service Discovery; XEP-0115: Entity Capabilities; XEP-0128',
  load(api) {
    const capsNode = typeof api.options.capsNode === 'string' ? api.options.capsNode : DEFAULT_CAPS_NODE;

    api.hook('iq-get/host/' + NS_DISCO_INFO, async (event) => {
      const q = event.stanza.getChild('query', NS_DISCO_INFO);
      const node = q?.attrs.node;
      const reply = xml('query', { xmlns: NS_DISCO_INFO, node });
      if (node === undefined || node === '') {
        const info = serverInfo(api);
        appendInfo(reply, info.identities, info.features, info.forms);
        return api.replyResult(event, reply);
      }
      const info = serverInfo(api);
      // A client that saw our caps in stream features asks for node#ver (XEP-0115 §6.2).
      if (node === `${capsNode}#${capsHash(capsVerificationString(info.identities, info.features, info.forms))}`) {
        appendInfo(reply, info.identities, info.features, info.forms);
        return api.replyResult(event, reply);
      }
      const ev: HostDiscoNodeEvent = { event, node, reply };
      if (await api.hooks.fireAsync('host-disco-info-node', ev)) return api.replyResult(event, reply);
      return api.replyError(event, 'cancel', 'item-not-found');
    });

    api.hook('iq-get/host/' + NS_DISCO_ITEMS, async (event) => {
      const q = event.stanza.getChild('query', NS_DISCO_ITEMS);
      const node = q?.attrs.node;
      const reply = xml('query', { xmlns: NS_DISCO_ITEMS, node });
      if (node === undefined || node === '') {
        for (const item of api.disco.items()) reply.c('item', { jid: item.jid, name: item.name, node: item.node });
        return api.replyResult(event, reply);
      }
      const ev: HostDiscoNodeEvent = { event, node, reply };
      if (await api.hooks.fireAsync('host-disco-items-node', ev)) return api.replyResult(event, reply);
      return api.replyError(event, 'cancel', 'item-not-found');
    });

    // The server answers for an account's bare JID (RFC 6120 §10.5.4.1 / XEP-0030 §3.1).
    const accountInfo = async (event: StanzaEvent, self: boolean) => {
      const username = self ? (event.from.local ?? event.origin.username) : event.to.local;
      if (username === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      if (!self && !(await api.userExists(username))) return api.replyError(event, 'cancel', 'service-unavailable');
      const trusted = self || (await isContactSubscribed(api, username, event.from.bare));
      const q = event.stanza.getChild('query', NS_DISCO_INFO);
      const node = q?.attrs.node;
      const reply = xml('query', { xmlns: NS_DISCO_INFO, node });
      if (node !== undefined && node !== '') {
        const ev: AccountDiscoEvent = { event, username, node, reply, trusted };
        if (await api.hooks.fireAsync('account-disco-info-node', ev)) return api.replyResult(event, reply);
        return api.replyError(event, 'cancel', 'item-not-found');
      }
      const identities: DiscoIdentity[] = [{ category: 'account', type: 'registered' }];
      const features = [NS_DISCO_INFO, NS_DISCO_ITEMS];
      if (trusted) {
        for (const i of api.disco.accountIdentities()) {
          if (!identities.some((x) => identityKey(x) === identityKey(i))) identities.push(i);
        }
        for (const f of api.disco.accountFeatures()) if (!features.includes(f)) features.push(f);
      }
      appendInfo(reply, identities, features);
      await api.hooks.fireAsync('account-disco-info', { event, username, reply, trusted } satisfies AccountDiscoEvent);
      return api.replyResult(event, reply);
    };

    const accountItems = async (event: StanzaEvent, self: boolean) => {
      const username = self ? (event.from.local ?? event.origin.username) : event.to.local;
      if (username === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      if (!self && !(await api.userExists(username))) return api.replyError(event, 'cancel', 'service-unavailable');
      const trusted = self || (await isContactSubscribed(api, username, event.from.bare));
      const q = event.stanza.getChild('query', NS_DISCO_ITEMS);
      const node = q?.attrs.node;
      const reply = xml('query', { xmlns: NS_DISCO_ITEMS, node });
      if (node !== undefined && node !== '') {
        const ev: AccountDiscoEvent = { event, username, node, reply, trusted };
        if (await api.hooks.fireAsync('account-disco-items-node', ev)) return api.replyResult(event, reply);
        return api.replyError(event, 'cancel', 'item-not-found');
      }
      await api.hooks.fireAsync('account-disco-items', { event, username, reply, trusted } satisfies AccountDiscoEvent);
      return api.replyResult(event, reply);
    };

    api.hook('iq-get/self/' + NS_DISCO_INFO, (e) => accountInfo(e, true));
    api.hook('iq-get/bare/' + NS_DISCO_INFO, (e) => accountInfo(e, false));
    api.hook('iq-get/self/' + NS_DISCO_ITEMS, (e) => accountItems(e, true));
    api.hook('iq-get/bare/' + NS_DISCO_ITEMS, (e) => accountItems(e, false));

    // XEP-0115 §6.3: the server's caps in stream features, so a client can skip disco#info.
    api.hook<StreamFeaturesEvent>('stream-features', ({ features }) => {
      if (features.getChild('c', NS_CAPS)) return;
      features.c('c', { xmlns: NS_CAPS, hash: 'sha-1', node: capsNode, ver: serverCapsVer(api) });
    });
  },
});
