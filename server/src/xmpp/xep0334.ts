// XEP-0334: Message Processing Hints
// https://xmpp.org/extensions/xep-0334.html
// Version 1.0.0 (2024-04-17)
//
// Hints a sender adds to a message: no-permanent-store (keep it out of the archive), no-store
// (out of the archive and offline storage), no-copy (no carbon copies), store (archive it even
// without a body). The carbons, archive and offline modules honour them.
import type { Element } from '../xml/element.js';

export const NS_HINTS = 'urn:xmpp:hints';

export type Hint = 'no-permanent-store' | 'no-store' | 'no-copy' | 'store';

export function hasHint(stanza: Element, hint: Hint): boolean {
  return stanza.getChild(hint, NS_HINTS) !== undefined;
}

/** §4.1/§4.2: the sender does not want the message in any long-term store. */
export function forbidsArchive(stanza: Element): boolean {
  return hasHint(stanza, 'no-permanent-store') || hasHint(stanza, 'no-store');
}
