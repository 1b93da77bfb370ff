// What a SIGHUP (systemctl reload roost) can apply. Settings read on every connection, login or
// timer tick apply at once; settings that decide which sockets, database or module instances
// exist need a restart, because changing them under open sessions would drop or confuse them.
import type { RoostConfig } from './types.js';

/** Key paths (prefixes) that only take effect after a restart. */
const RESTART: readonly string[] = [
  'hosts', // module instances and stores per host
  'dataDir',
  'storage',
  'listeners',
  'modules', // modules read their settings when they load
  'ldap.enabled', // switches where passwords are checked
  'muc.enabled',
  'muc.subdomain',
  'upload.enabled',
  'upload.subdomain',
  'archive.enabled',
  'federation.enabled',
];

function covers(prefix: string, path: string): boolean {
  return path === prefix || path.startsWith(prefix + '.');
}

/** Changed leaf paths between two values (lists compare as a whole). */
function diff(a: unknown, b: unknown, path: string, out: string[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diff(a[k], b[k], path === '' ? k : `${path}.${k}`, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(path);
}

/**
 * Which settings differ between the running and the reloaded configuration, and which of those
 * need a restart (the rest SIGHUP applies: tls, limits, log, registration, admins, ldap details,
 * acme, upload limits, archive retention, push gateways, turn).
 */
export function liveReloadable(old: RoostConfig, next: RoostConfig): { changed: string[]; needsRestart: string[] } {
  const { source: _a, ...o } = old;
  const { source: _b, ...n } = next;
  const changed: string[] = [];
  diff(o, n, '', changed);
  return { changed, needsRestart: changed.filter((p) => RESTART.some((r) => covers(r, p))) };
}
