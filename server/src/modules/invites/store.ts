// Invitation tokens: XEP-0401 (Easy User Onboarding / Ad-hoc Account Invitation Generation,
// https://xmpp.org/extensions/xep-0401.html, v0.5.0), XEP-0445 (Pre-Authenticated In-Band
// Registration, https://xmpp.org/extensions/xep-0445.html, v0.2.0) and XEP-0379
// (Pre-Authenticated Roster Subscription, https://xmpp.org/extensions/xep-0379.html, v0.3.3).
//
// Store: keyval 'invites', owner = the served domain, key = the token, value = InviteRecord.
// Shared by the daemon (modules/invites, modules/register) and `roost invite` (cli/invite.ts),
// which writes the same database while the daemon runs; the daemon reads a record at each use,
// so nothing is cached here.
//
// A record stays after it is used up or revoked, until it expires: `roost invite list` shows who
// used it, and a token that is still in <dataDir>/invites.json is not imported again (see
// import-file.ts).
import type { JsonValue, KeyValStore } from '../../storage/types.js';
import { withLock } from '../im/roster-store.js';

export const INVITES_STORE = 'invites';

/**
 * 'register': creates an account (XEP-0445); with an inviter the new account and the inviter
 * also get a mutual subscription, and an existing user may use it as a roster invitation
 * (XEP-0445 §2.3: the client may skip registration).
 * 'roster': a contact invitation only (XEP-0379), no account creation.
 */
export type InviteType = 'register' | 'roster';

export interface InviteUse {
  /** Bare JID of the account created, or of the contact that subscribed. */
  jid: string;
  when: string;
}

export interface InviteRecord {
  type: InviteType;
  /** Bare JID of the local user the invitee becomes a contact of. */
  inviter?: string;
  /** ISO 8601 timestamps. */
  created: string;
  expires: string;
  /** Uses left. */
  uses: number;
  usedBy: InviteUse[];
  /** Who made it: 'roost setup' (invites.json), 'roost invite'. */
  source: string;
  /** Set when an administrator revoked it (ISO 8601). */
  revoked?: string;
}

/** Why a token cannot be used, for logs and the CLI; clients get one error for all (XEP-0445 §4). */
export type InviteProblem = 'unknown' | 'expired' | 'used' | 'revoked' | 'wrong-type' | 'wrong-inviter';

export type InviteCheck = { ok: true; record: InviteRecord } | { ok: false; problem: InviteProblem };

/** Status word for listings. */
export function inviteStatus(r: InviteRecord, now = Date.now()): 'valid' | 'used up' | 'expired' | 'revoked' {
  if (r.revoked) return 'revoked';
  if (Date.parse(r.expires) <= now) return 'expired';
  if (r.uses <= 0) return 'used up';
  return 'valid';
}

/** Tokens as they appear in URIs: base64url or base32/hex-like, 16 to 128 characters. */
export function plausibleToken(t: unknown): t is string {
  return typeof t === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(t);
}

export function recordFromJson(v: JsonValue | undefined): InviteRecord | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const type = v.type === 'register' || v.type === 'roster' ? v.type : undefined;
  if (!type || typeof v.created !== 'string' || typeof v.expires !== 'string' || typeof v.uses !== 'number') return undefined;
  const usedBy: InviteUse[] = Array.isArray(v.usedBy)
    ? v.usedBy.flatMap((u) => (u && typeof u === 'object' && !Array.isArray(u) && typeof u.jid === 'string' && typeof u.when === 'string' ? [{ jid: u.jid, when: u.when }] : []))
    : [];
  const r: InviteRecord = { type, created: v.created, expires: v.expires, uses: v.uses, usedBy, source: typeof v.source === 'string' ? v.source : 'unknown' };
  if (typeof v.inviter === 'string') r.inviter = v.inviter;
  if (typeof v.revoked === 'string') r.revoked = v.revoked;
  return r;
}

function toJson(r: InviteRecord): JsonValue {
  return { ...r, usedBy: r.usedBy.map((u) => ({ ...u })) } as unknown as JsonValue;
}

