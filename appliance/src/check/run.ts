// The checks behind `roost check`: configuration, DNS, certificates, listeners.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { ListenerConfig, RoostConfig } from '../../../server/src/config/types.js';
import { certificateNames, nameCovered, readRenewalStatus } from '../acme/renew.js';
import { selfSignedWarning } from '../acme/self-signed.js';
import { checkDns } from '../dns/check.js';
import { subdomainsFromConfig } from '../dns/records.js';
import { waitForReady } from '../system/ready.js';
import type { CheckResult, ResolverOptions } from '../types.js';

export type CheckSection = 'config' | 'dns' | 'certs' | 'ports';
export const CHECK_SECTIONS: readonly CheckSection[] = ['config', 'dns', 'certs', 'ports'];

export interface SectionResult extends CheckResult {
  section: CheckSection;
}

export interface CheckReport {
  results: SectionResult[];
  /** No result with ok === false. */
  ok: boolean;
}

export interface RunChecksOptions {
  sections?: CheckSection[];
  /** roost.yaml; default /etc/roost/roost.yaml. */
  configPath: string;
  resolver?: ResolverOptions;
  /** Address to connect to for listener checks (default: the listener's address, or 127.0.0.1 for a wildcard). */
  connectHost?: string;
  /** Service subdomains served (default: those whose module is not disabled). */
  subdomains?: string[];
  /** An already validated configuration (the installer's, before it is written): skips loading configPath. */
  config?: RoostConfig;
}

type Loader = { loadConfig(path: string): RoostConfig | Promise<RoostConfig> };

/** The daemon's own loader (schema, defaults, errors with file:line); resolved at run time. */
async function loadWithDaemonSchema(path: string): Promise<RoostConfig> {
  // A variable specifier keeps this layer buildable on its own; the path is the same under src/ and dist/.
  const spec = '../../../server/src/config/load.js';
  let mod: Loader;
  try {
    mod = (await import(spec)) as Loader;
  } catch (e) {
    throw new Error(`cannot load the configuration validator of this installation: ${(e as Error).message}`);
  }
  return await mod.loadConfig(path);
}

export function servedSubdomains(config: RoostConfig, override?: string[]): string[] {
  if (override) return override;
  return subdomainsFromConfig(config).map((s) => s.label);
}

/** Every name the server answers for: each host and its service subdomains. */
export function servedNames(config: RoostConfig, subdomains: string[]): string[] {
  return config.hosts.flatMap((h) => [h, ...subdomains.map((s) => `${s}.${h}`)]);
}

