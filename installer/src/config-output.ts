// The one place where the installer's answers meet roost.yaml: answers -> configuration text
// (validated before anything is written) and an existing configuration -> answers (prefill).
// Everything the installer does not ask about (listeners, limits, log, modules...) is carried over
// from the existing file untouched.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { writeFileAtomic } from '../../appliance/src/system/files.js';
import { ConfigError, LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING, parseConfigText, parseDuration, parseSize, renderConfigYaml, type ConfigAnswers, type RoostConfig } from '../../server/src/config/index.js';
import { type Answers, deepMerge, isPlainObject } from './answers.js';
import type { PartialAnswers } from './args.js';

export class ConfigInvalidError extends Error {
  override name = 'ConfigInvalidError';
}

/** Where the installer keeps certificates: one directory per domain, so a new domain never overwrites the old one's. */
export function certDir(a: Pick<Answers, 'dataDir' | 'domain'>): string {
  return join(a.dataDir, 'certs', a.domain);
}
export function acmeAccountKeyPath(a: Pick<Answers, 'dataDir'>): string {
  return join(a.dataDir, 'acme', 'account.key');
}

/** The settings the installer owns, as a configuration fragment (file form of the daemon's schema). */
export function configPatch(a: Answers, tls: { certificate: string; key?: string }): Record<string, unknown> {
  const admins = a.accounts === 'local' && a.admin.username ? [`${a.admin.username}@${a.domain}`] : [];
  return {
    hosts: [a.domain],
    dataDir: a.dataDir,
    tls: { certificate: tls.certificate, key: tls.key ?? '' },
    // Federation needs the server-to-server port; without it the port stays closed.
    listeners: { s2s: { enabled: a.federation.enabled } },
    // With directory logins there is nothing to register: accounts come from the directory.
    registration: a.accounts === 'ldap' ? { enabled: false, mode: 'closed' } : { enabled: a.registration !== 'closed', mode: a.registration },
    admins,
    adminGroup: a.ldap.adminGroup || 'jabberadmins',
    ldap:
      a.accounts === 'ldap'
        ? {
            enabled: true,
            url: a.ldap.url,
            startTls: a.ldap.startTls,
            bindDn: a.ldap.bindDn,
            bindPassword: a.ldap.bindPassword,
            baseDn: a.ldap.baseDn,
            userFilter: a.ldap.userFilter || 'auto',
            adminGroup: a.ldap.adminGroup,
            caFile: a.ldap.caFile,
          }
        : { enabled: false },
    acme:
      a.cert.mode === 'letsencrypt'
        ? {
            enabled: true,
            directoryUrl: a.cert.directoryUrl || (a.cert.staging ? LETSENCRYPT_STAGING : LETSENCRYPT_PRODUCTION),
            email: a.cert.email,
            challenge: a.cert.challenge,
            httpPort: a.cert.httpPort,
            caBundle: a.cert.caBundle,
          }
        : { enabled: false },
    upload: { maxFileSize: a.upload.maxFileSize, dailyQuota: a.upload.dailyQuota, retentionDays: a.upload.retentionDays },
    archive: { retentionDays: a.archive.retentionDays },
    federation: { enabled: a.federation.enabled, pushGateways: [...a.federation.pushGateways] },
    turn: a.turn.enabled ? { enabled: true, host: a.turn.host, port: a.turn.port, secret: a.turn.secret, ttl: a.turn.ttl } : { enabled: false },
  };
}

export interface RenderedConfig {
  text: string;
  /** The validated configuration, as the daemon will load it. */
  config: RoostConfig;
}

function invalid(e: unknown, fallback: string): ConfigInvalidError {
  // Line numbers of a file that was never written would mean nothing to the admin: name the setting.
  if (e instanceof ConfigError) return new ConfigInvalidError(e.problems.map((p) => `${p.path || 'the file'}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`).join('; '));
  return new ConfigInvalidError(`${fallback}: ${(e as Error).message}`);
}

/**
 * existing file (raw) <- installer settings <- --set overrides, rendered as the daemon's commented
 * roost.yaml and validated by the daemon's own schema. Throws ConfigInvalidError with every
 * problem; nothing is written here.
 */
export function renderConfig(existing: Record<string, unknown> | undefined, a: Answers, tls: { certificate: string; key?: string }): RenderedConfig {
  const doc = deepMerge<Record<string, unknown>>(deepMerge<Record<string, unknown>>(existing ?? {}, configPatch(a, tls)), a.overrides);
  let text: string;
  try {
    text = renderConfigYaml(doc as ConfigAnswers);
  } catch (e) {
    throw invalid(e, 'the configuration cannot be written');
  }
  try {
    return { text, config: parseConfigText(text, a.configPath) };
  } catch (e) {
    throw invalid(e, a.configPath);
  }
}

