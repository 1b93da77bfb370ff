// RFC 6120: XMPP Core — client-to-server streams (§4 streams, §5 STARTTLS, §6 SASL, §7 resource
// binding, §8 stanza checks, §4.9 stream errors); RFC 3921 §3 session establishment (legacy,
// offered as optional per RFC 6121 Appendix E); XEP-0368 direct TLS (the socket arrives
// already encrypted). https://www.rfc-editor.org/rfc/rfc6120 (March 2011)
// Mobile-grade sessions on the same stream:
//   XEP-0198 Stream Management 1.6.3 (acks, resumption, hibernation)  core/sm*.ts
//   XEP-0352 Client State Indication 1.0.0                             core/csi.ts
//   XEP-0388 Extensible SASL Profile 1.0.4 (SASL2)                     core/sasl2-negotiation.ts
//   XEP-0386 Bind 2 1.0.0                                              core/bind2.ts
//   XEP-0484 FAST 0.1.0 (HT-SHA-256-NONE/-ENDP/-EXPR tokens)           core/sasl/fast-tokens.ts
//
// One C2SStream per TCP connection, and the Session (core/session.ts) of that connection once a
// resource is bound. The connection itself (socket, parser, output, in-order input) is a
// C2SConnection; when a client resumes (XEP-0198 §5) the session it resumes takes over the new
// connection, so the session object modules know (presence, roster interest, carbons...) stays
// the same and the resumption is invisible to other users. The stream that carried the
// <resume/> is left empty ('moved'); the server still counts the connection under it.
//
// A bound session whose connection dies while it may be resumed hibernates: it stays bound
// and available, what is sent to it is queued, and it ends (unacknowledged messages to offline
// storage or the account's other resources, core/sm-unacked.ts) when not resumed in time. A
// stream error or a clean </stream:stream> ends it at once. `session-closed` fires only then.
//
// Hooks fired (besides the RFC 6120 ones: stream-features, session-bound, session-closed,
// stream-element/<ns>, iq-<type>/unauth/<ns>):
//   sm-hibernated {session, queue}, sm-resumed {session}, sm-stanza-queued {session, stanza}
//   bind2-features {session, inline}, bind2-inline/<ns> {session, element, bound},
//   bind2-bound {session, bound}   (see core/bind2.ts)
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { RoostConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { Element, xml } from '../xml/element.js';
import { bind2Feature, bind2Resource, cleanTag, NS_BIND2, type Bind2FeaturesEvent, type Bind2InlineEvent } from './bind2.js';
import { C2SConnection, type ConnectionHandler } from './c2s-connection.js';
import { HeldStanzas, holdKey, NS_CSI } from './csi.js';
import type { Host } from './host.js';
import { JidError, parseJid, prepareResourcepart, tryParseJid, type Jid } from './jid.js';
import type { Router } from './router.js';
import { NS_FAST, type FastTokens, type IssuedToken } from './sasl/fast-tokens.js';
import { SaslNegotiation, type SaslEnv } from './sasl-negotiation.js';
import { NS_SASL2, Sasl2Negotiation, sasl2Success, type Sasl2Outcome } from './sasl2-negotiation.js';
import type { Session, StreamErrorCondition, UserAgent } from './session.js';
import {
  ackXml,
  enabledElement,
  failedElement,
  handledCountTooHigh,
  NS_SM,
  parseH,
  REQUEST_XML,
  resumedElement,
  smFeature,
  SmState,
  tooHighStreamError,
  withDelay,
  type SmSessionEvent,
  type SmStanzaQueuedEvent,
} from './sm.js';
import type { ResumableSessions } from './sm-registry.js';
import { disposeUnacked } from './sm-unacked.js';
import { errorReply, iqResult, type StanzaErrorCondition } from './stanza-error.js';
import {
  NS_BIND,
  NS_CLIENT,
  NS_SASL,
  NS_SESSION,
  NS_STREAMS,
  NS_TLS,
  STREAM_CLOSE,
  starttlsFeature,
  streamError,
  streamFeatures,
  streamHeader,
} from './stream-xml.js';
import type { TlsManager } from './tls.js';

/** What a c2s stream needs from the server around it. */
export interface C2SEnv {
  config(): RoostConfig;
  log: Logger;
  router: Router;
  tls: TlsManager;
  sasl: SaslEnv;
  /** Called once when the stream's connection is gone, for connection accounting. */
  closed(stream: C2SStream): void;
  /** XEP-0198 resumption ids of the server; without it acks work but nothing is resumable. */
  resumable?: ResumableSessions;
  /** XEP-0484 tokens and XEP-0388 user agents; without it FAST is not offered. */
  fast?: FastTokens;
  /** Server secret for stable Bind2 resources (a per-process one when absent). */
  secret?: Buffer;
}

/** Top-level elements after binding that are not stanzas reach modules as this. */
export interface StreamElementEvent {
  session: C2SStream;
  element: Element;
}

/** Event of `bind2-bound`: after the inline features, before <success/> (MAM metadata...). */
export interface Bind2BoundEvent {
  session: Session;
  bound: Element;
}

/** Event of `sm-hibernated`: the unacknowledged stanzas at the time (push summaries). */
export interface SmHibernatedEvent extends SmSessionEvent {
  queue: Element[];
}

type State = 'header' | 'pre-tls' | 'pre-auth' | 'pre-bind' | 'bound' | 'hibernating' | 'closing' | 'closed' | 'moved';

let counter = 0;
const processSecret = randomBytes(32);

export class C2SStream implements Session {
  readonly kind = 'c2s' as const;
  readonly id: string;
  readonly data = new Map<string, unknown>();
  host: string;
  /** Current connection's address (a resumed session takes the new one's). */
  address: string;
  secure: boolean;
  /** XEP-0368: the connection began with TLS (no STARTTLS offered or needed). */
  directTls: boolean;
  username?: string;
  jid?: Jid;
  priority = 0;
  interested = false;
  inactive = false;
  userAgent?: UserAgent;
  /** When the session last became available (ms), for the re-delivery of unacked messages. */
  availableSince = 0;

  private presenceEl?: Element;
  private conn?: C2SConnection;
  /** The connection this stream was created for (what the server counts it by). */
  private readonly ownConn: C2SConnection;
  private state: State = 'header';
  private streamId = '';
  private lang = 'en';
  private hostRef?: Host;
  private headerSent = false;
  private sasl?: SaslNegotiation;
  private sasl2?: Sasl2Negotiation;
  private authTimer?: NodeJS.Timeout;
  private sm?: SmState;
  private held?: HeldStanzas;
  private hibernationTimer?: NodeJS.Timeout;
  /**
   * While set, stanzas for the session are kept here instead of written: between a SASL2
   * <success/> and the features after it, or a resumption's greeting and its replay, nothing
   * may slip in.
   */
  private corked?: Element[];
  /** Set on the stream whose connection a resumed session took over. */
  private movedTo?: C2SStream;
  private ended = false;
  private readonly log: Logger;

  private readonly handler: ConnectionHandler = {
    streamStart: (attrs, ns) => this.onStreamStart(attrs, ns),
    element: (el) => this.process(el),
    streamEnd: () => this.close(),
    parseError: (condition, text) => this.close(condition, text),
    overflow: () => this.close('resource-constraint', 'too much unread data'),
    failed: (e) => this.internalError(e),
    throttled: () => this.state === 'bound',
    closed: (conn) => this.onConnectionClosed(conn),
  };

  constructor(
    socket: Socket | tls.TLSSocket,
    private readonly env: C2SEnv,
    opts: { directTls: boolean },
  ) {
    this.id = `c2s${++counter}-${randomBytes(4).toString('hex')}`;
    this.host = env.config().hosts[0] ?? 'localhost';
    this.log = env.log.child('c2s');
    const limits = env.config().limits;
    const conn = new C2SConnection(socket, this.handler, {
      directTls: opts.directTls,
      endPoint: opts.directTls ? env.tls.info.endPoint : undefined,
      limits,
      log: this.log,
      gone: () => env.closed(this),
    });
    this.conn = conn;
    this.ownConn = conn;
    this.address = conn.address;
    this.secure = conn.secure;
    this.directTls = conn.directTls;
    this.log.debug('connection', { id: this.id, address: this.address, directTls: this.directTls });
    this.authTimer = setTimeout(() => {
      if (this.username === undefined) this.close('connection-timeout', 'authentication took too long');
    }, limits.authTimeout * 1000);
    this.authTimer.unref();
  }

  // ------------------------------------------------------------ Session

  get presence(): Element | undefined {
    return this.presenceEl;
  }

  set presence(p: Element | undefined) {
    if (p !== undefined && this.presenceEl === undefined) this.availableSince = Date.now();
    this.presenceEl = p;
  }

  get hibernating(): boolean {
    return this.state === 'hibernating';
  }

  send(stanza: Element): void {
    const st = this.state;
    if (st === 'closing' || st === 'closed' || st === 'moved') return;
    if (st === 'hibernating') this.fire<SmStanzaQueuedEvent>('sm-stanza-queued', { session: this, stanza });
    // XEP-0352 while inactive, and while hibernating (nobody reads; the newest state is enough).
    if (this.inactive || st === 'hibernating') {
      const key = holdKey(stanza);
      if (key !== undefined) {
        const held = (this.held ??= new HeldStanzas());
        held.put(key, stanza);
        if (held.size > this.env.config().streamManagement.inactiveHeld) this.flushHeld();
        return;
      }
      if (this.held !== undefined && this.held.size > 0) this.flushHeld();
    }
    this.transmit(stanza);
  }

  close(condition?: StreamErrorCondition, text?: string): void {
    if (condition) this.terminate(streamError(condition, text), condition, text);
    else this.terminate(undefined, 'closed');
  }

  /** Tells where this stream belongs once the header named a host. */
  get hostObject(): Host | undefined {
    return this.hostRef;
  }

  // ------------------------------------------------------------ output

  private flushHeld(): void {
    const held = this.held;
    if (!held) return;
    for (const s of held.take()) this.transmit(s);
  }

  /** Past CSI: counted and queued by stream management, written when there is a connection. */
  private transmit(stanza: Element): void {
    const sm = this.sm;
    if (sm) {
      sm.push(stanza);
      if (sm.unacked > this.env.config().streamManagement.maxQueue) {
        this.log.info('unacknowledged queue full', { id: this.id, jid: this.jid?.full, unacked: sm.unacked });
        this.close('resource-constraint', 'too many unacknowledged stanzas');
        return;
      }
    }
    const conn = this.conn;
    if (!conn || this.state === 'hibernating') return;
    if (this.corked) {
      this.corked.push(stanza);
      return;
    }
    conn.write(stanza.toString());
    if (sm && sm.requestedAt < 0) this.requestAck(conn, sm);
  }

  /** Writes what was kept while corked (unless a replay already covers it). */
  private uncork(write: boolean): void {
    const kept = this.corked;
    this.corked = undefined;
    const conn = this.conn;
    if (!kept || !write || !conn) return;
    for (const s of kept) conn.write(s.toString());
    const sm = this.sm;
    if (kept.length > 0 && sm && sm.requestedAt < 0) this.requestAck(conn, sm);
  }

  private requestAck(conn: C2SConnection, sm: SmState): void {
    sm.requestedAt = sm.sent;
    sm.requestedSince = Date.now();
    conn.write(REQUEST_XML);
  }

  /** Ends the stream: `errorXml` (a stream error) first when given, then the session. */
  private terminate(errorXml: string | undefined, reason: string, text?: string): void {
    const st = this.state;
    if (st === 'closing' || st === 'closed' || st === 'moved') return;
    const conn = this.conn;
    if (st === 'hibernating' || !conn) {
      this.state = 'closed';
      this.endSession(reason);
      return;
    }
    if (!this.headerSent) this.sendHeader();
    // XEP-0198 §4: a last <a/> tells the client which of its stanzas were handled.
    if (this.sm) conn.write(ackXml(this.sm.handled));
    if (errorXml) {
      conn.write(errorXml);
      this.log.info('stream error', { id: this.id, address: this.address, condition: reason, text, user: this.username });
    }
    conn.write(STREAM_CLOSE);
    conn.end();
    this.state = 'closing';
    this.endSession(reason);
  }

  private fire<E>(name: string, event: E): void {
    const r = this.hostRef?.hooks.fire(name, event);
    if (r instanceof Promise) r.catch((e) => this.log.warn(`${name} hook failed`, { error: String(e) }));
  }

  // ------------------------------------------------------------ connection

  private onConnectionClosed(conn: C2SConnection): void {
    // An old connection of a session that was resumed elsewhere: nothing to do here.
    if (conn !== this.conn) return;
    this.conn = undefined;
    if (this.authTimer) clearTimeout(this.authTimer);
    const st = this.state;
    if (st === 'bound' && this.sm?.id !== undefined && !this.ended) return this.hibernate();
    if (st === 'moved' || st === 'closed') return;
    this.state = 'closed';
    this.endSession(st === 'closing' ? 'closed' : 'connection lost');
  }

  /** XEP-0198 §5: the connection is gone; the session waits to be resumed. */
  private hibernate(): void {
    const sm = this.sm!;
    this.state = 'hibernating';
    sm.requestedAt = -1;
    const cfg = this.env.config().streamManagement;
    const seconds = Math.max(0, Math.min(sm.max, cfg.hibernation));
    this.hibernationTimer = setTimeout(() => {
      if (this.state !== 'hibernating') return;
      this.log.info('hibernation timed out', { id: this.id, jid: this.jid?.full, unacked: sm.unacked });
      this.state = 'closed';
      this.endSession('hibernation timed out');
    }, seconds * 1000);
    this.hibernationTimer.unref();
    this.log.info('hibernating', { id: this.id, jid: this.jid?.full, unacked: sm.unacked, seconds });
    this.fire<SmHibernatedEvent>('sm-hibernated', { session: this, queue: sm.pending().map((u) => u.stanza) });
  }

  /**
   * The session is over for good: out of the host's sessions (`session-closed`), its
   * resumption id retired, what the client never acknowledged handed on (core/sm-unacked.ts).
   */
  private endSession(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.hibernationTimer) clearTimeout(this.hibernationTimer);
    const sm = this.sm;
    const registry = this.env.resumable;
    if (sm?.id !== undefined) {
      registry?.remove(sm.id, sm.handled, this.env.config().streamManagement.hibernation * 1000);
      sm.id = undefined;
    }
    this.held = undefined;
    this.unbind(reason);
    const items = sm ? sm.takeAll() : [];
    const host = this.hostRef;
    if (items.length > 0 && host && this.jid) {
      const p = disposeUnacked(host, this, items, this.log).catch((e) => this.log.warn('unacknowledged stanzas lost', { id: this.id, error: String(e) }));
      registry?.track(p);
    }
  }

  /** Ends the session for good (shutdown, eviction); resolves once its stanzas are handed on. */
  end(reason: string): Promise<void> {
    this.close(reason === 'system-shutdown' ? 'system-shutdown' : undefined, reason === 'system-shutdown' ? 'the server is restarting' : undefined);
    return Promise.resolve();
  }

  // ------------------------------------------------------------ stream

  private sendHeader(to?: string): void {
    this.streamId = randomBytes(12).toString('base64url');
    this.conn?.write(streamHeader({ ns: NS_CLIENT, from: this.host, to, id: this.streamId, lang: this.lang }));
    this.headerSent = true;
  }

  private onStreamStart(attrs: Record<string, string>, ns: string | undefined): void {
    const toAttr = attrs.to;
    const to = toAttr !== undefined ? tryParseJid(toAttr) : undefined;
    if (to && this.env.router.host(to.domain)) this.host = to.domain;
    if (attrs['xml:lang']) this.lang = attrs['xml:lang'].slice(0, 35);
    const from = attrs.from !== undefined ? tryParseJid(attrs.from) : undefined;
    this.sendHeader(from?.bare);
    if (ns !== NS_CLIENT) return this.close('invalid-namespace', 'this port speaks jabber:client');
    if (toAttr !== undefined && (!to || !this.env.router.host(to.domain))) return this.close('host-unknown', 'this server does not serve that domain');
    const version = attrs.version;
    if (version === undefined || !/^1\.\d+$/.test(version)) return this.close('unsupported-version', 'XMPP 1.0 streams only');
    const host = this.env.router.host(this.host);
    if (!host) return this.close('host-unknown');
    if (this.hostRef && this.hostRef !== host) return this.close('host-unknown', 'the domain may not change during a stream');
    this.hostRef = host;
    this.sendFeatures();
  }

  private sendFeatures(): void {
    const f = this.features();
    if (f instanceof Promise) this.conn?.hold(f.then((el) => this.conn?.write(streamFeatures(el.elements()))));
    else this.conn?.write(streamFeatures(f.elements()));
  }

  /** The features for the stream's state (sets the state it waits in). */
  private features(): Element | Promise<Element> {
    const host = this.hostRef!;
    const features = new Element('features');
    if (!this.secure) {
      this.state = 'pre-tls';
      features.append(starttlsFeature());
      return features;
    }
    const smOn = this.env.config().streamManagement.enabled;
    let pending: boolean | Promise<boolean> = false;
    if (this.username === undefined) {
      this.state = 'pre-auth';
      this.sasl ??= new SaslNegotiation(this.env.sasl, this.saslContext());
      this.sasl2 ??= new Sasl2Negotiation(this.sasl, { accounts: host.accounts, host: this.host, ...(this.env.fast ? { fast: this.env.fast } : {}) });
      for (const el of this.sasl.features()) features.append(el);
      const vars = [...(smOn ? [NS_SM] : []), NS_CSI];
      const { bind, inline } = bind2Feature(vars);
      pending = host.hooks.fire<Bind2FeaturesEvent>('bind2-features', { session: this, inline });
      const sasl2 = this.sasl2;
      const addSasl2 = () => {
        features.append(...sasl2.features([bind, ...(smOn ? [smFeature()] : [])]));
      };
      if (pending instanceof Promise) pending = pending.then((v) => (addSasl2(), v));
      else addSasl2();
    } else {
      if (this.state !== 'bound') {
        this.state = 'pre-bind';
        features.append(xml('bind', { xmlns: NS_BIND }), xml('session', { xmlns: NS_SESSION }, xml('optional')));
      }
      if (smOn && !this.sm) features.append(smFeature());
      features.append(xml('csi', { xmlns: NS_CSI }));
    }
    const rest = (): boolean | Promise<boolean> => host.hooks.fire('stream-features', { session: this, features });
    // Feature hooks are synchronous by contract; an async one is awaited so nothing is lost.
    if (pending instanceof Promise) return pending.then(rest).then(() => features);
    const r = rest();
    if (r instanceof Promise) return r.then(() => features);
    return features;
  }

  // ------------------------------------------------------------ input

  private internalError(e: unknown): void {
    this.log.error('stream handler failed', { id: this.id, error: e instanceof Error ? e.stack : String(e) });
    this.close('internal-server-error');
  }

  private process(el: Element): void | Promise<unknown> {
    switch (this.state) {
      case 'pre-tls':
        return this.preTls(el);
      case 'pre-auth':
        return this.preAuth(el);
      case 'pre-bind':
        return this.preBind(el);
      case 'bound':
        return this.bound(el);
      default:
        return;
    }
  }

  // ------------------------------------------------------------ STARTTLS (RFC 6120 §5)

  private preTls(el: Element): void | Promise<unknown> {
    if (el.name === 'starttls' && el.attrs.xmlns === NS_TLS) return this.startTls();
    if (el.name === 'auth' && el.attrs.xmlns === NS_SASL) {
      // §5.3.1 / §6.4.1: no SASL, and so no PLAIN, before the stream is encrypted.
      this.conn?.write(`<failure xmlns='${NS_SASL}'><encryption-required/><text xml:lang='en'>STARTTLS first</text></failure>`);
      return;
    }
    if (isIq(el)) return this.preAuthIq(el);
    this.close('policy-violation', 'STARTTLS is required before anything else');
  }

  private startTls(): Promise<unknown> | void {
    const conn = this.conn;
    if (!conn) return;
    conn.write(`<proceed xmlns='${NS_TLS}'/>`);
    return conn.startTls(this.env.tls.context(this.host), this.env.tls.sniCallback).then((ok) => {
      if (!ok) return;
      this.secure = true;
      conn.endPoint = this.env.tls.info.endPoint;
      this.state = 'header';
      this.sasl = undefined;
      this.sasl2 = undefined;
    });
  }

  // ------------------------------------------------------------ SASL (RFC 6120 §6, XEP-0388)

  private saslContext() {
    const conn = this.conn!;
    return {
      host: this.host,
      address: this.address,
      secure: this.secure,
      socket: conn.tlsSocket,
      accounts: this.hostRef!.accounts,
      endPoint: conn.endPoint,
    };
  }

  /** Authenticated: the larger post-authentication limits apply (RFC 6120 §13.12). */
  private authenticated(username: string): void {
    this.username = username;
    if (this.authTimer) clearTimeout(this.authTimer);
    // Not needed any more; an idle session should not keep them.
    this.sasl = undefined;
    this.sasl2 = undefined;
    const limits = this.env.config().limits;
    this.conn?.parser.setLimits({ maxStanzaSize: limits.stanzaSize, maxDepth: limits.depth });
  }

  private preAuth(el: Element): void | Promise<unknown> {
    const ns = el.attrs.xmlns;
    if (ns === NS_SASL && this.sasl) {
      return this.sasl.handle(el, (s) => this.conn?.write(s)).then((outcome) => {
        if (outcome.kind === 'success') {
          this.authenticated(outcome.username);
          this.conn?.parser.reset();
          this.conn?.discardInput();
          this.state = 'header';
          this.log.info('authenticated', { id: this.id, user: `${outcome.username}@${this.host}`, mechanism: outcome.mechanism, address: this.address });
        } else if (outcome.kind === 'close') {
          this.close(outcome.condition, outcome.text);
        }
      });
    }
    if (ns === NS_SASL2 && this.sasl2) {
      return this.sasl2.handle(el, (s) => this.conn?.write(s)).then((outcome) => {
        if (outcome.kind === 'success') return this.sasl2Success(outcome);
        if (outcome.kind === 'close') this.close(outcome.condition, outcome.text);
      });
    }
    if (isIq(el)) return this.preAuthIq(el);
    this.close('not-authorized', 'authenticate first');
  }

  /** iqs before authentication go to `iq-<type>/unauth/<ns>` hooks (in-band registration). */
  private preAuthIq(el: Element): void | Promise<unknown> {
    const type = el.attrs.type;
    const payload = el.firstElement();
    if ((type === 'get' || type === 'set') && payload && this.hostRef) {
      delete el.attrs.from;
      const r = this.hostRef.hooks.fire(`iq-${type}/unauth/${payload.attrs.xmlns ?? ''}`, { stanza: el, origin: this });
      const otherwise = () => this.conn?.write(errorReply(el, 'cancel', 'service-unavailable').toString());
      if (r === true) return;
      if (r === false) {
        if (!this.secure) return this.close('policy-violation', 'STARTTLS is required before anything else');
        return otherwise();
      }
      return r.then((handled) => (handled ? undefined : otherwise()));
    }
    this.close('not-authorized', 'authenticate first');
  }

  /**
   * XEP-0388 §2.6.1 success: tokens first (storage), then in one synchronous step: resumption
   * (XEP-0198 inline) or Bind2, <success/>, the features of the authenticated stream, and (for a
   * resumption) the replay. Nothing routed to the session can slip in before <success/>.
   */
  private async sasl2Success(o: Extract<Sasl2Outcome, { kind: 'success' }>): Promise<void> {
    const host = this.hostRef!;
    const req = o.request;
    this.authenticated(o.username);
    if (req.userAgent) this.userAgent = req.userAgent;
    this.log.info('authenticated', { id: this.id, user: `${o.username}@${this.host}`, mechanism: o.mechanism, address: this.address, sasl2: true });
    const extra: Element[] = [];
    const fast = this.env.fast;
    if (fast && req.userAgent) {
      let token: IssuedToken | undefined;
      try {
        token = await fast.afterLogin({
          host: this.host,
          username: o.username,
          userAgent: req.userAgent,
          address: this.address,
          accounts: host.accounts,
          ...(o.tokenUse ? { use: o.tokenUse } : {}),
          ...(req.fast?.invalidate ? { invalidate: true } : {}),
          ...(req.requestToken !== undefined ? { request: req.requestToken } : {}),
        });
      } catch (e) {
        this.log.warn('FAST token store failed', { id: this.id, error: String(e) });
      }
      if (token) extra.push(xml('token', { xmlns: NS_FAST, expiry: token.expiry.toISOString(), token: token.token }));
    }
    if (!this.conn || this.state !== 'pre-auth') return;
    const bare = `${o.username}@${this.host}`;
    if (req.resume) {
      const r = this.resumeTarget(req.resume);
      if ('target' in r) {
        const target = r.target;
        await target.takeOver(this, r.h, async (write) => {
          write(sasl2Success(o.additionalData, target.jid!.full, [resumedElement(r.previd, target.sm!.handled), ...extra]).toString());
          // The session is bound and its stream management on: neither is offered again.
          const f = await target.features();
          write(streamFeatures(f.elements()));
        });
        return;
      }
      extra.unshift(r.failed);
    }
    let authzid = bare;
    let bound = false;
    this.corked = [];
    if (req.bind) {
      const result = await this.bind2(req.bind);
      if (!this.conn || (this.state !== 'pre-auth' && this.state !== 'bound')) {
        this.corked = undefined;
        return;
      }
      if (result.bound) {
        extra.unshift(result.bound);
        authzid = this.jid!.full;
        bound = true;
      } else this.log.info('bind2 refused', { id: this.id, user: bare, reason: result.refusal });
    }
    this.conn.write(sasl2Success(o.additionalData, authzid, extra).toString());
    this.state = bound ? 'bound' : 'pre-bind';
    try {
      const f = await this.features();
      this.conn?.write(streamFeatures(f.elements()));
    } finally {
      this.uncork(true);
    }
    if (bound) this.fire('session-bound', { session: this });
  }

  // ------------------------------------------------------------ binding (RFC 6120 §7, XEP-0386)

  private preBind(el: Element): void | Promise<unknown> {
    if (el.attrs.xmlns === NS_SM) return this.smBeforeBind(el);
    if (isIq(el) && el.attrs.type === 'set') {
      const bind = el.getChild('bind', NS_BIND);
      if (bind) return this.bind(el, bind);
      if (el.getChild('session', NS_SESSION)) {
        this.conn?.write(iqResult(el).toString());
        return;
      }
    }
    if (isIq(el) && (el.attrs.type === 'get' || el.attrs.type === 'set')) {
      this.conn?.write(errorReply(el, 'cancel', 'not-allowed', 'bind a resource first').toString());
      return;
    }
    this.close('not-authorized', 'bind a resource first');
  }

  /**
   * Why `resource` cannot be bound now, or undefined. At the per-account limit a hibernated
   * session (waiting for a resumption that may never come) makes room first.
   */
  private bindRefusal(resource: string): string | undefined {
    const host = this.hostRef!;
    const username = this.username!;
    if (host.sessions.get(username, resource)) return undefined;
    if (host.sessions.resourcesOf(username) < this.env.config().limits.maxSessionsPerAccount) return undefined;
    const idle = host.sessions.sessionsOf(username).find((s): s is C2SStream => s instanceof C2SStream && s.hibernating);
    if (idle) {
      this.log.info('hibernated session evicted for a new one', { id: idle.id, jid: idle.jid?.full });
      idle.close();
      return undefined;
    }
    return 'too many sessions for this account';
  }

  /** Registers the bound session; an older one with the same resource is replaced (§7.7.2.2). */
  private register(resource: string): void {
    const host = this.hostRef!;
    const username = this.username!;
    this.jid ??= parseJid(`${username}@${this.host}/${resource}`);
    const old = host.sessions.add(username, resource, this);
    if (old && old !== this) old.close('conflict', 'replaced by a new connection with the same resource');
    this.state = 'bound';
    this.log.debug('bound', { id: this.id, jid: this.jid.full });
  }

  private bind(iq: Element, bind: Element): void {
    const requested = bind.getChildText('resource')?.trim();
    let resource: string;
    try {
      resource = requested ? prepareResourcepart(requested) : randomBytes(6).toString('base64url');
    } catch (e) {
      this.conn?.write(errorReply(iq, 'modify', 'bad-request', e instanceof JidError ? e.message : 'invalid resource').toString());
      return;
    }
    const refusal = this.bindRefusal(resource);
    if (refusal) {
      this.conn?.write(errorReply(iq, 'cancel', 'resource-constraint', refusal).toString());
      return;
    }
    this.register(resource);
    this.conn?.write(iqResult(iq, xml('bind', { xmlns: NS_BIND }, xml('jid', {}, this.jid!.full))).toString());
    this.fire('session-bound', { session: this });
  }

  /**
   * XEP-0386 §3: binds inside SASL2 and enables the requested session features. The session
   * is registered last, so nothing reaches it before <success/>.
   */
  private async bind2(request: Element): Promise<{ bound?: Element; refusal?: string }> {
    const host = this.hostRef!;
    const username = this.username!;
    const resource = bind2Resource({
      tag: cleanTag(request.getChildText('tag')),
      username,
      secret: this.env.secret ?? processSecret,
      ...(this.userAgent ? { userAgentId: this.userAgent.id } : {}),
    });
    const refusal = this.bindRefusal(resource);
    if (refusal) return { refusal };
    this.jid = parseJid(`${username}@${this.host}/${resource}`);
    const bound = xml('bound', { xmlns: NS_BIND2 });
    for (const child of request.elements()) {
      const ns = child.attrs.xmlns;
      if (ns === undefined || ns === NS_BIND2) continue; // <tag/>
      if (ns === NS_SM) {
        if (child.name === 'enable') bound.append(this.enableSm(child));
        continue;
      }
      if (ns === NS_CSI) {
        if (child.name === 'inactive') this.inactive = true;
        else if (child.name === 'active') this.inactive = false;
        continue;
      }
      await host.hooks.fireAsync<Bind2InlineEvent>(`bind2-inline/${ns}`, { session: this, element: child, bound });
    }
    await host.hooks.fireAsync<Bind2BoundEvent>('bind2-bound', { session: this, bound });
    if (!this.conn || this.state !== 'pre-auth') {
      this.jid = undefined;
      return { refusal: 'the connection went away' };
    }
    this.register(resource);
    return { bound };
  }

  private unbind(reason: string): void {
    const host = this.hostRef;
    if (!host || !this.jid || this.username === undefined) return;
    const jid = this.jid;
    if (!host.sessions.remove(this.username, jid.resource!, this)) return;
    const r = host.hooks.fire('session-closed', { session: this, reason });
    if (r instanceof Promise) r.catch((e) => this.log.warn('session-closed hook failed', { error: String(e) }));
  }

  // ------------------------------------------------------------ stream management (XEP-0198)

  /** §3: <enable/> → <enabled/> (resumable when asked and allowed) or <failed/>. */
  private enableSm(el: Element): Element {
    const cfg = this.env.config().streamManagement;
    if (!cfg.enabled) return failedElement('service-unavailable', undefined, 'stream management is off on this server');
    if (this.sm) return failedElement('unexpected-request', undefined, 'stream management is already enabled');
    const sm = new SmState();
    const wants = el.attrs.resume === 'true' || el.attrs.resume === '1';
    const registry = this.env.resumable;
    const owner = `${this.username}@${this.host}`;
    if (wants && registry && cfg.hibernation > 0 && registry.countFor(owner) < cfg.maxResumablePerAccount) {
      const asked = el.attrs.max !== undefined && /^\d{1,9}$/.test(el.attrs.max) ? Number(el.attrs.max) : 0;
      sm.max = asked > 0 ? Math.min(asked, cfg.hibernation) : cfg.hibernation;
      sm.id = registry.add(owner, this);
    }
    this.sm = sm;
    return enabledElement(sm.id, sm.max);
  }

  /** Before binding only a resumption makes sense (§3: enable after binding). */
  private smBeforeBind(el: Element): void {
    const conn = this.conn;
    if (!conn) return;
    if (el.name === 'resume') {
      const r = this.resumeTarget(el);
      if ('failed' in r) {
        conn.write(r.failed.toString());
        return;
      }
      const target = r.target;
      target.takeOver(this, r.h, (write) => write(resumedElement(r.previd, target.sm!.handled).toString()));
      return;
    }
    if (el.name === 'enable') conn.write(failedElement('unexpected-request', undefined, 'bind a resource before enabling stream management').toString());
    // <r/> and <a/> without stream management mean nothing; ignored.
  }

  /** The session a <resume/> names, checked against §5; or the <failed/> to answer with. */
  private resumeTarget(el: Element): { target: C2SStream; h: number; previd: string } | { failed: Element } {
    const previd = el.attrs.previd;
    const h = parseH(el.attrs.h);
    if (!previd || h === undefined) return { failed: failedElement('bad-request', undefined, "<resume/> needs 'previd' and a numeric 'h'") };
    const owner = `${this.username}@${this.host}`;
    const registry = this.env.resumable;
    const found = registry?.get(previd, owner);
    const target = found instanceof C2SStream && !found.ended && found.sm ? found : undefined;
    if (!target) return { failed: failedElement('item-not-found', registry?.lastH(previd, owner), 'that session is gone or cannot be resumed') };
    const sm = target.sm!;
    const check = sm.check(h);
    if (!check.ok) {
      return {
        failed: failedElement('undefined-condition', sm.handled, `you acknowledged ${h} stanzas but were sent ${check.sent}`, handledCountTooHigh(h, check.sent)),
      };
    }
    return { target, h, previd };
  }

  /**
   * §5 resumption: this session takes over `from`'s connection (closing an older connection it
   * may still have, with a conflict stream error), `greet` writes <resumed/> or the SASL2
   * <success/>, then everything the client had not acknowledged is sent again in order, then
   * what CSI held back. The session object is unchanged for everyone else.
   */
  private takeOver(from: C2SStream, h: number, greet: (write: (s: string) => void) => void | Promise<void>): void | Promise<void> {
    const conn = from.conn!;
    from.conn = undefined;
    from.state = 'moved';
    from.movedTo = this;
    if (from.authTimer) clearTimeout(from.authTimer);
    const old = this.conn;
    if (old) {
      this.conn = undefined;
      old.write(streamError('conflict', 'the session was resumed on another connection') + STREAM_CLOSE);
      old.end();
    }
    if (this.hibernationTimer) clearTimeout(this.hibernationTimer);
    this.conn = conn;
    conn.handler = this.handler;
    this.secure = conn.secure;
    this.address = conn.address;
    this.directTls = conn.directTls;
    this.state = 'bound';
    this.corked = [];
    const sm = this.sm!;
    sm.ack(h);
    sm.requestedAt = -1;
    const replay = () => {
      // What arrived meanwhile is in the queue already, after the older stanzas.
      this.uncork(false);
      if (this.conn !== conn || this.state !== 'bound') return;
      const bare = this.jid!.bare;
      for (const item of sm.pending()) conn.write(withDelay(item, bare).toString());
      // A new connection starts active (XEP-0352 §4); what was held goes out after the replay.
      this.inactive = false;
      this.flushHeld();
      if (sm.unacked > 0 && sm.requestedAt < 0) this.requestAck(conn, sm);
      this.log.info('resumed', { id: this.id, jid: this.jid?.full, replayed: sm.unacked, address: this.address });
      this.fire<SmSessionEvent>('sm-resumed', { session: this });
    };
    const g = greet((s) => conn.write(s));
    if (g instanceof Promise) return g.finally(replay);
    replay();
  }

  /** Stream management elements after binding. */
  private smElement(el: Element): void {
    const conn = this.conn;
    if (!conn) return;
    const sm = this.sm;
    switch (el.name) {
      case 'enable':
        conn.write(this.enableSm(el).toString());
        return;
      case 'r':
        if (sm) conn.write(ackXml(sm.handled));
        return;
      case 'a': {
        if (!sm) return;
        const h = parseH(el.attrs.h);
        if (h === undefined) return this.close('invalid-xml', "<a/> needs a numeric 'h'");
        const r = sm.ack(h);
        if (!r.ok) return this.terminate(tooHighStreamError(h, r.sent), 'undefined-condition', 'handled-count-too-high');
        if (sm.unacked > 0 && sm.requestedAt < 0) this.requestAck(conn, sm);
        return;
      }
      case 'resume':
        conn.write(failedElement('unexpected-request', sm?.handled, 'this stream is bound already; resume on a new stream').toString());
        return;
      default:
        this.close('unsupported-stanza-type', `<${el.name} xmlns='${NS_SM}'/> is not supported`);
    }
  }

  /** XEP-0352 §4: <active/> flushes what was held; <inactive/> starts holding. */
  private csiElement(el: Element): void {
    if (el.name === 'active') {
      this.inactive = false;
      this.flushHeld();
    } else if (el.name === 'inactive') this.inactive = true;
    else this.close('unsupported-stanza-type', `<${el.name} xmlns='${NS_CSI}'/> is not supported`);
  }

  // ------------------------------------------------------------ stanzas (RFC 6120 §8)

  private bound(el: Element): void | Promise<unknown> {
    const ns = el.attrs.xmlns;
    if (ns !== undefined && ns !== NS_CLIENT) {
      if (ns === NS_SM) return this.smElement(el);
      if (ns === NS_CSI) return this.csiElement(el);
      return this.streamElement(el);
    }
    if (el.name !== 'message' && el.name !== 'presence' && el.name !== 'iq') {
      return this.close('unsupported-stanza-type', `<${el.name}/> is not a stanza`);
    }
    const jid = this.jid!;
    const fromAttr = el.attrs.from;
    if (fromAttr !== undefined && fromAttr !== jid.full) {
      const from = tryParseJid(fromAttr);
      // §8.1.2.1: a client may only name itself (its full or bare JID).
      if (!from || (from.full !== jid.full && from.bare !== jid.bare)) return this.close('invalid-from', 'that is not your address');
    }
    // XEP-0198 §4: handled = accepted here, whatever comes of it (an error reply included).
    this.sm?.countHandled();
    el.attrs.from = jid.full;
    if (el.name === 'iq') {
      const type = el.attrs.type;
      if (el.attrs.id === undefined || (type !== 'get' && type !== 'set' && type !== 'result' && type !== 'error')) {
        if (type !== 'error' && type !== 'result') this.send(errorReply(el, 'modify', 'bad-request', 'an iq needs an id and a valid type'));
        return;
      }
      if ((type === 'get' || type === 'set') && el.elements().length !== 1) {
        this.send(errorReply(el, 'modify', 'bad-request', 'an iq get or set carries exactly one payload'));
        return;
      }
      // RFC 3921 §3 session establishment: a no-op kept for old clients (RFC 6121 Appendix E).
      if (type === 'set' && el.getChild('session', NS_SESSION) && (el.attrs.to === undefined || el.attrs.to === this.host)) {
        this.send(iqResult(el));
        return;
      }
    }
    const r = this.env.router.route(el, this);
    return r ?? undefined;
  }

  /** Other non-stanza top-level elements go to modules. */
  private streamElement(el: Element): void | Promise<unknown> {
    const host = this.hostRef!;
    if (el.attrs.xmlns === NS_STREAMS) return this.close();
    const r = host.hooks.fire<StreamElementEvent>(`stream-element/${el.attrs.xmlns}`, { session: this, element: el });
    if (r === true) return;
    if (r === false) return this.close('unsupported-stanza-type', `<${el.name} xmlns='${el.attrs.xmlns}'/> is not supported`);
    return r.then((handled) => {
      if (!handled) this.close('unsupported-stanza-type');
    });
  }

  // ------------------------------------------------------------ for the server

  /**
   * Dead-connection detection, called periodically by the server for each connection it
   * counts: a client quiet for `idleMs` gets an XEP-0199 ping; no byte back within `pingMs`, or
   * no answer to an XEP-0198 ack request within `pingMs`, and the connection is given up
   * (a resumable session hibernates, any other is closed).
   */
  checkIdle(now: number, idleMs: number, pingMs: number): void {
    (this.movedTo ?? this).idle(this.ownConn, now, idleMs, pingMs);
  }

  private idle(conn: C2SConnection, now: number, idleMs: number, pingMs: number): void {
    if (conn !== this.conn || this.state !== 'bound') return;
    const sm = this.sm;
    if (sm && sm.requestedAt >= 0 && now - sm.requestedSince > pingMs) return this.connectionDead(conn, 'no answer to an ack request');
    if (conn.pingSent) {
      if (now - conn.pingSent > pingMs) this.connectionDead(conn, 'no answer to ping');
      return;
    }
    if (now - conn.lastActive > idleMs) {
      conn.pingSent = now;
      this.send(xml('iq', { type: 'get', id: `idle-${now.toString(36)}`, from: this.host, to: this.jid!.full }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    }
  }

  private connectionDead(conn: C2SConnection, why: string): void {
    if (this.sm?.id !== undefined) {
      this.log.info('connection given up', { id: this.id, jid: this.jid?.full, why });
      conn.destroy();
      return;
    }
    this.close('connection-timeout', why);
  }

  /** Graceful shutdown: RFC 6120 §4.9.3.17 system-shutdown. */
  shutdown(): void {
    const owner = this.movedTo ?? this;
    if (owner.conn === this.ownConn) owner.close('system-shutdown', 'the server is restarting');
  }

  /** The TLS socket of the current connection, for channel binding and certificate reloads. */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.conn?.tlsSocket;
  }
}

function isIq(el: Element): boolean {
  return el.name === 'iq' && (el.attrs.xmlns === undefined || el.attrs.xmlns === NS_CLIENT);
}

export type { StanzaErrorCondition };
