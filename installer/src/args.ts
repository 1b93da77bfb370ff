// Command-line flags of `roost setup`: every screen's answers can come from a flag or from an
// answers file (YAML or JSON, same shape as Answers), so the whole setup runs unattended.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseResolver } from '../../appliance/src/dns/check.js';
import type { ResolverOptions } from '../../appliance/src/types.js';
import YAML from 'yaml';
import { type Answers, deepMerge, isPlainObject, parseSize, setPath } from './answers.js';

export interface SetupOptions {
  nonInteractive: boolean;
  answersFile?: string;
  /** DNS server for the checks (tests: a local dns2 server). */
  resolver?: ResolverOptions;
  dnsTimeoutMs: number;
  /** DNS-01: command run to publish the TXT record (env ROOST_TXT_NAME, ROOST_TXT_VALUE, ROOST_TXT_ZONE_LINE). */
  dnsHook?: string;
  /** DNS-01: command run afterwards to remove it. */
  dnsCleanupHook?: string;
  /** DNS-01: how long to wait for the TXT record to show up in DNS. */
  dnsWaitMs: number;
  /** Carry on past red pre-flight checks and failed LDAP tests (non-interactive). */
  force: boolean;
  /** When the certificate authority fails, fall back to a self-signed certificate instead of stopping. */
  selfSignedFallback: boolean;
  /** The `roost` command used for `roost user add` (default: this package's bin/roost.js). */
  roostBin?: string;
  /** How long to wait for the daemon to answer after starting it. */
  readyTimeoutMs: number;
  /** How long the first invitation link stays valid. */
  inviteDays: number;
  help: boolean;
}

