// Everything `roost setup` asks, in one plain object: the screens edit it, flags and answers
// files fill it, config-output.ts turns it into roost.yaml. Sizes are bytes, durations days.
import { DEFAULT_PUSH_GATEWAYS } from '../../server/src/config/presets.js';

export type CertMode = 'letsencrypt' | 'self-signed' | 'keep' | 'files';
export type AccountsMode = 'local' | 'ldap';
export type RegistrationMode = 'closed' | 'invite' | 'open';

export interface LdapAnswers {
  url: string;
  startTls: boolean;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  userFilter: string;
  adminGroup: string;
  caFile: string;
}

export interface Answers {
  /** The XMPP domain (ASCII/punycode, lower case). */
  domain: string;
  /** The machine chat apps connect to (SRV target); '' = same as the domain. */
  host: string;
  /** Public addresses the A/AAAA records must point to; empty = any public address is accepted. */
  publicIpv4: string[];
  publicIpv6: string[];
  cert: {
    mode: CertMode;
    email: string;
    challenge: 'http-01' | 'dns-01';
    staging: boolean;
    /** ACME directory URL; '' = Let's Encrypt (production or staging). */
    directoryUrl: string;
    /** PEM file trusted for the ACME server's own TLS ('' = system CAs). */
    caBundle: string;
    /** Port of the built-in HTTP-01 responder (80 in production). */
    httpPort: number;
    /** mode 'files' (and 'keep'): the certificate and key to use. */
    certFile: string;
    keyFile: string;
  };
  accounts: AccountsMode;
  /** First administrator (local accounts): user name (part before @) and password. */
  admin: { username: string; password: string };
  ldap: LdapAnswers;
  registration: RegistrationMode;
  upload: { maxFileSize: number; dailyQuota: number; retentionDays: number };
  archive: { retentionDays: number };
  federation: { enabled: boolean; pushGateways: string[] };
  turn: { enabled: boolean; host: string; port: number; secret: string; ttl: number };
  configPath: string;
  dataDir: string;
  service: {
    /** 'auto': use systemd when it runs; false: never (print how to start the daemon). */
    systemd: 'auto' | boolean;
    /** Start (or restart) the daemon at the end. */
    start: boolean;
    /** Without systemd, start the daemon in the background ourselves (pid file in the data dir). */
    spawnWithoutSystemd: boolean;
    /** System user the daemon runs as (created when root). */
    user: string;
  };
  /** Raw settings merged into the configuration last (`--set listeners.c2s.port=5222`). */
  overrides: Record<string, unknown>;
}

export const MB = 1024 * 1024;
export const GB = 1024 * MB;


export function defaultAnswers(): Answers {
  return {
    domain: '',
    host: '',
    publicIpv4: [],
    publicIpv6: [],
    cert: {
      mode: 'letsencrypt',
      email: '',
      challenge: 'http-01',
      staging: false,
      directoryUrl: '',
      caBundle: '',
      httpPort: 80,
      certFile: '',
      keyFile: '',
    },
    accounts: 'local',
    admin: { username: 'admin', password: '' },
    ldap: {
      url: '',
      startTls: false,
      bindDn: '',
      bindPassword: '',
      baseDn: '',
      userFilter: '',
      adminGroup: 'jabberadmins',
      caFile: '',
    },
    registration: 'invite',
    upload: { maxFileSize: 100 * MB, dailyQuota: 1 * GB, retentionDays: 30 },
    archive: { retentionDays: 365 },
    // The daemon's defaults: federation off (an office chat), phones' push services allowed.
    federation: { enabled: false, pushGateways: [...DEFAULT_PUSH_GATEWAYS] },
    turn: { enabled: false, host: '', port: 3478, secret: '', ttl: 86400 },
    configPath: '/etc/roost/roost.yaml',
    dataDir: '/var/lib/roost',
    service: { systemd: 'auto', start: true, spawnWithoutSystemd: false, user: 'roost' },
    overrides: {},
  };
}

/** The host chat apps connect to. */
export function hostOf(a: Answers): string {
  return a.host || a.domain;
}

/** Parses sizes such as "100MB", "1 GB", "512k", or a plain number of bytes. */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error(`"${input}" is not a size`);
    return Math.round(input);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(input);
  if (!m) throw new Error(`"${input}" is not a size: write it like 100MB or 1GB`);
  const unit = { '': 1, k: 1024, m: MB, g: GB, t: 1024 * GB }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

export function formatSize(bytes: number): string {
  for (const [u, n] of [['TB', 1024 * GB], ['GB', GB], ['MB', MB], ['KB', 1024]] as const)
    if (bytes >= n) {
      const v = bytes / n;
      return `${Number.isInteger(v) ? v : Number(v.toFixed(1))} ${u}`;
    }
  return `${bytes} bytes`;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, everything else (arrays too) replaces. */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (!isPlainObject(patch) || !isPlainObject(base)) return (patch === undefined ? base : patch) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k], v) : v;
  }
  return out as T;
}

/** Sets `a.b.c` in a nested object, creating objects on the way. */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.').filter(Boolean);
  if (keys.length === 0) throw new Error('empty setting name');
  let cur: Record<string, unknown> = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isPlainObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1] as string] = value;
}
