// The real `roost` command runs the compiled code (bin/roost.js -> dist/). CI builds it first
// (npm ci / npm test run tsc); locally this rebuilds when the sources are newer than dist.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const ROOST_BIN = join(ROOT, 'bin', 'roost.js');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Test files run in parallel: one build at a time (a directory is created atomically). */
function withBuildLock(fn: () => void): void {
  const lock = join(tmpdir(), 'roost-test-build.lock');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building (or one died while building: stale after 5 minutes).
      try {
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`waited 5 minutes for another test's build (${lock})`);
      execFileSync('sleep', ['0.5']);
    }
  }
  try {
    fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function ensureBuilt(): void {
  withBuildLock(build);
}

function build(): void {
  const cli = join(ROOT, 'dist', 'server', 'src', 'cli', 'main.js');
  const setup = join(ROOT, 'dist', 'installer', 'src', 'index.js');
  const src = Math.max(...['installer/src', 'appliance/src', 'server/src'].map((d) => newest(join(ROOT, d))));
  const built = existsSync(cli) && existsSync(setup) ? Math.min(statSync(cli).mtimeMs, statSync(setup).mtimeMs) : 0;
  if (built < src) {
    // tsc writes the JavaScript even when some file has type errors; those fail the type check, not this test.
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
    } catch {
      /* emitted anyway */
    }
  }
  if (!existsSync(cli))
    throw new Error(`the roost command's compiled CLI (${cli}) is missing: the daemon's CLI (server/src/cli/main.ts) is not built or not written yet`);
}
