// The module API: what a feature module (server/src/modules/<feature>.ts) gets to work with.
// A module is loaded once per served host; it registers hooks, advertises disco features and
// opens its own stores. Prosody's mod_ping is the model: two hooks and a feature.
import type { Element } from '../xml/element.js';
import type { RoostConfig } from '../config/types.js';
import type { ArchiveStore, KeyValStore } from '../storage/types.js';
import type { HookHandler, Hooks } from './hooks.js';
import type { Jid } from './jid.js';
import type { Logger } from '../util/log.js';
import type { HttpHandler } from '../transports/http.js';
import type { Session } from './session.js';
import type { SessionManager } from './sessions.js';
import type { StanzaErrorCondition, StanzaErrorType } from './stanza-error.js';

/** The event a stanza hook receives. */
export interface StanzaEvent {
  stanza: Element;
  /** The stream it came from (for a local client: its c2s session). */
  origin: Session;
  /** Parsed, prepared `from` (stamped by the server for c2s) and `to` (own bare JID when absent for messages). */
  from: Jid;
  to: Jid;
  /**
   * pre-message/out only: the sender's archive id of this message (set by the archive, XEP-0313
   * §3.5), which the carbons module puts into the sent copy (never into the message the contact
   * receives: they cannot query the sender's archive). Kept on the event rather than in a
   * WeakMap keyed by the stanza: V8's young-generation GC treats WeakMap keys as live, so such
   * a map moves every routed stanza into the old generation (in a loop of two million
   * stanza-sized objects, an entry each raised what a scavenge promoted from 15 KB to 680 KB and
   * its pause from 0.5 to 6 ms).
   */
  outgoingArchiveId?: { id: string; by: string };
}

export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoItem {
  jid: string;
  name?: string;
  node?: string;
}

/** Disco registry of a host (XEP-0030); the disco module answers from it. */
export interface DiscoRegistry {
  /** Features of the server itself (iq to the domain). */
  addFeature(ns: string): void;
  /** Features an account's bare JID advertises (iq to user@domain), e.g. PEP. */
  addAccountFeature(ns: string): void;
  addIdentity(identity: DiscoIdentity): void;
  addAccountIdentity(identity: DiscoIdentity): void;
  addItem(item: DiscoItem): void;
  /** Extra XEP-0128 forms on the server's disco#info (contact addresses...). */
  addExtension(form: Element): void;
  features(): string[];
  accountFeatures(): string[];
  identities(): DiscoIdentity[];
  accountIdentities(): DiscoIdentity[];
  items(): DiscoItem[];
  extensions(): Element[];
}

export interface ModuleApi {
  /** The served domain this instance works for. */
  readonly host: string;
  readonly config: RoostConfig;
  /** This module's own settings (config.modules[name]), or {}. */
  readonly options: Record<string, unknown>;
  readonly log: Logger;
  readonly hooks: Hooks;
  readonly sessions: SessionManager;
  readonly disco: DiscoRegistry;
  hook<E = StanzaEvent>(name: string, handler: HookHandler<E>, priority?: number): void;
  keyval(store: string): KeyValStore;
  archive(store: string): ArchiveStore;
  /**
   * Routes a stanza as if sent by `origin` (default: the server itself). Returns a promise (never
   * rejecting) when a hook on the way went async, settled once the stanza is delivered, so a
   * sender that must keep its stanzas to one recipient in order can wait for it.
   */
  route(stanza: Element, origin?: Session): void | Promise<void>;
  /**
   * Sends an iq get/set from the server (its 'from' is the host unless set, e.g. to a
   * component's domain) and resolves with the result or error reply; rejects after
   * `timeoutMs` (default 30 s) without one.
   */
  request(iq: Element, timeoutMs?: number): Promise<Element>;
  /**
   * Claims a domain for a component of this host (MUC service, upload...): every stanza
   * addressed to it or its JIDs is handed to `deliver`. Released when the module unloads.
   */
  component(domain: string, deliver: (event: StanzaEvent) => void | Promise<void>): void;
  /**
   * Mounts an HTTP handler on the http and https listeners for paths starting with `prefix`
   * (return false to pass the request on). Unmounted when the module unloads.
   */
  http(prefix: string, handler: HttpHandler): void;
  /** Sends an error reply for `stanza` back to whoever sent it (never for errors/results). */
  replyError(event: StanzaEvent, type: StanzaErrorType, condition: StanzaErrorCondition, text?: string): true;
  /** Sends an iq result (with optional payload) back to the sender. */
  replyResult(event: StanzaEvent, payload?: Element): true;
  /** True when the account exists (local or directory). */
  userExists(username: string): Promise<boolean>;
  isAdmin(jid: Jid | string): boolean;
  /** Runs `fn` every `ms` while the server runs (cleared at shutdown). */
  every(ms: number, fn: () => void | Promise<void>): void;
  /** Called at graceful shutdown. */
  onUnload(fn: () => void | Promise<void>): void;
}

export interface ModuleDefinition {
  /** Short name, used in config (modules.<name>, modules.disabled). */
  name: string;
  /** The spec it implements, e.g. 'XEP-0199: XMPP Ping'. */
  spec?: string;
  load(api: ModuleApi): void | Promise<void>;
}

export function defineModule(def: ModuleDefinition): ModuleDefinition {
  return def;
}
