// Writing roost.yaml: the installer's answers over the defaults, every key present with its
// explanation above it, so the written file documents itself and reads back (parseConfigText)
// to exactly the answers given. roost.example.yaml is renderConfigYaml({}).
import { Document, isMap, isPair, isScalar, isSeq, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { z } from 'zod';
import { defaultInput, describeKey, isPlainObject, schemaAt, variantDefault } from './introspect.js';
import { parseConfigText } from './load.js';
import { roostConfigSchema } from './schema.js';

type DeepPartial<T> = T extends readonly (infer U)[] ? U[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> | undefined } : T;

/** What the installer may set: any part of the file, in file form or as a loaded RoostConfig. */
export type ConfigAnswers = DeepPartial<z.input<typeof roostConfigSchema>> & { source?: string };

const HEADER = [
  ' Roost configuration (roost.yaml).',
  ' Every setting is listed with a short explanation; the values shown are the defaults unless',
  ' someone changed them. Sizes: a number of bytes or e.g. 100MB, 1GiB. Durations: seconds or',
  ' e.g. 30s, 12h, 30d. Relative paths are relative to the folder of this file (storage.path:',
  ' to dataDir). Check the file with `roost check`; apply changes with `systemctl reload roost`',
  ' (listeners, storage, hosts and dataDir need `systemctl restart roost`).',
];

/** Answers over defaults. Lists replace; a storage of another type starts from that type's defaults. */
function merge(defaults: unknown, answers: unknown, path: string[]): unknown {
  if (answers === undefined) return defaults;
  if (!isPlainObject(answers) || !isPlainObject(defaults)) return answers;
  let base: Record<string, unknown> = defaults;
  const s = schemaAt(path, roostConfigSchema, undefined, true);
  if (s instanceof z.ZodDiscriminatedUnion && answers[s.discriminator] !== undefined && answers[s.discriminator] !== defaults[s.discriminator]) {
    base = variantDefault(s as Parameters<typeof variantDefault>[0], { [s.discriminator]: answers[s.discriminator] }, path);
  }
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(answers)) {
    if (v === undefined) continue;
    out[k] = merge(base[k], v, [...path, k]);
  }
  if (path.length === 1 && path[0] === 'registration') {
    // `enabled` and `mode` say the same thing; the one answered decides the other.
    const a = answers as { enabled?: boolean; mode?: string };
    if (a.mode !== undefined && a.enabled === undefined) out.enabled = a.mode !== 'closed';
    if (a.enabled !== undefined && a.mode === undefined) out.mode = a.enabled ? 'open' : 'closed';
  }
  return out;
}

/** Explanations of at most `width` characters a line. */
function wrap(text: string, width: number): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line !== '' && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line === '' ? w : `${line} ${w}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => ` ${l}`).join('\n');
}

function annotate(map: YAMLMap, path: string[], data: unknown, top: boolean): void {
  for (const item of map.items) {
    if (!isPair(item) || !isScalar(item.key)) continue;
    const pair = item as Pair<Scalar, unknown>;
    const key = String(pair.key.value);
    const here = [...path, key];
    const text = describeKey(here, data);
    if (text) pair.key.commentBefore = wrap(text, 98 - 2 * path.length);
    if (top && item !== map.items[0]) pair.key.spaceBefore = true;
    const value = pair.value;
    if (isMap(value)) {
      annotate(value, here, data, false);
      if (here.join('.') === 'storage') value.comment = otherStorage(data);
      if (here.join('.') === 'modules') value.comment = ' Settings of one feature, e.g.:\n register:\n   allowRemove: false';
    } else if (isSeq(value)) {
      const plain = value.items.every((i) => isScalar(i));
      const len = value.items.reduce<number>((n, i) => n + String(isScalar(i) ? i.value : '').length + 2, 0);
      value.flow = plain && len <= 60;
    }
  }
}

/** The storage type not chosen, as commented lines to switch to it. */
function otherStorage(data: unknown): string {
  const type = isPlainObject(data) && isPlainObject(data.storage) ? data.storage.type : 'sqlite';
  return type === 'postgres'
    ? ' Or one database file instead:\n type: sqlite\n path: roost.sqlite'
    : ' Or PostgreSQL instead:\n type: postgres\n url: postgres://roost:password@localhost:5432/roost';
}

/**
 * A complete, commented roost.yaml holding `answers` (everything else at its default). Throws
 * ConfigError when the answers are not a valid configuration, so no broken file gets written.
 */
export function renderConfigYaml(answers: ConfigAnswers = {}): string {
  const { source: _source, ...rest } = answers;
  const data = merge(defaultInput(), rest, []) as Record<string, unknown>;
  const doc = new Document(data);
  doc.commentBefore = HEADER.join('\n');
  if (isMap(doc.contents)) annotate(doc.contents, [], data, true);
  const text = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  parseConfigText(text, '<answers>', {});
  return text;
}
