// SCRAM key derivation and proof arithmetic: RFC 5802 §3 (July 2010), with SHA-256 from
// RFC 7677 and SHA-512 as registered for SCRAM-SHA-512 (same construction, different hash).
// https://www.rfc-editor.org/rfc/rfc5802#section-3
//
//   SaltedPassword  := Hi(Normalize(password), salt, i)     (Hi is PBKDF2 with HMAC-H)
//   ClientKey       := HMAC(SaltedPassword, "Client Key")
//   StoredKey       := H(ClientKey)
//   ServerKey       := HMAC(SaltedPassword, "Server Key")
//   ClientSignature := HMAC(StoredKey, AuthMessage)
//   ClientProof     := ClientKey XOR ClientSignature
//   ServerSignature := HMAC(ServerKey, AuthMessage)
//
// PBKDF2 costs milliseconds at 4096 iterations, so it only runs through the async crypto API
// (libuv thread pool), never on the event loop.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredentials, ScramHash } from '../accounts.js';

/** Node digest name and output size of each SCRAM hash. */
export const SCRAM_HASHES: Record<ScramHash, { node: string; size: number }> = {
  'SHA-1': { node: 'sha1', size: 20 },
  'SHA-256': { node: 'sha256', size: 32 },
  'SHA-512': { node: 'sha512', size: 64 },
};

export const SALT_BYTES = 16;

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(SCRAM_HASHES[hash].node, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(SCRAM_HASHES[hash].node).update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Hi() of RFC 5802 §2.2, off the event loop. `password` is already OpaqueString-prepared. */
export function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const { node, size } = SCRAM_HASHES[hash];
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, size, node, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export interface ScramKeys {
  storedKey: Buffer;
  serverKey: Buffer;
}

export function keysFromSaltedPassword(hash: ScramHash, salted: Buffer): ScramKeys & { clientKey: Buffer } {
  const clientKey = hmac(hash, salted, 'Client Key');
  return { clientKey, storedKey: digest(hash, clientKey), serverKey: hmac(hash, salted, 'Server Key') };
}

/** Stored credentials for one hash (what accounts keep), from a prepared password. */
export async function deriveScramCredentials(
  hash: ScramHash,
  password: string,
  iterations: number,
  salt: Buffer = randomBytes(SALT_BYTES),
): Promise<ScramCredentials> {
  const keys = keysFromSaltedPassword(hash, await saltedPassword(hash, password, salt, iterations));
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: keys.storedKey.toString('base64'),
    serverKey: keys.serverKey.toString('base64'),
  };
}

/**
 * Checks a ClientProof against StoredKey in constant time. Always does the same work, so a
 * decoy (unknown user) takes as long as a real account.
 */
export function verifyClientProof(hash: ScramHash, storedKey: Buffer, authMessage: Buffer, proof: Buffer): boolean {
  const size = SCRAM_HASHES[hash].size;
  const signature = hmac(hash, storedKey, authMessage);
  // A proof of the wrong length still goes through the same steps against a zero key.
  const p = proof.length === size ? proof : Buffer.alloc(size);
  const candidate = digest(hash, xor(p, signature));
  const key = storedKey.length === size ? storedKey : Buffer.alloc(size);
  return timingSafeEqual(candidate, key) && proof.length === size && storedKey.length === size;
}

/**
 * Credentials for an account that does not exist: the salt is derived from a server secret and
 * the name, so it is the same on every attempt and across restarts (when the secret persists),
 * exactly like a real account's. The keys are all zero: they are never sent, the proof check
 * runs over them like over real ones and cannot match (the caller also refuses decoys), and
 * one HMAC keeps this path as cheap as reading a real record.
 */
export function decoyCredentials(secret: Buffer, username: string, hash: ScramHash, iterations: number): ScramCredentials {
  const zero = Buffer.alloc(SCRAM_HASHES[hash].size).toString('base64');
  const salt = createHmac('sha256', secret).update(`salt\0${hash}\0${username}`).digest().subarray(0, SALT_BYTES);
  return { salt: salt.toString('base64'), iterations, storedKey: zero, serverKey: zero };
}
