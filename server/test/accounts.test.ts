// Local accounts over the real SQLite storage: SCRAM stored keys only (RFC 5802 §3), PRECIS
// OpaqueString passwords (RFC 8265 §4), create/duplicate/setPassword/delete/list/verify.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountExistsError,
  AccountNotFoundError,
  createAccounts,
  InvalidPasswordError,
  InvalidUsernameError,
  type AccountRecord,
  type Accounts,
} from '../src/core/accounts.js';
import { prepareOpaqueString, PrecisError } from '../src/core/sasl/saslprep.js';
import { deriveScramCredentials } from '../src/core/sasl/scram-crypto.js';
import { createStorage } from '../src/storage/index.js';
import type { Storage } from '../src/storage/types.js';

const dir = mkdtempSync(join(tmpdir(), 'roost-accounts-'));
const dbPath = join(dir, 'roost.sqlite');
let storage: Storage;
let accounts: Accounts;

beforeAll(async () => {
  storage = createStorage({ type: 'sqlite', path: dbPath });
  await storage.open();
  accounts = createAccounts(storage, 'example.org');
});

afterAll(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const record = (u: string, host = 'example.org') => storage.keyval('accounts').get(`${u}@${host}`, 'credentials') as Promise<AccountRecord | undefined>;

describe('accounts', () => {
  it('create stores SCRAM keys for SHA-1, SHA-256, SHA-512, each with its own salt, and never the password', async () => {
    await accounts.create('alice', 'correct horse battery staple');
    expect(await accounts.exists('alice')).toBe(true);
    const r = (await record('alice'))!;
    expect(Object.keys(r.scram).sort()).toEqual(['SHA-1', 'SHA-256', 'SHA-512']);
    const salts = Object.values(r.scram).map((c) => c!.salt);
    expect(new Set(salts).size).toBe(3);
    for (const [h, c] of Object.entries(r.scram)) {
      expect(c!.iterations).toBe(4096);
      expect(Buffer.from(c!.salt, 'base64').length).toBe(16);
      const size = { 'SHA-1': 20, 'SHA-256': 32, 'SHA-512': 64 }[h as 'SHA-1'];
      expect(Buffer.from(c!.storedKey, 'base64').length).toBe(size);
      expect(Buffer.from(c!.serverKey, 'base64').length).toBe(size);
      // The stored keys are exactly RFC 5802's for this salt and password.
      const expected = await deriveScramCredentials(h as 'SHA-1', 'correct horse battery staple', 4096, Buffer.from(c!.salt, 'base64'));
      expect(c).toEqual(expected);
    }
    expect(r.created).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.stringify(r)).not.toContain('horse');
    // Nor anywhere in the database file.
    await storage.close();
    expect(readFileSync(dbPath).includes(Buffer.from('correct horse'))).toBe(false);
    storage = createStorage({ type: 'sqlite', path: dbPath });
    await storage.open();
    accounts = createAccounts(storage, 'example.org');
    expect(await accounts.verify('alice', 'correct horse battery staple')).toBe(true);
  });

  it('a taken name throws AccountExistsError and keeps the first password', async () => {
    await accounts.create('bob', 'first');
    await expect(accounts.create('bob', 'second')).rejects.toBeInstanceOf(AccountExistsError);
    await expect(accounts.create('bob', 'second')).rejects.toMatchObject({ name: 'AccountExistsError' });
    expect(await accounts.verify('bob', 'first')).toBe(true);
    expect(await accounts.verify('bob', 'second')).toBe(false);
  });

  it('concurrent registrations of one name: exactly one wins', async () => {
    const results = await Promise.allSettled(['p1', 'p2', 'p3', 'p4'].map((p) => accounts.create('race', p)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof AccountExistsError)).toHaveLength(3);
    const winner = ['p1', 'p2', 'p3', 'p4'][results.findIndex((r) => r.status === 'fulfilled')]!;
    expect(await accounts.verify('race', winner)).toBe(true);
  });

  it('setPassword replaces the keys (new salts), keeps the creation time; unknown account throws', async () => {
    await accounts.create('carol', 'old-password');
    const before = (await record('carol'))!;
    await accounts.setPassword('carol', 'new-password');
    const after = (await record('carol'))!;
    expect(after.created).toBe(before.created);
    expect(after.scram['SHA-256']!.salt).not.toBe(before.scram['SHA-256']!.salt);
    expect(await accounts.verify('carol', 'old-password')).toBe(false);
    expect(await accounts.verify('carol', 'new-password')).toBe(true);
    await expect(accounts.setPassword('nobody', 'x')).rejects.toBeInstanceOf(AccountNotFoundError);
    expect(await accounts.exists('nobody')).toBe(false);
  });

  it('delete removes the account; deleting twice is harmless', async () => {
    await accounts.create('dave', 'pw');
    await accounts.delete('dave');
    expect(await accounts.exists('dave')).toBe(false);
    expect(await accounts.scram('dave', 'SHA-256')).toBeUndefined();
    expect(await accounts.verify('dave', 'pw')).toBe(false);
    await accounts.delete('dave');
    await accounts.create('dave', 'again');
    expect(await accounts.verify('dave', 'again')).toBe(true);
  });

  it('list returns this host\'s accounts only, sorted; the decoy secret is not an account', async () => {
    const other = createAccounts(storage, 'other.example');
    await other.create('zed', 'pw');
    await other.create('alice', 'pw-other');
    await accounts.verify('ghost', 'x'); // creates the decoy secret
    const mine = await accounts.list();
    expect(mine).toEqual([...mine].sort());
    expect(mine).toEqual(expect.arrayContaining(['alice', 'bob', 'carol', 'dave', 'race']));
    expect(mine).not.toContain('zed');
    expect(await other.list()).toEqual(['alice', 'zed']);
    // Same localpart on two hosts: two accounts.
    expect(await other.verify('alice', 'pw-other')).toBe(true);
    expect(await accounts.verify('alice', 'pw-other')).toBe(false);
  });

  it('scram() hands out the stored credentials per hash', async () => {
    const c = await accounts.scram('bob', 'SHA-512');
    expect(c).toEqual((await record('bob'))!.scram['SHA-512']);
    expect(await accounts.scram('nobody', 'SHA-1')).toBeUndefined();
  });

  it('verify: wrong password and unknown user are false; odd names do not throw', async () => {
    expect(await accounts.verify('bob', 'First')).toBe(false);
    expect(await accounts.verify('nobody', 'first')).toBe(false);
    expect(await accounts.verify('', 'x')).toBe(false);
    expect(await accounts.verify('a@b/c', 'x')).toBe(false);
    expect(await accounts.verify('bob', '')).toBe(false);
    expect(await accounts.verify('bob', 'first\u0000')).toBe(false);
  });

  it('decoy credentials are stable per name, differ between names, persist across instances', async () => {
    const a = await accounts.decoyScram!('ghost', 'SHA-256');
    expect(await accounts.decoyScram!('ghost', 'SHA-256')).toEqual(a);
    expect((await accounts.decoyScram!('ghost2', 'SHA-256')).salt).not.toBe(a.salt);
    expect(await createAccounts(storage, 'example.org').decoyScram!('ghost', 'SHA-256')).toEqual(a);
    expect(a.iterations).toBe(4096);
  });

  it('passwords are OpaqueString-prepared: non-ASCII spaces, NFC', async () => {
    await accounts.create('erin', 'two\u00a0words caf\u0065\u0301');
    expect(await accounts.verify('erin', 'two words caf\u00e9')).toBe(true);
    expect(await accounts.verify('erin', 'two\u3000words cafe\u0301')).toBe(true);
    // No case mapping, no width mapping.
    expect(await accounts.verify('erin', 'Two words caf\u00e9')).toBe(false);
  });

  it('refused passwords and names throw clear errors and store nothing', async () => {
    await expect(accounts.create('frank', '')).rejects.toBeInstanceOf(InvalidPasswordError);
    await expect(accounts.create('frank', 'tab\there')).rejects.toThrow(/U\+0009 is a control character/);
    await expect(accounts.create('frank', 'bell\u0007')).rejects.toBeInstanceOf(InvalidPasswordError);
    expect(await accounts.exists('frank')).toBe(false);
    await expect(accounts.create('', 'pw')).rejects.toBeInstanceOf(InvalidUsernameError);
    await expect(accounts.create('a@b', 'pw')).rejects.toBeInstanceOf(InvalidUsernameError);
    await accounts.create('frank', 'good');
    await expect(accounts.setPassword('frank', '\u0000')).rejects.toBeInstanceOf(InvalidPasswordError);
    expect(await accounts.verify('frank', 'good')).toBe(true);
  });

  it('the iteration count is configurable', async () => {
    const fast = createAccounts(storage, 'iter.example', { iterations: 10_000 });
    await fast.create('gina', 'pw');
    expect((await fast.scram('gina', 'SHA-1'))!.iterations).toBe(10_000);
    expect(await fast.verify('gina', 'pw')).toBe(true);
    expect(() => createAccounts(storage, 'x', { iterations: 0 })).toThrow(RangeError);
  });
});

