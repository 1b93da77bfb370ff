// `roost check [config|dns|certs|ports|all] [--config FILE] [--json] [--resolver HOST:PORT]`
import { parseResolver } from '../dns/check.js';
import { DEFAULT_CONFIG_PATH } from '../system/service.js';
import type { ResolverOptions } from '../types.js';
import { CHECK_SECTIONS, runChecks, type CheckSection, type SectionResult } from './run.js';

export interface CheckIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const USAGE = `usage: roost check [config|dns|certs|ports|all]... [--config FILE] [--json] [--resolver HOST:PORT]
  Checks the configuration, DNS records, certificates and listeners.
  Exit code: 0 when nothing is red, 1 when something is, 2 for a usage error.`;

const MARK = { true: '  ok  ', warn: ' warn ', false: ' FAIL ' } as const;

function human(results: SectionResult[]): string {
  const lines: string[] = [];
  let section = '';
  for (const r of results) {
    if (r.section !== section) {
      section = r.section;
      lines.push(`${lines.length ? '\n' : ''}${section}`);
    }
    lines.push(`[${MARK[String(r.ok) as keyof typeof MARK]}] ${r.message}`);
    if (r.ok !== true && r.fix) lines.push(`         fix: ${r.fix}`);
  }
  const red = results.filter((r) => r.ok === false).length;
  const warn = results.filter((r) => r.ok === 'warn').length;
  lines.push('', red ? `${red} problem(s) to fix${warn ? `, ${warn} warning(s)` : ''}.` : warn ? `All good, with ${warn} warning(s).` : 'All good.');
  return `${lines.join('\n')}\n`;
}

/** Returns the exit code; the CLI engineer's `roost` dispatches `check` here. */
export async function runCheck(argv: string[], io: CheckIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) }): Promise<number> {
  const sections = new Set<CheckSection>();
  let configPath = DEFAULT_CONFIG_PATH;
  let json = false;
  let resolver: ResolverOptions | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined || v === '') throw new Error(`${a.split('=')[0]} needs a value`);
      return v;
    };
    try {
      if (a === '--help' || a === '-h') {
        io.stdout(`${USAGE}\n`);
        return 0;
      } else if (a === '--json') json = true;
      else if (a === '--config' || a.startsWith('--config=')) configPath = value();
      else if (a === '--resolver' || a.startsWith('--resolver=')) resolver = parseResolver(value());
      else if (a === 'all') for (const s of CHECK_SECTIONS) sections.add(s);
      else if ((CHECK_SECTIONS as readonly string[]).includes(a)) sections.add(a as CheckSection);
      else throw new Error(`unknown argument "${a}"`);
    } catch (e) {
      io.stderr(`roost check: ${(e as Error).message}\n${USAGE}\n`);
      return 2;
    }
  }
  const report = await runChecks({
    configPath,
    sections: sections.size ? [...sections] : [...CHECK_SECTIONS],
    ...(resolver ? { resolver } : {}),
  });
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : human(report.results));
  return report.ok ? 0 : 1;
}
