// A real Roost server for tests: in this process, on loopback ports picked by the OS, with a
// temporary data directory (SQLite, generated certificate), and real XMPP clients
// (@xmpp/client) that verify its certificate.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { client as xmppClient } from '@xmpp/client';
// @ts-expect-error: @xmpp/xml ships no type declarations
import parseXml from '@xmpp/xml/lib/parse.js';
import { loadConfig } from '../../src/config/load.js';
import type { RoostConfig } from '../../src/config/types.js';
import { RoostServer } from '../../src/core/server.js';
import { createLogger, silentLogger, type Logger } from '../../src/util/log.js';
import type { ModuleDefinition } from '../../src/core/module.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? merge(b, v as never) : v;
  }
  return out as T;
}

// Clients trust the test servers' certificates (and only for their names): @xmpp/client calls
// tls.connect without a CA option, so the CA is added here, per server name.
const trusted = new Map<string, string>();
const originalConnect = tls.connect;
let patched = false;
function trust(names: string[], certPem: string): void {
  for (const n of names) trusted.set(n, certPem);
  if (patched) return;
  patched = true;
  (tls as { connect: typeof tls.connect }).connect = ((...args: unknown[]) => {
    const opts = args[0];
    if (opts && typeof opts === 'object') {
      const o = opts as tls.ConnectionOptions;
      const name = o.servername ?? o.host;
      const ca = name ? trusted.get(name) : undefined;
      if (ca && o.ca === undefined) args[0] = { ...o, ca };
    }
    return (originalConnect as (...a: unknown[]) => tls.TLSSocket)(...args);
  }) as typeof tls.connect;
}

export interface TestServerOptions extends Omit<DeepPartial<RoostConfig>, 'modules'> {
  /** Reuse this data directory (kept after stop), e.g. to restart on the same database. */
  dataDir?: string;
  /** Log to stderr at this level (default: silent). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * A list: the module definitions to load instead of the built-in set (e.g. the built-ins
   * plus a test-only module). An object: the config's `modules` section (per-module settings).
   */
  modules?: ModuleDefinition[] | RoostConfig['modules'] | Record<string, unknown>;
}

export async function startTestServer(options: TestServerOptions = {}) {
  const { logLevel, modules: modulesOption, dataDir: given, ...rest } = options;
  const modules = Array.isArray(modulesOption) ? (modulesOption as ModuleDefinition[]) : undefined;
  const overrides = !modulesOption || Array.isArray(modulesOption) ? rest : { ...rest, modules: { disabled: [], ...modulesOption } };
  const dataDir = given ?? (await mkdtemp(join(tmpdir(), 'roost-test-')));
  const defaults = await loadConfig({ env: { ROOST_DATA: dataDir }, cwd: dataDir });
  const loopback = (l: RoostConfig['listeners']['c2s']) => ({ ...l, address: '127.0.0.1', port: 0 });
  let config = merge(defaults, overrides as DeepPartial<RoostConfig>);
  config = {
    ...config,
    listeners: {
      ...config.listeners,
      c2s: loopback(config.listeners.c2s),
      c2sDirectTls: loopback(config.listeners.c2sDirectTls),
      s2s: { ...config.listeners.s2s, enabled: false },
      // Web listeners only when a test asks for them (listeners.http.enabled: true).
      http: { ...loopback(config.listeners.http), enabled: overrides.listeners?.http?.enabled === true },
      https: { ...loopback(config.listeners.https), enabled: overrides.listeners?.https?.enabled === true },
    },
  };
  const log: Logger = logLevel ? createLogger({ level: logLevel, format: 'text' }) : silentLogger;
  const server = await RoostServer.start(config, { log, ...(modules ? { modules } : {}) });
  const host = config.hosts[0]!;
  const certPem = readFileSync(server.tls.info.certPath, 'utf8');
  trust(server.tls.info.names, certPem);
  const port = server.ports.c2s!;
  const clients = new Set<{ stop(): Promise<unknown> }>();

  const api = {
    server,
    config,
    host,
    port,
    directTlsPort: server.ports.c2sDirectTls!,
    httpPort: server.ports.http,
    httpsPort: server.ports.https,
    dataDir,
    certPem,
    async addUser(username: string, password: string): Promise<void> {
      await server.accounts(host)!.create(username, password);
    },
    /** A logged-in, bound @xmpp/client session (STARTTLS + SASL), not yet sending presence. */
    async client(username: string, password: string, resource?: string): Promise<any> {
      const c = xmppClient({ service: `xmpp://127.0.0.1:${port}`, domain: host, username, password, resource });
      (c as any).reconnect?.stop?.();
      c.on('error', () => {});
      clients.add(c);
      try {
        await c.start();
      } catch (e) {
        clients.delete(c);
        await c.stop().catch(() => {});
        throw e;
      }
      return c;
    },
    /** The stream features offered after STARTTLS, before authentication. */
    async streamFeatures(): Promise<any> {
      const s = await rawStream(port, host);
      const f = s.features;
      s.socket.destroy();
      return f;
    },
    async stop(): Promise<void> {
      await Promise.all([...clients].map((c) => c.stop().catch(() => {})));
      await server.stop();
      if (!given) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return api;
}

/** Opens a stream by hand up to the post-STARTTLS features (for tests below the client library). */
export async function rawStream(port: number, domain: string): Promise<{ socket: tls.TLSSocket; features: any; read: () => string }> {
  const plain = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const header = `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
  const waitFor = (sock: net.Socket, re: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}: got ${buf}`)), 5000);
      const on = (d: Buffer) => {
        buf += d.toString('utf8');
        if (re.test(buf)) {
          clearTimeout(t);
          sock.off('data', on);
          resolve(buf);
        }
      };
      sock.on('data', on);
    });
  plain.write(header);
  await waitFor(plain, /<\/stream:features>/);
  plain.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  await waitFor(plain, /<proceed/);
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const t = tls.connect({ socket: plain, servername: domain, ca: trusted.get(domain) }, () => resolve(t));
    t.once('error', reject);
  });
  let all = '';
  secure.on('data', (d: Buffer) => (all += d.toString('utf8')));
  secure.write(header);
  const deadline = Date.now() + 5000;
  while (!/<\/stream:features>/.test(all)) {
    if (Date.now() > deadline) throw new Error(`no features after STARTTLS: ${all}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const m = /<stream:features>[\s\S]*?<\/stream:features>/.exec(all)!;
  const parsed = parseXml(m[0].replace('<stream:features>', "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"));
  return { socket: secure, features: parsed, read: () => all };
}

/** Drops a client's TCP connection without a closing </stream> (a crashed app, a lost network). */
export function dropConnection(c: any): void {
  c.reconnect?.stop?.();
  // @xmpp/client wraps the TLS socket after STARTTLS; the real socket is inside.
  const s = c.socket?.socket ?? c.socket;
  s?.destroy?.();
}
