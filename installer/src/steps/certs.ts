// Step 4: the certificate chat apps will trust. Let's Encrypt (ACME, RFC 8555) over HTTP-01 or
// DNS-01, a self-signed fallback, or certificate files the admin already has. The new files go to
// a directory of their own per domain and replace the old ones atomically only once issued.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AcmeError, certificatePaths, obtainCertificate } from '../../../appliance/src/acme/obtain.js';
import { certificateNames, nameCovered, selectCertificateNames } from '../../../appliance/src/acme/renew.js';
import { createChallengeStore } from '../../../appliance/src/acme/challenge-store.js';
import { certificateFingerprint, selfSignedFallback, selfSignedWarning } from '../../../appliance/src/acme/self-signed.js';
import { lookup } from '../../../appliance/src/dns/check.js';
import { serviceSubdomains } from './dns.js';
import { defaultIsRoost, findPortOwners } from '../../../appliance/src/preflight.js';
import type { AcmeProgress, DnsTxtRecord, ResolverOptions } from '../../../appliance/src/types.js';
import { acmeAccountKeyPath, certDir } from '../config-output.js';
import type { CertOutcome, SetupState } from './context.js';

export interface CertHooks {
  onProgress?(p: AcmeProgress): void;
  /** DNS-01: show (or publish) the TXT record. */
  showTxt?(record: DnsTxtRecord): void | Promise<void>;
  removeTxt?(record: DnsTxtRecord): void | Promise<void>;
  /** Polled while waiting; returning true aborts the wait (Esc on the screen, Ctrl-C). */
  cancelled?(): boolean;
}

export class CertError extends Error {
  override name = 'CertError';
}

/** Every name the server answers for. */
export function allNames(state: Pick<SetupState, 'answers' | 'existing'>): string[] {
  const d = state.answers.domain;
  return [d, ...serviceSubdomains(state.answers, state.existing).map((s) => `${s.label}.${d}`)];
}

