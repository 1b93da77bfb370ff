// The SASL mechanisms Roost offers, strongest first, and the helpers a stream needs to drive
// them (RFC 6120 §6 today; XEP-0388 SASL2 and XEP-0484 FAST plug in as more SaslMechanism
// implementations and another wire format around the same SaslExchange).
import { PlainMechanism } from './plain.js';
import { ScramMechanism, type ScramOptions } from './scram.js';
import type { SaslContext, SaslMechanism } from './types.js';

export * from './types.js';
export { decodeBase64Strict, decodeSaslData, encodeSaslData, stepBase64, type DecodedSaslData } from './base64.js';
export {
  channelBindingFeature,
  certificateSignatureHash,
  serverEndPointHash,
  tlsChannelBindings,
  tlsExporter,
  tlsServerEndPoint,
  NS_SASL_CB,
  TLS_EXPORTER,
  TLS_SERVER_END_POINT,
  type ChannelBindings,
} from './channel-binding.js';
export { PlainMechanism } from './plain.js';
export { ScramMechanism, WRONG_CREDENTIALS, DEFAULT_MAX_SASL_MESSAGE, type ScramOptions } from './scram.js';
export { prepareOpaqueString, tryPrepareOpaqueString, PrecisError } from './saslprep.js';
export { decodeSaslname, encodeSaslname } from './scram-messages.js';

export interface SaslMechanismsOptions extends ScramOptions {
  /** Offer PLAIN (inside TLS only). Default true: some clients and bridges know nothing else. */
  plain?: boolean;
}

/**
 * SCRAM-SHA-512-PLUS, SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-512, SCRAM-SHA-256,
 * SCRAM-SHA-1, PLAIN. Clients pick the first they support from the order advertised, and
 * -PLUS variants only show where the connection has channel bindings.
 */
export function saslMechanisms(opts: SaslMechanismsOptions = {}): SaslMechanism[] {
  const scram = { nonce: opts.nonce, maxMessageSize: opts.maxMessageSize, decoySecret: opts.decoySecret };
  const list: SaslMechanism[] = [];
  for (const plus of [true, false]) {
    for (const hash of ['SHA-512', 'SHA-256', 'SHA-1'] as const) list.push(new ScramMechanism(hash, plus, scram));
  }
  if (opts.plain !== false) list.push(new PlainMechanism({ maxMessageSize: opts.maxMessageSize }));
  return list;
}

/** The mechanisms to advertise on this connection, in preference order. */
export function availableMechanisms(mechanisms: SaslMechanism[], ctx: SaslContext): SaslMechanism[] {
  return mechanisms.filter((m) => m.available(ctx));
}
