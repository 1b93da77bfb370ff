// Step 6: registration, file sharing limits, message history, federation, TURN.
import { randomBytes } from 'node:crypto';
import { validateHost } from '../../../appliance/src/domain.js';
import type { Answers } from '../answers.js';

export function featureErrors(a: Answers): string[] {
  const e: string[] = [];
  if (!(a.upload.maxFileSize > 0)) e.push('The largest file must be more than 0 bytes (for example 100MB).');
  if (!(a.upload.dailyQuota > 0)) e.push('The daily upload quota must be more than 0 bytes (for example 1GB).');
  if (a.upload.dailyQuota > 0 && a.upload.maxFileSize > a.upload.dailyQuota)
    e.push('The largest file is bigger than the daily quota: nobody could send such a file.');
  if (!(a.upload.retentionDays >= 1)) e.push('Shared files must be kept at least 1 day.');
  if (!(a.archive.retentionDays >= 1)) e.push('Message history must be kept at least 1 day.');
  for (const g of a.federation.pushGateways) {
    const v = validateHost(g);
    if (!v.ok) e.push(`Push gateway "${g}": ${v.errors[0]}`);
  }
  if (a.turn.enabled) {
    const v = validateHost(a.turn.host);
    if (!v.ok) e.push(`TURN server: ${v.errors[0]}`);
    if (!(a.turn.port >= 1 && a.turn.port <= 65535)) e.push('The TURN port must be 1-65535 (usually 3478).');
    if (!(a.turn.ttl >= 60)) e.push('TURN credentials must last at least 60 seconds.');
  }
  return e;
}

/** A TURN shared secret when none was given (the TURN server must be set to the same). */
export function ensureTurnSecret(a: Answers): void {
  if (a.turn.enabled && !a.turn.secret) a.turn.secret = randomBytes(24).toString('base64url');
}

export function featureWarnings(a: Answers): string[] {
  const w: string[] = [];
  if (a.registration === 'open') w.push('open registration: anyone on the Internet can create an account here (a CAPTCHA slows bots down, it does not stop people)');
  if (!a.federation.enabled) w.push('federation is off: users can only chat with people on this server');
  return w;
}
