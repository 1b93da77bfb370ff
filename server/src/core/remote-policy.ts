// Which remote domains this server may open server-to-server (RFC 6120 §2.5, XEP-0288) streams
// to. With federation off, the push gateways listed in federation.pushGateways are still
// reachable: a phone app asleep in the background is woken only through its maker's XEP-0357
// app server, so without them users miss messages. The s2s code consults this before it
// connects anywhere; the push module consults it before accepting a registration.
import { prepareDomain } from './jid.js';

export interface FederationPolicy {
  enabled: boolean;
  pushGateways: readonly string[];
}

function normalise(domain: string): string | undefined {
  try {
    // Case, IDN form and a final dot do not make another domain (RFC 7622 §3.2).
    return prepareDomain(domain);
  } catch {
    return undefined;
  }
}

/** True when an outbound s2s connection to `domain` is allowed by the configuration. */
export function isAllowedRemote(federation: FederationPolicy, domain: string): boolean {
  const d = normalise(domain);
  if (d === undefined) return false;
  if (federation.enabled) return true;
  return federation.pushGateways.some((g) => normalise(g) === d);
}

/**
 * True when `domain` is served by this server: one of its hosts or a subdomain of one
 * (components such as conference.<host>), so no federation is involved in reaching it.
 */
export function isLocalDomain(hosts: readonly string[], domain: string): boolean {
  const d = normalise(domain);
  if (d === undefined) return false;
  return hosts.some((h) => d === h || d.endsWith('.' + h));
}
