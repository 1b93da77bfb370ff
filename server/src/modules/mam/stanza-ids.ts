// The archive id given to an outgoing message, for the carbons module: XEP-0313 §3.5 wants the
// <stanza-id/> inside the forwarded copy of a sent carbon, but never on the message the contact
// receives (they cannot query the sender's archive).
import type { Element } from '../../xml/element.js';

const ids = new WeakMap<Element, { id: string; by: string }>();

export function setOutgoingArchiveId(stanza: Element, id: string, by: string): void {
  ids.set(stanza, { id, by });
}

export function outgoingArchiveId(stanza: Element): { id: string; by: string } | undefined {
  return ids.get(stanza);
}
