// TLS channel bindings for SCRAM-*-PLUS, and their advertisement:
// - tls-server-end-point: RFC 5929 §4 (July 2010): hash of the server's certificate (DER),
//   with the hash of §4.1: the certificate signature's own hash, except MD5/SHA-1 → SHA-256;
//   undefined when the signature uses no single hash (Ed25519, Ed448...).
//   https://www.rfc-editor.org/rfc/rfc5929#section-4
// - tls-exporter: RFC 9266 (July 2022): 32 bytes of TLS exporter output, label
//   "EXPORTER-Channel-Binding", no context. Offered on TLS 1.3 only: RFC 9266 §2 limits it on
//   TLS 1.2 to sessions with extended master secret, which Node cannot report.
//   https://www.rfc-editor.org/rfc/rfc9266
// - XEP-0440 SASL Channel-Binding Type Capability (version 1.0.0), the stream feature.
//   https://xmpp.org/extensions/xep-0440.html
// tls-unique (RFC 5929 §3) is not offered: undefined on TLS 1.3 and weak on TLS 1.2 (RFC 9266 §1).
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import { Element, xml } from '../../xml/element.js';

export const NS_SASL_CB = 'urn:xmpp:sasl-cb:0';
export const TLS_EXPORTER = 'tls-exporter';
export const TLS_SERVER_END_POINT = 'tls-server-end-point';

// Signature algorithm OID → the single hash it uses (Node digest names).
const SIGNATURE_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
  '2.16.840.1.101.3.4.3.10': 'sha3-256', // ecdsa-with-sha3-256
  '2.16.840.1.101.3.4.3.11': 'sha3-384',
  '2.16.840.1.101.3.4.3.12': 'sha3-512',
  '2.16.840.1.101.3.4.3.14': 'sha3-256', // rsassa-pkcs1-v1_5-with-sha3-256
  '2.16.840.1.101.3.4.3.15': 'sha3-384',
  '2.16.840.1.101.3.4.3.16': 'sha3-512',
};

const HASH_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.8': 'sha3-256',
  '2.16.840.1.101.3.4.2.9': 'sha3-384',
  '2.16.840.1.101.3.4.2.10': 'sha3-512',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';

/** The single hash a certificate's signatureAlgorithm uses; undefined for none or several. */
export function certificateSignatureHash(der: Buffer): string | undefined {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch {
    return undefined;
  }
  const alg = cert.signatureAlgorithm;
  if (alg.algorithm !== RSASSA_PSS) return SIGNATURE_HASH[alg.algorithm];
  // RSASSA-PSS names its hash in parameters, and MGF1 names another; only one hash if equal.
  try {
    const params = alg.parameters ? AsnConvert.parse(alg.parameters, RsaSaPssParams) : new RsaSaPssParams();
    const hash = HASH_OID[params.hashAlgorithm.algorithm];
    if (params.maskGenAlgorithm.algorithm !== MGF1 || !params.maskGenAlgorithm.parameters) return undefined;
    const mgfHash = HASH_OID[AsnConvert.parse(params.maskGenAlgorithm.parameters, AlgorithmIdentifier).algorithm];
    return hash !== undefined && hash === mgfHash ? hash : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 5929 §4.1 hash choice. */
export function serverEndPointHash(der: Buffer): string | undefined {
  const h = certificateSignatureHash(der);
  if (h === undefined) return undefined;
  return h === 'md5' || h === 'sha1' ? 'sha256' : h;
}

// The server certificate is the same on every connection; parsing it once is enough.
const endPointCache = new Map<string, Buffer | null>();

/** tls-server-end-point channel-binding data for a DER certificate; undefined when undefined by RFC 5929. */
export function tlsServerEndPoint(der: Buffer): Buffer | undefined {
  const id = createHash('sha256').update(der).digest('base64');
  let v = endPointCache.get(id);
  if (v === undefined) {
    const h = serverEndPointHash(der);
    v = h ? createHash(h).update(der).digest() : null;
    if (endPointCache.size >= 32) endPointCache.delete(endPointCache.keys().next().value as string);
    endPointCache.set(id, v);
  }
  return v ?? undefined;
}

/** tls-exporter channel-binding data (TLS 1.3 only); undefined before the handshake or on older TLS. */
export function tlsExporter(socket: TLSSocket): Buffer | undefined {
  if (socket.getProtocol() !== 'TLSv1.3') return undefined;
  try {
    // TLS 1.3 (RFC 8446 §7.5): an empty context computes the same value as no context.
    return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  } catch {
    return undefined;
  }
}

export interface ChannelBindings {
  /** Types available on this connection, preferred first. */
  types(): string[];
  get(type: string): Buffer | undefined;
}

/**
 * Channel bindings of an established TLS connection. `side` says which end we are: the
 * tls-server-end-point certificate is our own on the server, the peer's on a client.
 * Values are computed once, on first use (after the handshake).
 */
export function tlsChannelBindings(socket: TLSSocket, side: 'server' | 'client' = 'server'): ChannelBindings {
  let values: Map<string, Buffer> | undefined;
  const compute = (): Map<string, Buffer> => {
    if (values) return values;
    const m = new Map<string, Buffer>();
    const exp = tlsExporter(socket);
    if (exp) m.set(TLS_EXPORTER, exp);
    const cert = side === 'server' ? socket.getCertificate() : socket.getPeerCertificate();
    const raw = cert && 'raw' in cert ? (cert.raw as Buffer | undefined) : undefined;
    const sep = raw ? tlsServerEndPoint(raw) : undefined;
    if (sep) m.set(TLS_SERVER_END_POINT, sep);
    values = m;
    return m;
  };
  return {
    types: () => [...compute().keys()],
    get: (type) => compute().get(type),
  };
}

/** XEP-0440 §2: <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'> with one child per type. */
export function channelBindingFeature(types: string[]): Element {
  return xml('sasl-channel-binding', { xmlns: NS_SASL_CB }, ...types.map((type) => xml('channel-binding', { type })));
}
