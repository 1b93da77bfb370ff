// zod's findings turned into problems an admin can act on: plain words, the value that was
// found, and a hint (a likely misspelling, the right place for a key, the form to write).
import { z } from 'zod';
import { pathString } from './errors.js';
import { describeValue } from './fields.js';
import { describeKey, keysAt, schemaAt, schemaKeys } from './introspect.js';
import { roostConfigSchema } from './schema.js';
import { closest } from './suggest.js';

export interface FoundProblem {
  path: (string | number)[];
  message: string;
  hint?: string;
  /** Point at the key (unknown key) or at the value (wrong value). */
  at: 'key' | 'value';
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[String(seg)];
  }
  return v;
}

const EXPECTED: Record<string, string> = {
  number: 'a number',
  integer: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'a section (key: value lines below it, indented)',
};

/** Keys that exist elsewhere in the file layout, for "belongs under limits". */
let keyHomes: Map<string, string[]> | undefined;
function homesOf(key: string): string[] {
  if (!keyHomes) {
    keyHomes = new Map();
    for (const k of schemaKeys()) {
      const name = k.path[k.path.length - 1]!;
      const parent = k.path.slice(0, -1).join('.');
      keyHomes.set(name, [...(keyHomes.get(name) ?? []), parent === '' ? '(the top level)' : parent]);
    }
  }
  return keyHomes.get(key) ?? [];
}

function unknownKeyHint(parent: (string | number)[], key: string, data: unknown): string | undefined {
  const here = keysAt(parent, data);
  const near = closest(key, here);
  if (near !== undefined) return `did you mean "${near}"?`;
  // storage.url with type sqlite: a key of another variant of a choice.
  const choice = schemaAt(parent, roostConfigSchema, data, true);
  if (choice instanceof z.ZodDiscriminatedUnion)
    return `with ${choice.discriminator}: ${String(valueAt(data, [...parent, choice.discriminator]))} the keys are ${here.join(', ')}`;
  const homes = homesOf(key).filter((h) => h !== pathString(parent));
  if (homes.length > 0 && homes.length <= 3) return `"${key}" belongs under ${homes.join(' or ')}`;
  return here.length > 0 && here.length <= 8 ? `known keys here: ${here.join(', ')}` : undefined;
}

function typeHint(expected: string, actual: unknown, path: readonly (string | number)[]): string | undefined {
  if ((expected === 'number' || expected === 'integer') && typeof actual === 'string' && /^-?\d+(\.\d+)?$/.test(actual.trim()))
    return 'remove the quotes';
  if (expected === 'boolean' && typeof actual === 'string' && /^(yes|no|on|off|y|n|"?true"?|"?false"?)$/i.test(actual))
    return 'write true or false';
  if (expected === 'boolean' && (actual === 0 || actual === 1)) return 'write true or false';
  if (expected === 'array' && typeof actual === 'string') return `write a list: [${actual}]`;
  if (expected === 'object' && (actual === null || actual === undefined)) return 'write its settings on the lines below, indented, or remove the line';
  if (expected === 'string' && actual === null) return `write a value after "${String(path[path.length - 1])}:", or remove the line`;
  return undefined;
}

export function explainIssue(issue: z.ZodIssue, data: unknown): FoundProblem[] {
  const path = issue.path;
  const actual = valueAt(data, path);
  const hintOf = (h: string | undefined) => (h === undefined ? {} : { hint: h });
  switch (issue.code) {
    case z.ZodIssueCode.unrecognized_keys:
      return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key', ...hintOf(unknownKeyHint(path, key, data)), at: 'key' }));
    case z.ZodIssueCode.invalid_type: {
      if (issue.received === 'undefined') return [{ path, message: 'is missing', ...hintOf(describeKey(path, data)), at: 'key' }];
      if (issue.expected === 'integer') return [{ path, message: `must be a whole number, got ${describeValue(actual)}`, at: 'value' }];
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      return [{ path, message: `expected ${expected}, got ${describeValue(actual)}`, ...hintOf(typeHint(issue.expected, actual, path)), at: 'value' }];
    }
    case z.ZodIssueCode.invalid_enum_value: {
      const options = issue.options.map(String);
      const near = typeof actual === 'string' ? closest(actual, options) : undefined;
      return [{ path, message: `${describeValue(actual)} is not one of: ${options.join(', ')}`, ...hintOf(near && `did you mean "${near}"?`), at: 'value' }];
    }
    case z.ZodIssueCode.invalid_union_discriminator: {
      const options = issue.options.map(String);
      if (actual === undefined) return [{ path, message: 'is missing', hint: `add ${String(path[path.length - 1])}: ${options.join(' or ')}`, at: 'key' }];
      const near = typeof actual === 'string' ? closest(actual, options) : undefined;
      return [{ path, message: `${describeValue(actual)} is not one of: ${options.join(', ')}`, ...hintOf(near && `did you mean "${near}"?`), at: 'value' }];
    }
    case z.ZodIssueCode.invalid_literal:
      return [{ path, message: `must be ${String(issue.expected)}, got ${describeValue(actual)}`, at: 'value' }];
    case z.ZodIssueCode.too_small:
    case z.ZodIssueCode.too_big: {
      const small = issue.code === z.ZodIssueCode.too_small;
      const bound = Number(small ? (issue as z.ZodTooSmallIssue).minimum : (issue as z.ZodTooBigIssue).maximum);
      const last = String(path[path.length - 1] ?? '');
      if (issue.type === 'array') return [{ path, message: small ? `needs at least ${bound} ${bound === 1 ? 'entry' : 'entries'}` : `has more than ${bound} entries`, at: 'key' }];
      if (issue.type === 'string') return [{ path, message: small ? 'cannot be empty' : `is longer than ${bound} characters`, at: 'value' }];
      if (/port$/i.test(last)) return [{ path, message: `${String(actual)} is not a port number`, hint: 'ports go from 1 to 65535', at: 'value' }];
      if (small && bound === 0) return [{ path, message: `cannot be negative (${String(actual)})`, at: 'value' }];
      return [{ path, message: small ? `must be at least ${bound}, got ${String(actual)}` : `must be at most ${bound}, got ${String(actual)}`, at: 'value' }];
    }
    case z.ZodIssueCode.invalid_string:
      return [{ path, message: `${describeValue(actual)} ${issue.message}`, at: 'value' }];
    case z.ZodIssueCode.custom: {
      const hint = (issue.params as { hint?: string } | undefined)?.hint;
      return [{ path, message: issue.message, ...hintOf(hint), at: 'value' }];
    }
    default:
      return [{ path, message: issue.message, at: 'value' }];
  }
}
