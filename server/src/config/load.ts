// Loading roost.yaml: YAML → schema → paths made absolute → files it names checked, with every
// problem collected into one ConfigError.
//
// Paths: a relative path in the file is relative to the file's folder (so the file means the
// same whatever folder the daemon starts in), except storage.path, which is inside dataDir (so
// moving dataDir moves the database with it). Without a file, paths are relative to `cwd`.
//
// dataDir: the file's `dataDir` when it has one; else $ROOST_DATA; else ./data in `cwd`. The
// file wins over the environment because it is what the admin edits and `roost check` reads:
// an environment variable set in some shell must not silently point the daemon elsewhere.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, pathString, type ConfigProblem } from './errors.js';

// Callers catch the error where they load (cli/serve.ts, cli/options.ts).
export { ConfigError, type ConfigProblem } from './errors.js';
import { explainIssue } from './issues.js';
import { roostConfigSchema } from './schema.js';
import type { RoostConfig } from './types.js';
import { locate, parseYamlSource, type YamlSource } from './yaml-source.js';

export interface LoadOptions {
  /** roost.yaml; absent: the embedded default configuration. */
  path?: string;
  /** Default: process.env (ROOST_DATA). */
  env?: NodeJS.ProcessEnv;
  /** Folder for relative paths when no file gives one; default process.cwd(). */
  cwd?: string;
}

export interface ParseOptions {
  cwd?: string;
  /** Folder relative paths in the text are relative to; default: the folder of `source` (in cwd). */
  baseDir?: string;
}

interface Analysis {
  config?: RoostConfig;
  problems: ConfigProblem[];
  src: YamlSource;
}

function analyse(text: string, source: string, env: NodeJS.ProcessEnv, opts: ParseOptions): Analysis {
  const src = parseYamlSource(text, source);
  const problems: ConfigProblem[] = [...src.syntax, ...src.duplicates];
  if (src.syntax.length > 0) return { problems, src };
  const data = src.data ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    problems.push({ source, line: 1, column: 1, path: '', message: 'the file must hold settings as "key: value" lines', hint: 'see roost.example.yaml' });
    return { problems, src };
  }
  const parsed = roostConfigSchema.safeParse(data);
  if (!parsed.success) {
    // "2.5" for a whole number ≥ 4 is one mistake, not two: bounds of a value of the wrong kind are noise.
    const wrongKind = new Set(parsed.error.issues.filter((i) => i.code === 'invalid_type').map((i) => i.path.join('\u0000')));
    for (const issue of parsed.error.issues) {
      if ((issue.code === 'too_small' || issue.code === 'too_big') && wrongKind.has(issue.path.join('\u0000'))) continue;
      for (const p of explainIssue(issue, data)) {
        const { line, column } = locate(src, p.path, p.at);
        problems.push({ source, line, column, path: pathString(p.path), message: p.message, ...(p.hint ? { hint: p.hint } : {}) });
      }
    }
    return { problems: dedupe(problems), src };
  }
  if (problems.length > 0) return { problems, src };
  const cwd = opts.cwd ?? process.cwd();
  const baseDir = opts.baseDir ?? dirname(resolve(cwd, source));
  const fileSetsDataDir = Object.prototype.hasOwnProperty.call(data, 'dataDir');
  const config = resolvePaths(parsed.data, { cwd, baseDir, env, fileSetsDataDir });
  return { config: { ...config, source }, problems, src };
}

