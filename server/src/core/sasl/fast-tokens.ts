// XEP-0484: Fast Authentication Streamlining Tokens (version 0.1.0, 2023-12-11) — the server's
// token store — and the XEP-0388 user agents (clients) of each account it hangs off.
// https://xmpp.org/extensions/xep-0484.html
//
// Keyval store 'sasl2-clients', owner = bare JID, key = an opaque id derived from the client's
// user-agent id (SHA-256, so the raw id is not kept), value = ClientRecord: what the client
// said it is (software, device), first/last login, and up to two token slots (§"Server-side
// handling of multiple active tokens": 'current' and 'next'; a new token goes to 'next' and
// replaces it; using 'next' promotes it and retires 'current').
//
// Tokens are never stored. A token is 66 random bytes in base64url (88 characters, longer than
// the SHA-256 block), and HMAC (RFC 2104 §2) first hashes a key longer than the block, so
// HMAC(token, m) = HMAC(SHA-256(token), m): the store keeps SHA-256(token), which computes
// the HT proofs for any channel binding but does not give the token back. For a token bound
// to HT-SHA-256-NONE the proofs are constant, so only SHA-256 of the client's proof and the
// server's proof are kept: a copy of the database cannot log in with it.
//
// Tokens are bound to the mechanism chosen when they were requested, to the user agent, and
// to the account's password: each slot remembers a fingerprint of the stored SCRAM keys, so a
// password change made anywhere (in-band, `roost user`, another process) voids every token;
// the `password-changed` hook also deletes them at once. A 'count' on <fast/> (required for
// TLS 0-RTT, which Roost does not accept, optional otherwise) must grow with each use.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Accounts } from '../accounts.js';
import type { Hooks } from '../hooks.js';
import type { JsonValue, KeyValStore } from '../../storage/types.js';
import type { UserAgent } from '../session.js';
import type { TokenCheck, TokenVerifier } from './ht.js';

export const NS_FAST = 'urn:xmpp:fast:0';

interface Slot {
  mechanism: string;
  issued: number;
  expiry: number;
  /** Highest 'count' seen with this token (0: none yet). */
  count: number;
  /** Fingerprint of the account's credentials when issued. */
  credential: string;
  /** base64 SHA-256(token): the HMAC key (channel-binding mechanisms). */
  key?: string;
  /** base64 SHA-256(client proof) and the server proof (HT-SHA-256-NONE). */
  initiator?: string;
  responder?: string;
}

export interface ClientRecord {
  software?: string;
  device?: string;
  firstSeen: number;
  lastSeen: number;
  lastAddress?: string;
  current?: Slot;
  next?: Slot;
}

/** A client of an account as listed for its owner or an admin. */
export interface ClientInfo {
  /** Opaque id to revoke it with (not the user-agent id). */
  id: string;
  software?: string;
  device?: string;
  firstSeen: Date;
  lastSeen: Date;
  lastAddress?: string;
  /** When its login token expires; undefined when it has none. */
  tokenExpiry?: Date;
}

export interface FastSettings {
  enabled: boolean;
  /** Seconds. */
  tokenLifetime: number;
  maxClientsPerAccount: number;
}

export interface IssuedToken {
  token: string;
  expiry: Date;
}

/** Which slot a successful FAST login used, for afterLogin(). */
export interface TokenUse {
  slot: 'current' | 'next';
  count?: number;
}

const STORE = 'sasl2-clients';

export function clientKey(userAgentId: string): string {
  return createHash('sha256').update(userAgentId, 'utf8').digest('base64url').slice(0, 27);
}

function sha256(data: Buffer | string): Buffer {
  return createHash('sha256').update(data).digest();
}

function hmac(key: Buffer, label: string, cb: Buffer): Buffer {
  return createHmac('sha256', key).update(label, 'ascii').update(cb).digest();
}

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

async function credentialFingerprint(accounts: Accounts, username: string): Promise<string> {
  const c = (await accounts.scram(username, 'SHA-256')) ?? (await accounts.scram(username, 'SHA-1'));
  if (!c) return 'none';
  return sha256(`${c.salt}:${c.storedKey}`).toString('base64url').slice(0, 22);
}

