// This machine's own addresses, to prefill the A/AAAA records of the zone snippet. Behind NAT
// (the usual office) only private addresses show up; the public one must come from the admin.
import { networkInterfaces } from 'node:os';
import { isPrivateAddress } from './check.js';

export interface LocalAddresses {
  ipv4: string[];
  ipv6: string[];
  /** Public (routable) addresses among them; empty behind NAT. */
  publicIpv4: string[];
  publicIpv6: string[];
}

export function localAddresses(): LocalAddresses {
  const out: LocalAddresses = { ipv4: [], ipv6: [], publicIpv4: [], publicIpv6: [] };
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') {
        out.ipv4.push(a.address);
        if (!isPrivateAddress(a.address)) out.publicIpv4.push(a.address);
      } else if (a.scopeid === 0 || a.scopeid === undefined) {
        // Link-local (fe80::/10, scoped) addresses are useless in DNS.
        if (/^fe[89ab]/i.test(a.address)) continue;
        out.ipv6.push(a.address);
        if (!isPrivateAddress(a.address)) out.publicIpv6.push(a.address);
      }
    }
  }
  return out;
}
