// Steps 2 and 3: the domain, then every DNS record it needs, checked live.
import { validateDomain, validateHost } from '../../../appliance/src/domain.js';
import { checkDns } from '../../../appliance/src/dns/check.js';
import { computeRecords, renderZoneSnippet, subdomainsFromConfig } from '../../../appliance/src/dns/records.js';
import type { DnsReport, NameValidation, RequiredRecord, ResolverOptions } from '../../../appliance/src/types.js';
import { type Answers, deepMerge, hostOf, isPlainObject } from '../answers.js';

export interface DomainCheck {
  domain: NameValidation;
  host?: NameValidation;
  errors: string[];
}

export function checkDomainAnswers(domain: string, host: string): DomainCheck {
  const d = validateDomain(domain);
  const errors = [...d.errors];
  let h: NameValidation | undefined;
  if (host.trim() && host.trim().toLowerCase() !== domain.trim().toLowerCase()) {
    h = validateHost(host);
    errors.push(...h.errors);
  }
  return { domain: d, ...(h ? { host: h } : {}), errors };
}

const obj = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});

/** Client and server ports as configured (for the SRV records). */
export function srvPorts(a: Answers, existing?: Record<string, unknown>): { c2s: number | false; c2sDirectTls: number | false; s2s: number | false } {
  const l = obj(deepMerge<Record<string, unknown>>(existing ?? {}, a.overrides).listeners);
  const p = (name: string, def: number): number | false => {
    const x = obj(l[name]);
    if (x.enabled === false) return false;
    return typeof x.port === 'number' ? x.port : def;
  };
  return { c2s: p('c2s', 5222), c2sDirectTls: p('c2sDirectTls', 5223), s2s: a.federation.enabled ? p('s2s', 5269) : false };
}

/** The service subdomains the configuration serves (group chats, pubsub, file sharing, proxy). */
export function serviceSubdomains(a: Answers, existing?: Record<string, unknown>): Array<{ label: string; purpose: string }> {
  return subdomainsFromConfig(deepMerge<Record<string, unknown>>(existing ?? {}, a.overrides));
}

export function recordPlan(a: Answers, existing?: Record<string, unknown>): RequiredRecord[] {
  return computeRecords({
    domain: a.domain,
    host: hostOf(a),
    ipv4: a.publicIpv4,
    ipv6: a.publicIpv6,
    subdomains: serviceSubdomains(a, existing),
    ports: srvPorts(a, existing),
  });
}

export function zoneSnippet(a: Answers, existing?: Record<string, unknown>): string {
  return renderZoneSnippet(recordPlan(a, existing));
}

export async function dnsStep(a: Answers, resolver: ResolverOptions | undefined, timeoutMs: number, existing?: Record<string, unknown>): Promise<DnsReport> {
  return checkDns(recordPlan(a, existing), { timeoutMs, ...resolver });
}

/** One line per record that is not green, for the summary; names on a private address make one line. */
export function dnsWarnings(report: DnsReport): Array<{ message: string; level: 'red' | 'warn' }> {
  const out: Array<{ message: string; level: 'red' | 'warn' }> = [];
  const priv = report.checks.filter((c) => c.status === 'warn' && c.reason.startsWith('points to a private address'));
  for (const c of report.checks) {
    if (c.status === 'green' || priv.includes(c)) continue;
    out.push({ message: `DNS: ${c.record.type} ${c.record.name} ${c.reason}`, level: c.status === 'red' ? 'red' : 'warn' });
  }
  if (priv.length === 1) {
    const c = priv[0] as (typeof priv)[number];
    out.unshift({ message: `DNS: ${c.record.type} ${c.record.name} ${c.reason}`, level: 'warn' });
  } else if (priv.length > 1) {
    const addrs = [...new Set(priv.flatMap((c) => c.found))].join(', ');
    out.unshift({
      message: `DNS: ${priv.map((c) => c.record.name).join(', ')} point to a private address (${addrs}): fine when the chat is used only inside the office network, but phones outside cannot connect`,
      level: 'warn',
    });
  }
  return out;
}