/** Names for a Let's Encrypt certificate: those whose DNS checked out (with warnings for the others). */
export function letsEncryptNames(state: SetupState): { names: string[]; warnings: string[] } {
  const a = state.answers;
  if (!state.dns) return { names: allNames(state), warnings: [] };
  return selectCertificateNames(a.domain, state.dns, serviceSubdomains(a, state.existing).map((s) => s.label));
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new CertError(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Checks a certificate/key pair the admin gives us (or the one already configured). */
export async function checkCertFiles(certPath: string, keyPath: string, state: Pick<SetupState, 'answers' | 'existing'>): Promise<{ outcome: CertOutcome; warnings: string[] }> {
  const domain = state.answers.domain;
  const pem = await readPem(certPath, 'certificate');
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    throw new CertError(`${certPath} is not a PEM certificate`);
  }
  let key;
  try {
    key = createPrivateKey(await readPem(keyPath, 'key'));
  } catch (e) {
    throw e instanceof CertError ? e : new CertError(`${keyPath} is not a PEM private key`);
  }
  if (!x.checkPrivateKey(key)) throw new CertError(`the key ${keyPath} does not belong to the certificate ${certPath}`);
  const names = certificateNames(pem);
  const warnings: string[] = [];
  if (!nameCovered(domain, names)) throw new CertError(`the certificate ${certPath} is for ${names.join(', ') || 'no DNS name'}, not for ${domain}`);
  const missing = allNames(state).filter((n) => !nameCovered(n, names));
  if (missing.length) warnings.push(`the certificate does not cover ${missing.join(', ')}: group chats or file sharing on those names will show certificate errors`);
  const notAfter = new Date(x.validTo);
  if (notAfter.getTime() < Date.now() + 14 * 86_400_000) warnings.push(`the certificate expires soon (${x.validTo})`);
  const selfSigned = x.issuer === x.subject;
  const outcome: CertOutcome = { mode: 'files', certPath, keyPath, names, notAfter };
  if (selfSigned) {
    outcome.fingerprint = certificateFingerprint(pem);
    outcome.userWarning = selfSignedWarning(domain, outcome.fingerprint);
    warnings.push('the certificate is self-signed: chat apps will warn users');
  }
  return { outcome, warnings };
}

async function selfSigned(state: Pick<SetupState, 'answers' | 'existing'>): Promise<{ outcome: CertOutcome; warnings: string[] }> {
  const a = state.answers;
  const dir = certDir(a);
  const names = allNames(state);
  const { certPath, keyPath } = certificatePaths(dir);
  // Re-running setup must not change the fingerprint users already accepted.
  try {
    const pem = await readFile(certPath, 'utf8');
    const x = new X509Certificate(pem);
    const covered = names.every((n) => nameCovered(n, certificateNames(pem)));
    const key = createPrivateKey(await readFile(keyPath, 'utf8'));
    if (x.issuer === x.subject && covered && x.checkPrivateKey(key) && new Date(x.validTo).getTime() > Date.now() + 30 * 86_400_000) {
      const fingerprint = certificateFingerprint(pem);
      return {
        outcome: { mode: 'self-signed', certPath, keyPath, names, notAfter: new Date(x.validTo), fingerprint, userWarning: selfSignedWarning(a.domain, fingerprint) },
        warnings: ['self-signed certificate (kept from the last setup): chat apps will warn users until they accept it'],
      };
    }
  } catch {
    /* none yet, or not usable: make one */
  }
  const r = await selfSignedFallback({ outDir: dir, names });
  const x = new X509Certificate(await readFile(r.certPath, 'utf8'));
  return {
    outcome: { mode: 'self-signed', certPath: r.certPath, keyPath: r.keyPath, names, notAfter: new Date(x.validTo), fingerprint: r.fingerprint, userWarning: r.warning },
    warnings: ['self-signed certificate: chat apps will warn users until they accept it'],
  };
}

async function letsEncrypt(state: SetupState, hooks: CertHooks): Promise<{ outcome: CertOutcome; warnings: string[] }> {
  const a = state.answers;
  const o = state.options;
  if (!a.cert.email.includes('@')) throw new CertError("Let's Encrypt needs an e-mail address for expiry notices (like admin@example.org)");
  const { names, warnings } = letsEncryptNames(state);
  let caBundle: string | undefined;
  if (a.cert.caBundle) caBundle = await readPem(a.cert.caBundle, 'CA bundle');
  await mkdir(a.dataDir, { recursive: true, mode: 0o750 });
  // The daemon holds port 80 on a configured box: answer through its listener via shared files.
  const portHeldByRoost =
    a.cert.challenge === 'http-01' && (() => {
      const owners = findPortOwners(a.cert.httpPort).processes;
      return owners.length > 0 && owners.every(defaultIsRoost);
    })();
  const resolver: ResolverOptions = { timeoutMs: Math.min(o.dnsTimeoutMs, 2000), ...o.resolver };
  const result = await obtainCertificate({
    ...(a.cert.directoryUrl ? { directoryUrl: a.cert.directoryUrl } : {}),
    ...(caBundle ? { caBundle } : {}),
    email: a.cert.email,
    names,
    challenge: a.cert.challenge,
    httpPort: a.cert.httpPort,
    ...(portHeldByRoost ? { challengeStore: createChallengeStore({ dir: join(a.dataDir, 'acme', 'challenges') }) } : {}),
    staging: a.cert.staging,
    accountKeyPath: acmeAccountKeyPath(a),
    outDir: certDir(a),
    dnsResolver: resolver,
    dnsWaitMs: o.dnsWaitMs,
    dnsTxt: {
      show: async (record) => {
        await hooks.showTxt?.(record);
      },
      check: async (record) => {
        if (hooks.cancelled?.()) throw new AcmeError('cancelled while waiting for the DNS record', 'dns-wait');
        const r = await lookup(record.name, 'TXT', resolver);
        return r.answers.some((x) => x.value === record.value);
      },
      remove: async (record) => {
        await hooks.removeTxt?.(record);
      },
    },
    ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
  });
  if (a.cert.staging) warnings.push("staging certificate: it is NOT trusted by chat apps; run setup again without staging for the real one");
  return { outcome: { mode: 'letsencrypt', certPath: result.certPath, keyPath: result.keyPath, names: result.names, notAfter: result.notAfter }, warnings };
}

/**
 * Gets the certificate the answers ask for. Throws CertError/AcmeError with plain words; on
 * failure the previous certificate files are untouched (unless falling back to self-signed).
 */
export async function certStep(state: SetupState, hooks: CertHooks = {}): Promise<{ outcome: CertOutcome; warnings: string[] }> {
  const a = state.answers;
  switch (a.cert.mode) {
    case 'self-signed':
      return selfSigned(state);
    case 'files':
    case 'keep': {
      if (!a.cert.certFile || !a.cert.keyFile) throw new CertError('give both the certificate file and the key file');
      const r = await checkCertFiles(a.cert.certFile, a.cert.keyFile, state);
      return { outcome: { ...r.outcome, mode: a.cert.mode }, warnings: r.warnings };
    }
    case 'letsencrypt':
    default:
      try {
        return await letsEncrypt(state, hooks);
      } catch (e) {
        if (!state.options.selfSignedFallback || hooks.cancelled?.()) throw e;
        const r = await selfSigned(state);
        return { outcome: r.outcome, warnings: [`Let's Encrypt failed (${(e as Error).message}); using a self-signed certificate instead`, ...r.warnings] };
      }
  }
}
