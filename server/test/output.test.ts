// Batched output on a real TLS connection over loopback: what a turn queues arrives whole and in
// order; on TLS, outputs of a few KiB go out as records of at most TLS_SLICE_BYTES (seen by a
// TCP relay in the middle that reads the TLS record headers), larger ones at once; flush and
// close in the middle of the slices; a peer that stops reading still trips the overflow limit.
import { once } from 'node:events';
import { createServer as createTcpServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createEcdsaSelfSigned } from '../../appliance/src/acme/ecdsa-cert.js';
import { Output, TLS_SLICE_BYTES, TLS_SLICED_MAX_BYTES } from '../src/core/output.js';

const { keyPem: key, certPem: cert } = createEcdsaSelfSigned({ names: ['localhost'] });
// TLS 1.3 application records: 5-byte header, then the plaintext, its content type and a 16-byte tag.
const FRAMING = 17;

interface Pair {
  server: TLSSocket;
  client: TLSSocket;
  /** Lengths of the application-data records the server sent, as the relay saw them. */
  records: number[];
  received(): string;
  /** Resolves when the client has received `n` characters. */
  until(n: number): Promise<string>;
}

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

async function pair(): Promise<Pair> {
  const tlsServer = createTlsServer({ key, cert, minVersion: 'TLSv1.3' });
  const accepted = once(tlsServer, 'secureConnection') as Promise<[TLSSocket]>;
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  const records: number[] = [];
  // The relay forwards both ways and parses the server's records (type 23 is application data).
  let pending = Buffer.alloc(0);
  const relay: Server = createTcpServer((down: Socket) => {
    const up = tcpConnect((tlsServer.address() as { port: number }).port, '127.0.0.1');
    down.pipe(up);
    up.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 5) {
        const len = pending.readUInt16BE(3);
        if (pending.length < 5 + len) break;
        if (pending[0] === 23) records.push(len);
        pending = pending.subarray(5 + len);
      }
    });
    up.pipe(down);
    up.on('error', () => {});
    down.on('error', () => {});
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const client = tlsConnect({ port: (relay.address() as { port: number }).port, host: '127.0.0.1', rejectUnauthorized: false });
  client.setEncoding('utf8');
  let text = '';
  const waiters: Array<() => void> = [];
  client.on('data', (d: string) => {
    text += d;
    for (const w of waiters.splice(0)) w();
  });
  client.on('error', () => {});
  const [[server]] = await Promise.all([accepted, once(client, 'secureConnect')]);
  server.on('error', () => {});
  // Let the handshake's last flight (session tickets) leave before the test's own records.
  await new Promise((r) => setTimeout(r, 50));
  records.length = 0;
  closers.push(() => {
    client.destroy();
    server.destroy();
    relay.close();
    tlsServer.close();
  });
  const until = async (n: number): Promise<string> => {
    const deadline = Date.now() + 5000;
    while (text.length < n) {
      if (Date.now() > deadline) throw new Error(`received ${text.length} of ${n} characters`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return text;
  };
  return { server, client, records, received: () => text, until };
}

const stanza = (i: number, size: number): string => `<m n='${i}'>${'x'.repeat(Math.max(0, size - 16))}</m>`.slice(0, size);
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('socket output', () => {
  it('a turn of a few KiB on TLS goes out in records of at most TLS_SLICE_BYTES, whole and in order', async () => {
    const p = await pair();
    const out = new Output(p.server, () => {}, 1 << 20);
    const parts = Array.from({ length: 12 }, (_, i) => stanza(i, 250));
    for (const s of parts) out.write(s);
    const want = parts.join('');
    expect(want.length).toBeGreaterThan(2 * TLS_SLICE_BYTES);
    expect(want.length).toBeLessThanOrEqual(TLS_SLICED_MAX_BYTES);
    expect(await p.until(want.length)).toBe(want);
    expect(p.records.length).toBe(Math.ceil(want.length / TLS_SLICE_BYTES));
    for (const r of p.records) expect(r).toBeLessThanOrEqual(TLS_SLICE_BYTES + FRAMING);
  });

  it('a larger output goes out at once, and so does every later one of a few KiB; a small one in one record', async () => {
    const p = await pair();
    const out = new Output(p.server, () => {}, 1 << 20);
    const big = stanza(1, 10_000);
    out.write(big);
    await p.until(big.length);
    expect(p.records).toEqual([big.length + FRAMING]);
    const small = stanza(2, 300);
    out.write(small);
    expect(await p.until(big.length + small.length)).toBe(big + small);
    expect(p.records).toEqual([big.length + FRAMING, small.length + FRAMING]);
    // Node's buffer has grown for good: slicing would now only cost writes.
    const mid = stanza(3, 3000);
    out.write(mid);
    expect(await p.until(big.length + small.length + mid.length)).toBe(big + small + mid);
    expect(p.records.at(-1)).toBe(mid.length + FRAMING);
  });

  it('what is written while slices are on their way follows them, in order', async () => {
    const p = await pair();
    const out = new Output(p.server, () => {}, 1 << 20);
    const first = stanza(0, 3000);
    out.write(first);
    await turn(); // the first slice is out, the rest waits for its write to complete
    const later = [stanza(1, 200), stanza(2, 1500), stanza(3, 100)];
    for (const s of later) out.write(s);
    const want = first + later.join('');
    expect(await p.until(want.length)).toBe(want);
    for (const r of p.records) expect(r).toBeLessThanOrEqual(TLS_SLICE_BYTES + FRAMING);
  });

  it('flush() in the middle of the slices writes the rest and the queue at once (before STARTTLS or a close)', async () => {
    const p = await pair();
    const out = new Output(p.server, () => {}, 1 << 20);
    const first = stanza(0, 4000);
    out.write(first);
    await turn();
    out.write('</stream:stream>');
    out.flush();
    p.server.end();
    const want = first + '</stream:stream>';
    expect(await p.until(want.length)).toBe(want);
  });

  it('close() in the middle of the slices drops the rest and refuses later writes', async () => {
    const p = await pair();
    const out = new Output(p.server, () => {}, 1 << 20);
    out.write(stanza(0, 4000));
    await turn();
    out.close();
    out.write('late');
    await new Promise((r) => setTimeout(r, 200));
    expect(p.received().length).toBe(TLS_SLICE_BYTES);
  });

  it('a peer that stops reading: output piles up in the socket and trips the overflow limit', async () => {
    const p = await pair();
    let overflows = 0;
    const out = new Output(p.server, () => overflows++, 256 * 1024);
    p.client.pause();
    // Outputs of a size that is sliced, one per turn: once the kernel buffers on the way are full
    // a slice's write never completes, and what queues behind it must still reach the limit.
    for (let i = 0; i < 100_000 && overflows === 0; i++) {
      out.write(stanza(i, 3000));
      await turn();
    }
    expect(overflows).toBeGreaterThan(0);
    expect(p.server.writableLength).toBeGreaterThan(256 * 1024);
  });

  it('plain TCP (before STARTTLS) is never sliced', async () => {
    const server = createTcpServer();
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = tcpConnect((server.address() as { port: number }).port, '127.0.0.1');
    const [[sock]] = await Promise.all([accepted, once(client, 'connect')]);
    closers.push(() => {
      client.destroy();
      sock.destroy();
      server.close();
    });
    let writes = 0;
    const write = sock.write.bind(sock);
    sock.write = ((...args: Parameters<Socket['write']>) => (writes++, write(...args))) as Socket['write'];
    const out = new Output(sock, () => {}, 1 << 20);
    const s = stanza(0, 3000);
    out.write(s);
    let text = '';
    client.setEncoding('utf8');
    client.on('data', (d: string) => (text += d));
    while (text.length < s.length) await new Promise((r) => setTimeout(r, 10));
    expect(text).toBe(s);
    expect(writes).toBe(1);
  });
});
