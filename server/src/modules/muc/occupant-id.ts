// XEP-0421: Anonymous unique occupant identifiers for MUCs
// https://xmpp.org/extensions/xep-0421.html
// Version 0.2.0 (2023-01-13)
//
// The id is an HMAC of the room and the occupant's bare JID under a secret the service keeps in
// its store: stable for one user in one room (across nicks, devices and restarts), different
// between rooms, and revealing nothing about the JID.
import { createHmac } from 'node:crypto';

export function occupantId(secret: Buffer, room: string, bareJid: string): string {
  return createHmac('sha256', secret).update(room).update('\0').update(bareJid).digest('base64url').slice(0, 22);
}
