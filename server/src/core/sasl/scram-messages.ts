// SCRAM message syntax, server side: RFC 5802 §7 (July 2010) formal grammar, with the
// channel-binding names of RFC 5929 and RFC 9266.
// https://www.rfc-editor.org/rfc/rfc5802#section-7
//
//   gs2-cbind-flag  = ("p=" cb-name) / "n" / "y"
//   gs2-header      = gs2-cbind-flag "," [ authzid ] ","
//   client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
//   client-final-message-without-proof = channel-binding "," nonce ["," extensions]
//   client-final-message = client-final-message-without-proof "," proof
//
// Parsers return a ScramSyntaxError code (the RFC's server-error-value where one fits) instead
// of throwing, so a hostile message is one branch, not an exception path.

export type ScramSyntaxError =
  | 'invalid-encoding'
  | 'extensions-not-supported'
  | 'invalid-username-encoding'
  | 'other-error';

export type CbindFlag = { flag: 'n' } | { flag: 'y' } | { flag: 'p'; type: string };

export interface ClientFirst {
  cbind: CbindFlag;
  /** Decoded authzid; undefined when absent. */
  authzid?: string;
  /** gs2-header exactly as sent (it comes back base64-encoded in c=). */
  gs2Header: string;
  /** Decoded saslname of n=. */
  username: string;
  nonce: string;
  /** client-first-message-bare exactly as sent (part of AuthMessage). */
  bare: string;
}

export interface ClientFinal {
  /** base64 text of c= (checked by the caller: incorrect-encoding). */
  channelBinding: string;
  nonce: string;
  /** base64 text of p=. */
  proof: string;
  /** client-final-message-without-proof exactly as sent. */
  withoutProof: string;
}

// printable = %x21-2B / %x2D-7E  (ASCII without ",")
const PRINTABLE = /^[\x21-\x2B\x2D-\x7E]+$/;
const CB_NAME = /^[A-Za-z0-9.-]+$/;
// attr-val = ALPHA "=" value ; value = 1*value-char ; value-char = value-safe-char / "="
// value-safe-char excludes NUL, "=" is allowed in value, "," is the separator.
const ATTR_VAL = /^[A-Za-z]=[^\0,]+$/;

/** saslname (RFC 5802 §5.1): "=2C" is ",", "=3D" is "="; any other "=" is an error. */
export function decodeSaslname(s: string): string | undefined {
  if (s.length === 0 || s.includes('\0') || s.includes(',')) return undefined;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '=') {
      out += c;
      continue;
    }
    const esc = s.slice(i + 1, i + 3);
    if (esc === '2C') out += ',';
    else if (esc === '3D') out += '=';
    else return undefined;
    i += 2;
  }
  return out;
}

export function encodeSaslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

export function parseClientFirst(msg: string): ClientFirst | ScramSyntaxError {
  // gs2-header: flag "," [authzid] ","
  const c1 = msg.indexOf(',');
  if (c1 < 0) return 'other-error';
  const flagText = msg.slice(0, c1);
  let cbind: CbindFlag;
  if (flagText === 'n') cbind = { flag: 'n' };
  else if (flagText === 'y') cbind = { flag: 'y' };
  else if (flagText.startsWith('p=') && CB_NAME.test(flagText.slice(2))) cbind = { flag: 'p', type: flagText.slice(2) };
  else return 'other-error';
  const c2 = msg.indexOf(',', c1 + 1);
  if (c2 < 0) return 'other-error';
  const authzText = msg.slice(c1 + 1, c2);
  let authzid: string | undefined;
  if (authzText !== '') {
    if (!authzText.startsWith('a=')) return 'other-error';
    authzid = decodeSaslname(authzText.slice(2));
    if (authzid === undefined) return 'invalid-username-encoding';
  }
  const gs2Header = msg.slice(0, c2 + 1);
  const bare = msg.slice(c2 + 1);
  const attrs = bare.split(',');
  // reserved-mext: a mandatory extension this server does not know; RFC 5802 §5.1 says fail.
  if (attrs[0]?.startsWith('m=')) return 'extensions-not-supported';
  const [user, nonce, ...ext] = attrs;
  if (!user?.startsWith('n=') || !nonce?.startsWith('r=')) return 'other-error';
  const username = decodeSaslname(user.slice(2));
  if (username === undefined) return 'invalid-username-encoding';
  const n = nonce.slice(2);
  if (!PRINTABLE.test(n)) return 'other-error';
  for (const e of ext) if (!ATTR_VAL.test(e) || e.startsWith('m=')) return 'other-error';
  const out: ClientFirst = { cbind, gs2Header, username, nonce: n, bare };
  if (authzid !== undefined) out.authzid = authzid;
  return out;
}

export function parseClientFinal(msg: string): ClientFinal | ScramSyntaxError {
  const attrs = msg.split(',');
  if (attrs.length < 3) return 'other-error';
  const [c, r] = attrs;
  const p = attrs[attrs.length - 1]!;
  if (!c!.startsWith('c=') || !r!.startsWith('r=') || !p.startsWith('p=')) return 'other-error';
  for (const e of attrs.slice(2, -1)) {
    // Extensions between nonce and proof; the ones RFC 5802 defines elsewhere may not repeat here.
    if (!ATTR_VAL.test(e) || /^[cmnprsiv]=/.test(e)) return 'other-error';
  }
  const nonce = r!.slice(2);
  if (!PRINTABLE.test(nonce)) return 'other-error';
  return {
    channelBinding: c!.slice(2),
    nonce,
    proof: p.slice(2),
    withoutProof: msg.slice(0, msg.length - p.length - 1),
  };
}
