// The first invitation link, for the first phone to scan on the Done screen.
// Spec: XEP-0401 v0.5.0 (Ad-hoc Account Invitation Generation) and XEP-0445 v0.2.0
// (Pre-Authenticated In-Band Registration), https://xmpp.org/extensions/xep-0445.html section 3:
//   xmpp:example.org?register;preauth=TOKEN                 (account on the server)
//   xmpp:admin@example.org?roster;preauth=TOKEN;ibr=y       (contact invitation that may register)
// URI syntax: RFC 5122 (XMPP URIs), XEP-0147 (query actions).
// The token is stored in <dataDir>/invites.json for the daemon's invitation module to honour.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { writeFileAtomic } from '../../appliance/src/system/files.js';

export interface Invite {
  token: string;
  /**
   * 'register': create an account; with `inviter` the new user also gets the inviter as contact
   * (XEP-0379). 'roster': only a contact invitation for people who have an account already
   * (closed registration, directory accounts): its link has no `ibr=y` (XEP-0401 §5.1).
   */
  type: 'register' | 'roster';
  domain: string;
  inviter?: string;
  created: string;
  expires: string;
  /** How many accounts this token may create. */
  uses: number;
  source: 'roost setup';
}

export interface InviteFile {
  version: 1;
  invites: Invite[];
}

export const INVITES_FILE = 'invites.json';
export const INVITE_TTL_DAYS = 7;

export function createInvite(domain: string, inviter?: string, now = new Date(), ttlDays = INVITE_TTL_DAYS, type: Invite['type'] = 'register'): Invite {
  if (type === 'roster' && !inviter) throw new Error('a contact invitation needs an inviter');
  return {
    // 144 random bits: unguessable, and short enough for a QR code a phone reads easily.
    token: randomBytes(18).toString('base64url'),
    type,
    domain,
    ...(inviter ? { inviter } : {}),
    created: now.toISOString(),
    expires: new Date(now.getTime() + ttlDays * 86_400_000).toISOString(),
    uses: 1,
    source: 'roost setup',
  };
}

/** RFC 5122 section 2.2: the JID in an xmpp: URI is percent-encoded where needed (IRI form kept for non-ASCII). */
function encodeJid(jid: string): string {
  return jid.replace(/[^A-Za-z0-9\-._~@!$&'()*+,=:\u00a0-\uffff]/g, (c) => encodeURIComponent(c));
}

export function inviteUri(inv: Invite): string {
  if (inv.inviter) return `xmpp:${encodeJid(inv.inviter)}?roster;preauth=${inv.token}${inv.type === 'register' ? ';ibr=y' : ''}`;
  return `xmpp:${encodeJid(inv.domain)}?register;preauth=${inv.token}`;
}

/** The QR code as text (two rows per character), drawable in any UTF-8 terminal. */
export async function inviteQr(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'utf8', errorCorrectionLevel: 'M', margin: 2 });
}

/** Adds the invite to <dataDir>/invites.json (atomically), dropping expired ones. */
export async function saveInvite(dataDir: string, inv: Invite, owner: { uid: number; gid: number } | null): Promise<string> {
  const path = join(dataDir, INVITES_FILE);
  let file: InviteFile = { version: 1, invites: [] };
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as InviteFile;
    if (parsed && Array.isArray(parsed.invites)) file = { version: 1, invites: parsed.invites };
  } catch {
    /* none yet (or unreadable: replaced; it only ever holds setup's own invitations) */
  }
  const now = Date.now();
  file.invites = [...file.invites.filter((i) => Date.parse(i.expires) > now), inv];
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o640, backup: false, ...(owner ?? {}) });
  return path;
}
