// XEP-0363 from the client side for tests: slot requests over a real @xmpp/client session and
// HTTPS requests to the slot URLs. The URLs name upload.<host>; the requests go to 127.0.0.1
// with that name for SNI, certificate check and Host header (a lookup override instead of DNS).
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { xml } from '@xmpp/client';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';

export interface Slot {
  put: string;
  get: string;
  headers: Record<string, string>;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const loopback: LookupFunction = (_host, opts, cb) => {
  if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
};

/** One HTTPS request to `url` (any host name) on this machine, trusting `ca`. */
export function httpsRequest(
  url: string,
  ca: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; onRequest?: (req: import('node:http').ClientRequest) => void } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: opts.method ?? 'GET', headers: opts.headers, ca, lookup: loopback, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.onRequest) opts.onRequest(req);
    else req.end(opts.body);
  });
}

/** The slot request; resolves with the slot, rejects with the client's StanzaError. */
export async function requestSlot(c: any, service: string, filename: string, size: number, contentType?: string): Promise<Slot> {
  const attrs: Record<string, string> = { xmlns: NS_UPLOAD, filename, size: String(size) };
  if (contentType !== undefined) attrs['content-type'] = contentType;
  const res = await c.iqCaller.request(xml('iq', { type: 'get', to: service }, xml('request', attrs)));
  const slot = res.getChild('slot', NS_UPLOAD);
  const put = slot.getChild('put');
  const headers: Record<string, string> = {};
  for (const h of put.getChildren('header')) headers[h.attrs.name] = h.text();
  return { put: put.attrs.url, get: slot.getChild('get').attrs.url, headers };
}

/** PUT of `body` to the slot with its headers (plus/overriding `extra`). */
export function putFile(slot: Slot, ca: string, body: Buffer, contentType?: string, extra: Record<string, string> = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...slot.headers, 'content-length': String(body.length), ...extra };
  if (contentType !== undefined) headers['content-type'] = contentType;
  return httpsRequest(slot.put, ca, { method: 'PUT', headers, body });
}

/** The condition and error element of a refused request. */
export async function refusal(p: Promise<unknown>): Promise<{ condition: string; type: string; text: string; element: any }> {
  try {
    await p;
  } catch (e: any) {
    if (e?.condition) return { condition: e.condition, type: e.type, text: e.text, element: e.element };
    throw e;
  }
  throw new Error('expected the request to be refused');
}
