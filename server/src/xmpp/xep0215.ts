// XEP-0215: External Service Discovery
// https://xmpp.org/extensions/xep-0215.html
// Version 1.0.0 (2022-08-23)
//
// STUN/TURN services as <service/> elements, and time-limited TURN credentials in the form
// coturn checks with `use-auth-secret` (the "TURN REST API" scheme): the username is
// "<expiry, Unix seconds>:<user>", the password base64(HMAC-SHA1(shared secret, username)).
import { createHmac } from 'node:crypto';
import { xml, type Element } from '../xml/element.js';
import { formatDateTime } from './xep0082.js';

export const NS_EXTDISCO = 'urn:xmpp:extdisco:2';

export interface ExternalService {
  type: 'stun' | 'turn' | 'turns';
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  /** Credentials are needed (and handed out with the service). */
  restricted: boolean;
}

export interface TurnCredentials {
  username: string;
  password: string;
  /** Milliseconds since the epoch. */
  expires: number;
}

/** coturn use-auth-secret credentials for `user`, valid `ttlSeconds` from `now`. */
export function turnCredentials(secret: string, user: string, ttlSeconds: number, now = Date.now()): TurnCredentials {
  const expiry = Math.floor(now / 1000) + ttlSeconds;
  const username = `${expiry}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, expires: expiry * 1000 };
}

export function serviceElement(s: ExternalService, creds?: TurnCredentials): Element {
  return xml('service', {
    type: s.type,
    host: s.host,
    port: s.port,
    transport: s.transport,
    restricted: s.restricted ? 'true' : undefined,
    username: creds?.username,
    password: creds?.password,
    expires: creds ? formatDateTime(creds.expires) : undefined,
  });
}
