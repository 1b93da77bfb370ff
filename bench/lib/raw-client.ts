// A deliberately small XMPP client for load generation: STARTTLS or direct TLS, SCRAM-SHA-1,
// bind, XEP-0198 enable/resume, then raw stanza writes. It scans replies with string searches
// instead of a full parser so that thousands of sessions fit in one load-generator process.
// Benchmarks only (every benchmark uses this one client).
import net from 'node:net';
import tls from 'node:tls';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export interface RawClientOptions {
  host: string;
  port: number;
  domain: string;
  username: string;
  password: string;
  resource?: string;
  directTls?: boolean;
}

const NS_SM = 'urn:xmpp:sm:3';

// The salted password is a per-account constant; caching it (as real clients do) keeps the
// load generator's PBKDF2 cost out of the server's figures.
const saltedCache = new Map<string, Buffer>();

export class RawClient {
  socket!: net.Socket | tls.TLSSocket;
  jid = '';
  /** The stream management id after enableResumption(). */
  smId = '';
  private buf = '';
  private waiter?: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void };
  /** Once set, every chunk goes here instead of the reply matcher (message counting). */
  onData?: (chunk: string) => void;

  constructor(readonly opts: RawClientOptions) {}

  private attach(sock: net.Socket | tls.TLSSocket): void {
    this.socket = sock;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      if (this.onData) {
        this.onData(d);
        return;
      }
      this.buf += d;
      this.check();
    });
    sock.on('error', (e) => this.waiter?.reject(e));
    sock.on('close', () => this.waiter?.reject(new Error('connection closed: ' + this.buf.slice(-300))));
  }

  private check(): void {
    if (!this.waiter) return;
    const m = this.buf.match(this.waiter.re);
    if (m) {
      this.buf = this.buf.slice((m.index ?? 0) + m[0].length);
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
    } else if (/<(stream:)?error|<failure|<failed/.test(this.buf)) {
      // A stream error, a SASL failure or a refused XEP-0198 enable/resume.
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(new Error('server said: ' + this.buf.slice(0, 400)));
    }
  }

  /** The next reply matching `re` (before onData is set). */
  expect(re: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      this.waiter = { re, resolve, reject };
      this.check();
    });
  }

  write(s: string): void {
    this.socket.write(s);
  }

  private header(): string {
    return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${this.opts.domain}' version='1.0'>`;
  }

  /** Authenticated and bound: authenticate() then bind(). */
  async connect(): Promise<void> {
    await this.authenticate();
    await this.bind();
  }

  /** TLS (STARTTLS or direct) and SCRAM-SHA-1, ending at the features after the restart. */
  async authenticate(): Promise<void> {
    const { host, port, domain } = this.opts;
    if (this.opts.directTls) {
      const s = tls.connect({ host, port, servername: domain, rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'] });
      await new Promise<void>((res, rej) => s.once('secureConnect', res).once('error', rej));
      this.attach(s);
    } else {
      const s = net.connect({ host, port });
      await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
      this.attach(s);
      this.write(this.header());
      await this.expect(/<\/stream:features>/);
      this.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
      await this.expect(/<proceed[^>]*\/>/);
      s.removeAllListeners('data');
      s.removeAllListeners('close');
      s.removeAllListeners('error');
      const t = tls.connect({ socket: s, servername: domain, rejectUnauthorized: false });
      await new Promise<void>((res, rej) => t.once('secureConnect', res).once('error', rej));
      this.buf = '';
      this.attach(t);
    }
    this.write(this.header());
    await this.expect(/<\/stream:features>/);
    await this.scramSha1();
    this.write(this.header());
    await this.expect(/<\/stream:features>/);
  }

  /** Binds opts.resource (or a server-chosen one). */
  async bind(): Promise<void> {
    const res = this.opts.resource ? `<resource>${this.opts.resource}</resource>` : '';
    this.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${res}</bind></iq>`);
    const m = await this.expect(/<jid>([^<]+)<\/jid>[\s\S]*?<\/iq>/);
    this.jid = m[1]!;
  }

  /** XEP-0198 <enable resume='true'/> after bind; keeps the stream id in smId. */
  async enableResumption(): Promise<void> {
    this.write(`<enable xmlns='${NS_SM}' resume='true'/>`);
    this.smId = (await this.expect(/<enabled[^>]*\bid=["']([^"']+)["'][^>]*\/>/))[1]!;
  }

  /** Sends XEP-0198 <resume/> after authenticate(); the caller watches the replay through onData. */
  resume(previd: string, h: number): void {
    this.write(`<resume xmlns='${NS_SM}' previd='${previd}' h='${h}'/>`);
  }

  private async scramSha1(): Promise<void> {
    const { username, password } = this.opts;
    const cnonce = randomBytes(18).toString('base64');
    const first = `n=${username},r=${cnonce}`;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from('n,,' + first).toString('base64')}</auth>`);
    const ch = await this.expect(/<challenge[^>]*>([^<]*)<\/challenge>/);
    const serverFirst = Buffer.from(ch[1]!, 'base64').toString();
    const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
    const key = `${username}\0${attrs.s}\0${attrs.i}`;
    let salted = saltedCache.get(key);
    if (!salted) {
      salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 20, 'sha1');
      saltedCache.set(key, salted);
    }
    const clientKey = createHmac('sha1', salted).update('Client Key').digest();
    const storedKey = createHash('sha1').update(clientKey).digest();
    const finalNoProof = `c=biws,r=${attrs.r}`;
    const authMessage = `${first},${serverFirst},${finalNoProof}`;
    const sig = createHmac('sha1', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ sig[i]!;
    this.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
    await this.expect(/<success[^>]*(\/>|>[^<]*<\/success>)/);
  }

  close(): void {
    try {
      this.socket.end('</stream:stream>');
    } catch {
      /* already gone */
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
