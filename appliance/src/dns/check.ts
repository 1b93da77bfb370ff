// Live DNS checks of the records computed by records.ts, with reasons in plain words.
// Specs: RFC 1035 (rcodes), RFC 2782 (SRV; "the target must not be an alias"), RFC 2181 section
// 10.1 (CNAME cannot coexist with other data), RFC 8659 (CAA, tree climbing, issue property),
// RFC 1918 / RFC 4193 / RFC 6598 (private address ranges).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import dns2 from 'dns2';
import type {
  DnsRcode,
  DnsRecordType,
  DnsReport,
  LookupResult,
  RecordCheck,
  RecordPlanOptions,
  RequiredRecord,
  ResolverOptions,
  SrvData,
} from '../types.js';
import { computeRecords } from './records.js';

const TYPE_NUMBERS: Record<number, string> = { 1: 'A', 5: 'CNAME', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 257: 'CAA' };

export function systemNameServers(resolvConf = '/etc/resolv.conf'): string[] {
  let text = '';
  try {
    text = readFileSync(resolvConf, 'utf8');
  } catch {
    // resolv.conf(5): with no nameserver lines, the resolver uses the local machine.
    return ['127.0.0.1'];
  }
  const servers = text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === 'nameserver' && f[1])
    .map((f) => (f[1] as string).replace(/%.*$/, ''))
    .filter((a) => isIP(a) !== 0);
  return servers.length > 0 ? servers : ['127.0.0.1'];
}

/** Parses `--resolver HOST:PORT` (or `[v6]:PORT`, or HOST alone). */
export function parseResolver(flag: string): ResolverOptions {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(flag);
  if (v6) return { nameServers: [v6[1] as string], port: v6[2] ? Number(v6[2]) : 53 };
  if (isIP(flag) === 6) return { nameServers: [flag], port: 53 };
  const [host, port] = flag.split(':');
  if (!host || isIP(host) === 0) throw new Error(`--resolver wants an IP address and optional port, like 127.0.0.1:5353 (got "${flag}")`);
  const p = port === undefined ? 53 : Number(port);
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`--resolver: "${port}" is not a port number`);
  return { nameServers: [host], port: p };
}

