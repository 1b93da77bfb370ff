// Certificates from an ACME CA (Let's Encrypt, or pebble in tests) with acme-client.
// Spec: RFC 8555 (ACME), https://www.rfc-editor.org/rfc/rfc8555 — HTTP-01 section 8.3, DNS-01 section 8.4.
import { X509Certificate } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { Agent, get as httpsGet } from 'node:https';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import acme from 'acme-client';
import { lookup } from '../dns/check.js';
import { writeFileAtomic } from '../system/files.js';
import type { AcmeProgress, ChallengeStore, DnsTxtRecord, ObtainOptions, ObtainResult } from '../types.js';
import { createChallengeStore, startChallengeResponder } from './challenge-store.js';

export const LETSENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETSENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export class AcmeError extends Error {
  constructor(
    message: string,
    readonly step: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AcmeError';
  }
}

/** Paths of the files obtainCertificate writes into outDir. */
export function certificatePaths(outDir: string): { certPath: string; keyPath: string; statusPath: string } {
  return { certPath: join(outDir, 'cert.pem'), keyPath: join(outDir, 'key.pem'), statusPath: join(outDir, 'acme-status.json') };
}

async function loadOrCreateAccountKey(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, key, { mode: 0o600, backup: false });
  return key;
}

function describeNetworkError(e: unknown, url: string): string | undefined {
  const err = e as { code?: string; message?: string; response?: unknown };
  if (err.response) return undefined;
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  switch (err.code) {
    case 'ECONNREFUSED':
      return `could not reach the certificate authority at ${host}: the connection was refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `could not reach the certificate authority: the name ${host} does not resolve (is DNS working on this machine?)`;
    case 'ETIMEDOUT':
    case 'ECONNABORTED':
      return `could not reach the certificate authority at ${host}: no answer (is this machine connected to the Internet?)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `could not reach the certificate authority at ${host}: no route to it (is this machine connected to the Internet?)`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `could not talk securely to the certificate authority at ${host} (${err.code}): check the CA bundle setting and the system clock`;
    default:
      return err.code ? `could not reach the certificate authority at ${host} (${err.code}: ${err.message ?? ''})` : undefined;
  }
}

function describeAcmeFailure(e: unknown, challenge: string): string {
  const msg = (e as Error).message ?? String(e);
  if (challenge === 'http-01')
    return (
      `the certificate authority could not verify that this machine serves the names (HTTP-01): ${msg}. ` +
      'Check that each name points to this machine and that port 80 is open to the Internet, or use the DNS-01 challenge.'
    );
  return (
    `the certificate authority could not verify the DNS TXT records (DNS-01): ${msg}. ` +
    'Check the _acme-challenge records at your DNS provider and try again.'
  );
}

/**
 * Fetches the ACME directory once, quickly: acme-client retries network errors for over a minute
 * (5 attempts, growing delays), which is right for a flaky CA but wrong for "no Internet".
 */
async function probeDirectory(url: string, ca: string | Buffer | undefined, timeoutMs = 15_000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new AcmeError(`the ACME directory URL "${url}" is not a valid URL`, 'account'));
      return;
    }
    const req = (u.protocol === 'http:' ? httpGet : httpsGet)(
      u,
      { timeout: timeoutMs, ...(ca ? { agent: new Agent({ ca, keepAlive: false }) } : {}) },
      (res) => {
        res.resume();
        if ((res.statusCode ?? 0) >= 400)
          reject(new AcmeError(`the certificate authority at ${u.host} answered HTTP ${res.statusCode} for its directory ${url}: check the ACME directory URL`, 'account'));
        else resolve();
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(new AcmeError(describeNetworkError(e, url) ?? `could not reach the certificate authority: ${e.message}`, 'account', { cause: e })));
  });
}

