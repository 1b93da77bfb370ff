// The daemon: storage, TLS, hosts with their modules, listeners; graceful stop and live reload.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import type { RoostConfig } from '../config/types.js';
import { liveReloadable } from '../config/reload.js';
import { builtinModules } from '../modules/index.js';
import { createStorage } from '../storage/index.js';
import type { Storage } from '../storage/types.js';
import { listen, type Listener } from '../transports/tcp.js';
import { HttpRoutes, listenHttp } from '../transports/http.js';
import { createChallengeStore } from '../../../appliance/src/acme/challenge-store.js';
import { challengeDir, renewalOptions } from '../../../appliance/src/acme/daemon.js';
import { startRenewalTimer, type RenewalTimer } from '../../../appliance/src/acme/renew.js';
import type { ChallengeStore, RenewResult } from '../../../appliance/src/types.js';
import type { Logger } from '../util/log.js';
import { createAccounts, type Accounts } from './accounts.js';
import { C2SStream, type C2SEnv } from './c2s.js';
import { Host } from './host.js';
import type { ModuleDefinition } from './module.js';
import { LoginLimiter } from './ratelimit.js';
import { Router } from './router.js';
import { saslMechanisms } from './sasl/index.js';
import { FastTokens } from './sasl/fast-tokens.js';
import { ResumableSessions } from './sm-registry.js';
import type { SaslEnv } from './sasl-negotiation.js';
import { TlsManager } from './tls.js';

export interface ServerOptions {
  log: Logger;
  /** Modules to load on every host (default: the built-in set). */
  modules?: ModuleDefinition[];
}

export interface ServerPorts {
  c2s?: number;
  c2sDirectTls?: number;
  http?: number;
  https?: number;
  /** ACME HTTP-01 challenges (port 80) while acme.enabled with the http-01 challenge. */
  acme?: number;
}

export class RoostServer {
  readonly router: Router;
  readonly http = new HttpRoutes();
  readonly hosts = new Map<string, Host>();
  readonly ports: ServerPorts = {};
  private readonly listeners: Listener[] = [];
  private readonly streams = new Set<C2SStream>();
  private readonly perAddress = new Map<string, number>();
  private stopping = false;
  private idleTimer?: NodeJS.Timeout;
  private accountTimer?: NodeJS.Timeout;
  private challenges?: ChallengeStore;
  private renewal?: RenewalTimer;
  /** Keeps SCRAM answers for unknown users stable across restarts (no account enumeration). */
  private decoySecret?: Buffer;
  /** XEP-0198 sessions that can be resumed, hibernated ones included. */
  readonly resumable = new ResumableSessions();
  /** XEP-0484 login tokens and XEP-0388 clients of every account. */
  readonly fast: FastTokens;

  private constructor(
    private cfg: RoostConfig,
    readonly storage: Storage,
    readonly tls: TlsManager,
    public limiter: LoginLimiter,
    private readonly log: Logger,
  ) {
    this.router = new Router(log.child('router'));
    this.fast = new FastTokens((name) => storage.keyval(name), () => this.cfg.fast);
  }

  get config(): RoostConfig {
    return this.cfg;
  }

  static async start(config: RoostConfig, opts: ServerOptions): Promise<RoostServer> {
    const log = opts.log;
    const storage = createStorage(config.storage, log.child('storage'));
    await storage.open();
    let server: RoostServer | undefined;
    try {
      const tlsManager = await TlsManager.create(config, log.child('tls'));
      server = new RoostServer(config, storage, tlsManager, LoginLimiter.fromConfig(config.limits), log);
      server.decoySecret = await decoySecret(storage);
      for (const name of config.hosts) {
        const accounts = createAccounts(storage, name);
        const host = new Host(name, { config: () => server!.cfg, storage, router: server.router, accounts, log: log.child(name), http: server.http });
        server.router.addHost(host);
        server.hosts.set(name, host);
        server.fast.watch(host.hooks, name);
      }
      for (const host of server.hosts.values()) await host.load(opts.modules ?? builtinModules);
      await server.listen();
      server.idleTimer = setInterval(() => server!.sweepIdle(), 5000);
      server.idleTimer.unref();
      server.accountTimer = setInterval(() => void server!.sweepAccounts(), 60_000);
      server.accountTimer.unref();
      for (const host of server.hosts.values()) await host.hooks.fireAsync('server-started', { host: host.name, ports: server.ports });
      log.info('server started', { hosts: config.hosts.join(','), c2s: server.ports.c2s, directTls: server.ports.c2sDirectTls });
      return server;
    } catch (e) {
      if (server) await server.stop().catch(() => {});
      else await storage.close().catch(() => {});
      throw e;
    }
  }

