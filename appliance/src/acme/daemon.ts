// What the daemon needs to renew the certificate `roost setup` obtained: one call from the loaded
// configuration to the options of renewIfDue / startRenewalTimer. Renewal is HTTP-01 only (a
// DNS-01 record changes every time and needs the admin: `roost setup` again).
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RoostConfig } from '../../../server/src/config/types.js';
import { servedNames, servedSubdomains } from '../check/run.js';
import type { ChallengeStore, ObtainOptions } from '../types.js';
import { nameCovered } from './renew.js';

export type RenewalPlan =
  | { ok: true; options: ObtainOptions & { days: number } }
  | { ok: false; reason: string };

/** Where `roost setup` keeps the HTTP-01 tokens it hands to a running daemon. */
export function challengeDir(dataDir: string): string {
  return join(dataDir, 'acme', 'challenges');
}

/**
 * Renewal options for the configuration, or why there is nothing to renew automatically. The
 * names are those `roost setup` put in the certificate (<dataDir>/setup.json: the ones whose DNS
 * checked out), else every served name. `challengeStore` is the one the daemon mounts on its
 * port-80 listener (createChallengeStore({ dir: challengeDir(dataDir) })).
 */
export async function renewalOptions(config: RoostConfig, challengeStore?: ChallengeStore): Promise<RenewalPlan> {
  const acme = config.acme;
  if (!acme.enabled) return { ok: false, reason: 'automatic certificates (acme) are off' };
  if (config.tls.certificate === 'auto') return { ok: false, reason: 'tls.certificate is auto (self-signed)' };
  if (acme.challenge !== 'http-01')
    return { ok: false, reason: 'DNS-01 certificates are renewed with `roost setup` (the TXT record changes every time)' };
  const certPath = config.tls.certificate;
  if (basename(certPath) !== 'cert.pem' || (config.tls.key && config.tls.key !== join(dirname(certPath), 'key.pem')))
    return { ok: false, reason: `automatic renewal writes cert.pem and key.pem in one folder; ${certPath} is elsewhere (run roost setup)` };
  const served = servedNames(config, servedSubdomains(config));
  let names = served;
  try {
    const memory = JSON.parse(await readFile(join(config.dataDir, 'setup.json'), 'utf8')) as { certificateNames?: unknown };
    const chosen = Array.isArray(memory.certificateNames) ? memory.certificateNames.filter((n): n is string => typeof n === 'string') : [];
    // Only names still served: a domain removed from hosts since setup is not renewed.
    const still = chosen.filter((n) => served.some((s) => nameCovered(s, [n])));
    if (still.length > 0) names = still;
  } catch {
    /* no setup.json: every served name */
  }
  let caBundle: string | undefined;
  if (acme.caBundle) {
    try {
      caBundle = await readFile(acme.caBundle, 'utf8');
    } catch (e) {
      return { ok: false, reason: `cannot read acme.caBundle ${acme.caBundle}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
  }
  return {
    ok: true,
    options: {
      directoryUrl: acme.directoryUrl,
      ...(caBundle ? { caBundle } : {}),
      email: acme.email ?? '',
      names,
      challenge: 'http-01',
      httpPort: acme.httpPort,
      ...(challengeStore ? { challengeStore } : {}),
      accountKeyPath: join(config.dataDir, 'acme', 'account.key'),
      outDir: dirname(certPath),
      days: acme.renewDaysBefore,
    },
  };
}
