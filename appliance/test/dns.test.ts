import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDns, computeRecords, isPrivateAddress, localAddresses, lookup, parseResolver, renderZoneSnippet } from '../src/index.js';
import type { RecordCheck } from '../src/index.js';
import { startDnsServer, startSilentUdp, type TestDns } from './helpers/dns-server.js';

const D = 'example.test';
let dns: TestDns;
let resolver: { nameServers: string[]; port: number; timeoutMs: number };

function goodZone(d: TestDns, domain: string, addr = '192.0.2.10'): void {
  for (const n of [domain, `conference.${domain}`, `pubsub.${domain}`, `upload.${domain}`, `proxy.${domain}`])
    d.set(n, [{ type: 'A', address: addr }]);
  d.set(`_xmpp-client._tcp.${domain}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5222, target: domain }]);
  d.set(`_xmpps-client._tcp.${domain}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5223, target: domain }]);
  d.set(`_xmpp-server._tcp.${domain}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5269, target: domain }]);
}

const by = (checks: RecordCheck[], name: string, type: string): RecordCheck => {
  const c = checks.find((x) => x.record.name === name && x.record.type === type);
  if (!c) throw new Error(`no check for ${type} ${name}`);
  return c;
};

beforeAll(async () => {
  dns = await startDnsServer();
  resolver = { nameServers: ['127.0.0.1'], port: dns.port, timeoutMs: 1500 };
});
afterAll(async () => dns.close());

describe('record plan and zone snippet', () => {
  it('lists every record the setup needs', () => {
    const recs = computeRecords({ domain: D, ipv4: ['192.0.2.10'] });
    const names = recs.map((r) => `${r.type} ${r.name}`);
    for (const n of [D, `conference.${D}`, `pubsub.${D}`, `upload.${D}`, `proxy.${D}`]) expect(names).toContain(`A ${n}`);
    expect(names).toContain(`SRV _xmpp-client._tcp.${D}`);
    expect(names).toContain(`SRV _xmpps-client._tcp.${D}`);
    expect(names).toContain(`SRV _xmpp-server._tcp.${D}`);
    // No direct-TLS s2s listener by default: no _xmpps-server record.
    expect(names).not.toContain(`SRV _xmpps-server._tcp.${D}`);
    expect(computeRecords({ domain: D, ports: { s2sDirectTls: 5270 } }).some((r) => r.name.startsWith('_xmpps-server'))).toBe(true);
    const zone = renderZoneSnippet(recs);
    expect(zone).toContain(`_xmpp-client._tcp.${D}.`);
    expect(zone).toMatch(/SRV\s+0 5 5222 example\.test\./);
    expect(zone).toMatch(/conference\.example\.test\.\s+3600\s+IN A\s+192\.0\.2\.10/);
    expect(zone).toMatch(/CAA\s+0 issue "letsencrypt\.org"/);
  });

  it('uses the host as SRV target and adds its address records', () => {
    const recs = computeRecords({ domain: D, host: `chat.${D}` });
    expect(recs.find((r) => r.name === `_xmpp-client._tcp.${D}`)?.srv?.target).toBe(`chat.${D}`);
    expect(recs.some((r) => r.name === `chat.${D}` && r.type === 'A')).toBe(true);
    expect(renderZoneSnippet(recs)).toContain('<public IPv4 address>');
  });

  it('private address ranges and this machine\'s addresses', () => {
    for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '127.0.0.1', '100.64.0.1', '169.254.1.1', '::1', 'fd00::1', 'fe80::1'])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ['192.0.2.10', '172.32.0.1', '8.8.8.8', '2001:db8::1', '100.128.0.1']) expect(isPrivateAddress(a), a).toBe(false);
    const mine = localAddresses();
    for (const a of mine.publicIpv4) expect(mine.ipv4).toContain(a);
    expect(mine.ipv4).not.toContain('127.0.0.1');
  });

  it('parses --resolver', () => {
    expect(parseResolver('127.0.0.1:5353')).toEqual({ nameServers: ['127.0.0.1'], port: 5353 });
    expect(parseResolver('[::1]:53')).toEqual({ nameServers: ['::1'], port: 53 });
    expect(() => parseResolver('dns.example:53')).toThrow(/IP address/);
  });
});

describe('live DNS check against a local dns2 server', () => {
  it('all green on a correct zone', async () => {
    goodZone(dns, 'good.test');
    const report = await checkDns({ domain: 'good.test', ipv4: ['192.0.2.10'] }, resolver);
    const bad = report.checks.filter((c) => c.status !== 'green');
    expect(bad).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.resolver).toBe(`127.0.0.1:${dns.port}`);
  });

  it('missing, wrong port, wrong target, wrong address, private address', async () => {
    const d = 'bad.test';
    goodZone(dns, d);
    dns.set(`upload.${d}`, [{ type: 'TXT', data: 'no address here' }]); // NOERROR, empty A
    dns.remove(`proxy.${d}`); // NXDOMAIN
    dns.set(`pubsub.${d}`, [{ type: 'A', address: '192.168.1.20' }]);
    dns.set(`conference.${d}`, [{ type: 'A', address: '198.51.100.7' }]);
    dns.set(`_xmpp-client._tcp.${d}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5999, target: d }]);
    dns.set(`_xmpp-server._tcp.${d}`, [{ type: 'SRV', priority: 0, weight: 5, port: 5269, target: `other.${d}` }]);
    dns.remove(`_xmpps-client._tcp.${d}`);
    const report = await checkDns({ domain: d, ipv4: ['192.0.2.10'] }, resolver);
    expect(report.ok).toBe(false);
    expect(by(report.checks, `upload.${d}`, 'A')).toMatchObject({ status: 'red', reason: expect.stringMatching(/^missing: upload\.bad\.test has no A record/) });
    expect(by(report.checks, `proxy.${d}`, 'A')).toMatchObject({ status: 'red', reason: expect.stringMatching(/does not exist in DNS/) });
    expect(by(report.checks, `conference.${d}`, 'A')).toMatchObject({ status: 'red', reason: expect.stringMatching(/wrong address: points to 198\.51\.100\.7/) });
    expect(by(report.checks, `_xmpp-client._tcp.${d}`, 'SRV')).toMatchObject({ status: 'red', reason: expect.stringMatching(/wrong port: points to port 5999; Roost listens on 5222/) });
    expect(by(report.checks, `_xmpp-server._tcp.${d}`, 'SRV')).toMatchObject({ status: 'red', reason: expect.stringMatching(/wrong target/) });
    expect(by(report.checks, `_xmpps-client._tcp.${d}`, 'SRV').status).toBe('warn');
    // A private address without an expected address: fine on a LAN, so only a warning.
    const lan = await checkDns({ domain: d, subdomains: ['pubsub'] }, resolver);
    expect(by(lan.checks, `pubsub.${d}`, 'A')).toMatchObject({ status: 'warn', reason: expect.stringMatching(/private address \(192\.168\.1\.20\)/) });
  });

  it('CNAME where one must not be', async () => {
    const d = 'alias.test';
    goodZone(dns, d);
    dns.set(`real.${d}`, [{ type: 'A', address: '192.0.2.10' }]);
    dns.set(d, [{ type: 'CNAME', domain: `real.${d}` }]);
    dns.set(`upload.${d}`, [{ type: 'CNAME', domain: `real.${d}` }]); // fine for a subdomain
    const report = await checkDns({ domain: d, ipv4: ['192.0.2.10'] }, resolver);
    expect(by(report.checks, d, 'A')).toMatchObject({ status: 'red', reason: expect.stringMatching(/alias/) });
    expect(by(report.checks, `_xmpp-client._tcp.${d}`, 'SRV')).toMatchObject({ status: 'red', reason: expect.stringMatching(/target alias\.test is an alias \(CNAME\)/) });
    expect(by(report.checks, `upload.${d}`, 'A')).toMatchObject({ status: 'green', reason: expect.stringMatching(/alias of real\.alias\.test/) });
  });

  it('CAA must allow Let\'s Encrypt (inherited from the parent)', async () => {
    goodZone(dns, 'caa.test');
    dns.set('caa.test', [{ type: 'A', address: '192.0.2.10' }, { type: 'CAA', flags: 0, tag: 'issue', value: 'other-ca.example' }]);
    let report = await checkDns({ domain: 'caa.test', ipv4: ['192.0.2.10'] }, resolver);
    expect(by(report.checks, 'caa.test', 'CAA')).toMatchObject({ status: 'red', reason: expect.stringMatching(/do not allow Let's Encrypt/) });
    dns.set('caa.test', [{ type: 'A', address: '192.0.2.10' }, { type: 'CAA', flags: 0, tag: 'issue', value: 'letsencrypt.org' }]);
    report = await checkDns({ domain: 'caa.test', ipv4: ['192.0.2.10'] }, resolver);
    expect(by(report.checks, 'caa.test', 'CAA').status).toBe('green');
    goodZone(dns, 'sub.caa.test');
    report = await checkDns({ domain: 'sub.caa.test', ipv4: ['192.0.2.10'] }, resolver);
    expect(by(report.checks, 'sub.caa.test', 'CAA')).toMatchObject({ status: 'green', reason: expect.stringMatching(/at caa\.test allows/) });
  });

  it('the three error flavours: NOERROR empty, REFUSED, NXDOMAIN', async () => {
    dns.set('flavour.test', [{ type: 'TXT', data: 'x' }]);
    dns.refuse('refused.test');
    expect(await lookup('flavour.test', 'A', resolver)).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(await lookup('refused.test', 'A', resolver)).toMatchObject({ rcode: 'REFUSED' });
    expect(await lookup('nothing.test', 'A', resolver)).toMatchObject({ rcode: 'NXDOMAIN' });
    const report = await checkDns({ domain: 'refused.test', subdomains: [] }, resolver);
    expect(by(report.checks, 'refused.test', 'A')).toMatchObject({ status: 'red', reason: expect.stringMatching(/refused to answer/) });
  });

  it('lookups over TCP too', async () => {
    goodZone(dns, 'tcp.test');
    const r = await lookup('_xmpp-client._tcp.tcp.test', 'SRV', { ...resolver, protocol: 'TCP' });
    expect(r).toMatchObject({ rcode: 'NOERROR', answers: [{ srv: { port: 5222, target: 'tcp.test' } }] });
  });

  it('a DNS server that never answers: clear timeout', async () => {
    const silent = await startSilentUdp();
    try {
      const t0 = Date.now();
      const report = await checkDns({ domain: D, subdomains: [] }, { nameServers: ['127.0.0.1'], port: silent.port, timeoutMs: 300 });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(report.ok).toBe(false);
      expect(by(report.checks, D, 'A')).toMatchObject({ status: 'red', reason: expect.stringMatching(/^the DNS server did not answer/) });
    } finally {
      await silent.close();
    }
  });
});