/** zod can report one place twice (a union and its branch); the admin needs it once. */
function dedupe(ps: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.line}:${p.column}:${p.path}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function resolvePaths(
  c: Omit<RoostConfig, 'source'>,
  o: { cwd: string; baseDir: string; env: NodeJS.ProcessEnv; fileSetsDataDir: boolean },
): Omit<RoostConfig, 'source'> {
  const fromEnv = o.env.ROOST_DATA !== undefined && o.env.ROOST_DATA.trim() !== '' ? o.env.ROOST_DATA : undefined;
  const dataDir = o.fileSetsDataDir ? resolve(o.baseDir, c.dataDir) : resolve(o.cwd, fromEnv ?? c.dataDir);
  const file = (p: string | undefined) => (p === undefined ? undefined : resolve(o.baseDir, p));
  return {
    ...c,
    dataDir,
    storage: c.storage.type === 'sqlite' ? { ...c.storage, path: resolve(dataDir, c.storage.path) } : c.storage,
    tls: { certificate: c.tls.certificate === 'auto' ? 'auto' : resolve(o.baseDir, c.tls.certificate), key: file(c.tls.key) },
    ldap: { ...c.ldap, caFile: file(c.ldap.caFile), bindPasswordFile: file(c.ldap.bindPasswordFile) },
    acme: { ...c.acme, caBundle: file(c.acme.caBundle) },
    turn: { ...c.turn, secretFile: file(c.turn.secretFile) },
  };
}

/**
 * Validates configuration text; throws ConfigError listing every problem. Does not touch the
 * file system (the installer checks its answers before it writes anything).
 */
export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env, opts: ParseOptions = {}): RoostConfig {
  const a = analyse(text, source, env, opts);
  if (!a.config || a.problems.length > 0) throw new ConfigError(a.problems);
  return a.config;
}

/** The configuration without a file: domain localhost, SQLite and a self-signed certificate in dataDir. */
export function defaultConfig(opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RoostConfig {
  const cwd = opts.cwd ?? process.cwd();
  const { source: _none, ...config } = parseConfigText('', '<defaults>', opts.env ?? process.env, { cwd, baseDir: cwd });
  return config;
}

/**
 * Loads roost.yaml (or the embedded default) and checks that the files it names can be read.
 * A bare string is taken as the path (the form `roost check` calls).
 */
export async function loadConfig(opts: LoadOptions | string = {}): Promise<RoostConfig> {
  const o: LoadOptions = typeof opts === 'string' ? { path: opts } : opts;
  const env = o.env ?? process.env;
  const cwd = o.cwd ?? process.cwd();
  if (o.path === undefined) return defaultConfig({ env, cwd });
  const full = isAbsolute(o.path) ? o.path : resolve(cwd, o.path);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the file does not exist' : code === 'EACCES' ? 'no permission to read the file' : `cannot read the file (${code ?? (e as Error).message})`;
    throw new ConfigError([{ source: o.path, line: 0, column: 0, path: '', message: why, hint: 'run `roost setup` to write one, or copy roost.example.yaml' }]);
  }
  const a = analyse(text, o.path, env, { cwd, baseDir: dirname(full) });
  if (!a.config || a.problems.length > 0) throw new ConfigError(a.problems);
  const missing = await unreadableFiles(a.config, a.src);
  if (missing.length > 0) throw new ConfigError(missing);
  return a.config;
}

/** Files the running server will need, for sections that are on. */
async function unreadableFiles(c: RoostConfig, src: YamlSource): Promise<ConfigProblem[]> {
  const wanted: Array<[string[], string | undefined]> = [];
  // With ACME on, the certificate may not exist until the first renewal writes it.
  if (c.tls.certificate !== 'auto' && !c.acme.enabled) wanted.push([['tls', 'certificate'], c.tls.certificate], [['tls', 'key'], c.tls.key]);
  if (c.ldap.enabled) wanted.push([['ldap', 'caFile'], c.ldap.caFile], [['ldap', 'bindPasswordFile'], c.ldap.bindPasswordFile]);
  if (c.acme.enabled) wanted.push([['acme', 'caBundle'], c.acme.caBundle]);
  if (c.turn.enabled) wanted.push([['turn', 'secretFile'], c.turn.secretFile]);
  const out: ConfigProblem[] = [];
  for (const [path, file] of wanted) {
    if (file === undefined) continue;
    try {
      await access(file, constants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const { line, column } = locate(src, path, 'value');
      out.push({
        source: src.source,
        line,
        column,
        path: pathString(path),
        message: code === 'ENOENT' ? `${file} does not exist` : `${file} cannot be read (${code ?? 'error'})`,
        hint: code === 'ENOENT' ? 'check the path; relative paths are relative to the folder of this file' : 'the roost user must be able to read it',
      });
    }
  }
  return out;
}
