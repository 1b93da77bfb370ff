// The SASL framework as the server sees it (RFC 4422 §3), independent of how it is carried:
// the RFC 6120 §6 profile (<auth/>, <challenge/>, <response/>, <success/>, <failure/>) and the
// XEP-0388 SASL2 profile (<authenticate/>, <challenge/>, <response/>, <success/> with
// <additional-data/>, <failure/>) both drive the same SaslExchange with raw octets.
// https://www.rfc-editor.org/rfc/rfc4422  https://www.rfc-editor.org/rfc/rfc6120#section-6
// https://xmpp.org/extensions/xep-0388.html (version 1.0.4)
import type { Accounts } from '../accounts.js';
import type { LoginLimiter } from '../ratelimit.js';

export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** RFC 6120 §6.5 defined conditions (XEP-0388 reuses them inside its own <failure/>). */
export type SaslFailureCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | {
      kind: 'success';
      /** Prepared localpart of the authenticated account. */
      username: string;
      /** Additional data with success (RFC 6120 §6.3.10; SASL2 <additional-data/>): SCRAM server-final. */
      data?: Buffer;
    }
  | {
      kind: 'failure';
      condition: SaslFailureCondition;
      /** Human-readable, English; safe to send to the client. */
      text?: string;
      /** The account the client tried, when known (for logs; never a hint that it exists). */
      username?: string;
      /** Seconds until the rate limiter lets this address/account try again (temporary-auth-failure). */
      retryAfter?: number;
    };

export interface SaslContext {
  /** The served domain the stream is for. */
  host: string;
  /** Remote address of the client (rate limits, logs). */
  address: string;
  /** The stream is encrypted (STARTTLS done, or direct TLS). */
  secure: boolean;
  accounts: Accounts;
  /** Channel-binding data for a type ('tls-exporter', 'tls-server-end-point'), undefined when not available on this connection. */
  channelBinding(type: string): Buffer | undefined;
  /** Channel-binding types the server supports on this connection, for SCRAM's 'y' flag downgrade detection and XEP-0440 advertisement. */
  channelBindingTypes(): string[];
  limiter: LoginLimiter;
}

export interface SaslMechanism {
  /** IANA name as advertised, e.g. 'SCRAM-SHA-256-PLUS'. */
  readonly name: string;
  /** Whether to offer it on this connection (PLAIN needs TLS, -PLUS needs channel binding). */
  available(ctx: SaslContext): boolean;
  start(ctx: SaslContext): SaslExchange;
}

export interface SaslExchange {
  /**
   * Feeds one client message: the initial response (undefined when the client sent none, an
   * empty Buffer for RFC 6120's "=") or a <response/>. After a success or failure the exchange
   * is over and further steps answer malformed-request.
   */
  step(response: Buffer | undefined): Promise<SaslStep>;
}

export function failure(condition: SaslFailureCondition, text?: string, username?: string): SaslStep {
  const f: SaslStep = { kind: 'failure', condition };
  if (text !== undefined) f.text = text;
  if (username !== undefined) f.username = username;
  return f;
}

/** The rate limiter's refusal: temporary-auth-failure, saying how long to wait. */
export function rateLimited(retryAfter: number, username?: string): SaslStep {
  const f: SaslStep = {
    kind: 'failure',
    condition: 'temporary-auth-failure',
    text: `Too many failed authentication attempts; wait ${retryAfter} seconds before trying again`,
    retryAfter,
  };
  if (username !== undefined) f.username = username;
  return f;
}
