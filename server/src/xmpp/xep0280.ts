// XEP-0280: Message Carbons
// https://xmpp.org/extensions/xep-0280.html
// Version 1.0.1 (2021-12-26)
//
// Namespaces and the copy wrappers: <received/> for a message to the user that another of
// their resources got, <sent/> for a message one of their resources sent.
import { Element, xml } from '../xml/element.js';
import { forwarded } from './xep0297.js';

export const NS_CARBONS = 'urn:xmpp:carbons:2';
/** Advertised by a server that applies §6's recommended rules for which messages are copied. */
export const NS_CARBONS_RULES = 'urn:xmpp:carbons:rules:0';

export type CarbonDirection = 'received' | 'sent';

/** The wrapping message (§7 / §8): from the user's bare JID to one of their resources. */
export function carbonCopy(direction: CarbonDirection, original: Element, userBare: string, to: string): Element {
  return xml(
    'message',
    { from: userBare, to, type: original.attrs.type },
    xml(direction, { xmlns: NS_CARBONS }, forwarded(original)),
  );
}

/** True when the message is itself a carbon wrapper (never copied again). */
export function isCarbon(stanza: Element): boolean {
  return stanza.getChild('received', NS_CARBONS) !== undefined || stanza.getChild('sent', NS_CARBONS) !== undefined;
}
