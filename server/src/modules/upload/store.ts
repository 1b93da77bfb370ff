// Where shared files live: the bytes in <dataDir>/uploads/<slot id> (never under the name the
// client chose), the metadata in two keyval stores written in the same turn (one transaction):
//   upload_files  owner = the service (upload.<host>), key = slot id → FileRecord
//                 (the download handler finds a file by id alone)
//   upload_users  owner = the uploader's bare JID, key = slot id → UserEntry
//                 (quota and account deletion read one account's files without a scan)
// A slot is recorded when it is granted; `uploaded` is set once its file is complete and renamed
// into place, so a file is visible only whole. Slots never filled expire and are removed by the
// purge, which gives their size back to the quota.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonValue, KeyValStore } from '../../storage/types.js';

export const FILES_STORE = 'upload_files';
export const USERS_STORE = 'upload_users';
export const SERVICE_STORE = 'upload_service';

export const DAY_MS = 86_400_000;
const PART_PREFIX = '.part-';

export interface FileRecord {
  /** Bare JID of the uploader. */
  owner: string;
  /** Sanitised file name (URL and Content-Disposition). */
  name: string;
  size: number;
  /** Content type from the request, normalised; '' when the client gave none. */
  type: string;
  /** When the slot was granted (ms). */
  created: number;
  /** The PUT must start before this (ms). */
  expires: number;
  /** When the file was complete (ms); absent while the slot waits for its PUT. */
  uploaded?: number;
}

export interface UserEntry {
  size: number;
  created: number;
  expires: number;
  uploaded?: number;
}

export interface QuotaState {
  used: number;
  /** For each slot still counted: its size and when it stops counting. */
  counted: { size: number; until: number }[];
}

const ID_RE = /^[A-Za-z0-9_-]{22}$/;

export function isSlotId(s: string): boolean {
  return ID_RE.test(s);
}

export class FileStore {
  constructor(
    private readonly files: KeyValStore,
    private readonly users: KeyValStore,
    /** The service's domain: owner of its file records. */
    readonly service: string,
    /** <dataDir>/uploads */
    readonly dir: string,
  ) {}

  /** 128 random bits: the unguessable part of the URL (XEP-0363 §8). */
  static newId(): string {
    return randomBytes(16).toString('base64url');
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
  }

  path(id: string): string {
    return join(this.dir, id);
  }

  /** A fresh temporary name next to the final one (same file system: the rename is atomic). */
  tempPath(id: string): string {
    return join(this.dir, `${PART_PREFIX}${id}-${randomBytes(6).toString('hex')}`);
  }

  async get(id: string): Promise<FileRecord | undefined> {
    if (!isSlotId(id)) return undefined;
    const v = await this.files.get<JsonValue>(this.service, id);
    return isRecord(v) ? v : undefined;
  }

  async grant(id: string, rec: FileRecord): Promise<void> {
    const entry: UserEntry = { size: rec.size, created: rec.created, expires: rec.expires };
    await Promise.all([this.files.set(this.service, id, rec as unknown as JsonValue), this.users.set(rec.owner, id, entry as unknown as JsonValue)]);
  }

  async markUploaded(id: string, rec: FileRecord, when: number): Promise<void> {
    const done: FileRecord = { ...rec, uploaded: when };
    const entry: UserEntry = { size: rec.size, created: rec.created, expires: rec.expires, uploaded: when };
    await Promise.all([this.files.set(this.service, id, done as unknown as JsonValue), this.users.set(rec.owner, id, entry as unknown as JsonValue)]);
  }

  /** Deletes a slot: metadata first (the file is then unreachable), then the bytes. */
  async remove(id: string, owner: string): Promise<void> {
    await Promise.all([this.files.set(this.service, id, undefined), this.users.set(owner, id, undefined)]);
    await rm(this.path(id), { force: true });
  }

  /**
   * What one account has shared in the last 24 hours (granted slots count from the moment they
   * are granted, so parallel requests cannot overrun the quota; an unused one stops counting
   * when it expires).
   */
  async quota(owner: string, now: number): Promise<QuotaState> {
    const all = await this.users.getAll<JsonValue>(owner);
    const counted: QuotaState['counted'] = [];
    let used = 0;
    for (const v of all.values()) {
      if (!isEntry(v)) continue;
      const dayEnds = v.created + DAY_MS;
      const until = v.uploaded !== undefined ? dayEnds : Math.min(dayEnds, v.expires);
      if (until <= now) continue;
      counted.push({ size: v.size, until });
      used += v.size;
    }
    return { used, counted };
  }

  /** Every file and slot of an account (account deletion). Returns how many. */
  async removeOwner(owner: string): Promise<number> {
    const all = await this.users.getAll<JsonValue>(owner);
    const ids = [...all.keys()];
    await Promise.all([...ids.map((id) => this.files.set(this.service, id, undefined)), this.users.deleteOwner(owner)]);
    await Promise.all(ids.map((id) => rm(this.path(id), { force: true })));
    return ids.length;
  }

  /**
   * Removes files older than the retention (0: none) and slots that expired unused more than
   * `slotGraceMs` ago, skipping slots whose upload is under way. Until then a late PUT is told
   * that its slot expired (410) instead of getting a bare 404.
   */
  async purge(now: number, retentionMs: number, busy: ReadonlySet<string>, slotGraceMs = 0): Promise<{ files: number; slots: number }> {
    const all = await this.files.getAll<JsonValue>(this.service);
    let files = 0;
    let slots = 0;
    for (const [id, v] of all) {
      if (!isRecord(v)) continue;
      if (v.uploaded === undefined) {
        if (v.expires + slotGraceMs >= now || busy.has(id)) continue;
        await this.remove(id, v.owner);
        slots++;
      } else if (retentionMs > 0 && v.uploaded + retentionMs <= now) {
        await this.remove(id, v.owner);
        files++;
      }
    }
    return { files, slots };
  }

  /**
   * Deletes temporary files no upload of this process is writing (left by a crash or a kill).
   * Returns how many.
   */
  async cleanTemporary(writing: ReadonlySet<string>, olderThanMs: number, now: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let n = 0;
    for (const name of names) {
      if (!name.startsWith(PART_PREFIX) || writing.has(join(this.dir, name))) continue;
      const p = join(this.dir, name);
      const st = await stat(p).catch(() => undefined);
      if (!st || now - st.mtimeMs < olderThanMs) continue;
      await rm(p, { force: true });
      n++;
    }
    return n;
  }
}

/** When `size` more bytes fit into the quota again (ms), given what counts now. */
export function quotaRetryAt(q: QuotaState, size: number, quota: number, now: number): number {
  let over = q.used + size - quota;
  if (over <= 0) return now;
  for (const c of [...q.counted].sort((a, b) => a.until - b.until)) {
    over -= c.size;
    if (over <= 0) return c.until;
  }
  return now + DAY_MS;
}

function isRecord(v: unknown): v is FileRecord {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return typeof r.owner === 'string' && typeof r.name === 'string' && typeof r.size === 'number' && typeof r.type === 'string' && typeof r.created === 'number' && typeof r.expires === 'number';
}

function isEntry(v: unknown): v is UserEntry {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return typeof r.size === 'number' && typeof r.created === 'number' && typeof r.expires === 'number';
}
