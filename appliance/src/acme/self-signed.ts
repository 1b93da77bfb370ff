// Self-signed fallback when no public certificate can be had (LAN-only office, no DNS control),
// and the warning that tells the admin what users will see in their chat apps.
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import forge from 'node-forge';
import { writeFileAtomic } from '../system/files.js';
import { certificatePaths } from './obtain.js';

/**
 * What users meet with a self-signed certificate, for the admin to pass on. Conversations
 * (Android) asks whether to trust the certificate and shows its fingerprint; Gajim (desktop)
 * opens an "untrusted certificate" dialog with the same choice. Comparing the fingerprint is
 * the only way for a user to know it is really this server.
 */
export function selfSignedWarning(domain: string, fingerprint?: string): string {
  const fp = fingerprint ? ` Its SHA-256 fingerprint is ${fingerprint}: users should accept only a certificate with exactly this fingerprint.` : '';
  return (
    `This server uses a self-signed certificate, which no chat app trusts by itself. ` +
    `When someone connects to ${domain}, Conversations asks whether to trust the certificate (it says it could not verify the server's identity), ` +
    `and Gajim shows an "untrusted certificate" warning (self-signed certificate) and asks whether to connect anyway. ` +
    `Each user must accept it once on each device; other chat servers may refuse to talk to this one.${fp}`
  );
}

/** SHA-256 fingerprint as colon-separated hex (how apps display it). */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * Writes a self-signed certificate (ECDSA would be preferable, but node-forge signs with RSA only)
 * for `names` into outDir/cert.pem + key.pem, replacing files atomically.
 */
export async function selfSignedFallback(opts: {
  outDir: string;
  names: string[];
  days?: number;
}): Promise<{ certPath: string; keyPath: string; warning: string; fingerprint: string }> {
  const names = [...new Set(opts.names.map((n) => n.toLowerCase()))];
  const first = names[0];
  if (!first) throw new Error('a self-signed certificate needs at least one name');
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  // Positive serial (first bit cleared) as RFC 5280 section 4.1.2.2 requires.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + (opts.days ?? 825) * 86_400_000);
  const attrs = [{ name: 'commonName', value: first }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const keyPem = forge.pki.privateKeyToPem(keys.privateKey);
  const { certPath, keyPath } = certificatePaths(opts.outDir);
  await mkdir(opts.outDir, { recursive: true, mode: 0o750 });
  await writeFileAtomic(keyPath, keyPem, { mode: 0o600 });
  await writeFileAtomic(certPath, certPem, { mode: 0o644 });
  const fingerprint = certificateFingerprint(certPem);
  return { certPath, keyPath, fingerprint, warning: selfSignedWarning(first, fingerprint) };
}