describe('OpaqueString (RFC 8265 §4.2)', () => {
  it('maps non-ASCII spaces to U+0020 and normalizes to NFC', () => {
    expect(prepareOpaqueString('a\u2003b\u00a0c')).toBe('a b c');
    expect(prepareOpaqueString('\u212b')).toBe('\u00c5'); // ANGSTROM SIGN → NFC
    expect(prepareOpaqueString('correct horse')).toBe('correct horse');
    expect(prepareOpaqueString('ＡＢ')).toBe('ＡＢ'); // no width mapping
    expect(prepareOpaqueString('Πassword')).toBe('Πassword'); // no case mapping
    expect(prepareOpaqueString('l\u00b7l')).toBe('l\u00b7l'); // CONTEXTO: MIDDLE DOT between two 'l'
    expect(prepareOpaqueString('😀')).toBe('😀');
  });

  it('refuses empty strings, controls, format and unassigned code points, context failures', () => {
    for (const bad of ['', '\u0000', 'a\nb', 'a\u007f', 'a\u200bb', 'a\u00adb', '\ue000', '\ufdd0', '\u0378', '\ud800', 'a\u2028', 'x\u0640', 'pass\u00b7word']) {
      expect(() => prepareOpaqueString(bad), JSON.stringify(bad)).toThrow(PrecisError);
    }
  });
});
