// The router: where a stanza goes once a stream has accepted it (RFC 6120 §10, RFC 6121 §8).
//
// A stanza's sender is already checked and stamped by the stream it came from (c2s stamps the
// full JID). The router parses `to`, runs the sender's outbound hooks, then hands the stanza to
// the host, component or (later) remote domain it is addressed to. Hook names are Prosody's:
// see docs/architecture.md "Stanza flow".
//
// The router's only interface is route(stanza, origin): a message in, no shared state out, so
// sessions can later live in worker threads that pass stanzas to it.
import { Element } from '../xml/element.js';
import type { Host } from './host.js';
import { parseJid, tryParseJid, type Jid } from './jid.js';
import type { StanzaEvent } from './module.js';
import type { Session } from './session.js';
import { errorReply, mayReplyWithError, type StanzaErrorCondition, type StanzaErrorType } from './stanza-error.js';
import type { Logger } from '../util/log.js';

/** Something other than a host that owns a domain (a MUC service, an upload component...). */
export interface DomainHandler {
  /** Receives every stanza addressed to the domain or one of its JIDs. */
  deliver(event: StanzaEvent): void | Promise<void>;
}

/** What a stanza event carries beyond the module API's view: whether it has been answered. */
export interface RoutedEvent extends StanzaEvent {
  answered?: boolean;
}

export type RouteResult = void | Promise<void>;

export class Router {
  private readonly hosts = new Map<string, Host>();
  private readonly domains = new Map<string, DomainHandler>();
  /** Server-sent iqs waiting for their answer, by id. */
  private readonly pending = new Map<string, { to: string; resolve: (el: Element) => void; timer: NodeJS.Timeout }>();
  private nextId = 0;

  constructor(private readonly log: Logger) {}

  addHost(host: Host): void {
    this.hosts.set(host.name, host);
  }

  host(name: string): Host | undefined {
    return this.hosts.get(name);
  }

  /** Claims a domain for a component; returns the function that releases it. */
  addDomain(domain: string, handler: DomainHandler): () => void {
    if (this.hosts.has(domain) || this.domains.has(domain)) throw new Error(`domain ${domain} is already served`);
    this.domains.set(domain, handler);
    return () => {
      if (this.domains.get(domain) === handler) this.domains.delete(domain);
    };
  }

  isLocalDomain(domain: string): boolean {
    return this.hosts.has(domain) || this.domains.has(domain);
  }

  /**
   * Routes a stanza whose `from` is trusted (stamped by its stream or set by the server).
   * Returns a promise when a handler went async, so a stream can keep its stanzas in order.
   */
  route(stanza: Element, origin: Session): RouteResult {
    if (stanza.name === 'iq' && this.pending.size > 0 && (stanza.attrs.type === 'result' || stanza.attrs.type === 'error') && this.answer(stanza)) return;
    const from = tryParseJid(stanza.attrs.from) ?? safeJid(origin.jid?.full ?? origin.host);
    const toAttr = stanza.attrs.to;
    let to: Jid | undefined;
    if (toAttr !== undefined) {
      to = tryParseJid(toAttr);
      if (!to) return this.bounce(stanza, origin, 'modify', 'jid-malformed', `'${truncate(toAttr)}' is not a valid address`);
    }
    const event: RoutedEvent = { stanza, origin, from, to: to ?? from.toBare() };
    // Outbound hooks of the sender's own host (blocking, privacy, carbons later).
    const own = origin.kind === 'c2s' ? this.hosts.get(origin.host) : undefined;
    if (own) {
      const r = own.hooks.fire(`pre-${stanza.name}/out`, event);
      if (r === true) return;
      if (r !== false) return r.then((swallowed) => (swallowed ? undefined : this.deliver(event, to === undefined)), (e) => this.failed(event, e));
    }
    return this.deliver(event, to === undefined);
  }

  /** Delivers an event whose `to` is final. `noTo`: the stanza had no 'to' at all. */
  deliver(event: RoutedEvent, noTo = false): RouteResult {
    const domain = event.to.domain;
    const host = this.hosts.get(domain);
    try {
      if (host) {
        const r = host.dispatch(event, noTo);
        if (r) return r.catch((e) => this.failed(event, e));
        return;
      }
      const handler = this.domains.get(domain);
      if (handler) {
        const r = handler.deliver(event);
        if (r) return r.catch((e) => this.failed(event, e));
        return;
      }
    } catch (e) {
      return this.failed(event, e);
    }
    // Federation (s2s) is not there yet: remote domains are unreachable.
    if (event.stanza.name === 'presence' && event.stanza.attrs.type !== 'subscribe' && event.stanza.attrs.type !== 'probe') return;
    return this.bounce(event.stanza, event.origin, 'cancel', 'remote-server-not-found', `${domain} cannot be reached from this server`);
  }

  /** Sends a server iq and resolves with its answer (see ModuleApi.request). */
  request(iq: Element, origin: Session, timeoutMs = 30_000): Promise<Element> {
    const id = iq.attrs.id ?? `roost-${(++this.nextId).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    iq.attrs.id = id;
    const to = iq.attrs.to ?? origin.host;
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer from ${to} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { to, resolve, timer });
      const r = this.route(iq, origin);
      if (r) r.catch(() => {});
    });
  }

  /** True when a result/error answers one of request()'s iqs (then it goes no further). */
  private answer(stanza: Element): boolean {
    const id = stanza.attrs.id;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p) return false;
    const from = tryParseJid(stanza.attrs.from);
    const to = tryParseJid(p.to);
    // The answer comes from whom we asked (a client answers from its full JID when asked at its bare one).
    if (!from || !to || (from.full !== to.full && from.bare !== to.bare)) return false;
    this.pending.delete(id!);
    clearTimeout(p.timer);
    p.resolve(stanza);
    return true;
  }

  /** Answers a stanza with an error addressed back to its sender. */
  bounce(stanza: Element, origin: Session, type: StanzaErrorType, condition: StanzaErrorCondition, text?: string): RouteResult {
    if (!mayReplyWithError(stanza)) return;
    const reply = errorReply(stanza, type, condition, text);
    return this.reply(reply, origin);
  }

  /** Sends a reply to whoever sent the stanza: straight back down the stream when it is theirs. */
  reply(reply: Element, origin: Session): RouteResult {
    const to = reply.attrs.to;
    if (origin.kind === 'c2s' && origin.jid && (to === undefined || to === origin.jid.full)) {
      origin.send(reply);
      return;
    }
    if (to === undefined) return;
    const host = this.hosts.get(origin.host);
    return this.route(reply, host?.serverSession ?? origin);
  }

  private failed(event: RoutedEvent, e: unknown): RouteResult {
    this.log.error('stanza handler failed', { stanza: event.stanza.name, type: event.stanza.attrs.type, error: errorText(e) });
    const t = event.stanza.attrs.type;
    if (event.stanza.name === 'iq' && (t === 'get' || t === 'set') && !event.answered) {
      event.answered = true;
      return this.bounce(event.stanza, event.origin, 'wait', 'internal-server-error');
    }
    // A message whose handling failed (say, the offline store is down) may be lost: the sender
    // is told, so it is not taken as delivered (RFC 6120 §8.3.3.5; 'wait': try again later).
    if (event.stanza.name === 'message' && t !== 'error' && !event.answered) {
      event.answered = true;
      return this.bounce(event.stanza, event.origin, 'wait', 'internal-server-error');
    }
  }
}

function safeJid(s: string): Jid {
  return parseJid(s);
}

function truncate(s: string): string {
  return s.length > 64 ? s.slice(0, 61) + '...' : s;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