export type PartialAnswers = { [K in keyof Answers]?: Answers[K] extends unknown[] ? Answers[K] : Answers[K] extends object ? Partial<Answers[K]> : Answers[K] };

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage: roost setup [options]
  Sets up (or changes) this Roost chat server, step by step. Run as root.
  Without --non-interactive it opens the screens, prefilled from the current configuration
  and from the options below; with it, it applies the answers straight away.

  --answers FILE            answers in YAML or JSON (same names as the options, nested: cert.mode...)
  --non-interactive         no screens; fail on a missing answer
  --config FILE             configuration file (default /etc/roost/roost.yaml)
  --data-dir DIR            where messages, files and certificates live (default /var/lib/roost)
  --domain NAME             the part after @ in addresses (example.org)
  --host NAME               the machine chat apps connect to, if not the domain
  --public-ip ADDR          this machine's public address, expected in DNS (repeat for IPv6)
  --resolver IP[:PORT]      DNS server used for the checks (default: the system's)
  --dns-timeout MS          per DNS query (default 3000)
  --cert MODE               letsencrypt | self-signed | keep | files
  --email ADDR              for Let's Encrypt expiry notices
  --challenge TYPE          http-01 (port 80 open) | dns-01 (TXT records)
  --staging                 use Let's Encrypt's test service first
  --acme-directory URL      ACME server (default Let's Encrypt)
  --ca-bundle FILE          CA certificate(s) trusted for the ACME server
  --http-port N             port of the HTTP-01 responder (default 80)
  --cert-file FILE --key-file FILE   with --cert files
  --dns-hook CMD            DNS-01: command that publishes $ROOST_TXT_NAME = $ROOST_TXT_VALUE
  --dns-cleanup-hook CMD    DNS-01: command that removes it again
  --dns-wait SECONDS        DNS-01: how long to wait for the TXT record (default 120; 900 on the screens)
  --self-signed-fallback    use a self-signed certificate if the certificate authority fails
  --accounts local|ldap     where accounts live
  --admin USER              first administrator (local accounts; default admin)
  --admin-password PW       their password (or ROOST_ADMIN_PASSWORD in the environment)
  --ldap-url URL --ldap-starttls --ldap-bind-dn DN --ldap-bind-password PW --ldap-base-dn DN
  --ldap-user-filter F --ldap-admin-group NAME --ldap-ca-file FILE
  --registration MODE       closed | invite | open
  --upload-max-file SIZE    e.g. 100MB      --upload-daily-quota SIZE   e.g. 1GB
  --upload-retention DAYS   --archive-retention DAYS
  --federation / --no-federation      --push-gateway NAME (repeatable)
  --turn-host NAME --turn-port N --turn-secret S --turn-ttl SECONDS
  --no-systemd              do not install a systemd service
  --no-start                write everything but do not start the daemon
  --start-daemon            without systemd: start the daemon in the background
  --user NAME               system user the daemon runs as (default roost)
  --ready-timeout SECONDS   how long to wait for the started daemon to answer (default 60)
  --invite-days N           how long the first invitation link is valid (default 7)
  --set KEY=VALUE           any other configuration setting (e.g. listeners.c2s.port=5222)
  --force                   carry on past red checks
`;

type Setter = (a: Record<string, unknown>, v: string) => void;

const set = (path: string, conv: (v: string) => unknown = (v) => v): Setter => (a, v) => setPath(a, path, conv(v));
const flag = (path: string, value: unknown): Setter => (a) => setPath(a, path, value);
const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} wants a whole number (got "${v}")`);
  return n;
};
const port = (name: string) => (v: string): number => {
  const n = int(name)(v);
  if (n < 1 || n > 65535) throw new UsageError(`${name} wants a port number 1-65535 (got "${v}")`);
  return n;
};
const size = (name: string) => (v: string): number => {
  try {
    return parseSize(v);
  } catch (e) {
    throw new UsageError(`${name}: ${(e as Error).message}`);
  }
};
const oneOf = (name: string, values: string[]) => (v: string): string => {
  if (!values.includes(v)) throw new UsageError(`${name} must be one of ${values.join(', ')} (got "${v}")`);
  return v;
};
const push = (path: string): Setter => (a, v) => {
  const keys = path.split('.');
  let cur: Record<string, unknown> = a;
  for (const k of keys.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
  const last = keys[keys.length - 1] as string;
  const list = Array.isArray(cur[last]) ? (cur[last] as unknown[]) : [];
  cur[last] = [...list, v];
};

const VALUE_FLAGS: Record<string, Setter> = {
  '--config': set('configPath'),
  '--data-dir': set('dataDir'),
  '--domain': set('domain'),
  '--host': set('host'),
  '--public-ip': (a, v) => {
    const fam = isIP(v);
    if (fam === 0) throw new UsageError(`--public-ip wants an IP address (got "${v}")`);
    push(fam === 4 ? 'publicIpv4' : 'publicIpv6')(a, v);
  },
  '--cert': set('cert.mode', oneOf('--cert', ['letsencrypt', 'self-signed', 'keep', 'files'])),
  '--email': set('cert.email'),
  '--challenge': set('cert.challenge', oneOf('--challenge', ['http-01', 'dns-01'])),
  '--acme-directory': set('cert.directoryUrl'),
  '--ca-bundle': set('cert.caBundle'),
  '--http-port': set('cert.httpPort', port('--http-port')),
  '--cert-file': set('cert.certFile'),
  '--key-file': set('cert.keyFile'),
  '--accounts': set('accounts', oneOf('--accounts', ['local', 'ldap'])),
  '--admin': set('admin.username'),
  '--admin-password': set('admin.password'),
  '--ldap-url': set('ldap.url'),
  '--ldap-bind-dn': set('ldap.bindDn'),
  '--ldap-bind-password': set('ldap.bindPassword'),
  '--ldap-base-dn': set('ldap.baseDn'),
  '--ldap-user-filter': set('ldap.userFilter'),
  '--ldap-admin-group': set('ldap.adminGroup'),
  '--ldap-ca-file': set('ldap.caFile'),
  '--registration': set('registration', oneOf('--registration', ['closed', 'invite', 'open'])),
  '--upload-max-file': set('upload.maxFileSize', size('--upload-max-file')),
  '--upload-daily-quota': set('upload.dailyQuota', size('--upload-daily-quota')),
  '--upload-retention': set('upload.retentionDays', int('--upload-retention')),
  '--archive-retention': set('archive.retentionDays', int('--archive-retention')),
  '--push-gateway': push('federation.pushGateways'),
  '--turn-host': (a, v) => {
    setPath(a, 'turn.host', v);
    setPath(a, 'turn.enabled', v !== '');
  },
  '--turn-port': set('turn.port', port('--turn-port')),
  '--turn-secret': set('turn.secret'),
  '--turn-ttl': set('turn.ttl', int('--turn-ttl')),
  '--user': set('service.user'),
};

const BOOL_FLAGS: Record<string, Setter> = {
  '--staging': flag('cert.staging', true),
  '--ldap-starttls': flag('ldap.startTls', true),
  '--federation': flag('federation.enabled', true),
  '--no-federation': flag('federation.enabled', false),
  '--no-systemd': flag('service.systemd', false),
  '--systemd': flag('service.systemd', true),
  '--no-start': flag('service.start', false),
  '--start-daemon': flag('service.spawnWithoutSystemd', true),
};

function parseScalar(v: string): unknown {
  try {
    return YAML.parse(v) as unknown;
  } catch {
    return v;
  }
}

export function parseSetupArgs(argv: string[]): { answers: PartialAnswers; options: SetupOptions } {
  const answers: Record<string, unknown> = {};
  const options: SetupOptions = {
    nonInteractive: false,
    dnsTimeoutMs: 3000,
    dnsWaitMs: 120_000,
    force: false,
    selfSignedFallback: false,
    readyTimeoutMs: 60_000,
    inviteDays: 7,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    if (name === '--help' || name === '-h') options.help = true;
    else if (name === '--non-interactive' || name === '-y') options.nonInteractive = true;
    else if (name === '--force') options.force = true;
    else if (name === '--self-signed-fallback') options.selfSignedFallback = true;
    else if (name === '--answers') options.answersFile = value();
    else if (name === '--resolver') {
      try {
        options.resolver = parseResolver(value());
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    } else if (name === '--dns-timeout') options.dnsTimeoutMs = int('--dns-timeout')(value());
    else if (name === '--dns-hook') options.dnsHook = value();
    else if (name === '--dns-cleanup-hook') options.dnsCleanupHook = value();
    else if (name === '--dns-wait') options.dnsWaitMs = int('--dns-wait')(value()) * 1000;
    else if (name === '--ready-timeout') options.readyTimeoutMs = int('--ready-timeout')(value()) * 1000;
    else if (name === '--invite-days') {
      options.inviteDays = int('--invite-days')(value());
      if (options.inviteDays < 1) throw new UsageError('--invite-days wants at least 1');
    }
    else if (name === '--roost-bin') options.roostBin = value();
    else if (name === '--set') {
      const v = value();
      const at = v.indexOf('=');
      if (at <= 0) throw new UsageError(`--set wants KEY=VALUE, like listeners.c2s.port=5222 (got "${v}")`);
      setPath(answers, `overrides.${v.slice(0, at)}`, parseScalar(v.slice(at + 1)));
    } else if (VALUE_FLAGS[name]) VALUE_FLAGS[name](answers, value());
    else if (BOOL_FLAGS[name] && eq < 0) BOOL_FLAGS[name](answers, '');
    else throw new UsageError(`unknown option "${arg}" (see roost setup --help)`);
  }
  return { answers: answers as PartialAnswers, options };
}

const SIZE_KEYS = new Set(['upload.maxFileSize', 'upload.dailyQuota']);

/** Turns an answers file's content into partial answers (sizes may be written "100MB"). */
export function normalizeAnswersFile(doc: unknown, source: string): PartialAnswers {
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc)) throw new UsageError(`${source}: the answers file must be a mapping of names to values`);
  const walk = (o: Record<string, unknown>, prefix: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (SIZE_KEYS.has(key) && (typeof v === 'string' || typeof v === 'number')) {
        try {
          out[k] = parseSize(v);
        } catch (e) {
          throw new UsageError(`${source}: ${key}: ${(e as Error).message}`);
        }
      } else if (isPlainObject(v) && key !== 'overrides') out[k] = walk(v, key);
      else out[k] = v;
    }
    return out;
  };
  return walk(doc, '') as PartialAnswers;
}

export async function readAnswersFile(path: string): Promise<PartialAnswers> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the answers file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    // YAML 1.2 is a superset of JSON: one parser reads both.
    doc = YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    throw new UsageError(`the answers file ${path} is not valid YAML or JSON: ${(e as Error).message}`);
  }
  return normalizeAnswersFile(doc, path);
}

/** defaults < existing configuration < answers file < flags. */
export function layerAnswers(base: Answers, ...layers: PartialAnswers[]): Answers {
  return layers.reduce<Answers>((acc, l) => deepMerge(acc, l), base);
}
