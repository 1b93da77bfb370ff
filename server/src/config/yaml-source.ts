// The YAML side of validation: parsing with positions (yaml's Document API and LineCounter),
// syntax errors in plain words, duplicate keys, and finding the line and column of a key path.
import { Document, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Node, type ParsedNode } from 'yaml';
import { pathString, type ConfigProblem } from './errors.js';

export interface YamlSource {
  source: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Syntax errors (structure unreliable: schema checks are skipped when there are any). */
  syntax: ConfigProblem[];
  duplicates: ConfigProblem[];
  /** The plain data (later duplicate wins, as yaml does). */
  data: unknown;
}

const SYNTAX_HINTS: Record<string, string> = {
  TAB_AS_INDENT: 'indent with spaces; YAML does not allow tabs',
  BAD_INDENT: 'keys of the same section must start in the same column; indent with spaces',
  MISSING_CHAR: 'a bracket or quote is not closed',
  BLOCK_AS_IMPLICIT_KEY: 'a key must fit on one line and end with a colon',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line and end with a colon',
  UNEXPECTED_TOKEN: 'check the characters around here; text with : or # inside is safer in quotes',
  BAD_SCALAR_START: 'text starting with this character must be written in quotes',
  DUPLICATE_KEY: 'remove one of them',
  ALIAS_PROPS: 'an alias (*name) cannot have a tag or anchor',
  BAD_ALIAS: 'the alias does not name an anchor (&name) defined above',
  IMPOSSIBLE: 'check the quotes and brackets around here',
};

export function parseYamlSource(text: string, source: string): YamlSource {
  const lines = new LineCounter();
  // uniqueKeys off: duplicates are reported below with both places, which yaml's error lacks.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, keepSourceTokens: false });
  const syntax: ConfigProblem[] = [];
  for (const e of doc.errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    const message = `YAML syntax: ${e.message.replace(/\s+at line \d+, column \d+.*$/s, '')}`;
    // yaml reports one unclosed bracket once per enclosing collection: once is enough.
    if (syntax.some((p) => p.line === line && p.column === col && p.message === message)) continue;
    const unclosed = /end with an? ([\]}])/.exec(e.message)?.[1];
    const hint = unclosed ? `a ${unclosed === ']' ? '[' : '{'} above is not closed with ${unclosed}` : SYNTAX_HINTS[e.code];
    syntax.push({ source, line, column: col, path: '', message, ...(hint ? { hint } : {}) });
  }
  const duplicates: ConfigProblem[] = [];
  if (syntax.length === 0) findDuplicates(doc, doc.contents, [], lines, source, duplicates);
  let data: unknown;
  try {
    data = syntax.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined;
  } catch (e) {
    // Alias bombs ("billion laughs") and aliases to no anchor end here.
    let where = { line: 1, col: 1 };
    visit(doc, {
      Alias(_, node) {
        if (node.resolve(doc) !== undefined || !node.range) return undefined;
        where = lines.linePos(node.range[0]);
        return visit.BREAK;
      },
    });
    syntax.push({ source, line: where.line, column: where.col, path: '', message: `YAML: ${(e as Error).message}` });
  }
  return { source, doc, lines, syntax, duplicates, data };
}

function keyName(k: unknown): string {
  return isScalar(k) ? String(k.value) : String(k);
}

function findDuplicates(doc: Document.Parsed, node: unknown, path: (string | number)[], lines: LineCounter, source: string, out: ConfigProblem[]): void {
  if (isMap(node)) {
    const first = new Map<string, Node>();
    for (const pair of node.items) {
      const name = keyName(pair.key);
      const prev = first.get(name);
      if (prev && isScalar(pair.key) && pair.key.range) {
        const at = lines.linePos(pair.key.range[0]);
        const was = prev.range ? lines.linePos(prev.range[0]).line : undefined;
        out.push({
          source,
          line: at.line,
          column: at.col,
          path: pathString([...path, name]),
          message: `duplicate key${was ? ` (already set on line ${was})` : ''}`,
          hint: 'remove one of them; only the last one would count',
        });
      } else if (isScalar(pair.key)) {
        first.set(name, pair.key);
      }
      findDuplicates(doc, pair.value, [...path, name], lines, source, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => findDuplicates(doc, item, [...path, i], lines, source, out));
  }
}

export interface Position {
  line: number;
  column: number;
}

/**
 * Where `path` is in the file. `at: 'key'` gives the key's position; `'value'` the value's when
 * it is a plain value (a section or list gives its key, which is where the eye looks). A path
 * that is not in the file (a default) gives its nearest ancestor that is; nothing: line 1.
 */
export function locate(src: YamlSource, path: readonly (string | number)[], at: 'key' | 'value'): Position {
  const pos = (n: { range?: [number, number, number] | null } | null | undefined): Position | undefined => {
    if (!n?.range) return undefined;
    const { line, col } = src.lines.linePos(n.range[0]);
    return { line, column: col };
  };
  let node: unknown = src.doc.contents;
  let best: Position | undefined = pos(node as ParsedNode | null);
  let keyPos: Position | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isAlias(node)) node = node.resolve(src.doc);
    if (isMap(node)) {
      // The last pair with this key: that is the one whose value counts.
      const pair = [...node.items].reverse().find((p) => isPair(p) && keyName(p.key) === String(seg));
      if (!pair) return best ?? { line: 1, column: 1 };
      keyPos = pos(pair.key as ParsedNode) ?? best;
      node = pair.value;
      best = keyPos;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      node = node.items[seg];
      keyPos = pos(node as ParsedNode) ?? best;
      best = keyPos;
    } else {
      return best ?? { line: 1, column: 1 };
    }
  }
  if (at === 'key' && keyPos) return keyPos;
  if (isScalar(node) && node.value !== null) return pos(node) ?? best ?? { line: 1, column: 1 };
  if (isSeq(node) && node.flow && path.length === 0) return pos(node) ?? { line: 1, column: 1 };
  return best ?? { line: 1, column: 1 };
}
