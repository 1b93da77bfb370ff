// One served domain: its hooks, sessions, disco registry, accounts and loaded modules.
// Stanzas addressed to the domain or its accounts are dispatched here as typed hooks; what no
// module handles gets the RFC's default answer.
import type { RoostConfig } from '../config/types.js';
import type { Storage } from '../storage/types.js';
import type { Logger } from '../util/log.js';
import { Element } from '../xml/element.js';
import type { Accounts } from './accounts.js';
import { HostDisco } from './disco-registry.js';
import { Hooks } from './hooks.js';
import { parseJid, type Jid } from './jid.js';
import type { ModuleApi, ModuleDefinition, StanzaEvent } from './module.js';
import type { RoutedEvent, Router, RouteResult } from './router.js';
import type { Session, StreamErrorCondition } from './session.js';
import { HostSessions } from './sessions.js';
import { errorReply, iqResult } from './stanza-error.js';
import type { HttpRoutes } from '../transports/http.js';

export interface HostDeps {
  config: () => RoostConfig;
  storage: Storage;
  router: Router;
  accounts: Accounts;
  log: Logger;
  /** Routes of the http/https listeners. */
  http?: HttpRoutes;
  /** Extra admin check (directory groups); config.admins is always consulted. */
  isAdmin?: (bare: string) => boolean;
}

/** The server itself as the sender of stanzas it makes (roster pushes, probes, errors). */
class ServerSession implements Session {
  readonly kind = 'local' as const;
  readonly id: string;
  readonly address = 'local';
  readonly secure = true;
  priority = 0;
  interested = false;
  readonly data = new Map<string, unknown>();
  readonly jid: Jid;
  constructor(readonly host: string) {
    this.id = `server:${host}`;
    this.jid = parseJid(host);
  }
  send(): void {
    // Replies addressed to the server itself (results of its pushes) end here.
  }
  close(_condition?: StreamErrorCondition): void {}
}

export class Host {
  readonly hooks = new Hooks();
  readonly sessions = new HostSessions();
  readonly disco = new HostDisco();
  readonly serverSession: Session;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unloaders: (() => void | Promise<void>)[] = [];

  constructor(
    readonly name: string,
    private readonly deps: HostDeps,
  ) {
    this.serverSession = new ServerSession(name);
  }

  get accounts(): Accounts {
    return this.deps.accounts;
  }

  get log(): Logger {
    return this.deps.log;
  }

  async load(modules: ModuleDefinition[]): Promise<void> {
    const disabled = new Set(this.deps.config().modules?.disabled ?? []);
    for (const def of modules) {
      if (disabled.has(def.name)) continue;
      await def.load(this.apiFor(def));
      this.deps.log.debug('module loaded', { host: this.name, module: def.name });
    }
  }

