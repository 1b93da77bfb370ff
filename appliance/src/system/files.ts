// Crash-safe file writes and data directories owned by the service user.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chown, copyFile, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Writes `data` to `path` so that readers see either the old or the new file, never half of one:
 * temp file in the same directory, fsync, rename, fsync the directory. The previous version is
 * kept as `<path>.bak` (copied, so the live file never disappears) unless `backup: false`.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { mode?: number; backup?: boolean; uid?: number; gid?: number } = {},
): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const tmp = join(dir, `${prefix}${randomBytes(6).toString('hex')}.tmp`);
  await removeStaleTemps(dir, prefix);
  let previousMode: number | undefined;
  try {
    previousMode = (await stat(path)).mode & 0o7777;
  } catch {
    previousMode = undefined;
  }
  const mode = opts.mode ?? previousMode ?? 0o644;
  const fh = await open(tmp, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask may have narrowed the mode given to open()
    if (opts.uid !== undefined && opts.gid !== undefined) await fh.chown(opts.uid, opts.gid);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    if (opts.backup !== false && previousMode !== undefined) await copyFile(path, `${path}.bak`);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  const dh = await open(dir, fsc.O_RDONLY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * A process killed between creating its temp file and the rename (Ctrl-C, power loss) leaves
 * the temp file behind; the live file is intact. Remove such leftovers, but only old ones, so a
 * concurrent writer's temp file is never pulled from under it.
 */
async function removeStaleTemps(dir: string, prefix: string, olderThanMs = 10 * 60_000): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !/^\.[^/]+\.[0-9a-f]{12}\.tmp$/.test(n)) continue;
    try {
      if (Date.now() - (await stat(join(dir, n))).mtimeMs > olderThanMs) await unlink(join(dir, n));
    } catch {
      /* gone already */
    }
  }
}

async function idOf(name: string): Promise<{ uid: number; gid: number } | null> {
  try {
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

/**
 * Creates the system user the daemon runs as (root only). Returns its ids, or null when not
 * root (then the data belongs to whoever runs the installer).
 */
export async function ensureSystemUser(name = 'roost', home = '/var/lib/roost'): Promise<{ uid: number; gid: number } | null> {
  if (userInfo().uid !== 0) return null;
  const existing = await idOf(name);
  if (existing) return existing;
  try {
    await run('useradd', ['--system', '--user-group', '--home-dir', home, '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`could not create the system user "${name}": ${(err.stderr?.trim() || err.message).split('\n')[0]}`);
  }
  const ids = await idOf(name);
  if (!ids) throw new Error(`the system user "${name}" was created but cannot be looked up`);
  return ids;
}

/** Creates each directory (and parents) and gives it to `owner` when set. */
export async function ensureDataDirs(dirs: string[], owner: { uid: number; gid: number } | null, mode = 0o750): Promise<void> {
  for (const d of dirs) {
    await mkdir(d, { recursive: true, mode });
    if (owner) await chown(d, owner.uid, owner.gid);
  }
}

/**
 * Gives everything under `dir` to `owner` (files the installer wrote as root, such as a fresh
 * certificate, must be readable by the daemon). Symlinks are not followed.
 */
export async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  const { lchown, lstat } = await import('node:fs/promises');
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.uid !== owner.uid || st.gid !== owner.gid) await lchown(p, owner.uid, owner.gid);
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(join(p, n));
  };
  await walk(dir);
}
