// Self-signed X.509 certificates with an ECDSA P-256 key.
//
// node-forge builds and signs certificates with RSA keys only, but a TLS 1.3 handshake costs
// about 1 ms of server CPU with ECDSA P-256 against 2-2.4 ms with RSA-2048 (measured here), and
// logins per second are bound by handshakes. So forge's ASN.1 and name/extension encoders build
// the TBSCertificate (RFC 5280 §4.1) and Node's crypto makes the key and the ECDSA signature.
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

const { asn1, pki } = forge;
// ecdsa-with-SHA256 (RFC 5758 §3.2): the AlgorithmIdentifier has no parameters.
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

function algorithmIdentifier(): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(ECDSA_WITH_SHA256).getBytes()),
  ]);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(d: Date): forge.asn1.Asn1 {
  return d.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

export interface SelfSignedCertificate {
  certPem: string;
  keyPem: string;
}

/** A server certificate for `names` (the first is the subject CN), valid for `days`. */
export function createEcdsaSelfSigned(opts: { names: string[]; days?: number }): SelfSignedCertificate {
  const names = [...new Set(opts.names.map((n) => n.toLowerCase()))];
  const first = names[0];
  if (!first) throw new Error('a certificate needs at least one name');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });

  // forge's helper object only to encode the subject and the extensions.
  const shape = pki.createCertificate();
  shape.setSubject([{ name: 'commonName', value: first }]);
  shape.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
  ]);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + (opts.days ?? 825) * 86_400_000);
  const name = pki.distinguishedNameToAsn1(shape.subject);
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, String.fromCharCode(2))]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, serial.toString('binary')),
    algorithmIdentifier(),
    name,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [time(notBefore), time(notAfter)]),
    pki.distinguishedNameToAsn1(shape.subject),
    asn1.fromDer(forge.util.createBuffer(spki.toString('binary'))),
    // certificateExtensionsToAsn1 already wraps the list in the [3] EXPLICIT tag.
    (pki as unknown as { certificateExtensionsToAsn1(e: unknown[]): forge.asn1.Asn1 }).certificateExtensionsToAsn1(shape.extensions),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign('sha256', tbsDer, privateKey); // DER-encoded ECDSA-Sig-Value
  const cert = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\u0000' + signature.toString('binary')),
  ]);
  const der = Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
  const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  // Self-check: Node must read it back and the signature must verify with its own key.
  const x509 = new X509Certificate(certPem);
  if (!x509.verify(publicKey)) throw new Error('generated certificate does not verify');
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
