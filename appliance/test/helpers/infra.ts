// Shared helpers for tests that start real Debian programs (pebble, slapd): install when
// missing, free loopback ports, temp dirs.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Installs the Debian package providing `binary` when it is missing; throws saying what is missing. */
export function ensureDebianPackage(binary: string, packages: string[]): string {
  const find = (): string | undefined => {
    for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) if (existsSync(join(dir, binary))) return join(dir, binary);
    return undefined;
  };
  const found = find();
  if (found) return found;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', ...packages], { stdio: 'pipe', env });
  } catch {
    try {
      execFileSync('apt-get', ['update'], { stdio: 'pipe', env });
      execFileSync('apt-get', ['install', '-y', ...packages], { stdio: 'pipe', env });
    } catch (e) {
      throw new Error(`this test needs the Debian package(s) ${packages.join(' ')} (for ${binary}); installing failed: ${(e as Error).message}`);
    }
  }
  const after = find();
  if (!after) throw new Error(`installed ${packages.join(' ')} but ${binary} is still missing`);
  return after;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `roost-${prefix}-`));
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
