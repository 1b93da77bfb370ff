// A chat app's first login, by hand: RFC 6120 stream, STARTTLS (section 5) with the server
// certificate verified against `ca` for the domain, then SASL PLAIN (RFC 4616, section 6).
// Enough to prove "the server the installer configured accepts a login without a certificate warning".
import { connect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface LoginResult {
  /** The certificate verified against the CA for the domain (what apps check). */
  certificateTrusted: boolean;
  mechanisms: string[];
  success: boolean;
  failure?: string;
  /** With `keep`: the bound session (RFC 6120 section 7), still open. */
  session?: { ping(): Promise<boolean>; closed(): boolean; close(): void };
}

function header(domain: string): string {
  return `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
}

function reader(sock: NodeJS.ReadableStream & { setEncoding(e: string): void }): (re: RegExp, ms?: number) => Promise<RegExpExecArray> {
  let buf = '';
  const waiters: Array<() => void> = [];
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    for (const w of waiters.splice(0)) w();
  });
  return async (re, ms = 10_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(buf);
      if (m) {
        buf = buf.slice(m.index + m[0].length);
        return m;
      }
      if (Date.now() > deadline) throw new Error(`no ${re} from the server in ${ms} ms; got: ${buf.slice(0, 500)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
}

export async function xmppLogin(opts: { host: string; port: number; domain: string; username: string; password: string; ca: string; keep?: boolean }): Promise<LoginResult> {
  const plain = connect({ host: opts.host, port: opts.port });
  await new Promise<void>((resolve, reject) => {
    plain.once('connect', () => resolve());
    plain.once('error', reject);
  });
  const readPlain = reader(plain);
  plain.write(header(opts.domain));
  await readPlain(/<starttls[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]/);
  await readPlain(/<\/stream:features>/);
  plain.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  await readPlain(/<proceed\b/);
  plain.removeAllListeners('data');
  const tls: TLSSocket = await new Promise((resolve, reject) => {
    const t = tlsConnect({ socket: plain, servername: opts.domain, ca: opts.ca, rejectUnauthorized: false }, () => resolve(t));
    t.once('error', reject);
  });
  const certificateTrusted = tls.authorized;
  let keepOpen = false;
  try {
    const read = reader(tls);
    tls.write(header(opts.domain));
    const feats = await read(/<mechanisms[^>]*>([\s\S]*?)<\/mechanisms>/);
    const mechanisms = [...(feats[1] ?? '').matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1] as string);
    if (!mechanisms.includes('PLAIN')) return { certificateTrusted, mechanisms, success: false, failure: 'PLAIN not offered' };
    const token = Buffer.from(`\0${opts.username}\0${opts.password}`).toString('base64');
    tls.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${token}</auth>`);
    const r = await read(/<(success|failure)\b[\s\S]*?(?:\/>|<\/\1>)/);
    const result: LoginResult = { certificateTrusted, mechanisms, success: r[1] === 'success', ...(r[1] === 'failure' ? { failure: r[0] } : {}) };
    if (!opts.keep || !result.success) return result;
    // Resource binding, then XEP-0199 pings on demand.
    tls.write(header(opts.domain));
    await read(/<bind[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-bind['"]/);
    tls.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
    await read(/<iq[^>]*id=['"]bind1['"][^>]*type=['"]result['"]|<iq[^>]*type=['"]result['"][^>]*id=['"]bind1['"]/);
    let n = 0;
    let closed = false;
    tls.on('close', () => (closed = true));
    result.session = {
      ping: async () => {
        const id = `ping${++n}`;
        tls.write(`<iq type='get' id='${id}' to='${opts.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
        const m = await read(new RegExp(`<iq[^>]*id=['"]${id}['"][^>]*>|<iq[^>]*>`), 5000).catch(() => undefined);
        return m !== undefined && /type=['"]result['"]/.test(m[0]);
      },
      closed: () => closed,
      close: () => tls.destroy(),
    };
    keepOpen = true;
    return result;
  } finally {
    if (!keepOpen) tls.destroy();
  }
}
