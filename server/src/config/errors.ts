// Configuration problems, all of them at once, each with the place in the file and a hint, so
// the admin can fix the file in one go instead of one error per restart.

export interface ConfigProblem {
  /** The file (as given) or a name such as "<installer answers>". */
  source: string;
  /** 1-based; 0 when the problem concerns the file as a whole (it cannot be read). */
  line: number;
  /** 1-based; 0 with line 0. */
  column: number;
  /** Dotted key path, e.g. listeners.c2s.port, hosts[1]; '' for the file itself. */
  path: string;
  message: string;
  hint?: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.source}:${p.line}:${p.column}` : p.source;
  const what = p.path === '' ? p.message : `${p.path}: ${p.message}`;
  return `${where}: ${what}${p.hint ? ` (${p.hint})` : ''}`;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const sorted = [...problems].sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
    super(sorted.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = sorted;
  }

  /** One line per problem: `roost.yaml:12:5: listeners.c2s.prot: unknown key (did you mean "port"?)`. */
  format(): string {
    return this.problems.map(formatProblem).join('\n');
  }
}

/** Dotted path as shown to admins: listeners.c2s.port, admins[0]. */
export function pathString(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}
