// Local accounts: SCRAM credentials per account, never the password itself.
// RFC 5802 §3 / RFC 7677 stored keys (SHA-1, SHA-256, SHA-512), passwords prepared with the
// PRECIS OpaqueString profile (RFC 8265 §4). The CLI (`roost user ...`), SASL and in-band
// registration use it.
//
// Storage: keyval store `accounts`, owner = bare JID `user@host`, key `credentials`, value
// AccountRecord. One database can serve several hosts; list() only returns this host's owners.
// The decoy secret (fake SCRAM salts for unknown users, so logins cannot enumerate accounts)
// lives in keyval store `secrets`, owner = host, key `scram-decoy`.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { JsonValue, KeyValStore, Storage } from '../storage/types.js';
import { decoyCredentials, deriveScramCredentials, keysFromSaltedPassword, saltedPassword } from './sasl/scram-crypto.js';
import { prepareOpaqueString, tryPrepareOpaqueString } from './sasl/saslprep.js';

export type ScramHash = 'SHA-1' | 'SHA-256' | 'SHA-512';

/** RFC 5802 stored credentials for one hash: what SCRAM needs, and no more. */
export interface ScramCredentials {
  salt: string; // base64
  iterations: number;
  storedKey: string; // base64
  serverKey: string; // base64
}

export interface AccountRecord {
  created: number;
  scram: Partial<Record<ScramHash, ScramCredentials>>;
}

export interface Accounts {
  exists(username: string): Promise<boolean>;
  /** Throws AccountExistsError when taken. PBKDF2 runs off the event loop (async crypto). */
  create(username: string, password: string): Promise<void>;
  setPassword(username: string, password: string): Promise<void>;
  delete(username: string): Promise<void>;
  list(): Promise<string[]>;
  scram(username: string, hash: ScramHash): Promise<ScramCredentials | undefined>;
  /** For PLAIN (inside TLS only): checks against the stored SCRAM keys. */
  verify(username: string, password: string): Promise<boolean>;
  /**
   * Credentials to answer with when `username` has none: stable per name (derived from a
   * persisted server secret), matching no password. Optional so other account backends can
   * leave it out; SASL then derives decoys from a per-process secret.
   */
  decoyScram?(username: string, hash: ScramHash): Promise<ScramCredentials>;
}

export class AccountExistsError extends Error {
  override name = 'AccountExistsError';
  constructor(readonly username: string) {
    super(`account ${username} already exists`);
  }
}

export class AccountNotFoundError extends Error {
  override name = 'AccountNotFoundError';
  constructor(readonly username: string) {
    super(`account ${username} does not exist`);
  }
}

/** A password the OpaqueString profile refuses (empty, control characters...). */
export class InvalidPasswordError extends Error {
  override name = 'InvalidPasswordError';
}

export class InvalidUsernameError extends Error {
  override name = 'InvalidUsernameError';
}

export const DEFAULT_SCRAM_ITERATIONS = 4096;
const HASHES: ScramHash[] = ['SHA-1', 'SHA-256', 'SHA-512'];
const KEY = 'credentials';

export interface AccountsOptions {
  /** PBKDF2 iterations for new passwords (default 4096, RFC 7677 §4's minimum). */
  iterations?: number;
}

/** A prepared localpart can never hold '@' or '/'; anything else would corrupt the owner key. */
function validUsername(username: string): boolean {
  return typeof username === 'string' && username.length > 0 && !/[@/]/.test(username) && Buffer.byteLength(username) <= 1023;
}

