// A hand-driven XMPP client stream for tests that must do what client libraries will not:
// send bytes before TLS, pick a SASL mechanism (SCRAM-SHA-256/512, -PLUS, PLAIN), misbehave.
// It parses what the server sends with ltx (the parser under xmpp.js), independent of Roost's.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
// @ts-expect-error: @xmpp/xml ships no type declarations
import Parser from '@xmpp/xml/lib/Parser.js';

export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';

export interface RawOptions {
  port: number;
  domain: string;
  /** CA to verify the server's certificate (the test server's own). */
  ca?: string;
  directTls?: boolean;
}

export class RawStream {
  socket!: net.Socket | tls.TLSSocket;
  private parser: any;
  private queue: any[] = [];
  private waiters: { pred: (el: any) => boolean; resolve: (el: any) => void; reject: (e: Error) => void }[] = [];
  /** Everything received as text, for assertions on the raw stream. */
  received = '';
  features: any;
  header: any;
  ended = false;
  readonly closed: Promise<void>;
  private onClosed!: () => void;
  private n = 0;

  constructor(readonly opts: RawOptions) {
    this.closed = new Promise((r) => (this.onClosed = r));
  }

  /** TCP (or direct TLS) connection only; nothing sent. */
  async connect(): Promise<this> {
    const { port } = this.opts;
    if (this.opts.directTls) {
      const s = tls.connect({ host: '127.0.0.1', port, servername: this.opts.domain, ca: this.opts.ca, ALPNProtocols: ['xmpp-client'] });
      await new Promise<void>((res, rej) => s.once('secureConnect', res).once('error', rej));
      this.attach(s);
    } else {
      const s = net.connect(port, '127.0.0.1');
      await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
      this.attach(s);
    }
    return this;
  }

