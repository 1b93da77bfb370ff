// A small authoritative DNS server (dns2) on loopback for tests: records set at run time,
// NXDOMAIN for unknown names, REFUSED for names marked so, CNAME chains followed in the answer.
import dgram from 'node:dgram';
import dns2 from 'dns2';
import { freePort } from './infra.js';

const { Packet } = dns2;
type Rec = { type: 'A' | 'AAAA' | 'SRV' | 'CAA' | 'TXT' | 'CNAME' } & Record<string, unknown>;

export interface TestDns {
  port: number;
  set(name: string, records: Rec[]): void;
  remove(name: string): void;
  refuse(name: string): void;
  close(): Promise<void>;
}

const clean = (n: string): string => n.toLowerCase().replace(/\.$/, '');

export async function startDnsServer(): Promise<TestDns> {
  const zone = new Map<string, Rec[]>();
  const refused = new Set<string>();
  const server = dns2.createServer({
    udp: true,
    tcp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      response.header.aa = 1;
      const q = request.questions[0];
      if (!q) return send(response);
      let name = clean(q.name);
      if (refused.has(name)) {
        response.header.rcode = 5;
        return send(response);
      }
      if (!zone.has(name)) {
        response.header.rcode = 3;
        return send(response);
      }
      for (let hops = 0; hops < 8; hops++) {
        const recs = zone.get(name) ?? [];
        const cname = recs.find((r) => r.type === 'CNAME');
        if (cname && q.type !== Packet.TYPE.CNAME) {
          response.answers.push({ name, type: Packet.TYPE.CNAME, class: Packet.CLASS.IN, ttl: 60, domain: String(cname.domain) } as never);
          name = clean(String(cname.domain));
          continue;
        }
        for (const r of recs) {
          if (Packet.TYPE[r.type] !== q.type) continue;
          const { type, ...rest } = r;
          response.answers.push({ name, type: Packet.TYPE[type], class: Packet.CLASS.IN, ttl: 60, ...rest } as never);
        }
        break;
      }
      send(response);
    },
  });
  // UDP and TCP on the same port: take a free TCP port; its UDP twin is nearly always free too.
  const port = await freePort();
  await server.listen({ udp: { port, address: '127.0.0.1' }, tcp: { port, address: '127.0.0.1' } });
  return {
    port,
    set: (name, records) => zone.set(clean(name), records),
    remove: (name) => zone.delete(clean(name)),
    refuse: (name) => refused.add(clean(name)),
    close: () => server.close(),
  };
}

/** A UDP port that swallows every query: the "DNS server did not answer" case. */
export async function startSilentUdp(): Promise<{ port: number; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', () => {});
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

/**
 * A tiny HTTP API in front of the test DNS server, as a DNS provider's would be: a DNS-01 hook
 * command (`roost setup --dns-hook`) publishes TXT records through it.
 *   POST /txt {"name": "_acme-challenge.x.test", "value": "..."}   DELETE /txt {"name": ...}
 */
export async function startTxtApi(dns: TestDns): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const srv = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      try {
        const { name, value } = JSON.parse(body) as { name: string; value?: string };
        if (req.url !== '/txt' || !name) throw new Error('bad request');
        if (req.method === 'POST') dns.set(name, [{ type: 'TXT', data: String(value) }]);
        else if (req.method === 'DELETE') dns.remove(name);
        else throw new Error('bad method');
        res.writeHead(204).end();
      } catch (e) {
        res.writeHead(400).end((e as Error).message);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/txt`, close: () => new Promise<void>((r) => srv.close(() => r())) };
}
