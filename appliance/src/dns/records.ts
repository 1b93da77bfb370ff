// The DNS records an XMPP setup needs, and a BIND zone snippet to paste.
// Specs: RFC 6120 section 3.2.1 (_xmpp-client/_xmpp-server SRV), XEP-0368 v1.1.0 (direct TLS:
// _xmpps-client/_xmpps-server SRV), RFC 2782 (SRV), RFC 8659 (CAA), RFC 1035 section 5 (master files).
// https://www.rfc-editor.org/rfc/rfc6120#section-3.2.1  https://xmpp.org/extensions/xep-0368.html
import type { RecordPlanOptions, RequiredRecord } from '../types.js';

export const SERVICE_SUBDOMAINS = ['conference', 'pubsub', 'upload', 'proxy'] as const;

const SUBDOMAIN_PURPOSE: Record<string, string> = {
  conference: 'group chats (multi-user chat rooms)',
  pubsub: 'publish-subscribe service (news feeds, shared data)',
  upload: 'file sharing (HTTP upload)',
  proxy: 'file transfer proxy',
};

const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * The service subdomains a configuration serves (file form or loaded): group chats at
 * muc.subdomain and file sharing at upload.subdomain unless turned off; publish-subscribe and
 * the file transfer proxy unless their module is disabled.
 */
export function subdomainsFromConfig(config: unknown): Array<{ label: string; purpose: string }> {
  const c = obj(config);
  const muc = obj(c.muc);
  const upload = obj(c.upload);
  const disabled = new Set(Array.isArray(obj(c.modules).disabled) ? (obj(c.modules).disabled as unknown[]).map(String) : []);
  const label = (v: unknown, def: string): string => (typeof v === 'string' && v ? v.toLowerCase() : def);
  const out: Array<{ label: string; purpose: string }> = [];
  if (muc.enabled !== false && !disabled.has('muc')) out.push({ label: label(muc.subdomain, 'conference'), purpose: SUBDOMAIN_PURPOSE.conference as string });
  if (!disabled.has('pubsub')) out.push({ label: 'pubsub', purpose: SUBDOMAIN_PURPOSE.pubsub as string });
  if (upload.enabled !== false && !disabled.has('http_upload') && !disabled.has('upload')) out.push({ label: label(upload.subdomain, 'upload'), purpose: SUBDOMAIN_PURPOSE.upload as string });
  if (!disabled.has('proxy65')) out.push({ label: 'proxy', purpose: SUBDOMAIN_PURPOSE.proxy as string });
  return out;
}

export function computeRecords(opts: RecordPlanOptions): RequiredRecord[] {
  const domain = opts.domain.toLowerCase().replace(/\.$/, '');
  const host = (opts.host ?? domain).toLowerCase().replace(/\.$/, '');
  const ipv4 = opts.ipv4 ?? [];
  const ipv6 = opts.ipv6 ?? [];
  const subs = opts.subdomains ?? [...SERVICE_SUBDOMAINS];
  const ports = {
    c2s: opts.ports?.c2s ?? 5222,
    c2sDirectTls: opts.ports?.c2sDirectTls ?? 5223,
    s2s: opts.ports?.s2s ?? 5269,
    s2sDirectTls: opts.ports?.s2sDirectTls ?? false,
  };
  const out: RequiredRecord[] = [];
  const addressRecords = (name: string, purpose: string, serves: string): void => {
    out.push({ name, type: 'A', addresses: ipv4, purpose, serves });
    // IPv6 is optional: many offices have none; a wrong AAAA is still flagged by the check.
    out.push({ name, type: 'AAAA', addresses: ipv6, purpose, serves, optional: ipv6.length === 0 });
  };
  addressRecords(domain, host === domain ? 'the chat server itself' : 'the domain (web address and certificate check)', domain);
  if (host !== domain) addressRecords(host, 'the machine running the chat server', domain);
  for (const s of subs) {
    const sub = typeof s === 'string' ? s : s.label;
    const name = `${sub}.${domain}`;
    addressRecords(name, typeof s === 'string' ? (SUBDOMAIN_PURPOSE[sub] ?? `the ${sub} service`) : s.purpose, name);
  }
  const srv = (service: string, port: number | false, purpose: string, optional = false): void => {
    if (port === false) return;
    out.push({
      name: `${service}._tcp.${domain}`,
      type: 'SRV',
      srv: { priority: 0, weight: 5, port, target: host },
      purpose,
      serves: domain,
      optional,
    });
  };
  srv('_xmpp-client', ports.c2s, 'tells chat apps where to connect');
  // XEP-0368: direct TLS is an optimisation; clients fall back to _xmpp-client.
  srv('_xmpps-client', ports.c2sDirectTls, 'tells chat apps where to connect with direct TLS (faster, works behind strict firewalls)', true);
  srv('_xmpp-server', ports.s2s, 'tells other chat servers where to deliver messages (federation)');
  srv('_xmpps-server', ports.s2sDirectTls, 'tells other chat servers where to connect with direct TLS', true);
  out.push({
    name: domain,
    type: 'CAA',
    purpose: "if your domain has CAA records, one of them must allow Let's Encrypt to issue certificates",
    optional: true,
    serves: domain,
  });
  return out;
}

function fqdn(name: string): string {
  return `${name}.`;
}

/** Renders the records as a BIND master-file snippet (absolute names, one record per line). */
export function renderZoneSnippet(records: RequiredRecord[], opts: { ttl?: number } = {}): string {
  const ttl = opts.ttl ?? 3600;
  const lines: string[] = ['; DNS records for the Roost chat server (paste into your zone; names end with a dot)'];
  const width = Math.max(...records.map((r) => fqdn(r.name).length), 20) + 1;
  const row = (name: string, type: string, data: string, comment?: string): string =>
    `${fqdn(name).padEnd(width)} ${String(ttl).padEnd(5)} IN ${type.padEnd(5)} ${data}${comment ? ` ; ${comment}` : ''}`;
  for (const r of records) {
    if (r.type === 'A' || r.type === 'AAAA') {
      const addrs = r.addresses ?? [];
      if (addrs.length === 0) {
        if (r.optional) lines.push(`; ${row(r.name, r.type, '<public IPv6 address>', 'only if this machine has public IPv6')}`);
        else lines.push(row(r.name, r.type, r.type === 'A' ? '<public IPv4 address>' : '<public IPv6 address>', 'replace with your address'));
      } else for (const a of addrs) lines.push(row(r.name, r.type, a));
    } else if (r.type === 'SRV' && r.srv) {
      const s = r.srv;
      lines.push(row(r.name, 'SRV', `${s.priority} ${s.weight} ${s.port} ${fqdn(s.target)}`));
    } else if (r.type === 'CAA') {
      lines.push("; Only if your domain already has CAA records: add this one so Let's Encrypt may issue certificates");
      lines.push(`; ${row(r.name, 'CAA', '0 issue "letsencrypt.org"')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
