// PRECIS OpaqueString profile for passwords: RFC 8265 §4 (October 2017), on the FreeformClass
// of RFC 8264 §4.3; it replaces SASLprep (RFC 4013) for XMPP passwords.
// https://www.rfc-editor.org/rfc/rfc8265#section-4
//
// The profile itself (non-ASCII spaces → U+0020, NFC, FreeformClass with its CONTEXTJ/CONTEXTO
// rules, not empty) is the one JID resourceparts use (core/precis-profiles.ts). Passwords take
// it directly rather than through prepareResourcepart(): that adds the 1023-octet JID part
// limit and reports JidError, neither of which is about passwords.
import { enforceOpaqueString, PrecisError } from '../precis-profiles.js';

export { PrecisError };

/** OpaqueString enforcement; throws PrecisError saying what is wrong. */
export function prepareOpaqueString(input: string): string {
  try {
    return enforceOpaqueString(input);
  } catch (e) {
    if (e instanceof PrecisError) throw new PrecisError(`the password ${e.message}`);
    throw e;
  }
}

/** prepareOpaqueString() that returns undefined instead of throwing. */
export function tryPrepareOpaqueString(input: string): string | undefined {
  try {
    return enforceOpaqueString(input);
  } catch {
    return undefined;
  }
}