  private attach(s: net.Socket | tls.TLSSocket): void {
    this.socket = s;
    this.newParser();
    s.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      this.received += text;
      this.parser.write(text);
    });
    s.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`connection closed; received: ${this.received.slice(-500)}`));
      this.onClosed();
    });
    s.on('error', () => {});
  }

  private newParser(): void {
    this.parser = new Parser();
    this.parser.on('start', (el: any) => (this.header = el));
    this.parser.on('element', (el: any) => this.push(el));
    this.parser.on('end', () => this.push({ name: '</stream>', attrs: {}, is: () => false }));
    this.parser.on('error', () => {});
  }

  private push(el: any): void {
    const i = this.waiters.findIndex((w) => w.pred(el));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(el);
    else this.queue.push(el);
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  next(pred: (el: any) => boolean = () => true, ms = 5000): Promise<any> {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.ended) return Promise.reject(new Error(`connection closed; received: ${this.received.slice(-500)}`));
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (el: any) => (clearTimeout(t), resolve(el)),
        reject: (e: Error) => (clearTimeout(t), reject(e)),
      };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timeout; received: ${this.received.slice(-500)}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Sends a stream header and waits for the features. */
  async open(to = this.opts.domain): Promise<any> {
    this.newParser();
    this.write(`<?xml version='1.0'?><stream:stream to='${to}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    this.features = await this.next((el) => el.name === 'stream:features');
    return this.features;
  }

  async starttls(): Promise<void> {
    this.write(`<starttls xmlns='${NS_TLS}'/>`);
    await this.next((el) => el.name === 'proceed');
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const t = tls.connect({ socket: plain, servername: this.opts.domain, ca: this.opts.ca });
    await new Promise<void>((res, rej) => t.once('secureConnect', res).once('error', rej));
    this.attach(t);
  }

  /** Up to post-TLS features. */
  async secure(): Promise<any> {
    if (!this.socket) await this.connect();
    if (!this.opts.directTls) {
      await this.open();
      await this.starttls();
    }
    return this.open();
  }

  mechanisms(): string[] {
    const m = this.features?.getChild('mechanisms', NS_SASL);
    return m ? m.getChildren('mechanism').map((x: any) => x.text()) : [];
  }

  /**
   * Runs SCRAM; resolves with the final <success/> or <failure/>. Without `cb` the client says
   * it does not use channel binding ('n'); `flag: 'y'` claims it could but thinks the server
   * cannot (RFC 5802 §6), which a server offering -PLUS must refuse.
   */
  async scram(mechanism: string, username: string, password: string, cb?: { type: string; data: Buffer }, flag: 'n' | 'y' = 'n'): Promise<any> {
    const hash = ({ 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' } as Record<string, string>)[mechanism.replace(/^SCRAM-|-PLUS$/g, '')]!;
    const gs2 = cb ? `p=${cb.type},,` : `${flag},,`;
    const cnonce = randomBytes(18).toString('base64');
    const first = `n=${username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${cnonce}`;
    this.write(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${Buffer.from(gs2 + first).toString('base64')}</auth>`);
    const ch = await this.next((el) => el.name === 'challenge' || el.name === 'failure');
    if (ch.name === 'failure') return ch;
    const serverFirst = Buffer.from(ch.text(), 'base64').toString();
    const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
    const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), createHash(hash).digest().length, hash);
    const clientKey = createHmac(hash, salted).update('Client Key').digest();
    const storedKey = createHash(hash).update(clientKey).digest();
    const cbind = Buffer.concat([Buffer.from(gs2), cb ? cb.data : Buffer.alloc(0)]).toString('base64');
    const finalNoProof = `c=${cbind},r=${attrs.r}`;
    const authMessage = `${first},${serverFirst},${finalNoProof}`;
    const sig = createHmac(hash, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ sig[i]!;
    this.write(`<response xmlns='${NS_SASL}'>${Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
    const end = await this.next((el) => el.name === 'success' || el.name === 'failure' || el.name === 'challenge');
    if (end.name === 'success') {
      // The server proves it knows the password too (RFC 5802 §3: ServerSignature).
      const serverKey = createHmac(hash, salted).update('Server Key').digest();
      const expected = createHmac(hash, serverKey).update(authMessage).digest('base64');
      const v = Buffer.from(end.text(), 'base64').toString();
      if (v !== `v=${expected}`) throw new Error(`bad server signature: ${v}`);
    }
    return end;
  }

  plain(username: string, password: string): Promise<any> {
    this.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
    return this.next((el) => el.name === 'success' || el.name === 'failure');
  }

  /** Restart after SASL success and bind; returns the full JID. */
  async bind(resource?: string): Promise<string> {
    await this.open();
    const r = await this.iq('set', `<bind xmlns='${NS_BIND}'>${resource ? `<resource>${resource}</resource>` : ''}</bind>`);
    if (r.attrs.type !== 'result') throw new Error(`bind failed: ${r.toString()}`);
    return r.getChild('bind', NS_BIND).getChildText('jid');
  }

  /** Sends an iq (payload as XML text) and waits for its answer. */
  iq(type: 'get' | 'set', payload: string, to?: string): Promise<any> {
    const id = `q${++this.n}`;
    this.write(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
    return this.next((el) => el.name === 'iq' && el.attrs.id === id);
  }

  /** The stream error condition the server sent, waiting for it. */
  async streamError(ms = 5000): Promise<string> {
    const el = await this.next((e) => e.name === 'stream:error', ms);
    return el.children.find((c: any) => typeof c !== 'string' && c.attrs.xmlns === NS_STREAM_ERRORS && c.name !== 'text')?.name;
  }

  destroy(): void {
    this.socket?.destroy();
  }
}

/** Connected, authenticated with SCRAM-SHA-256 and bound. */
export async function loggedIn(opts: RawOptions, username: string, password: string, resource?: string): Promise<{ s: RawStream; jid: string }> {
  const s = new RawStream(opts);
  await s.secure();
  const r = await s.scram('SCRAM-SHA-256', username, password);
  if (r.name !== 'success') throw new Error(`login failed: ${r.toString()}`);
  const jid = await s.bind(resource);
  return { s, jid };
}

export function failureCondition(el: any): string | undefined {
  return el.children?.find((c: any) => typeof c !== 'string' && c.name !== 'text')?.name;
}
