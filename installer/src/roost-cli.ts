// Runs this installation's own `roost` command (bin/roost.js) for what the daemon side owns,
// such as creating accounts: the installer never touches the account store itself.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** bin/roost.js of the package this file belongs to (works from src/ under tests and from dist/). */
export function findRoostBin(start = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    const bin = join(dir, 'bin', 'roost.js');
    const pkg = join(dir, 'package.json');
    if (existsSync(bin) && existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'roost') return bin;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the roost command (bin/roost.js) of this installation');
    dir = up;
  }
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runRoost(bin: string, args: string[], opts: { owner?: { uid: number; gid: number } | null; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [bin, ...args], {
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    // Secrets go through stdin, never the command line (other users can read that in ps).
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.owner ? { uid: opts.owner.uid, gid: opts.owner.gid } : {}),
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** One-line reason from a failed command, for the screen. */
export function cliFailure(what: string, r: CliResult): string {
  const text = (r.stderr || r.stdout).trim().split('\n').filter(Boolean).slice(-3).join(' / ');
  return `${what} failed (exit ${r.exitCode})${text ? `: ${text}` : ''}`;
}