function clean(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function rcodeName(code: number): DnsRcode {
  switch (code) {
    case 0:
      return 'NOERROR';
    case 2:
      return 'SERVFAIL';
    case 3:
      return 'NXDOMAIN';
    case 5:
      return 'REFUSED';
    default:
      return 'ERROR';
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`DNS query timed out after ${ms}ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function queryOne(server: string, name: string, type: DnsRecordType, r: ResolverOptions): Promise<LookupResult> {
  const timeoutMs = r.timeoutMs ?? 3000;
  const port = r.port ?? 53;
  let packet: dns2.Packet;
  try {
    const resolve =
      r.protocol === 'TCP'
        ? dns2.TCPClient({ dns: server, port })
        : dns2.UDPClient({ dns: server, port, timeout: timeoutMs, socketType: isIP(server) === 6 ? 'udp6' : 'udp4' });
    packet = await withTimeout(resolve(name, type), timeoutMs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ETIMEDOUT') return { rcode: 'TIMEOUT', answers: [], cnames: [], error: err.message };
    return { rcode: 'ERROR', answers: [], cnames: [], error: err.message };
  }
  const rcode = rcodeName(packet.header.rcode);
  const cnames: string[] = [];
  let current = clean(name);
  // Follow the CNAME chain inside the answer section (recursive resolvers include it).
  for (let i = 0; i < 10; i++) {
    const c = packet.answers.find((a) => a.type === 5 && clean(a.name) === current && a.domain);
    if (!c || !c.domain) break;
    current = clean(c.domain);
    cnames.push(current);
  }
  const answers: LookupResult['answers'] = [];
  for (const a of packet.answers) {
    const t = TYPE_NUMBERS[a.type] ?? String(a.type);
    if (t !== type) continue;
    if (t === 'A' || t === 'AAAA') answers.push({ type: t, value: a.address ?? '' });
    else if (t === 'SRV') {
      const srv: SrvData = { priority: a.priority ?? 0, weight: a.weight ?? 0, port: a.port ?? 0, target: clean(a.target ?? '') };
      answers.push({ type: t, value: `${srv.priority} ${srv.weight} ${srv.port} ${srv.target}.`, srv });
    } else if (t === 'CAA') {
      const caa = { flags: a.flags ?? 0, tag: a.tag ?? '', value: a.value ?? '' };
      answers.push({ type: t, value: `${caa.flags} ${caa.tag} "${caa.value}"`, caa });
    } else if (t === 'TXT') {
      const d = a.data;
      answers.push({ type: t, value: Array.isArray(d) ? d.join('') : String(d ?? '') });
    } else if (t === 'CNAME') answers.push({ type: t, value: clean(a.domain ?? '') });
  }
  return { rcode, answers, cnames };
}

/** One query, tried against each name server in turn until one answers. */
export async function lookup(name: string, type: DnsRecordType, resolver: ResolverOptions = {}): Promise<LookupResult> {
  const servers = resolver.nameServers ?? systemNameServers();
  let last: LookupResult = { rcode: 'TIMEOUT', answers: [], cnames: [], error: 'no name server configured' };
  for (const server of servers) {
    last = await queryOne(server, name, type, resolver);
    if (last.rcode !== 'TIMEOUT' && last.rcode !== 'ERROR' && last.rcode !== 'SERVFAIL') return last;
  }
  return last;
}

/** RFC 1918, RFC 6598 (CGNAT), loopback, link-local, RFC 4193 ULA. */
export function isPrivateAddress(address: string): boolean {
  if (isIP(address) === 4) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
      (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || a === 0;
  }
  const v = address.toLowerCase();
  if (v === '::1' || v === '::') return true;
  if (v.startsWith('::ffff:')) return isPrivateAddress(v.slice(7));
  return /^f[cd][0-9a-f]{0,2}:/.test(v) || /^fe[89ab][0-9a-f]?:/.test(v);
}

const PRIVATE_NOTE =
  'points to a private address ({addr}): fine when the chat is used only inside the office network, but phones outside cannot connect';

function failureReason(r: LookupResult, name: string, type: string): string {
  switch (r.rcode) {
    case 'TIMEOUT':
      return `the DNS server did not answer (asked for ${type} of ${name}); check the network or the DNS server address`;
    case 'REFUSED':
      return 'the DNS server refused to answer: it does not look names up for this machine; check which DNS server is set';
    case 'SERVFAIL':
      return 'the DNS server failed to look this up (SERVFAIL); often a broken DNSSEC setup or an unreachable domain name server';
    case 'NXDOMAIN':
      return `missing: the name ${name} does not exist in DNS`;
    case 'ERROR':
      return `the DNS query failed: ${r.error ?? 'unknown error'}`;
    default:
      return `missing: ${name} has no ${type} record`;
  }
}

async function checkAddress(rec: RequiredRecord, resolver: ResolverOptions, isSrvTarget: boolean, domain: string): Promise<RecordCheck> {
  const r = await lookup(rec.name, rec.type, resolver);
  const found = [...r.cnames.map((c) => `CNAME ${c}.`), ...r.answers.map((a) => a.value)];
  const noAnswer = r.answers.length === 0;
  if (r.rcode === 'TIMEOUT' || r.rcode === 'REFUSED' || r.rcode === 'ERROR' || r.rcode === 'SERVFAIL')
    return { record: rec, status: 'red', reason: failureReason(r, rec.name, rec.type), found };
  if (noAnswer) {
    if (rec.optional) return { record: rec, status: 'green', reason: `no ${rec.type} record (optional)`, found };
    return { record: rec, status: 'red', reason: failureReason(r, rec.name, rec.type), found };
  }
  if (r.cnames.length > 0 && (isSrvTarget || rec.name === domain)) {
    const why = isSrvTarget
      ? 'the SRV records point here, and an SRV target must not be an alias (CNAME): give it its own A/AAAA records'
      : 'the domain itself must not be an alias (CNAME): it has other records (SRV names, MX, CAA); give it A/AAAA records';
    return { record: rec, status: 'red', reason: `is an alias of ${r.cnames[r.cnames.length - 1]} — ${why}`, found };
  }
  const addrs = r.answers.map((a) => a.value);
  const expected = rec.addresses ?? [];
  if (expected.length > 0) {
    const missing = expected.filter((e) => !addrs.includes(e));
    if (missing.length > 0)
      return { record: rec, status: 'red', reason: `wrong address: points to ${addrs.join(', ')} instead of ${expected.join(', ')}`, found };
  }
  const priv = addrs.find(isPrivateAddress);
  if (priv) return { record: rec, status: 'warn', reason: PRIVATE_NOTE.replace('{addr}', priv), found };
  const alias = r.cnames.length > 0 ? ` (alias of ${r.cnames[r.cnames.length - 1]})` : '';
  return { record: rec, status: 'green', reason: `points to ${addrs.join(', ')}${alias}`, found };
}

async function checkSrv(rec: RequiredRecord, resolver: ResolverOptions): Promise<RecordCheck> {
  const want = rec.srv as SrvData;
  const r = await lookup(rec.name, 'SRV', resolver);
  const found = r.answers.map((a) => a.value);
  if (r.rcode !== 'NOERROR' && r.rcode !== 'NXDOMAIN')
    return { record: rec, status: 'red', reason: failureReason(r, rec.name, 'SRV'), found };
  if (r.answers.length === 0) {
    const reason = failureReason(r, rec.name, 'SRV');
    return rec.optional
      ? { record: rec, status: 'warn', reason: `${reason} (optional: apps fall back to the other records, but connect faster with it)`, found }
      : { record: rec, status: 'red', reason, found };
  }
  if (r.cnames.length > 0)
    return { record: rec, status: 'red', reason: 'the SRV name is an alias (CNAME); put the SRV record itself there', found };
  const srvs = r.answers.map((a) => a.srv as SrvData);
  // RFC 2782: target "." means "the service is decidedly not available at this domain".
  if (srvs.every((s) => s.target === '' || s.target === '.'))
    return { record: rec, status: 'red', reason: 'says the service is not available here (target ".")', found };
  const sameTarget = srvs.filter((s) => s.target === want.target);
  if (sameTarget.length === 0)
    return { record: rec, status: 'red', reason: `wrong target: points to ${srvs.map((s) => s.target).join(', ')} instead of ${want.target}`, found };
  if (!sameTarget.some((s) => s.port === want.port))
    return { record: rec, status: 'red', reason: `wrong port: points to port ${sameTarget.map((s) => s.port).join(', ')}; Roost listens on ${want.port}`, found };
  // The target itself must have address records and not be an alias (RFC 2782).
  const t = await lookup(want.target, 'A', resolver);
  if (t.cnames.length > 0)
    return { record: rec, status: 'red', reason: `the target ${want.target} is an alias (CNAME); SRV targets must have their own A/AAAA records`, found };
  return { record: rec, status: 'green', reason: `points to ${want.target} port ${want.port}`, found };
}

function parents(name: string): string[] {
  const labels = name.split('.');
  const out: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) out.push(labels.slice(i).join('.'));
  return out;
}

async function checkCaa(rec: RequiredRecord, resolver: ResolverOptions): Promise<RecordCheck> {
  // RFC 8659 section 3: the relevant RRset is the first non-empty one climbing towards the root.
  for (const name of parents(rec.name)) {
    const r = await lookup(name, 'CAA', resolver);
    if (r.rcode === 'TIMEOUT' || r.rcode === 'REFUSED' || r.rcode === 'ERROR' || r.rcode === 'SERVFAIL')
      return { record: rec, status: 'warn', reason: `could not read CAA records: ${failureReason(r, name, 'CAA')}`, found: [] };
    if (r.answers.length === 0) continue;
    const found = r.answers.map((a) => a.value);
    const issue = r.answers.filter((a) => a.caa?.tag.toLowerCase() === 'issue');
    if (issue.length === 0)
      return { record: rec, status: 'green', reason: `CAA records at ${name} do not restrict certificate authorities`, found };
    const allows = issue.some((a) => (a.caa?.value.split(';')[0] ?? '').trim().toLowerCase() === 'letsencrypt.org');
    return allows
      ? { record: rec, status: 'green', reason: `CAA at ${name} allows Let's Encrypt`, found }
      : {
          record: rec,
          status: 'red',
          reason: `CAA records at ${name} do not allow Let's Encrypt: add  ${name}. IN CAA 0 issue "letsencrypt.org"`,
          found,
        };
  }
  return { record: rec, status: 'green', reason: 'no CAA records: any certificate authority may issue', found: [] };
}

export async function checkDns(plan: RequiredRecord[] | RecordPlanOptions, resolver: ResolverOptions = {}): Promise<DnsReport> {
  const records = Array.isArray(plan) ? plan : computeRecords(plan);
  const servers = resolver.nameServers ?? systemNameServers();
  const res: ResolverOptions = { ...resolver, nameServers: servers };
  const srvTargets = new Set(records.filter((r) => r.srv).map((r) => (r.srv as SrvData).target));
  const domain = records.find((r) => r.type === 'SRV' || r.type === 'CAA')?.serves ?? records[0]?.name ?? '';
  const checks = await Promise.all(
    records.map((rec) => {
      if (rec.type === 'A' || rec.type === 'AAAA') return checkAddress(rec, res, srvTargets.has(rec.name), domain);
      if (rec.type === 'SRV') return checkSrv(rec, res);
      if (rec.type === 'CAA') return checkCaa(rec, res);
      return Promise.resolve<RecordCheck>({ record: rec, status: 'warn', reason: `not checked (${rec.type})`, found: [] });
    }),
  );
  return {
    checks,
    ok: checks.every((c) => c.status !== 'red'),
    resolver: servers.map((s) => `${isIP(s) === 6 ? `[${s}]` : s}:${res.port ?? 53}`).join(', '),
  };
}
