// Renewal (the daemon calls renewIfDue on a timer; Let's Encrypt certificates last 90 days and
// are renewed 30 days before expiry) and the choice of names for the certificate.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SERVICE_SUBDOMAINS } from '../dns/records.js';
import { writeFileAtomic } from '../system/files.js';
import type { DnsReport, NameSelection, ObtainOptions, RenewalStatus, RenewResult } from '../types.js';
import { certificatePaths, obtainCertificate } from './obtain.js';

/** True when the certificate expires within `days` (or can't be parsed). */
export function needsRenewal(certPem: string, days = 30, now: Date = new Date()): boolean {
  try {
    const x = new X509Certificate(certPem);
    return new Date(x.validTo).getTime() - now.getTime() < days * 86_400_000;
  } catch {
    return true;
  }
}

/** DNS names in the certificate's subjectAltName (lower case). */
export function certificateNames(certPem: string): string[] {
  const x = new X509Certificate(certPem);
  return (x.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
}

/** Whether `name` is covered by one of `certNames` (exact, or a one-label wildcard). */
export function nameCovered(name: string, certNames: string[]): boolean {
  const n = name.toLowerCase();
  return certNames.some((c) => c === n || (c.startsWith('*.') && n.split('.').slice(1).join('.') === c.slice(2)));
}

export async function readRenewalStatus(outDir: string): Promise<RenewalStatus | undefined> {
  try {
    return JSON.parse(await readFile(certificatePaths(outDir).statusPath, 'utf8')) as RenewalStatus;
  } catch {
    return undefined;
  }
}

async function saveStatus(outDir: string, status: RenewalStatus): Promise<void> {
  await writeFileAtomic(certificatePaths(outDir).statusPath, `${JSON.stringify(status, null, 2)}\n`, { backup: false }).catch(() => {});
}

/**
 * Renews when the certificate in `outDir` expires within `days` (default 30), is missing, or
 * doesn't cover every name. Never throws for an ACME failure: the old certificate stays in
 * place, the failure is returned and recorded in acme-status.json for `roost check`.
 * After `renewed: true` the daemon must reload `result.certPath` / `result.keyPath`.
 */
export async function renewIfDue(opts: ObtainOptions & { days?: number; now?: Date }): Promise<RenewResult> {
  const { certPath } = certificatePaths(opts.outDir);
  let why: string | undefined;
  try {
    const pem = await readFile(certPath, 'utf8');
    const missing = opts.names.filter((n) => !nameCovered(n, certificateNames(pem)));
    if (missing.length > 0) why = `the certificate does not cover ${missing.join(', ')}`;
    else if (needsRenewal(pem, opts.days ?? 30, opts.now)) why = `the certificate expires on ${new X509Certificate(pem).validTo}`;
  } catch {
    why = 'there is no certificate yet';
  }
  if (!why) return { renewed: false, reason: 'the certificate is valid and covers every name' };
  try {
    const result = await obtainCertificate(opts);
    await saveStatus(opts.outDir, { time: new Date().toISOString(), ok: true, message: `renewed: ${why}`, notAfter: result.notAfter.toISOString() });
    return { renewed: true, reason: why, result };
  } catch (e) {
    const error = (e as Error).message;
    await saveStatus(opts.outDir, { time: new Date().toISOString(), ok: false, message: `renewal failed (${why}): ${error}` });
    return { renewed: false, reason: why, error };
  }
}

/**
 * Names for the certificate: the domain, plus each service subdomain whose address record checked
 * out (green or private-address warning). The others are left out with a warning, since a name
 * the CA cannot reach would make the whole order fail.
 */
export function selectCertificateNames(
  domain: string,
  report: DnsReport,
  subdomains: readonly string[] = SERVICE_SUBDOMAINS,
): NameSelection {
  const d = domain.toLowerCase();
  const names = [d];
  const warnings: string[] = [];
  const addressOk = (name: string): { ok: boolean; reason?: string } => {
    const checks = report.checks.filter((c) => c.record.name === name && (c.record.type === 'A' || c.record.type === 'AAAA'));
    if (checks.length === 0) return { ok: false, reason: 'it was not checked' };
    const good = checks.some((c) => c.status !== 'red' && c.found.length > 0);
    const bad = checks.find((c) => c.status === 'red');
    return good && !bad ? { ok: true } : { ok: false, reason: bad?.reason ?? 'it has no address record' };
  };
  const dom = addressOk(d);
  if (!dom.ok) warnings.push(`The domain ${d} itself has a DNS problem (${dom.reason}); getting a certificate will likely fail until it is fixed.`);
  for (const sub of subdomains) {
    const name = `${sub}.${d}`;
    const r = addressOk(name);
    if (r.ok) names.push(name);
    else warnings.push(`${name} is left out of the certificate because its DNS record is not right (${r.reason}). Fix DNS, then renew to add it.`);
  }
  return { names, warnings };
}

export interface RenewalTimer {
  /** Runs a check now (also what the timer calls); resolves with its result. */
  runNow(): Promise<RenewResult>;
  stop(): void;
}

/**
 * For the daemon: checks at start and then every `intervalMs` (default 12 h, with up to 10 %
 * jitter so a fleet does not hit the CA at once). `onRenewed` must reload the certificate into
 * the TLS contexts (new connections get it; open sessions keep theirs). Failures go to
 * `onError` and acme-status.json; the old certificate keeps being served.
 */
export function startRenewalTimer(
  opts: ObtainOptions & { days?: number },
  hooks: { onRenewed(r: RenewResult): void | Promise<void>; onError?(r: RenewResult): void; intervalMs?: number },
): RenewalTimer {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RenewResult> | undefined;
  let stopped = false;
  const interval = hooks.intervalMs ?? 12 * 3600_000;
  const runNow = (): Promise<RenewResult> => {
    running ??= (async () => {
      const r = await renewIfDue(opts);
      if (r.renewed) await hooks.onRenewed(r);
      else if (r.error) hooks.onError?.(r);
      return r;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void runNow().finally(schedule), interval + Math.floor(Math.random() * interval * 0.1));
    timer.unref();
  };
  void runNow().finally(schedule);
  return {
    runNow,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
