// RFC 6120 §6: the SASL profile of XMPP on a c2s stream — <mechanisms/> in the features,
// <auth/>, <challenge/>, <response/>, <abort/>, <success/>, <failure/>. The mechanisms
// themselves (core/sasl/) see only octets, so SASL2 (XEP-0388, core/sasl2-negotiation.ts)
// drives the same ones with the same connection context and the same count of failures: a
// client gets MAX_ATTEMPTS tries on a stream whichever profile it uses.
// https://www.rfc-editor.org/rfc/rfc6120#section-6
import type tls from 'node:tls';
import type { RoostConfig } from '../config/types.js';
import { escapeText, xml, type Element } from '../xml/element.js';
import type { Accounts } from './accounts.js';
import type { LoginLimiter } from './ratelimit.js';
import { channelBindingFeature, decodeSaslData, encodeSaslData } from './sasl/index.js';
import { TLS_EXPORTER, TLS_SERVER_END_POINT, tlsExporter } from './sasl/channel-binding.js';
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from './sasl/types.js';
import type { StreamErrorCondition } from './session.js';
import type { Logger } from '../util/log.js';
import { NS_SASL } from './stream-xml.js';

export interface SaslEnv {
  config(): RoostConfig;
  log?: Logger;
  limiter: LoginLimiter;
  mechanisms: SaslMechanism[];
}

export interface SaslConnection {
  host: string;
  address: string;
  secure: boolean;
  socket: tls.TLSSocket | undefined;
  /** The accounts of the stream's host. */
  accounts: Accounts;
  /** tls-server-end-point data of the certificate this connection was served. */
  endPoint?: Buffer;
}

export type SaslOutcome =
  | { kind: 'success'; username: string; mechanism: string }
  | { kind: 'continue' }
  | { kind: 'close'; condition: StreamErrorCondition; text?: string };

/** RFC 6120 §6.4.5 asks for "a configurable but reasonable number of retries" (2 to 5). */
const MAX_ATTEMPTS = 5;
/** Largest base64 payload accepted in <auth/> or <response/>. */
export const MAX_PAYLOAD = 16 * 1024;

export class SaslNegotiation {
  /** The connection as the mechanisms see it (channel bindings, limiter, accounts). */
  readonly ctx: SaslContext;
  private exchange?: SaslExchange;
  private mechanism?: string;
  private failures = 0;

  constructor(
    private readonly env: SaslEnv,
    conn: SaslConnection,
  ) {
    // Our certificate's end-point hash is known already; reading it back from each socket
    // (getCertificate) cost more per login than the whole SCRAM exchange.
    const socket = conn.socket;
    const tls13 = socket?.getProtocol() === 'TLSv1.3';
    let exporter: Buffer | undefined | null = null;
    const types = [...(tls13 ? [TLS_EXPORTER] : []), ...(conn.endPoint ? [TLS_SERVER_END_POINT] : [])];
    const binding = (type: string): Buffer | undefined => {
      if (type === TLS_SERVER_END_POINT) return conn.endPoint;
      if (type !== TLS_EXPORTER || !socket || !tls13) return undefined;
      if (exporter === null) exporter = tlsExporter(socket);
      return exporter;
    };
    this.ctx = {
      host: conn.host,
      address: conn.address,
      secure: conn.secure,
      accounts: conn.accounts,
      limiter: env.limiter,
      channelBinding: binding,
      channelBindingTypes: () => types,
    };
  }

  /** Offered mechanisms, in the order of preference, and XEP-0440 channel-binding types. */
  available(): SaslMechanism[] {
    return this.env.mechanisms.filter((m) => m.available(this.ctx));
  }

  features(): Element[] {
    const mechs = xml('mechanisms', { xmlns: NS_SASL }, ...this.available().map((m) => xml('mechanism', {}, m.name)));
    const out = [mechs];
    const types = this.ctx.channelBindingTypes();
    if (types.length) out.push(channelBindingFeature(types));
    return out;
  }

  /** Handles one element of the SASL namespace; `write` sends raw XML to the client. */
  async handle(el: Element, write: (xml: string) => void): Promise<SaslOutcome> {
    if (el.name === 'auth') {
      if (this.exchange) {
        // A new <auth/> while one runs restarts negotiation (the old one is abandoned).
        this.exchange = undefined;
      }
      const name = el.attrs.mechanism;
      const mech = this.available().find((m) => m.name === name);
      if (!mech) return this.fail(write, { kind: 'failure', condition: 'invalid-mechanism', text: 'that mechanism is not offered here' });
      this.mechanism = mech.name;
      this.exchange = mech.start(this.ctx);
      const decoded = decodeSaslData(el.text());
      if (!decoded.ok) return this.fail(write, { kind: 'failure', condition: 'incorrect-encoding' });
      return this.run(decoded.data, write);
    }
    if (el.name === 'response') {
      if (!this.exchange) return this.fail(write, { kind: 'failure', condition: 'malformed-request', text: 'no authentication in progress' });
      const decoded = decodeSaslData(el.text());
      // A <response/> always carries data; "=" is the way to send none (§6.4.2).
      if (!decoded.ok || decoded.data === undefined) return this.fail(write, { kind: 'failure', condition: 'incorrect-encoding' });
      return this.run(decoded.data, write);
    }
    if (el.name === 'abort') {
      this.exchange = undefined;
      return this.fail(write, { kind: 'failure', condition: 'aborted' });
    }
    return { kind: 'close', condition: 'unsupported-stanza-type', text: `<${el.name}/> is not part of SASL` };
  }

  private async run(data: Buffer | undefined, write: (xml: string) => void): Promise<SaslOutcome> {
    if (data && data.length > MAX_PAYLOAD) return this.fail(write, { kind: 'failure', condition: 'malformed-request', text: 'too large' });
    const step = await this.exchange!.step(data);
    if (step.kind === 'challenge') {
      write(`<challenge xmlns='${NS_SASL}'>${encodeSaslData(step.data)}</challenge>`);
      return { kind: 'continue' };
    }
    if (step.kind === 'success') {
      this.exchange = undefined;
      write(`<success xmlns='${NS_SASL}'>${encodeSaslData(step.data)}</success>`);
      return { kind: 'success', username: step.username, mechanism: this.mechanism ?? '' };
    }
    return this.fail(write, step);
  }

  private fail(write: (xml: string) => void, step: Extract<SaslStep, { kind: 'failure' }>): SaslOutcome {
    this.exchange = undefined;
    let s = `<failure xmlns='${NS_SASL}'><${step.condition}/>`;
    if (step.text) s += `<text xml:lang='en'>${escapeText(step.text)}</text>`;
    write(s + '</failure>');
    return this.counted(step, this.mechanism);
  }

  /**
   * Logs a failed attempt and counts it; the outcome closes the stream once a client has used
   * up its attempts (RFC 6120 §6.4.5). SASL2 reports its failures here too.
   */
  counted(step: Extract<SaslStep, { kind: 'failure' }>, mechanism: string | undefined): SaslOutcome {
    if (step.condition === 'aborted') return { kind: 'continue' };
    // One line per failed login, with the address: what an admin (or fail2ban) looks for.
    this.env.log?.info('authentication failed', { address: this.ctx.address, user: step.username, mechanism, condition: step.condition });
    if (++this.failures >= MAX_ATTEMPTS) {
      return { kind: 'close', condition: 'policy-violation', text: 'too many failed authentication attempts' };
    }
    return { kind: 'continue' };
  }
}
