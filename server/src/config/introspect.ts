// Reading the schema itself: which keys exist where (for "did you mean", the example file and the
// test that every key is documented), their explanations, and their defaults as an admin would
// write them ("100MB", not 100000000).
import { z } from 'zod';
import { SHOWN_DEFAULTS, roostConfigSchema } from './schema.js';

type AnyZ = z.ZodTypeAny;

export interface Unwrapped {
  /** The schema under defaults, optionals and transforms. */
  core: AnyZ;
  description?: string;
  /** The default as written (before transforms), if the key has one. */
  defaultValue?: unknown;
  hasDefault: boolean;
  optional: boolean;
}

export function unwrap(s: AnyZ): Unwrapped {
  let cur: AnyZ = s;
  let description: string | undefined;
  let defaultValue: unknown;
  let hasDefault = false;
  let optional = false;
  for (;;) {
    description ??= cur.description;
    if (cur instanceof z.ZodDefault) {
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = (cur._def as { defaultValue: () => unknown }).defaultValue();
      }
      cur = cur._def.innerType as AnyZ;
    } else if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) {
      optional = true;
      cur = cur._def.innerType as AnyZ;
    } else if (cur instanceof z.ZodEffects) {
      cur = cur._def.schema as AnyZ;
    } else if (cur instanceof z.ZodPipeline) {
      cur = cur._def.in as AnyZ;
    } else {
      break;
    }
  }
  return { core: cur, ...(description === undefined ? {} : { description }), defaultValue, hasDefault, optional };
}

type AnyObject = z.ZodObject<z.ZodRawShape, z.UnknownKeysParam, AnyZ>;
type AnyUnion = z.ZodDiscriminatedUnion<string, AnyObject[]>;

function unionOptions(u: AnyUnion): AnyObject[] {
  return [...u.options];
}

function variantName(o: AnyObject, discriminator: string): string {
  const lit = unwrap(o.shape[discriminator] as AnyZ).core;
  return lit instanceof z.ZodLiteral ? String(lit.value) : '?';
}

export interface KeyInfo {
  path: string[];
  description?: string;
  /** Holds further keys (a section). */
  section: boolean;
  /** For keys of one variant of a choice (storage.url: 'postgres'). */
  variant?: string;
}

/** Every key of the schema, depth first, in schema order; variant keys once per variant. */
export function schemaKeys(schema: AnyZ = roostConfigSchema): KeyInfo[] {
  const out: KeyInfo[] = [];
  const visit = (s: AnyZ, path: string[], variant?: { name: string; discriminator: string }): void => {
    const { core } = unwrap(s);
    if (core instanceof z.ZodObject) {
      for (const [k, child] of Object.entries((core as AnyObject).shape)) {
        const u = unwrap(child as AnyZ);
        const section = u.core instanceof z.ZodObject || u.core instanceof z.ZodDiscriminatedUnion;
        const p = [...path, k];
        if (out.some((o) => o.path.join('.') === p.join('.'))) continue;
        // The discriminator (storage.type) belongs to every variant.
        const own = variant && k !== variant.discriminator ? { variant: variant.name } : {};
        out.push({ path: p, ...(u.description ? { description: u.description } : {}), section, ...own });
        visit(child as AnyZ, p);
      }
    } else if (core instanceof z.ZodDiscriminatedUnion) {
      const u = core as AnyUnion;
      for (const o of unionOptions(u)) visit(o, path, { name: variantName(o, u.discriminator), discriminator: u.discriminator });
    }
  };
  visit(schema, []);
  return out;
}

/**
 * The core schema at a key path, or undefined. A choice (storage) comes back as the variant
 * `data` selects (or the first), unless `keepChoice`.
 */
export function schemaAt(path: readonly (string | number)[], schema: AnyZ = roostConfigSchema, data?: unknown, keepChoice = false): AnyZ | undefined {
  let cur: AnyZ | undefined = unwrap(schema).core;
  let value: unknown = data;
  for (const seg of path) {
    if (cur === undefined) return undefined;
    cur = pickVariant(cur, value);
    if (cur instanceof z.ZodObject) {
      const o = cur as AnyObject;
      const child = o.shape[String(seg)] as AnyZ | undefined;
      const catchall = o._def.catchall as AnyZ;
      cur = child ?? (catchall instanceof z.ZodNever ? undefined : catchall);
    } else if (cur instanceof z.ZodArray) {
      cur = cur._def.type as AnyZ;
    } else if (cur instanceof z.ZodRecord) {
      cur = cur._def.valueType as AnyZ;
    } else {
      return undefined;
    }
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[String(seg)] : undefined;
    if (cur !== undefined) cur = unwrap(cur).core;
  }
  return cur === undefined || keepChoice ? cur : pickVariant(cur, value);
}

/** For a choice, the variant the data selects (or the first). */
function pickVariant(s: AnyZ, data: unknown): AnyZ {
  if (!(s instanceof z.ZodDiscriminatedUnion)) return s;
  const u = s as AnyUnion;
  const tag = data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[u.discriminator] : undefined;
  const opts = unionOptions(u);
  return opts.find((o) => variantName(o, u.discriminator) === tag) ?? opts[0]!;
}

/** Keys an object at `path` accepts (for the variant `data` selects). */
export function keysAt(path: readonly (string | number)[], data?: unknown): string[] {
  const s = schemaAt(path, roostConfigSchema, data);
  return s instanceof z.ZodObject ? Object.keys((s as AnyObject).shape) : [];
}

/** Explanation of the key at `path`, if any. */
export function describeKey(path: readonly (string | number)[], data?: unknown): string | undefined {
  const parent = schemaAt(path.slice(0, -1), roostConfigSchema, data);
  if (!(parent instanceof z.ZodObject)) return undefined;
  const child = (parent as AnyObject).shape[String(path[path.length - 1])] as AnyZ | undefined;
  return child ? unwrap(child).description : undefined;
}

/**
 * The values a file with every key at its default holds, in the form an admin writes them.
 * Keys without a default and without a shown default (a variant's required url) are left out.
 */
export function defaultInput(schema: AnyZ = roostConfigSchema, path: string[] = []): Record<string, unknown> {
  const { core } = unwrap(schema);
  const out: Record<string, unknown> = {};
  if (!(core instanceof z.ZodObject)) return out;
  for (const [k, child] of Object.entries((core as AnyObject).shape)) {
    const v = defaultOf(child as AnyZ, [...path, k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function defaultOf(s: AnyZ, path: string[]): unknown {
  const key = path.join('.');
  if (key in SHOWN_DEFAULTS) return SHOWN_DEFAULTS[key];
  const u = unwrap(s);
  if (u.core instanceof z.ZodObject) return { ...defaultInput(u.core, path), ...(isPlainObject(u.defaultValue) ? u.defaultValue : {}) };
  if (u.core instanceof z.ZodDiscriminatedUnion) return variantDefault(u.core as AnyUnion, u.defaultValue, path);
  if (u.hasDefault) return u.defaultValue;
  if (u.optional) return '';
  return undefined;
}

/** Defaults of the variant `value` selects, overlaid with `value`. */
export function variantDefault(u: AnyUnion, value: unknown, path: string[]): Record<string, unknown> {
  const chosen = pickVariant(u, value) as AnyObject;
  // The discriminator first: `type: postgres` reads before the keys it selects.
  return { [u.discriminator]: variantName(chosen, u.discriminator), ...defaultInput(chosen, path), ...(isPlainObject(value) ? value : {}) };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