/** The existing configuration as a plain object, or undefined when there is none. Throws on an unreadable file. */
export async function readExistingConfig(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigInvalidError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const doc: unknown = YAML.parse(text);
    if (doc === null || doc === undefined) return {};
    if (!isPlainObject(doc)) throw new Error('not a mapping');
    return doc;
  } catch (e) {
    throw new ConfigInvalidError(`the current configuration ${path} cannot be read (${(e as Error).message}); fix it or move it away first`);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
/** Sizes and durations may be written "100MB" / "1d" in the file. */
const bytes = (v: unknown): number | undefined => {
  if (typeof v !== 'number' && typeof v !== 'string') return undefined;
  const r = parseSize(v);
  return typeof r === 'number' ? r : undefined;
};
const seconds = (v: unknown): number | undefined => {
  if (typeof v !== 'number' && typeof v !== 'string') return undefined;
  const r = parseDuration(v);
  return typeof r === 'number' ? r : undefined;
};
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Current settings as answers, so a re-run opens the screens with them (read from the raw file, so a broken file can still be fixed). */
export function answersFromConfig(doc: Record<string, unknown>, configPath: string): PartialAnswers {
  const tls = obj(doc.tls);
  const acme = obj(doc.acme);
  const ldap = obj(doc.ldap);
  const reg = obj(doc.registration);
  const upload = obj(doc.upload);
  const fed = obj(doc.federation);
  const turn = obj(doc.turn);
  const domain = strs(doc.hosts)?.[0];
  const admin = strs(doc.admins)?.find((j) => domain !== undefined && j.endsWith(`@${domain}`));
  const certificate = str(tls.certificate);
  const key = str(tls.key);
  const mode = bool(acme.enabled) ? 'letsencrypt' : certificate && certificate !== 'auto' ? 'keep' : certificate === 'auto' ? 'self-signed' : undefined;
  const regMode = str(reg.mode) ?? (bool(reg.enabled) === false ? 'closed' : bool(reg.enabled) ? 'open' : undefined);
  const directoryUrl = str(acme.directoryUrl);
  const out: PartialAnswers = defined({
    configPath,
    domain,
    dataDir: str(doc.dataDir),
    accounts: bool(ldap.enabled) ? ('ldap' as const) : ('local' as const),
    registration: regMode === 'closed' || regMode === 'invite' || regMode === 'open' ? regMode : undefined,
  });
  out.cert = defined({
    mode,
    email: str(acme.email),
    challenge: acme.challenge === 'dns-01' || acme.challenge === 'http-01' ? acme.challenge : undefined,
    staging: directoryUrl === LETSENCRYPT_STAGING || directoryUrl === 'letsencrypt-staging' ? true : undefined,
    // The well-known services are chosen by the staging switch; only a custom server is kept as a URL.
    directoryUrl: directoryUrl && ![LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING, 'letsencrypt', 'letsencrypt-staging'].includes(directoryUrl) ? directoryUrl : undefined,
    caBundle: str(acme.caBundle),
    httpPort: int(acme.httpPort),
    certFile: certificate !== 'auto' ? certificate : undefined,
    keyFile: key || undefined,
  });
  if (admin) out.admin = { username: admin.slice(0, admin.indexOf('@')) };
  out.ldap = defined<Record<string, string | boolean | undefined>>({
    url: str(ldap.url),
    startTls: bool(ldap.startTls),
    bindDn: str(ldap.bindDn),
    bindPassword: str(ldap.bindPassword),
    baseDn: str(ldap.baseDn),
    userFilter: str(ldap.userFilter) === 'auto' ? '' : str(ldap.userFilter),
    adminGroup: str(ldap.adminGroup) || str(doc.adminGroup),
    caFile: str(ldap.caFile),
  });
  out.upload = defined({ maxFileSize: bytes(upload.maxFileSize), dailyQuota: bytes(upload.dailyQuota), retentionDays: int(upload.retentionDays) });
  out.archive = defined({ retentionDays: int(obj(doc.archive).retentionDays) });
  out.federation = defined({ enabled: bool(fed.enabled), pushGateways: strs(fed.pushGateways) });
  out.turn = defined({ enabled: bool(turn.enabled), host: str(turn.host), port: int(turn.port), secret: str(turn.secret), ttl: seconds(turn.ttl) });
  return out;
}

/**
 * What the installer remembers that roost.yaml has no place for (the SRV target host, the
 * public addresses DNS must point to), kept in <dataDir>/setup.json for the next run.
 */
export interface SetupMemory {
  host?: string;
  publicIpv4?: string[];
  publicIpv6?: string[];
  /** Names in the certificate (those whose DNS checked out), for the daemon's renewals. */
  certificateNames?: string[];
  /** The system user the daemon runs as (a re-run must not hand the data to another user). */
  serviceUser?: string;
}

export const SETUP_MEMORY_FILE = 'setup.json';

export async function readSetupMemory(dataDir: string): Promise<SetupMemory> {
  try {
    const m = JSON.parse(await readFile(join(dataDir, SETUP_MEMORY_FILE), 'utf8')) as unknown;
    return isPlainObject(m) ? (m as SetupMemory) : {};
  } catch {
    return {};
  }
}

export async function writeSetupMemory(dataDir: string, m: SetupMemory, owner: { uid: number; gid: number } | null): Promise<void> {
  await writeFileAtomic(join(dataDir, SETUP_MEMORY_FILE), `${JSON.stringify(m, null, 2)}\n`, { mode: 0o644, backup: false, ...(owner ?? {}) });
}

export function memoryAnswers(m: SetupMemory): PartialAnswers {
  const out: PartialAnswers = defined({
    host: typeof m.host === 'string' ? m.host : undefined,
    publicIpv4: strs(m.publicIpv4),
    publicIpv6: strs(m.publicIpv6),
  });
  if (typeof m.serviceUser === 'string' && m.serviceUser) out.service = { user: m.serviceUser };
  return out;
}
