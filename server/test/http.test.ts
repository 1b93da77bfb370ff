// The daemon's web listeners: 404 for what nobody serves, safe headers on every answer, ACME
// HTTP-01 tokens answered from the challenge folder (so `roost setup` can renew through a
// running daemon), HTTPS with the server's certificate, malformed requests refused.
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;

beforeAll(async () => {
  srv = await startTestServer({ listeners: { http: { enabled: true }, https: { enabled: true } } });
});
afterAll(async () => {
  await srv?.stop();
});

describe('http and https listeners', () => {
  it('answer 404 with headers that stop sniffing and framing', async () => {
    const r = await fetch(`http://127.0.0.1:${srv.httpPort}/nothing-here`);
    expect(r.status).toBe(404);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('serve an ACME HTTP-01 key authorization written by another process, exactly', async () => {
    const dir = join(srv.dataDir, 'acme', 'challenges');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tok_EN-123'), 'tok_EN-123.thumbprint');
    const r = await fetch(`http://127.0.0.1:${srv.httpPort}/.well-known/acme-challenge/tok_EN-123`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('tok_EN-123.thumbprint');
    const missing = await fetch(`http://127.0.0.1:${srv.httpPort}/.well-known/acme-challenge/unknown`);
    expect(missing.status).toBe(404);
    const traversal = await fetch(`http://127.0.0.1:${srv.httpPort}/.well-known/acme-challenge/..%2f..%2froost.sqlite`);
    expect(traversal.status).toBe(404);
  });

  it('https uses the server certificate', async () => {
    const tls = await import('node:tls');
    const s = tls.connect({ host: '127.0.0.1', port: srv.httpsPort!, servername: srv.host, ca: srv.certPem, ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((res, rej) => s.once('secureConnect', res).once('error', rej));
    expect(s.authorized).toBe(true);
    s.write(`GET /x HTTP/1.1\r\nhost: ${srv.host}\r\nconnection: close\r\n\r\n`);
    let text = '';
    for await (const d of s) text += d.toString();
    expect(text).toMatch(/^HTTP\/1.1 404/);
  });

  it('a malformed request gets 400 and the listener goes on', async () => {
    const s = net.connect(srv.httpPort!, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write('GARBAGE \u0000\u0001 nonsense\r\n\r\n');
    let text = '';
    for await (const d of s) text += d.toString();
    expect(text).toMatch(/^HTTP\/1.1 400/);
    expect((await fetch(`http://127.0.0.1:${srv.httpPort}/`)).status).toBe(404);
  });
});
