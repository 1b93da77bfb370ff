// XEP-0191: Blocking Command
// https://xmpp.org/extensions/xep-0191.html
// Version 1.3 (2015-03-12)
//
// Namespaces and §4 JID matching, which follows XEP-0016: an item matches a full JID exactly,
// a bare JID with any resource, a domain/resource, or a domain with every address at it and at
// its subdomains.
import type { Jid } from '../core/jid.js';

export const NS_BLOCKING = 'urn:xmpp:blocking';
export const NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';

/** The item strings a JID is matched against, most specific first (§4). */
export function matchKeys(j: Jid): string[] {
  const keys: string[] = [];
  if (j.local !== undefined) {
    if (j.resource !== undefined) keys.push(j.full);
    keys.push(j.bare);
  }
  if (j.resource !== undefined) keys.push(`${j.domain}/${j.resource}`);
  // The domain and each parent domain: blocking example.org also blocks conference.example.org.
  const labels = j.domain.split('.');
  for (let i = 0; i < labels.length; i++) keys.push(labels.slice(i).join('.'));
  return keys;
}

/** True when a block list (a set of prepared JID strings) covers `j`. */
export function isBlockedBy(list: ReadonlySet<string>, j: Jid): boolean {
  if (list.size === 0) return false;
  for (const k of matchKeys(j)) if (list.has(k)) return true;
  return false;
}
