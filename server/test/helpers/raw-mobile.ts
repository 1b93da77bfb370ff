// Hand-driven mobile-session protocol for tests, on top of RawStream: SASL2 (XEP-0388) with
// SCRAM and the FAST token mechanisms (XEP-0484, HT-SHA-256-*), Bind2 (XEP-0386) and stream
// management (XEP-0198) counting. Written from the specifications, independent of Roost's
// code, so the tests check the server against them.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type tls from 'node:tls';
// @ts-expect-error: @xmpp/xml ships no type declarations
import Parser from '@xmpp/xml/lib/Parser.js';
import { RawStream, type RawOptions } from './raw.js';

export const NS_SASL2 = 'urn:xmpp:sasl:2';
export const NS_BIND2 = 'urn:xmpp:bind:0';
export const NS_SM = 'urn:xmpp:sm:3';
export const NS_CSI = 'urn:xmpp:csi:0';
export const NS_FAST = 'urn:xmpp:fast:0';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

const HASH: Record<string, { name: string; len: number }> = {
  'SHA-1': { name: 'sha1', len: 20 },
  'SHA-256': { name: 'sha256', len: 32 },
  'SHA-512': { name: 'sha512', len: 64 },
};

export interface Sasl2Result {
  /** <success/> or <failure/>. */
  end: any;
  /** The features sent after <success/> (no stream restart), when it succeeded. */
  features?: any;
}

/** Waits for <success/> or <failure/> of SASL2, and the features after a success. */
async function finish(s: RawStream): Promise<Sasl2Result> {
  const end = await s.next((el) => (el.name === 'success' || el.name === 'failure') && el.attrs.xmlns === NS_SASL2);
  if (end.name !== 'success') return { end };
  const features = await s.next((el) => el.name === 'stream:features');
  s.features = features;
  return { end, features };
}

/**
 * SCRAM over SASL2: <authenticate mechanism> with the client-first message as initial
 * response and `inner` (raw XML: <user-agent/>, <bind/>, <resume/>, <request-token/>) inside.
 * The server signature in <additional-data/> is verified.
 */
export async function sasl2Scram(
  s: RawStream,
  opts: { username: string; password: string; mechanism?: string; inner?: string; cb?: { type: string; data: Buffer } },
): Promise<Sasl2Result> {
  const mechanism = opts.mechanism ?? 'SCRAM-SHA-256';
  const h = HASH[mechanism.replace(/^SCRAM-|-PLUS$/g, '')]!;
  const gs2 = opts.cb ? `p=${opts.cb.type},,` : 'n,,';
  const first = `n=${opts.username},r=${randomBytes(18).toString('base64')}`;
  s.write(
    `<authenticate xmlns='${NS_SASL2}' mechanism='${mechanism}'><initial-response>${Buffer.from(gs2 + first).toString('base64')}</initial-response>${opts.inner ?? ''}</authenticate>`,
  );
  const ch = await s.next((el) => (el.name === 'challenge' || el.name === 'failure') && el.attrs.xmlns === NS_SASL2);
  if (ch.name === 'failure') return { end: ch };
  const serverFirst = Buffer.from(ch.text(), 'base64').toString();
  const a = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
  const salted = pbkdf2Sync(opts.password, Buffer.from(a.s!, 'base64'), Number(a.i), h.len, h.name);
  const clientKey = createHmac(h.name, salted).update('Client Key').digest();
  const storedKey = createHash(h.name).update(clientKey).digest();
  const cbind = Buffer.concat([Buffer.from(gs2), opts.cb ? opts.cb.data : Buffer.alloc(0)]).toString('base64');
  const finalNoProof = `c=${cbind},r=${a.r}`;
  const authMessage = `${first},${serverFirst},${finalNoProof}`;
  const sig = createHmac(h.name, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ sig[i]!;
  s.write(`<response xmlns='${NS_SASL2}'>${Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
  const r = await finish(s);
  if (r.end.name === 'success') {
    const serverKey = createHmac(h.name, salted).update('Server Key').digest();
    const expected = createHmac(h.name, serverKey).update(authMessage).digest('base64');
    const v = Buffer.from(r.end.getChildText('additional-data') ?? '', 'base64').toString();
    if (v !== `v=${expected}`) throw new Error(`bad server signature in SASL2 additional-data: ${v}`);
  }
  return r;
}

/** draft-schmaus-kitten-sasl-ht: HMAC-SHA-256(token, label || cb-data). */
export function htHash(token: string, label: 'Initiator' | 'Responder', cb: Buffer = Buffer.alloc(0)): Buffer {
  return createHmac('sha256', Buffer.from(token, 'utf8')).update(label).update(cb).digest();
}

/**
 * A FAST token login: HT mechanism with `username NUL initiator-hash` and <fast/> (with `count`
 * / `invalidate` when given). The server's responder hash is verified on success.
 */
export async function sasl2Token(
  s: RawStream,
  opts: { username: string; token: string; mechanism?: string; cb?: Buffer; inner?: string; count?: number; invalidate?: boolean; noFast?: boolean },
): Promise<Sasl2Result> {
  const mechanism = opts.mechanism ?? 'HT-SHA-256-NONE';
  const cb = opts.cb ?? Buffer.alloc(0);
  const ir = Buffer.concat([Buffer.from(opts.username + '\0'), htHash(opts.token, 'Initiator', cb)]);
  const fastAttrs = `${opts.count !== undefined ? ` count='${opts.count}'` : ''}${opts.invalidate ? ` invalidate='true'` : ''}`;
  const fast = opts.noFast ? '' : `<fast xmlns='${NS_FAST}'${fastAttrs}/>`;
  s.write(`<authenticate xmlns='${NS_SASL2}' mechanism='${mechanism}'><initial-response>${ir.toString('base64')}</initial-response>${opts.inner ?? ''}${fast}</authenticate>`);
  const r = await finish(s);
  if (r.end.name === 'success') {
    const got = Buffer.from(r.end.getChildText('additional-data') ?? '', 'base64');
    if (!got.equals(htHash(opts.token, 'Responder', cb))) throw new Error('bad responder hash in SASL2 additional-data');
  }
  return r;
}

export function userAgent(id: string, software = 'RoostTest', device = 'test bench'): string {
  return `<user-agent id='${id}'><software>${software}</software><device>${device}</device></user-agent>`;
}

/** A new RawStream, secured (STARTTLS or direct TLS), waiting at the post-TLS features. */
export async function securedStream(opts: RawOptions): Promise<RawStream> {
  const s = new RawStream(opts);
  await s.secure();
  return s;
}

/**
 * Counts the stanzas (message, presence, iq) a stream receives from now on, as a client's
 * XEP-0198 'h' must, with its own parser over the socket's bytes.
 */
export class StanzaCounter {
  n = 0;
  readonly stanzas: any[] = [];
  private parser: any;

  constructor(socket: tls.TLSSocket | import('node:net').Socket) {
    this.parser = new Parser();
    this.parser.on('element', (el: any) => {
      if (el.name === 'message' || el.name === 'presence' || el.name === 'iq') {
        this.n++;
        this.stanzas.push(el);
      }
    });
    this.parser.on('error', () => {});
    this.parser.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    socket.on('data', (d: Buffer) => this.parser.write(d.toString('utf8')));
  }
}

/** Lets the event loop and the server's setImmediate batches run. */
export const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

/** TLS exporter channel-binding data of a client socket (RFC 9266). */
export function tlsExporterOf(socket: tls.TLSSocket): Buffer {
  return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
}