  accounts(host: string): Accounts | undefined {
    return this.hosts.get(host)?.accounts;
  }

  private async listen(): Promise<void> {
    const { listeners } = this.cfg;
    const server = this;
    const sasl: SaslEnv = {
      config: () => this.cfg,
      log: this.log.child('sasl'),
      get limiter() {
        return server.limiter;
      },
      mechanisms: saslMechanisms({ plain: true, decoySecret: this.decoySecret }),
    };
    const env: C2SEnv = {
      config: () => this.cfg,
      log: this.log,
      router: this.router,
      tls: this.tls,
      sasl,
      closed: (s) => this.forget(s),
      resumable: this.resumable,
      fast: this.fast,
      ...(this.decoySecret ? { secret: this.decoySecret } : {}),
    };
    const admit = (socket: net.Socket): boolean => {
      if (this.stopping) return false;
      const limits = this.cfg.limits;
      const addr = socket.remoteAddress ?? '';
      const n = this.perAddress.get(addr) ?? 0;
      if (n >= limits.connectionsPerAddress || this.streams.size >= limits.maxConnections) {
        this.log.warn('connection refused: too many connections', { address: addr, fromAddress: n, total: this.streams.size });
        return false;
      }
      return true;
    };
    const open = (socket: net.Socket, directTls: boolean) => {
      if (this.stopping || socket.destroyed) return socket.destroy();
      const addr = socket.remoteAddress ?? '';
      this.perAddress.set(addr, (this.perAddress.get(addr) ?? 0) + 1);
      const stream = new C2SStream(socket, env, { directTls });
      (stream as unknown as { countedAddress: string }).countedAddress = addr;
      this.streams.add(stream);
    };
    if (listeners.c2s.enabled) {
      const l = await listen({ ...listeners.c2s, log: this.log, admit, onSocket: (s) => open(s, false) });
      this.listeners.push(l);
      this.ports.c2s = l.port;
    }
    if (listeners.c2sDirectTls.enabled) {
      const l = await listen({
        ...listeners.c2sDirectTls,
        tls: this.tls.serverOptions(['xmpp-client']),
        log: this.log,
        admit,
        onSocket: (s) => open(s, true),
      });
      if (l.server) this.tls.track(l.server as tls.Server);
      this.listeners.push(l);
      this.ports.c2sDirectTls = l.port;
    }
    await this.listenWeb();
    await this.startRenewal();
  }

  /**
   * Let's Encrypt renewal (acme.enabled, HTTP-01): checked at start and every 12 hours,
   * `acme.renewDaysBefore` days before expiry; a new certificate is reloaded for new
   * connections while open sessions keep theirs. Failures are logged and kept in
   * acme-status.json for `roost check certs`; the old certificate stays in use.
   */
  private async startRenewal(): Promise<void> {
    if (!this.cfg.acme.enabled) return;
    const log = this.log.child('acme');
    const plan = await renewalOptions(this.cfg, this.challenges);
    if (!plan.ok) {
      log.warn('no automatic certificate renewal', { reason: plan.reason });
      return;
    }
    this.renewal = startRenewalTimer(plan.options, {
      onRenewed: async (r) => {
        log.info('certificate renewed', { names: plan.options.names.join(','), notAfter: r.result?.notAfter.toISOString() });
        await this.reload();
      },
      onError: (r) => log.error('certificate renewal failed; the current certificate stays in use', { error: r.error }),
    });
  }

  /** Runs the renewal check now (tests, `roost check`); undefined when renewal is off. */
  renewNow(): Promise<RenewResult> | undefined {
    return this.renewal?.runNow();
  }

  /** http (5280), https (5281) and, for Let's Encrypt HTTP-01, the challenge port (80). */
  private async listenWeb(): Promise<void> {
    const { listeners, acme, dataDir } = this.cfg;
    const log = this.log.child('http');
    // Challenge tokens are files, so `roost setup` (another process) can answer them through us.
    const challenges = createChallengeStore({ dir: challengeDir(dataDir) });
    this.challenges = challenges;
    this.http.add('/.well-known/acme-challenge/', (req, res) => challenges.handle(req, res));
    if (listeners.http.enabled) {
      const l = await listenHttp({ address: listeners.http.address, port: listeners.http.port, routes: this.http, log });
      this.listeners.push(l);
      this.ports.http = l.port;
    }
    if (listeners.https.enabled) {
      const l = await listenHttp({ address: listeners.https.address, port: listeners.https.port, routes: this.http, tls: this.tls.serverOptions(['http/1.1']), log });
      // Clients without SNI get the server's own context: a reload must reach it too.
      if (l.server) this.tls.track(l.server as tls.Server);
      this.listeners.push(l);
      this.ports.https = l.port;
    }
    if (acme.enabled && acme.challenge === 'http-01' && acme.httpPort !== listeners.http.port) {
      const only = new HttpRoutes();
      only.add('/.well-known/acme-challenge/', (req, res) => challenges.handle(req, res));
      const l = await listenHttp({ address: listeners.http.address, port: acme.httpPort, routes: only, log });
      this.listeners.push(l);
      this.ports.acme = l.port;
    }
  }

