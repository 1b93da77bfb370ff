// Stanza errors (RFC 6120 §8.3): building the error reply to a stanza.
import { Element, xml } from '../xml/element.js';

export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';
export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone'
  | 'internal-server-error' | 'item-not-found' | 'jid-malformed' | 'not-acceptable'
  | 'not-allowed' | 'not-authorized' | 'policy-violation' | 'recipient-unavailable'
  | 'redirect' | 'registration-required' | 'remote-server-not-found'
  | 'remote-server-timeout' | 'resource-constraint' | 'service-unavailable'
  | 'subscription-required' | 'undefined-condition' | 'unexpected-request';

/** The <error/> child alone. */
export function errorElement(type: StanzaErrorType, condition: StanzaErrorCondition, text?: string, by?: string): Element {
  return xml(
    'error',
    { type, by },
    xml(condition, { xmlns: NS_STANZAS }),
    text ? xml('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }, text) : undefined,
  );
}

/**
 * The error reply to `stanza`: from/to swapped, same id and name, type="error". For iq the
 * original payload is not echoed (it may be large); for message/presence the XEP-less minimum.
 */
export function errorReply(
  stanza: Element,
  type: StanzaErrorType,
  condition: StanzaErrorCondition,
  text?: string,
  by?: string,
): Element {
  return xml(
    stanza.name,
    { type: 'error', id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from },
    errorElement(type, condition, text, by),
  );
}

/** A successful iq result to `iq`, optionally carrying a payload. */
export function iqResult(iq: Element, payload?: Element): Element {
  return xml('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, payload);
}

/** Errors are never answered with errors (RFC 6120 §8.3.1). */
export function mayReplyWithError(stanza: Element): boolean {
  const t = stanza.attrs.type;
  if (t === 'error') return false;
  if (stanza.name === 'iq' && t === 'result') return false;
  return true;
}
