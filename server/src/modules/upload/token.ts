// The PUT authorization of a slot: an HMAC-SHA256 over what the slot allows (its id, size,
// content type and expiry) with a per-service secret kept in the database, so a slot granted
// before a restart still uploads after it. Knowing the (shared) download URL is not enough to
// fill a slot: the token only ever travels in the slot reply to its owner.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyValStore } from '../../storage/types.js';

export interface SlotClaims {
  id: string;
  size: number;
  /** The content type of the request, '' when none was given. */
  type: string;
  /** Milliseconds since the epoch. */
  expires: number;
}

const VERSION = 'v1';

export function slotToken(secret: Buffer, c: SlotClaims): string {
  return createHmac('sha256', secret).update([VERSION, c.id, String(c.size), c.type, String(c.expires)].join('\n')).digest('base64url');
}

/** True when `header` is "Bearer <the slot's token>". */
export function checkAuthorization(secret: Buffer, c: SlotClaims, header: string | undefined): boolean {
  if (header === undefined) return false;
  const m = /^Bearer\s+([A-Za-z0-9_-]{1,128})\s*$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!, 'utf8');
  const want = Buffer.from(slotToken(secret, c), 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The service's secret, made on first use. */
export async function serviceSecret(store: KeyValStore, service: string): Promise<Buffer> {
  const have = await store.get<string>(service, 'secret');
  if (typeof have === 'string' && have.length >= 43) return Buffer.from(have, 'base64');
  const secret = randomBytes(32);
  await store.set(service, 'secret', secret.toString('base64'));
  return secret;
}
