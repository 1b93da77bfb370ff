// The invitation a stream has shown before registering: XEP-0445 (Pre-Authenticated In-Band
// Registration, https://xmpp.org/extensions/xep-0445.html, v0.2.0) §4. The invites module sets
// it when a <preauth/> token checks out; the register module reads it. It lasts for the stream
// (XEP-0445: expiry is checked only at <preauth/>) and is cleared once an account is created.
import type { Session } from '../../core/session.js';

export const NS_PARS = 'urn:xmpp:pars:0';
export const NS_IBR_TOKEN = 'urn:xmpp:ibr-token:0';

const KEY = 'invites';

export interface ValidatedInvite {
  token: string;
  inviter?: string;
}

export function validatedInvite(s: Session): ValidatedInvite | undefined {
  return s.data.get(KEY) as ValidatedInvite | undefined;
}

export function setValidatedInvite(s: Session, v: ValidatedInvite | undefined): void {
  if (v) s.data.set(KEY, v);
  else s.data.delete(KEY);
}
