// A small XMPP client for `roost check clients`: what a chat app does when it logs in, and no
// more. RFC 6120 §4 (streams), §5 (STARTTLS), §6 (SASL: SCRAM-SHA-256/SHA-1 per RFC 5802/7677
// with the server signature checked, else PLAIN inside TLS), §7 (bind); then iqs.
// Incoming XML goes through Roost's own hardened stream parser.
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramHash } from '../core/accounts.js';
import { prepareOpaqueString } from '../core/sasl/saslprep.js';
import { encodeSaslname } from '../core/sasl/scram-messages.js';
import { hmac, keysFromSaltedPassword, saltedPassword, xor } from '../core/sasl/scram-crypto.js';
import { Element, xml } from '../xml/element.js';
import { StreamParser } from '../xml/parser.js';

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

export interface ProbeOptions {
  /** Address to connect to (IP or name). */
  address: string;
  port: number;
  /** The XMPP domain (stream 'to', TLS server name). */
  domain: string;
  username: string;
  password: string;
  resource?: string;
  timeoutMs?: number;
}

export interface TlsInfo {
  protocol: string | null;
  /** The certificate verified against the system's trusted CAs for the domain. */
  authorized: boolean;
  authorizationError?: string;
}

export class ProbeError extends Error {}

export class XmppProbe {
  private socket!: net.Socket | tls.TLSSocket;
  private parser: StreamParser;
  private queue: Element[] = [];
  private waiter?: { pred: (el: Element) => boolean; resolve: (el: Element) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
  private failure?: Error;
  private nextId = 0;
  tls?: TlsInfo;
  /** Features after TLS, before authentication. */
  preAuthFeatures?: Element;
  /** Features after authentication. */
  postAuthFeatures?: Element;
  mechanism?: string;
  /** Attributes of the SCRAM server-first-message (an XEP-0474 'd' shows downgrade protection). */
  scramServerFirst?: Map<string, string>;
  jid?: string;
  /** Stanzas that arrived while waiting for something else (pushes, presence). */
  readonly other: Element[] = [];

  constructor(private readonly opts: ProbeOptions) {
    this.parser = new StreamParser(
      {
        streamStart: () => {},
        stanza: (el) => this.deliver(el),
        streamEnd: () => this.fail(new ProbeError('the server closed the stream')),
        error: (_c, text) => this.fail(new ProbeError(`unreadable XML from the server: ${text}`)),
      },
      { maxStanzaSize: 16 * 1024 * 1024, maxDepth: 64 },
    );
  }

  private get timeout(): number {
    return this.opts.timeoutMs ?? 10_000;
  }

  private deliver(el: Element): void {
    if (this.waiter && this.waiter.pred(el)) {
      const w = this.waiter;
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve(el);
      return;
    }
    this.queue.push(el);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(e);
    }
  }