  async unload(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const fn of this.unloaders.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        this.deps.log.warn('module unload failed', { host: this.name, error: String(e) });
      }
    }
  }

  isAdmin(jid: Jid | string): boolean {
    const bare = typeof jid === 'string' ? safeBare(jid) : jid.bare;
    if (bare === undefined) return false;
    if (this.deps.config().admins.includes(bare)) return true;
    return this.deps.isAdmin?.(bare) ?? false;
  }

  /** Hook dispatch for a stanza addressed to this domain or one of its JIDs. */
  dispatch(event: RoutedEvent, noTo: boolean): RouteResult {
    const { stanza, to, from } = event;
    const kind = stanza.name;
    const where =
      to.local === undefined
        ? to.resource === undefined
          ? 'host'
          : 'full'
        : to.resource !== undefined
          ? 'full'
          : from.local === to.local && from.domain === to.domain
            ? 'self'
            : 'bare';
    if (kind === 'iq') return this.dispatchIq(event, where, noTo);
    if (kind === 'presence' && noTo) return this.after(this.hooks.fire('presence/broadcast', event), event, () => undefined);
    const name = `${kind}/${where === 'self' ? 'bare' : where}`;
    return this.after(this.hooks.fire(name, event), event, () => this.unhandled(event, where));
  }

  private dispatchIq(event: RoutedEvent, where: string, noTo: boolean): RouteResult {
    const { stanza } = event;
    const type = stanza.attrs.type;
    if (type === 'get' || type === 'set') {
      const payload = stanza.firstElement();
      const ns = payload?.attrs.xmlns ?? '';
      const scope = where === 'self' || (noTo && where !== 'full') ? 'self' : where;
      const name = scope === 'full' ? 'iq/full' : `iq-${type}/${scope}/${ns}`;
      return this.after(this.hooks.fire(name, event), event, () => this.unhandled(event, scope));
    }
    // Results and errors: to a client's full JID they are delivered; to the server or an
    // account they answer something the server sent, and end here.
    if (where === 'full') return this.after(this.hooks.fire('iq/full', event), event, () => this.unhandled(event, 'full'));
    this.hooks.fire(`iq-${type}/${where}`, event);
  }

  private after(r: boolean | Promise<boolean>, event: RoutedEvent, otherwise: () => RouteResult): RouteResult {
    if (r === true) return;
    if (r === false) return otherwise();
    return r.then((handled) => (handled ? undefined : otherwise()));
  }

  /** RFC 6120 §8 / RFC 6121 §8.5 defaults for what no module took. */
  private unhandled(event: RoutedEvent, where: string): RouteResult {
    const { stanza, to } = event;
    const type = stanza.attrs.type;
    if (stanza.name === 'iq') {
      if (where === 'full') {
        const s = to.local !== undefined && to.resource !== undefined ? this.sessions.get(to.local, to.resource) : undefined;
        if (s) {
          s.send(stanza);
          return;
        }
      }
      if (type === 'get' || type === 'set') return this.replyError(event, 'cancel', 'service-unavailable');
      return;
    }
    if (stanza.name === 'message' && where === 'host') {
      if (type === 'error' || type === 'groupchat' || type === 'headline') return;
      return this.replyError(event, 'cancel', 'service-unavailable');
    }
    // Presence and messages to accounts are the IM modules' business; with none loaded, drop.
  }

  replyError(event: RoutedEvent, type: Parameters<typeof errorReply>[1], condition: Parameters<typeof errorReply>[2], text?: string): RouteResult {
    if (event.answered) return;
    event.answered = true;
    return this.deps.router.bounce(event.stanza, event.origin, type, condition, text);
  }

  private apiFor(def: ModuleDefinition): ModuleApi {
    const host = this;
    const deps = this.deps;
    const log = deps.log.child(def.name);
    const api: ModuleApi & { accounts: Accounts } = {
      host: this.name,
      get config() {
        return deps.config();
      },
      get options() {
        const v = (deps.config().modules as Record<string, unknown>)[def.name];
        return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
      },
      log,
      hooks: this.hooks,
      sessions: this.sessions,
      disco: this.disco,
      accounts: deps.accounts,
      hook: (name, handler, priority) => {
        this.unloaders.push(this.hooks.on(name, handler as never, priority));
      },
      keyval: (store) => deps.storage.keyval(store),
      archive: (store) => deps.storage.archive(store),
      route: (stanza: Element, origin?: Session) => {
        const r = deps.router.route(stanza, origin ?? host.serverSession);
        if (r) return r.catch((e) => log.error('route failed', { error: String(e) }));
      },
      request: (iq: Element, timeoutMs?: number) => {
        if (iq.attrs.from === undefined) iq.attrs.from = host.name;
        return deps.router.request(iq, host.serverSession, timeoutMs);
      },
      http: (prefix, handler) => {
        if (deps.http) this.unloaders.push(deps.http.add(prefix, handler));
      },
      component: (domain: string, deliver) => {
        const release = deps.router.addDomain(domain, { deliver });
        this.unloaders.push(release);
      },
      replyError: (event: StanzaEvent, type, condition, text) => {
        const r = host.replyError(event as RoutedEvent, type, condition, text);
        if (r) r.catch(() => {});
        return true;
      },
      replyResult: (event: StanzaEvent, payload?: Element) => {
        const ev = event as RoutedEvent;
        if (!ev.answered) {
          ev.answered = true;
          const r = deps.router.reply(iqResult(event.stanza, payload), event.origin);
          if (r) r.catch(() => {});
        }
        return true;
      },
      userExists: (username: string) => deps.accounts.exists(username),
      isAdmin: (jid) => host.isAdmin(jid),
      every: (ms, fn) => {
        const t = setInterval(() => {
          try {
            const r = fn();
            if (r) r.catch((e) => log.warn('periodic task failed', { error: String(e) }));
          } catch (e) {
            log.warn('periodic task failed', { error: String(e) });
          }
        }, ms);
        t.unref();
        this.timers.push(t);
      },
      onUnload: (fn) => {
        this.unloaders.push(fn);
      },
    };
    return api;
  }
}

function safeBare(s: string): string | undefined {
  try {
    return parseJid(s).bare;
  } catch {
    return undefined;
  }
}
