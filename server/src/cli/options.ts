// Shared option handling of the `roost` subcommands: arguments, the config, the daemon's
// storage, and the way a subcommand reports a bad argument or a failure.
import { ConfigError, loadConfig } from '../config/load.js';
import type { RoostConfig } from '../config/types.js';
import { JidError, prepareDomain } from '../core/jid.js';
import { createStorage } from '../storage/index.js';
import type { Storage } from '../storage/types.js';
import { silentLogger } from '../util/log.js';

export class UsageError extends Error {}

export interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

/** `--name value`, `--name=value`, `--flag`; names listed in `valued` take a value. */
export function parseArgs(argv: string[], valued: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (valued.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, v);
    } else if (eq > 0) throw new UsageError(`--${name} takes no value`);
    else flags.set(name, true);
  }
  return { positional, flags };
}

export function configPathOf(p: Parsed): string | undefined {
  const v = p.flags.get('config');
  if (typeof v === 'string') return v;
  return process.env.ROOST_CONFIG || undefined;
}

/** Loads the config or returns the exit code after printing why it cannot be used. */
export async function configOrExit(path: string | undefined, stderr: NodeJS.WriteStream): Promise<RoostConfig | number> {
  try {
    return await loadConfig({ path, env: process.env, cwd: process.cwd() });
  } catch (e) {
    if (e instanceof ConfigError) {
      stderr.write(`roost: the configuration cannot be used:\n${e.format()}\n`);
      return 78; // EX_CONFIG
    }
    stderr.write(`roost: ${(e as Error).message}\n`);
    return 1;
  }
}

/** parseArgs for `roost <command>`; a bad option prints why and the usage: exit code 2. */
export function parseOrUsage(command: string, argv: string[], valued: string[], usage: string, stderr: NodeJS.WriteStream): Parsed | number {
  try {
    return parseArgs(argv, valued);
  } catch (e) {
    stderr.write(`roost ${command}: ${(e as Error).message}\n${usage}\n`);
    return 2;
  }
}

/** A domain given on the command line, prepared (IDN, case); a UsageError unless this server serves it. */
export function servedDomain(name: string, config: RoostConfig): string {
  const host = prepareDomain(name);
  if (!config.hosts.includes(host)) throw new UsageError(`${host} is not a domain this server serves (${config.hosts.join(', ')})`);
  return host;
}

/**
 * Opens the daemon's storage (the same database the running daemon uses), runs `fn` on it and
 * closes it. A database that cannot be opened is exit code 1; an error from `fn` is printed as
 * `roost <command>: message` with exit code 2 for a usage or JID error, 1 for anything else.
 */
export async function withStorage(command: string, config: RoostConfig, stderr: NodeJS.WriteStream, fn: (storage: Storage) => Promise<number>): Promise<number> {
  const storage = createStorage(config.storage, silentLogger);
  try {
    await storage.open();
  } catch (e) {
    stderr.write(`roost ${command}: cannot open the database: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    return await fn(storage);
  } catch (e) {
    stderr.write(`roost ${command}: ${(e as Error).message}\n`);
    return e instanceof UsageError || e instanceof JidError ? 2 : 1;
  } finally {
    await storage.close();
  }
}
