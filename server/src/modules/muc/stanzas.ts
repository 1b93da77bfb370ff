// XEP-0045: Multi-User Chat — the stanzas a room builds: extended presence (§7.2.3, §17.2),
// status codes (§15.6), error replies (§7.2, with the muc <x/> echoed as in the examples).
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17)
// XEP-0421 0.2.0 for <occupant-id/>.
import { errorElement, type StanzaErrorCondition, type StanzaErrorType } from '../../core/stanza-error.js';
import { Element, xml } from '../../xml/element.js';
import { NS_MUC, NS_MUC_USER, NS_OCCUPANT_ID } from './namespaces.js';
import type { Affiliation, Role } from './types.js';

export interface ItemInfo {
  affiliation: Affiliation;
  role: Role;
  /** Real full JID, only for recipients allowed to see it. */
  jid?: string;
  nick?: string;
  actorNick?: string;
  reason?: string;
}

export function mucItem(i: ItemInfo): Element {
  const item = xml('item', { affiliation: i.affiliation, role: i.role, jid: i.jid, nick: i.nick });
  if (i.actorNick !== undefined) item.c('actor', { nick: i.actorNick });
  if (i.reason !== undefined && i.reason !== '') item.c('reason').t(i.reason);
  return item;
}

/** <x xmlns='…muc#user'> with one item and status codes, plus anything extra (destroy). */
export function mucUserX(item: ItemInfo | undefined, codes: readonly number[], extra?: Element): Element {
  const x = xml('x', { xmlns: NS_MUC_USER });
  if (item) x.append(mucItem(item));
  for (const c of [...new Set(codes)]) x.c('status', { code: c });
  if (extra) x.append(extra);
  return x;
}

export function occupantIdEl(id: string): Element {
  return xml('occupant-id', { xmlns: NS_OCCUPANT_ID, id });
}

/**
 * What a client's presence carries into the room: show, status, priority, caps, avatars...
 * but not its MUC join/user elements, nor an occupant-id it made up (XEP-0421 §4: the room
 * strips those), nor a delay.
 */
export function sanitizePresence(p: Element): Element {
  const out = new Element('presence');
  for (const c of p.children) {
    if (typeof c === 'string') continue;
    const ns = c.attrs.xmlns;
    if (ns === NS_MUC || ns === NS_MUC_USER || ns === NS_OCCUPANT_ID) continue;
    if (c.name === 'error') continue;
    out.children.push(c);
  }
  return out;
}

/** An error reply from a room JID; presence errors echo an empty muc <x/> (§7.2.* examples). */
export function roomError(
  stanza: Element,
  type: StanzaErrorType,
  condition: StanzaErrorCondition,
  text: string | undefined,
  by: string,
): Element {
  const reply = xml(stanza.name, { type: 'error', id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from });
  if (stanza.name === 'presence' && stanza.getChild('x', NS_MUC)) reply.c('x', { xmlns: NS_MUC });
  reply.append(errorElement(type, condition, text, by));
  return reply;
}

/** Status codes of a room message about itself (config changes, §10.2.1). */
export function roomNotice(from: string, codes: readonly number[], body?: string): Element {
  const m = xml('message', { type: 'groupchat', from, id: randomId() }, xml('x', { xmlns: NS_MUC_USER }, ...codes.map((c) => xml('status', { code: c }))));
  if (body) m.c('body').t(body);
  return m;
}

let seq = 0;
const prefix = Math.random().toString(36).slice(2, 8);
export function randomId(): string {
  return `${prefix}-${(++seq).toString(36)}`;
}
