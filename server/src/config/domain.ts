// Domain names in the configuration (served hosts, admin JIDs, push gateways, subdomain labels).
// RFC 1035 section 2.3.4 (63-octet labels, 253-octet names) and RFC 1123 section 2.1 (letters,
// digits, hyphens; labels may start with a digit), IDNA through node:url's domainToASCII
// (UTS #46). RFC 7622 section 3.2 compares domainparts as U-labels, so names are kept in Unicode
// form, lower case. IP literals are refused: certificates and SRV records need a name.
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { prepareDomain } from '../core/jid.js';

export type DomainCheck = { ok: true; name: string } | { ok: false; message: string; hint?: string };

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Validates and normalises a domain name (Unicode, lower case). */
export function checkDomain(input: string): DomainCheck {
  const s = input.normalize('NFC').toLowerCase();
  if (s === '') return { ok: false, message: 'the name is empty', hint: 'write a domain name such as example.org' };
  if (/\s/.test(s)) return { ok: false, message: `"${input}" contains spaces` };
  if (s.includes('@')) return { ok: false, message: `"${input}" is an address, not a domain name`, hint: `write only the part after the @` };
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(s) || s.includes('/'))
    return { ok: false, message: `"${input}" is not a domain name`, hint: 'write just the name, without http:// or slashes' };
  if (isIP(s.replace(/^\[|\]$/g, '')) !== 0)
    return { ok: false, message: `"${input}" is an IP address, not a domain name`, hint: 'certificates and chat apps need a name such as example.org' };
  if (s.endsWith('.')) return { ok: false, message: `"${input}" ends with a dot`, hint: `write "${s.replace(/\.+$/, '')}"` };
  if (s.includes('_')) return { ok: false, message: `"${input}" contains an underscore`, hint: 'use letters, digits, hyphens and dots only' };
  const ascii = domainToASCII(s);
  if (ascii === '') return { ok: false, message: `"${input}" is not a valid domain name`, hint: 'use letters, digits, hyphens and dots only' };
  if (ascii.length > 253) return { ok: false, message: `"${input}" is longer than 253 characters` };
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label === '') return { ok: false, message: `"${input}" has an empty part between dots` };
    if (label.length > 63) return { ok: false, message: `the part "${label}" of "${input}" is longer than 63 characters` };
    if (!LABEL.test(label))
      return { ok: false, message: `the part "${label}" of "${input}" is not allowed`, hint: 'parts may hold letters, digits and hyphens, and may not start or end with a hyphen' };
  }
  // WHATWG URL parsing treats an all-digit last label as IPv4 and would have failed above; a
  // name such as "example.123" is still no usable domain.
  if (labels.length > 1 && /^[0-9]+$/.test(labels[labels.length - 1] ?? ''))
    return { ok: false, message: `"${input}" ends in digits; a domain ends in a name such as .org` };
  // The router compares domains as core/jid prepares them; a host must be spelt the same way.
  try {
    return { ok: true, name: prepareDomain(domainToUnicode(ascii)) };
  } catch (e) {
    return { ok: false, message: `"${input}" is not a valid domain name: ${(e as Error).message}` };
  }
}

/** A single DNS label (service subdomain such as "conference"). */
export function checkLabel(input: string): DomainCheck {
  const s = input.toLowerCase();
  if (s.includes('.')) return { ok: false, message: `"${input}" must be a single name without dots`, hint: 'for conference.example.org write "conference"' };
  if (!LABEL.test(s)) return { ok: false, message: `"${input}" is not a valid subdomain name`, hint: 'use letters, digits and hyphens only (at most 63), not starting or ending with a hyphen' };
  return { ok: true, name: s };
}