async function waitForTxt(record: DnsTxtRecord, opts: ObtainOptions, progress: (p: AcmeProgress) => void): Promise<void> {
  const deadline = Date.now() + (opts.dnsWaitMs ?? 120_000);
  progress({ step: 'dns-wait', message: `waiting until the TXT record ${record.name} is visible in DNS`, name: record.name });
  for (;;) {
    let visible: boolean;
    if (opts.dnsTxt?.check) visible = await opts.dnsTxt.check(record);
    else {
      const r = await lookup(record.name, 'TXT', { timeoutMs: 2000, ...opts.dnsResolver });
      visible = r.answers.some((a) => a.value === record.value);
    }
    if (visible) return;
    if (Date.now() > deadline)
      throw new AcmeError(
        `the TXT record ${record.name} with value ${record.value} is not visible in DNS yet; add it at your DNS provider, wait a few minutes, and try again`,
        'dns-wait',
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Obtains one certificate for all `names`. The new key and certificate replace `outDir/key.pem`
 * and `outDir/cert.pem` only after the CA issued it: on any failure the old files stay untouched.
 */
export async function obtainCertificate(opts: ObtainOptions): Promise<ObtainResult> {
  const progress = (p: AcmeProgress): void => opts.onProgress?.(p);
  const names = [...new Set(opts.names.map((n) => n.toLowerCase()))];
  if (names.length === 0) throw new AcmeError('no names to put in the certificate', 'order');
  const directoryUrl = opts.directoryUrl ?? (opts.staging ? LETSENCRYPT_STAGING : LETSENCRYPT_PRODUCTION);
  const { certPath, keyPath } = certificatePaths(opts.outDir);

  // acme-client talks through its own axios instance; a CA bundle is only needed for test CAs.
  const previousAgent: unknown = acme.axios.defaults.httpsAgent;
  if (opts.caBundle) acme.axios.defaults.httpsAgent = new Agent({ ca: opts.caBundle, keepAlive: false });

  let responder: { close(): Promise<void> } | undefined;
  const store: ChallengeStore = opts.challengeStore ?? createChallengeStore();
  const shownTxt: DnsTxtRecord[] = [];
  try {
    if (opts.challenge === 'http-01' && !opts.challengeStore)
      responder = await startChallengeResponder(store, { port: opts.httpPort ?? 80, ...(opts.httpAddress ? { address: opts.httpAddress } : {}) }).catch(
        (e: Error) => {
          throw new AcmeError(e.message, 'challenge', { cause: e });
        },
      );
    progress({ step: 'account', message: `contacting ${directoryUrl}` });
    await probeDirectory(directoryUrl, opts.caBundle);
    const accountKey = await loadOrCreateAccountKey(opts.accountKeyPath);
    const client = new acme.Client({ directoryUrl, accountKey, backoffMin: 100, backoffMax: 2000, backoffAttempts: 30 });
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0] as string, altNames: names }, key);
    progress({ step: 'order', message: `asking for a certificate for ${names.join(', ')}` });
    let certPem: string;
    try {
      certPem = await client.auto({
        csr,
        email: opts.email,
        termsOfServiceAgreed: true,
        challengePriority: [opts.challenge],
        skipChallengeVerification: !opts.verifyChallengesLocally,
        challengeCreateFn: async (authz, chall, keyAuthorization) => {
          const name = authz.identifier.value;
          if (chall.type === 'http-01') {
            progress({ step: 'challenge', message: `serving the HTTP-01 answer for ${name}`, name });
            store.set((chall as { token: string }).token, keyAuthorization);
          } else if (chall.type === 'dns-01') {
            if (!opts.dnsTxt) throw new AcmeError('DNS-01 needs a way to show the TXT record (dnsTxt)', 'challenge');
            const rname = `_acme-challenge.${name.replace(/^\*\./, '')}`;
            const record: DnsTxtRecord = {
              name: rname,
              type: 'TXT',
              value: keyAuthorization,
              zoneLine: `${rname}. 60 IN TXT "${keyAuthorization}"`,
            };
            shownTxt.push(record);
            progress({ step: 'challenge', message: `add the DNS record: ${record.zoneLine}`, name });
            await opts.dnsTxt.show(record, keyAuthorization);
            await waitForTxt(record, opts, progress);
          }
          progress({ step: 'validate', message: `asking the certificate authority to check ${name}`, name });
        },
        challengeRemoveFn: async (_authz, chall) => {
          if (chall.type === 'http-01') store.delete((chall as { token: string }).token);
        },
      });
    } catch (e) {
      if (e instanceof AcmeError) throw e;
      const net = describeNetworkError(e, directoryUrl);
      if (net) throw new AcmeError(net, 'account', { cause: e });
      throw new AcmeError(describeAcmeFailure(e, opts.challenge), 'validate', { cause: e });
    }
    progress({ step: 'finalize', message: 'certificate issued' });
    const x509 = new X509Certificate(certPem);
    await mkdir(opts.outDir, { recursive: true, mode: 0o750 });
    progress({ step: 'write', message: `writing ${certPath}` });
    // Each file is replaced atomically and its previous version kept as .bak, so even a crash
    // between the two renames leaves a pair that can be restored.
    await writeFileAtomic(keyPath, key, { mode: 0o600 });
    await writeFileAtomic(certPath, certPem, { mode: 0o644 });
    progress({ step: 'done', message: `certificate valid until ${x509.validTo}` });
    return { certPath, keyPath, names, notAfter: new Date(x509.validTo), certPem };
  } catch (e) {
    if (e instanceof AcmeError) throw e;
    const net = describeNetworkError(e, directoryUrl);
    throw new AcmeError(net ?? `getting the certificate failed: ${(e as Error).message}`, 'order', { cause: e });
  } finally {
    if (opts.caBundle) acme.axios.defaults.httpsAgent = previousAgent as Agent;
    await responder?.close();
    for (const r of shownTxt) await Promise.resolve(opts.dnsTxt?.remove?.(r)).catch(() => {});
  }
}