  private forget(stream: C2SStream): void {
    if (!this.streams.delete(stream)) return;
    const addr = (stream as unknown as { countedAddress: string }).countedAddress;
    const n = (this.perAddress.get(addr) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(addr);
    else this.perAddress.set(addr, n);
  }

  private sweepIdle(): void {
    const now = Date.now();
    const { idleTimeout, pingTimeout } = this.cfg.limits;
    for (const s of this.streams) s.checkIdle(now, idleTimeout * 1000, pingTimeout * 1000);
  }

  /** Number of open client connections (bound or not). */
  connectionCount(): number {
    return this.streams.size;
  }

  /**
   * SIGHUP: applies what can change live (certificate, limits, log level, registration, admins).
   * Listeners, storage and hosts need a restart; those changes are reported, not applied.
   */
  async reload(next?: RoostConfig): Promise<{ applied: string[]; needsRestart: string[] }> {
    let applied: string[] = [];
    let needsRestart: string[] = [];
    if (next) {
      const diff = liveReloadable(this.cfg, next);
      needsRestart = diff.needsRestart;
      applied = diff.changed.filter((p) => !needsRestart.includes(p));
      // What needs a restart keeps its running value, so the config in use matches what runs.
      const merged = structuredClone(next);
      for (const p of needsRestart) setPath(merged, p, getPath(this.cfg, p));
      // The certificate first: if it cannot be loaded, nothing of the new file is applied.
      await this.tls.reload(merged);
      const old = this.cfg.limits;
      this.cfg = merged;
      if (old.loginFailuresPerAddress !== merged.limits.loginFailuresPerAddress || old.loginFailuresPerAccount !== merged.limits.loginFailuresPerAccount) {
        this.limiter = LoginLimiter.fromConfig(merged.limits);
      }
    } else {
      await this.tls.reload(this.cfg);
    }
    // New sessions get the new certificate; established TLS sessions keep theirs, unharmed.
    applied.push('tls');
    this.log.info('configuration reloaded', { applied: applied.join(','), needsRestart: needsRestart.join(',') });
    void this.sweepAccounts();
    return { applied, needsRestart };
  }

  /**
   * Ends the sessions of accounts deleted behind the daemon's back (`roost user del` is another
   * process): checked every minute and at each reload.
   */
  async sweepAccounts(): Promise<void> {
    for (const host of this.hosts.values()) {
      const users = new Set<string>();
      for (const s of host.sessions.all()) if (s.username !== undefined) users.add(s.username);
      for (const u of users) {
        const exists = await host.accounts.exists(u).catch(() => true); // a storage hiccup deletes nobody
        if (exists) continue;
        this.log.info('account deleted: ending its sessions', { user: `${u}@${host.name}` });
        for (const s of host.sessions.sessionsOf(u)) s.close('not-authorized', 'account removed');
      }
    }
  }

  /** Graceful stop: no new connections, every stream closed with system-shutdown, storage flushed. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    if (this.accountTimer) clearInterval(this.accountTimer);
    this.renewal?.stop();
    this.log.info('server stopping');
    for (const host of this.hosts.values()) await host.hooks.fireAsync('server-stopping', { host: host.name }).catch(() => false);
    const closing = Promise.all(this.listeners.map((l) => l.close()));
    for (const s of [...this.streams]) s.shutdown();
    // Peers get a moment to read the stream error and close their side.
    const deadline = Date.now() + 3000;
    while (this.streams.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await closing;
    // Hibernated sessions end too; their unacknowledged messages reach offline storage first.
    await this.resumable.endAll('system-shutdown');
    for (const host of this.hosts.values()) await host.unload();
    await this.storage.close();
    this.log.info('server stopped');
  }
}

async function decoySecret(storage: Storage): Promise<Buffer> {
  const kv = storage.keyval('server');
  const have = await kv.get<string>('server', 'scram-decoy-secret');
  if (typeof have === 'string' && have.length >= 32) return Buffer.from(have, 'base64');
  const secret = randomBytes(32);
  await kv.set('server', 'scram-decoy-secret', secret.toString('base64'));
  return secret;
}

function getPath(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function setPath(obj: object, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== 'object') o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete o[last];
  else o[last] = structuredClone(value);
}