export class FastTokens {
  private readonly store: KeyValStore;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    open: (name: string) => KeyValStore,
    private readonly settings: () => FastSettings,
  ) {
    this.store = open(STORE);
  }

  get enabled(): boolean {
    return this.settings().enabled;
  }

  /** Serialises read-modify-write of one client record. */
  private lock<T>(owner: string, key: string, fn: () => Promise<T>): Promise<T> {
    const k = `${owner}\0${key}`;
    const prev = this.locks.get(k) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(k, tail);
    void tail.then(() => {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    });
    return run;
  }

  private async get(owner: string, key: string): Promise<ClientRecord | undefined> {
    return (await this.store.get(owner, key)) as ClientRecord | undefined;
  }

  private async put(owner: string, key: string, rec: ClientRecord): Promise<void> {
    await this.store.set(owner, key, rec as unknown as JsonValue);
  }

  /** The verifier an HT exchange uses for a client (its user-agent id) of `host`. */
  verifier(host: string, userAgentId: string, accounts: Accounts, count: number | undefined, used: (u: TokenUse) => void): TokenVerifier {
    return {
      verify: (username, mechanism, initiator, cbData) => this.check(`${username}@${host}`, username, clientKey(userAgentId), mechanism, initiator, cbData, count, accounts, used),
    };
  }

  private async check(
    owner: string,
    username: string,
    key: string,
    mechanism: string,
    initiator: Buffer,
    cbData: Buffer,
    count: number | undefined,
    accounts: Accounts,
    used: (u: TokenUse) => void,
  ): Promise<TokenCheck> {
    const bad: TokenCheck = { ok: false, condition: 'not-authorized', text: 'Invalid username or token' };
    const rec = await this.get(owner, key);
    if (!rec) return bad;
    const now = Date.now();
    for (const slot of ['next', 'current'] as const) {
      const s = rec[slot];
      if (!s || s.mechanism !== mechanism) continue;
      let responder: Buffer | undefined;
      if (s.initiator !== undefined && s.responder !== undefined) {
        if (equal(sha256(initiator), Buffer.from(s.initiator, 'base64'))) responder = Buffer.from(s.responder, 'base64');
      } else if (s.key !== undefined) {
        const k = Buffer.from(s.key, 'base64');
        if (equal(hmac(k, 'Initiator', cbData), initiator)) responder = hmac(k, 'Responder', cbData);
      }
      if (!responder) continue;
      if (s.expiry <= now) return { ok: false, condition: 'credentials-expired', text: 'the token has expired; log in with the password' };
      if (s.credential !== (await credentialFingerprint(accounts, username))) {
        return { ok: false, condition: 'credentials-expired', text: 'the password changed since this token was issued; log in with the password' };
      }
      if (count !== undefined && count <= s.count) return { ok: false, condition: 'not-authorized', text: 'this token use was already seen (count)' };
      used({ slot, ...(count !== undefined ? { count } : {}) });
      return { ok: true, responder };
    }
    return bad;
  }

  private async newSlot(mechanism: string, accounts: Accounts, username: string): Promise<{ slot: Slot; issued: IssuedToken }> {
    const token = randomBytes(66).toString('base64url');
    const now = Date.now();
    const expiry = now + this.settings().tokenLifetime * 1000;
    const slot: Slot = { mechanism, issued: now, expiry, count: 0, credential: await credentialFingerprint(accounts, username) };
    const k = sha256(token);
    if (mechanism === 'HT-SHA-256-NONE') {
      slot.initiator = sha256(hmac(k, 'Initiator', Buffer.alloc(0))).toString('base64');
      slot.responder = hmac(k, 'Responder', Buffer.alloc(0)).toString('base64');
    } else slot.key = k.toString('base64');
    return { slot, issued: { token, expiry: new Date(expiry) } };
  }

  /**
   * After any successful SASL2 login by a client with a user agent: remembers the client,
   * updates the token slots (promotion, count, invalidation, rotation past half the lifetime)
   * and issues a token when asked (`request`: the mechanism) or when due. Returns the token to
   * put in <success/>, if any.
   */
  async afterLogin(opts: {
    host: string;
    username: string;
    userAgent: UserAgent;
    address: string;
    accounts: Accounts;
    /** Set when the login used a token. */
    use?: TokenUse;
    invalidate?: boolean;
    request?: string;
  }): Promise<IssuedToken | undefined> {
    const owner = `${opts.username}@${opts.host}`;
    const key = clientKey(opts.userAgent.id);
    const result = await this.lock(owner, key, async () => {
      const now = Date.now();
      let rec = await this.get(owner, key);
      if (!rec) {
        await this.makeRoom(owner);
        rec = { firstSeen: now, lastSeen: now };
      }
      rec.lastSeen = now;
      rec.lastAddress = opts.address;
      if (opts.userAgent.software !== undefined) rec.software = opts.userAgent.software;
      if (opts.userAgent.device !== undefined) rec.device = opts.userAgent.device;
      let usedSlot: Slot | undefined;
      if (opts.use) {
        if (opts.use.slot === 'next' && rec.next) {
          rec.current = rec.next;
          delete rec.next;
        }
        usedSlot = rec.current;
        if (usedSlot && opts.use.count !== undefined) usedSlot.count = opts.use.count;
      }
      let issued: IssuedToken | undefined;
      if (opts.invalidate) {
        delete rec.current;
        delete rec.next;
      }
      const lifetime = this.settings().tokenLifetime * 1000;
      const due = !opts.invalidate && usedSlot !== undefined && usedSlot.expiry - now < lifetime / 2;
      const mechanism = opts.request ?? (due ? usedSlot!.mechanism : undefined);
      if (mechanism !== undefined && this.enabled) {
        const made = await this.newSlot(mechanism, opts.accounts, opts.username);
        // A newer token replaces one issued earlier and never used (§ token rotation).
        rec.next = made.slot;
        issued = made.issued;
      }
      await this.put(owner, key, rec);
      return issued;
    });
    return result;
  }

  /** Keeps at most maxClientsPerAccount - 1 records, so one more fits. */
  private async makeRoom(owner: string): Promise<void> {
    const all = await this.store.getAll<JsonValue>(owner);
    const max = this.settings().maxClientsPerAccount;
    if (all.size < max) return;
    const byAge = [...all.entries()].sort((a, b) => ((a[1] as unknown as ClientRecord).lastSeen ?? 0) - ((b[1] as unknown as ClientRecord).lastSeen ?? 0));
    for (const [k] of byAge.slice(0, all.size - max + 1)) await this.store.set(owner, k, undefined);
  }

  /** The clients (user agents) of an account, most recently seen first. */
  async clients(owner: string): Promise<ClientInfo[]> {
    const all = await this.store.getAll<JsonValue>(owner);
    const now = Date.now();
    return [...all.entries()]
      .map(([id, v]) => {
        const r = v as unknown as ClientRecord;
        const expiry = Math.max(r.current?.expiry ?? 0, r.next?.expiry ?? 0);
        const info: ClientInfo = { id, firstSeen: new Date(r.firstSeen), lastSeen: new Date(r.lastSeen) };
        if (r.software !== undefined) info.software = r.software;
        if (r.device !== undefined) info.device = r.device;
        if (r.lastAddress !== undefined) info.lastAddress = r.lastAddress;
        if (expiry > now) info.tokenExpiry = new Date(expiry);
        return info;
      })
      .sort((a, b) => b.lastSeen.getTime() - a.lastSeen.getTime());
  }

  /** Forgets one client of an account, with its tokens. True when it was known. */
  async revoke(owner: string, id: string): Promise<boolean> {
    return this.lock(owner, id, async () => {
      const had = (await this.store.get(owner, id)) !== undefined;
      if (had) await this.store.set(owner, id, undefined);
      return had;
    });
  }

  /** Voids every token of an account (password changed); the clients stay listed. */
  async revokeTokens(owner: string): Promise<number> {
    const all = await this.store.getAll<JsonValue>(owner);
    let n = 0;
    for (const key of all.keys()) {
      n += await this.lock(owner, key, async () => {
        const rec = await this.get(owner, key);
        if (!rec || (!rec.current && !rec.next)) return 0;
        delete rec.current;
        delete rec.next;
        await this.put(owner, key, rec);
        return 1;
      });
    }
    return n;
  }

  /** Revokes on the host's `password-changed` and forgets on `account-deleted`. */
  watch(hooks: Hooks, host: string): void {
    hooks.on<{ username: string }>('password-changed', async ({ username }) => {
      await this.revokeTokens(`${username}@${host}`);
      return false;
    });
    hooks.on<{ username: string }>('account-deleted', async ({ username }) => {
      await this.forget(`${username}@${host}`);
      return false;
    });
  }

  /** Account deleted: everything goes. */
  async forget(owner: string): Promise<void> {
    await this.store.deleteOwner(owner);
  }
}
