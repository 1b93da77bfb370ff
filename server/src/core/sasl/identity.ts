// Authentication and authorization identities in XMPP SASL: RFC 6120 §6.3.8 (the authcid of a
// client is a simple user name, i.e. the localpart; an authzid, when given, is a bare JID) and
// RFC 4422 §3.4.1 (an empty authzid means "derive it from the authcid").
// https://www.rfc-editor.org/rfc/rfc6120#section-6.3.8
//
// Roost does not let one account act as another, so the only acceptable authzid is the
// authcid's own bare JID.
import { parseJid, prepareLocalpart } from '../jid.js';

/**
 * The client's user name prepared as a localpart (PRECIS UsernameCaseMapped and the RFC 7622
 * §3.3.1 exclusions, by the JID code); undefined when it cannot be one.
 */
export function prepareAuthcid(raw: string): string | undefined {
  if (raw.length === 0) return undefined;
  try {
    return prepareLocalpart(raw);
  } catch {
    return undefined;
  }
}

/** True when `authzid` is absent/empty or names exactly `username@host`. */
export function authzidAllowed(authzid: string | undefined, username: string | undefined, host: string): boolean {
  if (authzid === undefined || authzid === '') return true;
  if (username === undefined) return false;
  try {
    const jid = parseJid(authzid);
    if (jid.resource !== undefined) return false;
    return jid.bare === parseJid(`${username}@${host}`).bare;
  } catch {
    return false;
  }
}