  private next(pred: (el: Element) => boolean, what: string): Promise<Element> {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new ProbeError(`no ${what} from the server within ${this.timeout} ms`));
      }, this.timeout);
      this.waiter = { pred, resolve, reject, timer };
    });
  }

  private attach(s: net.Socket | tls.TLSSocket): void {
    this.socket = s;
    s.on('data', (d: Buffer) => {
      try {
        this.parser.write(d);
      } catch (e) {
        this.fail(e as Error);
      }
    });
    s.on('error', (e) => this.fail(new ProbeError(`connection failed: ${e.message}`)));
    s.on('close', () => this.fail(new ProbeError('the connection closed')));
  }

  private write(s: string): void {
    this.socket.write(s);
  }

  private async openStream(): Promise<Element> {
    this.parser.reset();
    this.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${this.opts.domain}' version='1.0'>`);
    return this.next((el) => el.name === 'features', 'stream features');
  }

  /** Connects, STARTTLS, authenticates and binds. */
  async login(): Promise<void> {
    const plain = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.opts.address, port: this.opts.port });
      const t = setTimeout(() => s.destroy(new Error(`no connection to ${this.opts.address}:${this.opts.port} within ${this.timeout} ms`)), this.timeout);
      s.once('connect', () => (clearTimeout(t), resolve(s)));
      s.once('error', (e) => (clearTimeout(t), reject(new ProbeError(`cannot connect to ${this.opts.address}:${this.opts.port}: ${e.message}`))));
    });
    this.attach(plain);
    const first = await this.openStream();
    if (!first.getChild('starttls', NS_TLS)) throw new ProbeError('the server offers no STARTTLS');
    this.write(`<starttls xmlns='${NS_TLS}'/>`);
    await this.next((el) => el.name === 'proceed' || el.name === 'failure', 'STARTTLS answer').then((el) => {
      if (el.name !== 'proceed') throw new ProbeError('STARTTLS was refused');
    });
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      // Verified against the system CAs, but a self-signed certificate does not stop the check:
      // it is reported, and the features are still worth reading.
      const t = tls.connect({ socket: plain, servername: this.opts.domain, rejectUnauthorized: false });
      t.once('secureConnect', () => resolve(t));
      t.once('error', (e) => reject(new ProbeError(`TLS failed: ${e.message}`)));
    });
    const info: TlsInfo = { protocol: secure.getProtocol(), authorized: secure.authorized };
    if (!secure.authorized && secure.authorizationError) info.authorizationError = String(secure.authorizationError);
    this.tls = info;
    this.attach(secure);
    this.preAuthFeatures = await this.openStream();
    const mechs = this.mechanisms();
    const pick = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'].find((m) => mechs.includes(m));
    if (!pick) throw new ProbeError(`no usable login mechanism (offered: ${mechs.join(', ') || 'none'})`);
    this.mechanism = pick;
    if (pick === 'PLAIN') await this.plain();
    else await this.scram(pick === 'SCRAM-SHA-256' ? 'SHA-256' : 'SHA-1');
    this.postAuthFeatures = await this.openStream();
    if (!this.postAuthFeatures.getChild('bind', NS_BIND)) throw new ProbeError('the server offers no resource binding');
    const bound = await this.iq('set', xml('bind', { xmlns: NS_BIND }, xml('resource', {}, this.opts.resource ?? `roost-check-${randomBytes(3).toString('hex')}`)));
    const jid = bound.getChild('bind', NS_BIND)?.getChildText('jid');
    if (bound.attrs.type !== 'result' || !jid) throw new ProbeError('binding a resource failed');
    this.jid = jid;
  }

  mechanisms(): string[] {
    return (this.preAuthFeatures?.getChild('mechanisms', NS_SASL)?.getChildren('mechanism') ?? []).map((m) => m.text().trim());
  }

  private async saslResult(): Promise<Element> {
    return this.next((el) => el.attrs.xmlns === NS_SASL && ['challenge', 'success', 'failure'].includes(el.name), 'login answer');
  }

  private failed(el: Element): never {
    const cond = el.elements()[0]?.name ?? 'failure';
    throw new ProbeError(`login refused (${cond}): check the user name and password`);
  }

  private async plain(): Promise<void> {
    const msg = Buffer.from(`\0${this.opts.username}\0${prepareOpaqueString(this.opts.password)}`, 'utf8').toString('base64');
    this.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${msg}</auth>`);
    const r = await this.saslResult();
    if (r.name !== 'success') this.failed(r);
  }

  private async scram(hash: ScramHash): Promise<void> {
    const cnonce = randomBytes(18).toString('base64');
    const bare = `n=${encodeSaslname(this.opts.username)},r=${cnonce}`;
    this.write(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-${hash}'>${Buffer.from('n,,' + bare).toString('base64')}</auth>`);
    const ch = await this.saslResult();
    if (ch.name !== 'challenge') this.failed(ch);
    const serverFirst = Buffer.from(ch.text(), 'base64').toString('utf8');
    const attrs = new Map(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const));
    this.scramServerFirst = attrs;
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce?.startsWith(cnonce) || !salt || !Number.isInteger(iterations) || iterations < 1) throw new ProbeError('the server sent a malformed SCRAM challenge');
    const salted = await saltedPassword(hash, prepareOpaqueString(this.opts.password), Buffer.from(salt, 'base64'), iterations);
    const { clientKey, storedKey, serverKey } = keysFromSaltedPassword(hash, salted);
    const finalNoProof = `c=biws,r=${nonce}`;
    const authMessage = `${bare},${serverFirst},${finalNoProof}`;
    const proof = xor(clientKey, hmac(hash, storedKey, authMessage));
    this.write(`<response xmlns='${NS_SASL}'>${Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
    const r = await this.saslResult();
    if (r.name !== 'success') this.failed(r);
    // RFC 5802 §5: the server proves it knows the password too.
    const v = new Map(Buffer.from(r.text(), 'base64').toString('utf8').split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const)).get('v');
    const expected = hmac(hash, serverKey, authMessage);
    const got = Buffer.from(v ?? '', 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new ProbeError('the server signature does not match: this is not the server that holds the account');
  }

  /** Sends an iq and waits for its result or error. */
  async iq(type: 'get' | 'set', payload: Element, to?: string): Promise<Element> {
    const id = `p${++this.nextId}`;
    this.write(xml('iq', { type, id, to }, payload).toString());
    const answer = await this.next((el) => el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'), `answer to ${payload.name}`);
    // Anything queued meanwhile (pushes, presence) is kept for inspection, never answered.
    this.other.push(...this.queue.splice(0));
    return answer;
  }

  close(): void {
    try {
      this.socket?.end('</stream:stream>');
    } catch {
      /* already gone */
    }
    setTimeout(() => this.socket?.destroy(), 500).unref();
  }
}
