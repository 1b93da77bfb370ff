// Building blocks of the schema: value kinds that appear in several sections, each turning what
// the admin wrote into the value the server uses, or into a problem worded for the admin.
import { isIP } from 'node:net';
import { z } from 'zod';
import { prepareLocalpart } from '../core/jid.js';
import { checkDomain, checkLabel } from './domain.js';
import { isUnitProblem, parseDuration, parseSize } from './units.js';

/** How a YAML value reads in a message: `got the text "abc"`. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `the text "${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (ArrayBuffer.isView(v)) return 'binary data';
  if (typeof v === 'object') return 'a section (key: value lines)';
  return typeof v;
}

/**
 * A problem found by a transform or check: message and optional hint, both for the admin.
 * Fatal, as zod's own type errors are, so that checks of the enclosing section never see a
 * half-valid value (they would report nonsense about it).
 */
export function problem(ctx: z.RefinementCtx, message: string, hint?: string, path?: (string | number)[]): typeof z.NEVER {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message, fatal: true, params: hint === undefined ? {} : { hint }, ...(path ? { path } : {}) });
  return z.NEVER;
}

/** Anything, typed as `T` for the answers the installer writes; the transform checks it. */
const raw = <T>() => z.custom<T>(() => true);

export const port = () => z.number().int().min(1).max(65535);

export const count = () => z.number().int().min(0);

/** Bytes: a number or "100MB", "1GiB"... */
export const size = (opts: { min?: number; minHint?: string } = {}) =>
  raw<number | string>().transform((v, ctx) => {
    if (typeof v !== 'number' && typeof v !== 'string')
      return problem(ctx, `expected a size, got ${describeValue(v)}`, 'write a number of bytes or e.g. 100MB, 1GiB');
    const r = parseSize(v);
    if (isUnitProblem(r)) return problem(ctx, r.message, r.hint);
    if (opts.min !== undefined && r < opts.min) return problem(ctx, `must be at least ${opts.min} bytes`, opts.minHint);
    return r;
  });

/** A duration: a number (seconds, or milliseconds with bare 'ms') or "30d", "12h", "1h30m". */
export const duration = (bare: 's' | 'ms' = 's') =>
  raw<number | string>().transform((v, ctx) => {
    if (typeof v !== 'number' && typeof v !== 'string')
      return problem(ctx, `expected a duration, got ${describeValue(v)}`, bare === 'ms' ? 'write milliseconds or e.g. 10s' : 'write seconds or e.g. 30s, 12h, 30d');
    const r = parseDuration(v, bare);
    return isUnitProblem(r) ? problem(ctx, r.message, r.hint) : r;
  });

/** A served or remote domain name, normalised (Unicode, lower case). */
export const domainName = () =>
  z.string().transform((v, ctx) => {
    const r = checkDomain(v);
    return r.ok ? r.name : problem(ctx, r.message, r.hint);
  });

/** One DNS label for a service subdomain ("conference" → conference.example.org). */
export const subdomainLabel = () =>
  z.string().transform((v, ctx) => {
    const r = checkLabel(v);
    return r.ok ? r.name : problem(ctx, r.message, r.hint);
  });

/** An account address without resource, normalised: alice@example.org. */
export const bareJid = () =>
  z.string().transform((v, ctx) => {
    const s = v.trim();
    const hint = 'write a full chat address such as alice@example.org';
    if (s.includes('/')) return problem(ctx, `"${v}" has a resource (the part after /)`, `write only "${s.slice(0, s.indexOf('/'))}"`);
    const at = s.lastIndexOf('@');
    if (at < 0) return problem(ctx, `"${v}" is not a chat address (it has no @)`, hint);
    const local = s.slice(0, at);
    if (local === '' || /[\s"&'/:<>@]/u.test(local)) return problem(ctx, `"${v}" is not a valid chat address: the part before @ is empty or has characters addresses cannot hold`, hint);
    const d = checkDomain(s.slice(at + 1));
    if (!d.ok) return problem(ctx, `"${v}" is not a valid chat address: ${d.message}`, d.hint ?? hint);
    // Prepared as the router prepares senders (PRECIS), so isAdmin() compares like with like.
    try {
      return `${prepareLocalpart(local)}@${d.name}`;
    } catch (e) {
      return problem(ctx, `"${v}" is not a valid chat address: ${(e as Error).message}`, hint);
    }
  });

/** An IP address to listen on. */
export const listenAddress = () =>
  z.string().refine((v) => isIP(v) !== 0, {
    message: 'must be an IP address',
    params: { hint: 'use :: for every address (IPv6 and IPv4), 0.0.0.0 for every IPv4 address, 127.0.0.1 for this machine only' },
  });

/** A string the admin may leave empty ("" or nothing): undefined then. */
export const optionalText = () =>
  z
    .string()
    .nullable()
    .optional()
    .transform((v) => (v === null || v === undefined || v.trim() === '' ? undefined : v));

/** A file path the admin may leave empty. */
export const optionalPath = optionalText;

/** An URL with one of the given schemes (with the colon: 'ldap:'). */
export const urlWithScheme = (schemes: string[], example: string, opts: { hostOptional?: (u: URL) => boolean } = {}) =>
  z.string().superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      problem(ctx, `"${v}" is not an address of the form ${schemes.map((s) => s + '//').join(' or ')}…`, `for example ${example}`);
      return;
    }
    if (!schemes.includes(u.protocol))
      problem(ctx, `"${v}" must start with ${schemes.map((s) => s + '//').join(' or ')}`, `for example ${example}`);
    else if (u.hostname === '' && !opts.hostOptional?.(u)) problem(ctx, `"${v}" names no server`, `for example ${example}`);
  });

/** `enabled` plus settings that only matter when it is true. */
export const enabled = (def: boolean) => z.boolean().default(def);
