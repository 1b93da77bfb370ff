// Validation of the XMPP domain and the host name, with errors in plain words.
// Rules: RFC 1035 section 2.3.4 (label and name lengths), RFC 5891 / UTS #46 (IDN via
// node:url domainToASCII), RFC 7622 section 3.2 (domainpart is a DNS name or IP literal; we refuse
// IP literals because certificates from Let's Encrypt and SRV records need a name).
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import type { NameValidation } from './types.js';

export const DOMAIN_HELP = {
  explanation:
    'The domain is the part after the @ in everyone\'s chat address, like email: it must be a domain name you control.',
  example: 'For addresses like alice@example.org, enter example.org.',
} as const;

export const HOST_HELP = {
  explanation:
    'The host is the name of this machine on the Internet, where chat apps connect; it is often the same as the domain.',
  example: 'For example chat.example.org, or example.org itself.',
} as const;

function validateName(input: string, what: 'domain' | 'host'): NameValidation {
  const errors: string[] = [];
  const trimmed = input.trim().replace(/\.$/, '');
  const result = (ascii: string, unicode: string): NameValidation => ({ ok: errors.length === 0, ascii, unicode, errors });
  if (trimmed === '') {
    errors.push(`The ${what} is empty: type a name such as example.org.`);
    return result('', '');
  }
  if (/\s/.test(trimmed)) errors.push(`The ${what} must not contain spaces.`);
  if (trimmed.includes('@')) errors.push(`Type only the part after the @ (for alice@example.org, type example.org).`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) || trimmed.includes('/'))
    errors.push(`Type just the name, without http:// or slashes (for example example.org).`);
  const bare = trimmed.replace(/^\[|\]$/g, '');
  if (isIP(bare) !== 0) {
    errors.push(`The ${what} must be a name, not an IP address: certificates and chat apps need a name such as example.org.`);
    return result(bare, bare);
  }
  if (errors.length > 0) return result(trimmed.toLowerCase(), trimmed);
  if (trimmed.includes('_'))
    errors.push(`The ${what} must not contain underscores (_): use letters, digits and hyphens only.`);
  const lastLabel = trimmed.split('.').pop() ?? '';
  // WHATWG URL parsing treats an all-digit last label as an IPv4 address and returns '' for it.
  if (trimmed.includes('.') && /^[0-9]+$/.test(lastLabel)) {
    errors.push(`The last part "${lastLabel}" is all digits; a domain ends in a name such as .org or .com.`);
    return result(trimmed.toLowerCase(), trimmed);
  }
  const ascii = domainToASCII(trimmed.replace(/_/g, 'x'));
  if (ascii === '') {
    errors.push(`"${trimmed}" is not a valid domain name: use letters, digits, hyphens and dots only.`);
    return result(trimmed.toLowerCase(), trimmed);
  }
  const unicode = domainToUnicode(ascii);
  if (errors.length > 0) return result(ascii, unicode);
  if (ascii === 'localhost') return result(ascii, unicode);
  const labels = ascii.split('.');
  if (labels.length < 2)
    errors.push(`The ${what} needs at least one dot, like example.org ("${trimmed}" alone is not a full Internet name).`);
  if (ascii.length > 253) errors.push(`The ${what} is too long (${ascii.length} characters; the limit is 253).`);
  for (const label of labels) {
    if (label === '') {
      errors.push(`The ${what} has two dots in a row or starts with a dot.`);
      break;
    }
    if (label.length > 63) errors.push(`The part "${label.slice(0, 20)}…" is longer than 63 characters.`);
    if (label.startsWith('-') || label.endsWith('-'))
      errors.push(`The part "${label}" must not start or end with a hyphen.`);
    if (!/^[a-z0-9-]+$/.test(label)) errors.push(`The part "${label}" may only contain letters, digits and hyphens.`);
  }
  return result(ascii, unicode);
}

/** Validates the XMPP domain (the part after @). */
export function validateDomain(input: string): NameValidation {
  return validateName(input, 'domain');
}

/** Validates the host name of this machine (SRV target, certificate name when it differs). */
export function validateHost(input: string): NameValidation {
  return validateName(input, 'host');
}
