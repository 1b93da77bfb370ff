// Imports the invitations `roost setup` leaves in <dataDir>/invites.json (format: installer/README.md
// "Invitations", type Invite in installer/src/invite.ts) into the keyval store 'invites'.
//
// The file is only read, never rewritten: it belongs to the installer (which prunes expired
// entries itself each time it adds one), it may be owned by root and read-only for the service
// user, and two writers of one file could lose each other's changes. Instead the import is
// idempotent through the store: a token already there (valid, used up or revoked) is left alone,
// and expired entries are skipped. A record stays in the store until its expiry (store.ts
// purge), and the file's copy expires at the same moment, so a used or revoked token never comes
// back. The file is read at start and again when an unknown token arrives and the file changed
// since (a re-run of the installer that only reloads the daemon).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { InviteFile } from '../../../../installer/src/invite.js';
import { prepareDomain, tryParseJid } from '../../core/jid.js';
import { plausibleToken, type InviteRecord, type InviteStore } from './store.js';

/**
 * The installer's INVITES_FILE (installer/src/invite.ts); not imported as a value so the daemon
 * does not load the installer's QR code library.
 */
export const INVITES_FILE: 'invites.json' = 'invites.json';

export interface ImportResult {
  imported: string[];
  /** Already in the store. */
  known: number;
  expired: number;
  /** Entries that cannot be used, with the reason (for the log). */
  problems: string[];
}

export function invitesFilePath(dataDir: string): string {
  return join(dataDir, INVITES_FILE);
}

/** Parses the file's text; throws with a readable message when it is not an invitations file. */
export function parseInvitesFile(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON (${(e as Error).message})`);
  }
  const invites = (parsed as Partial<InviteFile> | null)?.invites;
  if (!parsed || typeof parsed !== 'object' || !Array.isArray(invites)) throw new Error('expected { "version": 1, "invites": [...] }');
  return invites as unknown[];
}

/** One file entry as a store record, or why it cannot be one. */
function entryRecord(e: unknown, host: string, now: number): { token: string; record: InviteRecord } | { skip: 'other-host' | 'expired' } | { problem: string } {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return { problem: 'an entry is not an object' };
  const v = e as Record<string, unknown>;
  if (!plausibleToken(v.token)) return { problem: 'an entry has no usable token' };
  const token = v.token;
  const short = `${token.slice(0, 6)}…`;
  if (typeof v.domain !== 'string') return { problem: `${short}: no domain` };
  let domain: string;
  try {
    domain = prepareDomain(v.domain);
  } catch {
    return { problem: `${short}: domain is not a domain name` };
  }
  if (domain !== host) return { skip: 'other-host' };
  const expires = typeof v.expires === 'string' ? Date.parse(v.expires) : NaN;
  if (!Number.isFinite(expires)) return { problem: `${short}: expires is not a date` };
  if (expires <= now) return { skip: 'expired' };
  const created = typeof v.created === 'string' && Number.isFinite(Date.parse(v.created)) ? v.created : new Date(now).toISOString();
  const uses = v.uses === undefined ? 1 : v.uses;
  if (typeof uses !== 'number' || !Number.isInteger(uses) || uses < 1) return { problem: `${short}: uses must be a whole number of at least 1` };
  const type = v.type === undefined ? 'register' : v.type;
  if (type !== 'register' && type !== 'roster') return { problem: `${short}: unknown type ${JSON.stringify(type)}` };
  let inviter: string | undefined;
  if (v.inviter !== undefined) {
    const j = typeof v.inviter === 'string' ? tryParseJid(v.inviter) : undefined;
    if (!j || j.local === undefined || j.resource !== undefined) return { problem: `${short}: inviter is not a user address` };
    inviter = j.bare;
  }
  if (type === 'roster' && !inviter) return { problem: `${short}: a roster invitation needs an inviter` };
  const record: InviteRecord = {
    type,
    created,
    expires: new Date(expires).toISOString(),
    uses,
    usedBy: [],
    source: typeof v.source === 'string' && v.source.length <= 100 ? v.source : 'invites.json',
  };
  if (inviter) record.inviter = inviter;
  return { token, record };
}

/** Imports the file's entries for `store.host`; undefined when there is no file. */
export async function importInvitesFile(store: InviteStore, path: string, now = Date.now()): Promise<ImportResult | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const result: ImportResult = { imported: [], known: 0, expired: 0, problems: [] };
  for (const entry of parseInvitesFile(text)) {
    const r = entryRecord(entry, store.host, now);
    if ('problem' in r) result.problems.push(r.problem);
    else if ('skip' in r) {
      if (r.skip === 'expired') result.expired++;
    } else if (await store.get(r.token)) result.known++;
    else {
      await store.put(r.token, r.record);
      result.imported.push(r.token);
    }
  }
  return result;
}

/** Re-imports when the file changed since the last look (cheap: one stat per unknown token). */
export class InvitesFileWatcher {
  private seen: number | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: InviteStore,
    readonly path: string,
    private readonly onResult: (r: ImportResult | undefined, error?: Error) => void,
  ) {}

  /** Imports now (at start). */
  async run(): Promise<void> {
    this.seen = await this.mtime();
    await this.importNow();
  }

  /** Imports again when the file's modification time moved; resolves when done. */
  async refresh(): Promise<void> {
    const m = await this.mtime();
    if (m === undefined || m === this.seen) return;
    this.seen = m;
    await this.importNow();
  }

  private importNow(): Promise<void> {
    // One import at a time: a burst of unknown tokens must not read the file in parallel.
    this.running ??= importInvitesFile(this.store, this.path)
      .then(
        (r) => this.onResult(r),
        (e: unknown) => this.onResult(undefined, e instanceof Error ? e : new Error(String(e))),
      )
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async mtime(): Promise<number | undefined> {
    try {
      return (await stat(this.path)).mtimeMs;
    } catch {
      return undefined;
    }
  }
}
