// XEP-0359: Unique and Stable Stanza IDs
// https://xmpp.org/extensions/xep-0359.html
// Version 0.7.0 (2023-08-23)
//
// <stanza-id by=... id=.../> is the archive's id for a message; <origin-id id=.../> is the
// sending client's own id. §6: an entity that stamps stanza-ids must remove any stanza-id the
// stanza already carries that claims to be by the same entity, else anyone could forge ids that
// point a client at the wrong archive item.
import { tryParseJid } from '../core/jid.js';
import { Element, xml } from '../xml/element.js';

export const NS_SID = 'urn:xmpp:sid:0';

/** Removes stanza-ids claiming to be by `by` (a bare JID, compared prepared). Returns how many. */
export function stripStanzaIds(stanza: Element, by: string): number {
  let n = 0;
  stanza.children = stanza.children.filter((c) => {
    if (typeof c === 'string' || c.name !== 'stanza-id' || c.attrs.xmlns !== NS_SID) return true;
    const claimed = c.attrs.by;
    const same = claimed === by || (claimed !== undefined && tryParseJid(claimed)?.bare === by);
    if (same) n++;
    return !same;
  });
  return n;
}

export function stanzaIdElement(id: string, by: string): Element {
  return xml('stanza-id', { xmlns: NS_SID, id, by });
}

/** The client's origin-id, when it sent one. */
export function originId(stanza: Element): string | undefined {
  const id = stanza.getChild('origin-id', NS_SID)?.attrs.id;
  return id === undefined || id === '' ? undefined : id;
}
