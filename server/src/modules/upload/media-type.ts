// Media types of shared files (RFC 6838 names, RFC 9110 §8.3 Content-Type syntax) and which of
// them a browser may show inline. Everything else is served as an attachment: a file someone
// uploads as text/html or image/svg+xml must never run as a page of this origin.

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const PARAM = `\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n]*")`;
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})((?:${PARAM})*)\\s*$`);

/** Longest content-type accepted in a slot request. */
export const MAX_CONTENT_TYPE = 255;

export const DEFAULT_TYPE = 'application/octet-stream';

/** The type normalised (type/subtype lower case, parameters kept), or undefined when it is not one. */
export function parseMediaType(value: string): string | undefined {
  if (value.length > MAX_CONTENT_TYPE) return undefined;
  const m = MEDIA_TYPE.exec(value.trim());
  if (!m) return undefined;
  return `${m[1]!.toLowerCase()}/${m[2]!.toLowerCase()}${m[3] ?? ''}`;
}

/** type/subtype without parameters, lower case ("Image/PNG; x=1" → "image/png"). */
export function essence(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}

// Media players and <img> treat these as data, not documents. SVG is an image that runs
// scripts; anything XML- or HTML-based can be a document.
const INLINE_TOP = new Set(['image', 'audio', 'video']);
const NEVER_INLINE = /(?:svg|xml|html|xhtml)/;

export function isInlineSafe(type: string): boolean {
  const e = essence(type);
  const slash = e.indexOf('/');
  if (slash < 0) return false;
  return INLINE_TOP.has(e.slice(0, slash)) && !NEVER_INLINE.test(e.slice(slash + 1));
}
