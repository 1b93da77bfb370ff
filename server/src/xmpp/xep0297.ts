// XEP-0297: Stanza Forwarding
// https://xmpp.org/extensions/xep-0297.html
// Version 1.0 (2013-10-02)
//
// <forwarded/> wraps a copy of a stanza (carbons, archive results) with an optional
// <delay/> (XEP-0203) saying when the original was received.
import { Element, xml } from '../xml/element.js';
import { NS_CLIENT } from '../xml/namespaces.js';
import { formatDateTime } from './xep0082.js';

export const NS_FORWARD = 'urn:xmpp:forward:0';
export const NS_DELAY = 'urn:xmpp:delay';

/**
 * <forwarded><delay/>?<message xmlns='jabber:client'/></forwarded>. The copy gets an explicit
 * jabber:client namespace: inside <forwarded/> it would otherwise inherit urn:xmpp:forward:0.
 */
export function forwarded(stanza: Element, when?: number): Element {
  const copy = stanza.clone();
  copy.attrs = { xmlns: NS_CLIENT, ...withoutXmlns(copy.attrs) };
  return xml('forwarded', { xmlns: NS_FORWARD }, when === undefined ? undefined : xml('delay', { xmlns: NS_DELAY, stamp: formatDateTime(when) }), copy);
}

function withoutXmlns(attrs: Record<string, string>): Record<string, string> {
  const { xmlns: _drop, ...rest } = attrs;
  return rest;
}