async function checkCerts(config: RoostConfig, names: string[]): Promise<SectionResult[]> {
  const out: SectionResult[] = [];
  const r = (id: string, ok: CheckResult['ok'], message: string, fix?: string): void =>
    void out.push({ section: 'certs', id, ok, message, ...(fix ? { fix } : {}) });
  if (config.tls.certificate === 'auto') {
    r('certs:source', 'warn', `self-signed certificate (tls.certificate: auto). ${selfSignedWarning(config.hosts[0] ?? 'your domain')}`,
      "Run `roost setup` and choose Let's Encrypt to get a trusted certificate.");
    return out;
  }
  const certPath = config.tls.certificate;
  let pem: string;
  try {
    pem = await readFile(certPath, 'utf8');
  } catch (e) {
    r('certs:file', false, `cannot read the certificate ${certPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'Run `roost setup` to get a certificate.');
    return out;
  }
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    r('certs:file', false, `${certPath} is not a PEM certificate`, 'Run `roost setup` to get a certificate.');
    return out;
  }
  const days = Math.floor((new Date(x.validTo).getTime() - Date.now()) / 86_400_000);
  if (days < 0) r('certs:expiry', false, `the certificate expired on ${x.validTo}`, 'Renew it: roost setup (certificates step), then systemctl reload roost.');
  else if (days < 14) r('certs:expiry', false, `the certificate expires in ${days} days (${x.validTo}) and was not renewed`, 'Check the renewal error below and the daemon log.');
  else if (days < 30) r('certs:expiry', 'warn', `the certificate expires in ${days} days (${x.validTo}); renewal should have happened`, 'Check the daemon log for renewal errors.');
  else r('certs:expiry', true, `the certificate is valid until ${x.validTo} (${days} days)`);

  const sans = certificateNames(pem);
  const missing = names.filter((n) => !nameCovered(n, sans));
  if (missing.length > 0)
    r('certs:names', false, `the certificate does not cover ${missing.join(', ')} (it has ${sans.join(', ') || 'no names'})`,
      'Fix DNS for those names, then get a new certificate with `roost setup`.');
  else r('certs:names', true, `the certificate covers every served name (${names.join(', ')})`);

  if (x.issuer === x.subject) r('certs:trust', 'warn', `the certificate is self-signed. ${selfSignedWarning(config.hosts[0] ?? '')}`);
  if (config.tls.key) {
    try {
      const key = createPrivateKey(await readFile(config.tls.key));
      if (!x.checkPrivateKey(key)) r('certs:key', false, `the key ${config.tls.key} does not belong to the certificate`, 'Get a new certificate with `roost setup`.');
    } catch (e) {
      r('certs:key', false, `cannot read the key ${config.tls.key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const status = await readRenewalStatus(dirname(certPath));
  if (status && !status.ok) r('certs:renewal', false, `the last automatic renewal (${status.time}) failed: ${status.message}`, 'Fix the cause; the daemon retries every day.');
  return out;
}

async function checkListener(name: string, l: ListenerConfig, host: string | undefined, domain: string): Promise<SectionResult> {
  const id = `ports:${name}`;
  const target = host ?? (['0.0.0.0', '::', ''].includes(l.address) ? '127.0.0.1' : l.address);
  if (name === 'c2s') {
    const ready = await waitForReady({ host: target, port: l.port, domain, timeoutMs: 3000 });
    return ready.ok
      ? { section: 'ports', id, ok: true, message: `chat apps: port ${l.port} answers (features: ${ready.features.join(', ')})` }
      : { section: 'ports', id, ok: false, message: `chat apps: nothing answers on port ${l.port} (${ready.error ?? ''})`, fix: 'Is the daemon running? systemctl status roost' };
  }
  const ok = await new Promise<boolean>((resolve) => {
    const s = connect({ host: target, port: l.port });
    const t = setTimeout(() => (s.destroy(), resolve(false)), 3000);
    s.on('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
    s.on('error', () => (clearTimeout(t), resolve(false)));
  });
  return ok
    ? { section: 'ports', id, ok: true, message: `${name}: port ${l.port} is listening` }
    : { section: 'ports', id, ok: false, message: `${name}: nothing listens on port ${l.port}`, fix: 'Is the daemon running? systemctl status roost' };
}

export async function runChecks(opts: RunChecksOptions): Promise<CheckReport> {
  const sections = new Set(opts.sections ?? CHECK_SECTIONS);
  const results: SectionResult[] = [];
  let config: RoostConfig | undefined = opts.config;
  try {
    config ??= await loadWithDaemonSchema(opts.configPath);
    if (sections.has('config')) results.push({ section: 'config', id: 'config', ok: true, message: `the configuration ${opts.configPath} is valid` });
  } catch (e) {
    // A ConfigError lists every problem, one per line (file:line:column: key: message).
    for (const message of (e as Error).message.split('\n'))
      results.push({ section: 'config', id: 'config', ok: false, message, fix: `Fix ${opts.configPath}, or run \`roost setup\` to rewrite it.` });
  }
  if (!config) return { results, ok: false };
  const subs = servedSubdomains(config, opts.subdomains);

  if (sections.has('dns')) {
    const l = config.listeners;
    for (const host of config.hosts) {
      const report = await checkDns(
        {
          domain: host,
          subdomains: subs,
          ports: { c2s: l.c2s.enabled && l.c2s.port, c2sDirectTls: l.c2sDirectTls.enabled && l.c2sDirectTls.port, s2s: l.s2s.enabled && l.s2s.port },
        },
        opts.resolver ?? {},
      );
      for (const c of report.checks)
        results.push({
          section: 'dns',
          id: `dns:${c.record.type}:${c.record.name}`,
          ok: c.status === 'green' ? true : c.status === 'warn' ? 'warn' : false,
          message: `${c.record.type} ${c.record.name}: ${c.reason}`,
          ...(c.status !== 'green' ? { fix: `Needed for ${c.record.purpose}; see the zone snippet in \`roost setup\` (DNS step).` } : {}),
        });
    }
  }
  if (sections.has('certs')) results.push(...(await checkCerts(config, servedNames(config, subs))));
  if (sections.has('ports')) {
    for (const [name, l] of Object.entries(config.listeners) as Array<[string, ListenerConfig]>)
      if (l.enabled) results.push(await checkListener(name, l, opts.connectHost, config.hosts[0] ?? 'localhost'));
  }
  return { results, ok: results.every((r) => r.ok !== false) };
}
