// File names from slot requests (XEP-0363 §4: "The service SHOULD keep the file name and
// especially the file ending intact"). The name ends up in the download URL and in the
// Content-Disposition header, never on disk (files are stored under their slot id), so the
// sanitising is about what a person sees and what a browser saves: no directories, no control
// or invisible characters that could disguise the ending, no hidden-file dot, a bounded length.

/** Longest name kept, in UTF-8 bytes (the usual file system limit). */
export const MAX_FILENAME_BYTES = 255;

// C0/C1 controls and DEL; bidirectional overrides/isolates (U+202A-202E, U+2066-2069, which can
// show "gpj.exe" as "exe.jpg"); zero-width and other invisible format characters; BOM; the
// line/paragraph separators.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/gu;
// Characters Windows and macOS refuse in names; replaced so the download saves everywhere.
const RESERVED = /[\\/:*?"<>|]/g;

export type FilenameResult = { ok: true; name: string } | { ok: false; reason: string };

export function sanitizeFilename(input: string | undefined): FilenameResult {
  if (input === undefined) return { ok: false, reason: "the request has no 'filename'" };
  let name = input.normalize('NFC');
  // A client that sends a path means the file, not the directories.
  const slash = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  if (slash >= 0) name = name.slice(slash + 1);
  name = name.replace(/\p{Cs}/gu, '').replace(INVISIBLE, '').replace(RESERVED, '_');
  name = name.replace(/\s+/gu, ' ').trim();
  // Leading dots would make a hidden file (or '..'); trailing dots and spaces Windows drops.
  name = name.replace(/^[.\s]+/u, '').replace(/[.\s]+$/u, '');
  if (name === '') return { ok: false, reason: `'${input.slice(0, 64)}' is not a usable file name` };
  return { ok: true, name: truncateKeepingExtension(name, MAX_FILENAME_BYTES) };
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Cuts the stem, not the ending ("very long name….jpg" stays a .jpg). */
function truncateKeepingExtension(name: string, maxBytes: number): string {
  if (utf8(name) <= maxBytes) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const stem = ext ? name.slice(0, dot) : name;
  const budget = maxBytes - utf8(ext);
  let out = '';
  for (const ch of stem) {
    if (utf8(out + ch) > budget) break;
    out += ch;
  }
  return out + ext;
}

/**
 * The name as a URL path segment: percent-encoded UTF-8 (RFC 3986), with the sub-delimiters
 * encodeURIComponent leaves alone encoded too, so clients that linkify message bodies do not
 * end the link early at a quote or parenthesis.
 */
export function filenamePathSegment(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