export class InviteStore {
  constructor(
    private readonly kv: KeyValStore,
    readonly host: string,
  ) {}

  async get(token: string): Promise<InviteRecord | undefined> {
    if (!plausibleToken(token)) return undefined;
    return recordFromJson(await this.kv.get(this.host, token));
  }

  async put(token: string, record: InviteRecord): Promise<void> {
    await this.kv.set(this.host, token, toJson(record));
  }

  async list(): Promise<Array<{ token: string; record: InviteRecord }>> {
    const out: Array<{ token: string; record: InviteRecord }> = [];
    for (const [token, v] of await this.kv.getAll(this.host)) {
      const record = recordFromJson(v);
      if (record) out.push({ token, record });
    }
    return out.sort((a, b) => a.record.created.localeCompare(b.record.created));
  }

  /**
   * Whether a token may be used now: for 'register' (an account) or 'roster' (a subscription to
   * `inviter`). Expiry is checked here only: XEP-0445 §4 keeps a validated token usable for the
   * rest of the stream.
   */
  async check(token: string, purpose: 'register' | 'roster', inviter?: string, now = Date.now()): Promise<InviteCheck> {
    const record = await this.get(token);
    if (!record) return { ok: false, problem: 'unknown' };
    if (record.revoked) return { ok: false, problem: 'revoked' };
    if (!(Date.parse(record.expires) > now)) return { ok: false, problem: 'expired' };
    if (record.uses <= 0) return { ok: false, problem: 'used' };
    if (purpose === 'register' && record.type !== 'register') return { ok: false, problem: 'wrong-type' };
    if (purpose === 'roster' && (record.inviter === undefined || record.inviter !== inviter)) return { ok: false, problem: 'wrong-inviter' };
    return { ok: true, record };
  }

  /**
   * Takes one use (when the token is not revoked and has one left), before the account is
   * created, so two streams holding the same single-use token cannot both register. `release`
   * gives it back when the registration then fails: a failed attempt uses nothing (XEP-0445 §4).
   */
  reserve(token: string): Promise<InviteRecord | undefined> {
    return this.locked(token, async () => {
      const r = await this.get(token);
      if (!r || r.revoked || r.uses <= 0) return undefined;
      r.uses -= 1;
      await this.put(token, r);
      return r;
    });
  }

  release(token: string): Promise<void> {
    return this.locked(token, async () => {
      const r = await this.get(token);
      if (!r || r.revoked) return;
      r.uses += 1;
      await this.put(token, r);
    });
  }

  /** Records who a reserved use went to. */
  recordUse(token: string, jid: string, now = Date.now()): Promise<void> {
    return this.locked(token, async () => {
      const r = await this.get(token);
      if (!r) return;
      r.usedBy.push({ jid, when: new Date(now).toISOString() });
      await this.put(token, r);
    });
  }

  /** Reserve and record in one step (a roster subscription cannot fail half-way). */
  async use(token: string, jid: string, now = Date.now()): Promise<boolean> {
    const r = await this.reserve(token);
    if (!r) return false;
    await this.recordUse(token, jid, now);
    return true;
  }

  /** Revoked records are kept until they expire, so an import cannot bring them back. */
  revoke(token: string, now = Date.now()): Promise<boolean> {
    return this.locked(token, async () => {
      const r = await this.get(token);
      if (!r) return false;
      r.revoked = new Date(now).toISOString();
      r.uses = 0;
      await this.put(token, r);
      return true;
    });
  }

  /** Deletes records whose expiry has passed; returns how many. */
  async purge(now = Date.now()): Promise<number> {
    let n = 0;
    for (const [token, v] of await this.kv.getAll(this.host)) {
      const r = recordFromJson(v);
      if (!r || !(Date.parse(r.expires) > now)) {
        await this.kv.set(this.host, token, undefined);
        n++;
      }
    }
    return n;
  }

  private locked<T>(token: string, fn: () => Promise<T>): Promise<T> {
    return withLock(`invite:${this.host}:${token}`, fn);
  }
}
