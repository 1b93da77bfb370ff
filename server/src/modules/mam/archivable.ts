// What goes into a user's archive: XEP-0313 §6.1.1 (chat and normal messages with a body, plus
// other messages that carry conversation content) with XEP-0334 hints, in the spirit of
// Prosody's mod_mam. Not archived: headline, groupchat (the room keeps its own archive; the
// 'include-groupchat' field never finds any here), errors, and messages that carry only state
// (chat states, typing) rather than content.
import type { Element } from '../../xml/element.js';
import { forbidsArchive, hasHint } from '../../xmpp/xep0334.js';

/** Namespaces of payloads that are conversation content even without a <body/>. */
const CONTENT_NAMESPACES = new Set([
  'eu.siacs.conversations.axolotl', // OMEMO 0.3 (Conversations) <encrypted/>
  'urn:xmpp:omemo:2', // OMEMO 2 <encrypted/>, which has no body
  'urn:xmpp:openpgp:0', // OpenPGP for XMPP
  'jabber:x:encrypted', // legacy OpenPGP
  'urn:xmpp:chat-markers:0', // read markers: other devices learn what was read
  'urn:xmpp:receipts', // delivery receipts: other devices learn what arrived
  'urn:xmpp:message-correct:0', // corrections
  'urn:xmpp:message-retract:0',
  'urn:xmpp:message-retract:1', // retractions
  'urn:xmpp:fasten:0',
  'urn:xmpp:reactions:0', // reactions
  'urn:xmpp:jingle-message:0', // call proposals and their outcome: the call log
  'jabber:x:oob', // shared files by URL
  'urn:xmpp:sfs:0', // stateless file sharing
  'jabber:x:conference', // direct group chat invitations
]);

const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

export function messageType(stanza: Element): string {
  const t = stanza.attrs.type;
  return t === 'chat' || t === 'groupchat' || t === 'headline' || t === 'error' ? t : 'normal';
}

/** True when a message belongs in the user archive of its sender or recipient. */
export function isArchivable(stanza: Element): boolean {
  if (stanza.name !== 'message') return false;
  const type = messageType(stanza);
  if (type !== 'chat' && type !== 'normal') return false;
  if (forbidsArchive(stanza)) return false;
  if (hasHint(stanza, 'store')) return true;
  for (const c of stanza.children) {
    if (typeof c === 'string') continue;
    const ns = c.attrs.xmlns;
    if (ns === undefined && (c.name === 'body' || c.name === 'subject')) return true;
    if (ns !== undefined && CONTENT_NAMESPACES.has(ns)) return true;
    // A mediated group chat invitation (XEP-0045 §7.8.2) comes from the room as muc#user <x/>.
    if (ns === NS_MUC_USER && c.name === 'x' && c.getChild('invite')) return true;
  }
  return false;
}

/** The text the full-text search looks at. */
export function bodyText(stanza: Element): string {
  return stanza.getChildText('body') ?? '';
}
