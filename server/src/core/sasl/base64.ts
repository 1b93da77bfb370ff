// SASL payload encoding in XMPP: RFC 6120 §6.4.2 (base64 of RFC 4648 §4; "=" alone is a
// zero-length response; no character data means no response) and the same rule in XEP-0388.
// https://www.rfc-editor.org/rfc/rfc6120#section-6.4.2
//
// Node's Buffer.from(s, 'base64') silently skips bad characters and missing padding; SASL must
// refuse those (incorrect-encoding), so the alphabet and padding are checked first.
import type { SaslExchange, SaslStep } from './types.js';
import { failure } from './types.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict RFC 4648 §4 base64 (padding required); undefined when the text is not base64. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

export type DecodedSaslData = { ok: true; data: Buffer | undefined } | { ok: false };

/**
 * Character data of <auth/>, <response/>, SASL2 <initial-response/>: '' or absent → no data,
 * '=' → zero-length data, otherwise strict base64. XML whitespace around or inside is dropped
 * (some clients wrap long lines; it is never part of the alphabet).
 */
export function decodeSaslData(text: string | undefined): DecodedSaslData {
  if (text === undefined) return { ok: true, data: undefined };
  const t = text.replace(/[ \t\r\n]+/g, '');
  if (t === '') return { ok: true, data: undefined };
  if (t === '=') return { ok: true, data: Buffer.alloc(0) };
  const data = decodeBase64Strict(t);
  return data ? { ok: true, data } : { ok: false };
}

/** Character data for a <challenge/> or <success/>: '=' for zero-length data (RFC 6120 §6.4.2). */
export function encodeSaslData(data: Buffer | undefined): string {
  if (data === undefined) return '';
  return data.length === 0 ? '=' : data.toString('base64');
}

/** Decodes the client's text and runs one step; bad base64 ends the exchange with incorrect-encoding. */
export async function stepBase64(exchange: SaslExchange, text: string | undefined): Promise<SaslStep> {
  const d = decodeSaslData(text);
  if (!d.ok) return failure('incorrect-encoding', 'the SASL data is not valid base64');
  return exchange.step(d.data);
}