export function createAccounts(storage: Storage, host: string, opts: AccountsOptions = {}): Accounts {
  const iterations = opts.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`SCRAM iterations must be a positive integer, not ${iterations}`);
  const store: KeyValStore = storage.keyval('accounts');
  const secrets: KeyValStore = storage.keyval('secrets');
  const owner = (u: string) => `${u}@${host}`;
  const suffix = `@${host}`;
  // Serializes create/setPassword/delete per account inside this process: the store has no
  // insert-if-absent, so two concurrent registrations of one name must not both "win".
  const locks = new Map<string, Promise<unknown>>();
  const locked = <T>(u: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(u) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    locks.set(u, tail);
    void tail.then(() => {
      if (locks.get(u) === tail) locks.delete(u);
    });
    return run;
  };

  const read = async (u: string): Promise<AccountRecord | undefined> => {
    if (!validUsername(u)) return undefined;
    return (await store.get(owner(u), KEY)) as AccountRecord | undefined;
  };

  const credentialsFor = async (password: string): Promise<AccountRecord['scram']> => {
    let prepared: string;
    try {
      prepared = prepareOpaqueString(password);
    } catch (e) {
      throw new InvalidPasswordError((e as Error).message);
    }
    const all = await Promise.all(HASHES.map((h) => deriveScramCredentials(h, prepared, iterations)));
    const scram: AccountRecord['scram'] = {};
    HASHES.forEach((h, i) => (scram[h] = all[i]));
    return scram;
  };

  let secret: Promise<Buffer> | undefined;
  const decoySecret = (): Promise<Buffer> => {
    secret ??= (async () => {
      const have = await secrets.get<string>(host, 'scram-decoy');
      if (typeof have === 'string' && have.length >= 43) return Buffer.from(have, 'base64');
      const fresh = randomBytes(32);
      await secrets.set(host, 'scram-decoy', fresh.toString('base64'));
      return fresh;
    })().catch((e) => {
      secret = undefined; // retry on the next login rather than keep a failed promise
      throw e;
    });
    return secret;
  };

  const accounts: Accounts = {
    async exists(username) {
      return (await read(username)) !== undefined;
    },

    create(username, password) {
      if (!validUsername(username)) return Promise.reject(new InvalidUsernameError(`invalid username: ${JSON.stringify(username)}`));
      return locked(username, async () => {
        if (await read(username)) throw new AccountExistsError(username);
        const scram = await credentialsFor(password);
        // Checked again: PBKDF2 took milliseconds, during which another process may have won.
        if (await read(username)) throw new AccountExistsError(username);
        const record: AccountRecord = { created: Date.now(), scram };
        await store.set(owner(username), KEY, record as unknown as JsonValue);
      });
    },

    setPassword(username, password) {
      if (!validUsername(username)) return Promise.reject(new AccountNotFoundError(username));
      return locked(username, async () => {
        const scram = await credentialsFor(password);
        const current = await read(username);
        if (!current) throw new AccountNotFoundError(username);
        const record: AccountRecord = { created: current.created, scram };
        await store.set(owner(username), KEY, record as unknown as JsonValue);
      });
    },

    delete(username) {
      if (!validUsername(username)) return Promise.resolve();
      return locked(username, () => store.deleteOwner(owner(username)));
    },

    async list() {
      const owners = await store.owners();
      return owners
        .filter((o) => o.endsWith(suffix) && o.length > suffix.length)
        .map((o) => o.slice(0, -suffix.length))
        .sort();
    },

    async scram(username, hash) {
      return (await read(username))?.scram[hash];
    },

    async verify(username, password) {
      const prepared = tryPrepareOpaqueString(password);
      const record = await read(username);
      const cred = record?.scram['SHA-256'] ?? record?.scram['SHA-512'] ?? record?.scram['SHA-1'];
      const hash: ScramHash = record?.scram['SHA-256'] ? 'SHA-256' : record?.scram['SHA-512'] ? 'SHA-512' : record?.scram['SHA-1'] ? 'SHA-1' : 'SHA-256';
      // Unknown account or unusable password: the same PBKDF2 against a decoy, so the answer
      // takes as long as for a real account with a wrong password.
      const c = cred ?? decoyCredentials(await decoySecret(), username, hash, iterations);
      const salted = await saltedPassword(hash, prepared ?? password, Buffer.from(c.salt, 'base64'), c.iterations);
      const { storedKey } = keysFromSaltedPassword(hash, salted);
      const expected = Buffer.from(c.storedKey, 'base64');
      const same = expected.length === storedKey.length && timingSafeEqual(storedKey, expected);
      return same && cred !== undefined && prepared !== undefined;
    },

    async decoyScram(username, hash) {
      return decoyCredentials(await decoySecret(), username, hash, iterations);
    },
  };
  return accounts;
}
