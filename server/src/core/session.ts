// What the router and modules know of a connected stream.
import type { Element } from '../xml/element.js';
import type { Jid } from './jid.js';

export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone'
  | 'host-unknown' | 'improper-addressing' | 'internal-server-error' | 'invalid-from'
  | 'invalid-namespace' | 'invalid-xml' | 'not-authorized' | 'not-well-formed'
  | 'policy-violation' | 'remote-connection-failed' | 'reset' | 'resource-constraint'
  | 'restricted-xml' | 'see-other-host' | 'system-shutdown' | 'undefined-condition'
  | 'unsupported-encoding' | 'unsupported-feature' | 'unsupported-stanza-type'
  | 'unsupported-version';

/** XEP-0388 §2.3 <user-agent id='...'><software/><device/></user-agent>. */
export interface UserAgent {
  /** Stable identifier of the client installation (a UUID). */
  id: string;
  software?: string;
  device?: string;
}

export interface Session {
  readonly id: string;
  readonly kind: 'c2s' | 's2s' | 'component' | 'local';
  /** Local domain this stream belongs to. */
  readonly host: string;
  /** Remote address, for logs and rate limits. */
  readonly address: string;
  /** Encrypted (STARTTLS done or direct TLS). */
  readonly secure: boolean;
  /** Bare account name after SASL, undefined before. */
  username?: string;
  /** Full JID once a resource is bound. */
  jid?: Jid;
  /** Presence priority of the last available presence; sessions below 0 get no bare-JID messages. */
  priority: number;
  /** Last available presence broadcast by this resource; undefined while unavailable. */
  presence?: Element;
  /** True once the client fetched its roster (RFC 6121 "interested resource"). */
  interested: boolean;
  /** Per-module state (carbons, CSI, stream management...), keyed by module name. */
  readonly data: Map<string, unknown>;
  /**
   * XEP-0198: the connection dropped and the session waits to be resumed; what is sent to it
   * meanwhile is queued (hook `sm-stanza-queued`). The session stays bound and available.
   */
  readonly hibernating?: boolean;
  /** XEP-0352: the client said it is in the background; low-priority stanzas are held back. */
  readonly inactive?: boolean;
  /** XEP-0388 user agent the client named at login, when it did (SASL2). */
  readonly userAgent?: UserAgent;
  /** Queues a stanza for this client; writes are batched per event-loop turn. */
  send(stanza: Element): void;
  /** Ends the stream, with a stream error when given. */
  close(condition?: StreamErrorCondition, text?: string): void;
}
