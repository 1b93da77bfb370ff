// Step 1: is this machine ready? OS, architecture, memory, disk, the ports Roost will use, clock.
import { runPreflight } from '../../../appliance/src/preflight.js';
import type { CheckResult } from '../../../appliance/src/types.js';
import { type Answers, deepMerge, isPlainObject } from '../answers.js';

const LISTENER_DEFAULTS: Array<[string, number, string]> = [
  ['c2s', 5222, 'chat apps'],
  ['c2sDirectTls', 5223, 'chat apps over direct TLS'],
  ['s2s', 5269, 'other chat servers (federation)'],
  ['http', 5280, 'HTTP (web clients, file sharing)'],
  ['https', 5281, 'HTTPS (web clients, file sharing)'],
];

const obj = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});

/** The TCP ports the configured server will listen on (plus the HTTP-01 responder's), with what each is for. */
export function plannedPorts(a: Answers, existing?: Record<string, unknown>): Map<number, string> {
  const doc = deepMerge<Record<string, unknown>>(existing ?? {}, a.overrides);
  const listeners = obj(doc.listeners);
  const ports = new Map<number, string>();
  if (a.cert.mode === 'letsencrypt' && a.cert.challenge === 'http-01') ports.set(a.cert.httpPort, "Let's Encrypt's certificate check, HTTP-01");
  for (const [name, def, use] of LISTENER_DEFAULTS) {
    const l = obj(listeners[name]);
    // The server-to-server port opens only with federation.
    if (l.enabled === false || (name === 's2s' && !a.federation.enabled && l.enabled !== true)) continue;
    ports.set(typeof l.port === 'number' ? l.port : def, use);
  }
  const proxy = obj(obj(doc.modules).proxy65);
  if (proxy.enabled !== false) ports.set(typeof proxy.port === 'number' ? proxy.port : 5000, 'file transfer proxy');
  return ports;
}

export async function preflightStep(a: Answers, existing?: Record<string, unknown>): Promise<CheckResult[]> {
  const ports = plannedPorts(a, existing);
  return runPreflight({ ports: [...ports.keys()], portUses: Object.fromEntries(ports), dataDir: a.dataDir });
}

/** Red results block an unattended run (unless --force); warnings are remembered. */
export function preflightProblems(results: CheckResult[]): { red: CheckResult[]; warn: CheckResult[] } {
  return { red: results.filter((r) => r.ok === false), warn: results.filter((r) => r.ok === 'warn') };
}
