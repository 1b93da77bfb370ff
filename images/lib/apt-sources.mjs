// Finds the Debian mirrors this machine's apt already uses, so the image is built from (and
// later updates from) the same place, with no mirror name written into the project.
// Reads both formats of sources.list(5): one-line ("deb URI SUITE COMPONENT...") and deb822
// stanzas ("Types: / URIs: / Suites: / Components:"). Entries of other vendors (a Node.js or
// cloud SDK repository) are told apart by their keyring or by their suite names.
//
// CLI: node apt-sources.mjs SUITE [COMPONENTS]   prints one "deb URI SUITE COMPONENTS" line per
// archive (SUITE, SUITE-updates, SUITE-security), as mmdebstrap and the image's apt take them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * @typedef {{ types: string[], uris: string[], suites: string[], components: string[], signedBy: string, enabled: boolean }} AptEntry
 */

/** One-line format: `deb [opt=val ...] URI SUITE [COMPONENT...]`. */
export function parseOneLine(text) {
  /** @type {AptEntry[]} */
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const opts = Object.fromEntries((m[2] ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')]));
    out.push({
      types: [m[1] ?? 'deb'],
      uris: [m[3] ?? ''],
      suites: [m[4] ?? ''],
      components: (m[5] ?? '').split(/\s+/).filter(Boolean),
      signedBy: opts['signed-by'] ?? '',
      enabled: true,
    });
  }
  return out;
}

/** deb822 format: stanzas separated by blank lines; continuation lines start with a space. */
export function parseDeb822(text) {
  /** @type {AptEntry[]} */
  const out = [];
  const stanzas = text.replace(/\r/g, '').split(/\n[ \t]*\n/);
  for (const stanza of stanzas) {
    /** @type {Record<string, string>} */
    const fields = {};
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s*#/.test(line)) continue;
      if (/^[ \t]/.test(line) && last) {
        fields[last] += `\n${line.trim()}`;
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = (m[1] ?? '').toLowerCase();
      fields[last] = (m[2] ?? '').trim();
    }
    if (!fields.uris || !fields.suites) continue;
    const words = (/** @type {string | undefined} */ v) => (v ?? '').split(/\s+/).filter(Boolean);
    out.push({
      types: words(fields.types || 'deb'),
      uris: words(fields.uris),
      suites: words(fields.suites),
      components: words(fields.components),
      // An inline key block (Signed-By: followed by a PGP block) is a third party's key.
      signedBy: /BEGIN PGP/.test(fields['signed-by'] ?? '') ? 'inline key' : (fields['signed-by'] ?? '').split('\n')[0] ?? '',
      enabled: !/^(no|false)$/i.test(fields.enabled ?? 'yes'),
    });
  }
  return out;
}

/** Every entry of the host's apt configuration (`root` lets tests point at a fake /etc/apt). */
export function readHostSources(root = '/etc/apt') {
  /** @type {AptEntry[]} */
  const out = [];
  const read = (/** @type {string} */ p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  out.push(...parseOneLine(read(join(root, 'sources.list'))));
  let names = [];
  try {
    names = readdirSync(join(root, 'sources.list.d')).sort();
  } catch {
    names = [];
  }
  for (const n of names) {
    if (n.endsWith('.list')) out.push(...parseOneLine(read(join(root, 'sources.list.d', n))));
    else if (n.endsWith('.sources')) out.push(...parseDeb822(read(join(root, 'sources.list.d', n))));
  }
  return out;
}

/** Debian's own archive: its keyring, or (no keyring named) a URI whose path ends in /debian or /debian-security. */
function isDebianArchive(/** @type {AptEntry} */ e) {
  if (e.signedBy) return /debian-archive-keyring|debian-archive-.*\.(gpg|asc|pgp)$/.test(e.signedBy);
  return e.uris.some((u) => /\/debian(-security)?\/?$/.test(u));
}

/**
 * The main archive and security archive URIs among `entries`. Any Debian codename counts (the
 * host may run another release than the image): security is the entry whose suite ends in
 * -security, the main archive one with a plain codename.
 * @param {AptEntry[]} entries
 * @returns {{ main: string, security: string }}
 */
export function debianMirrors(entries) {
  const debian = entries.filter((e) => e.enabled && e.types.includes('deb') && isDebianArchive(e));
  const main = debian.find((e) => e.suites.some((s) => /^[a-z]+$/.test(s)))?.uris[0] ?? '';
  const security = debian.find((e) => e.suites.some((s) => /^[a-z]+[-/]security$/.test(s) || s === 'stable-security'))?.uris[0] ?? '';
  return { main: main.replace(/\/+$/, ''), security: security.replace(/\/+$/, '') };
}

/**
 * The sources.list lines for an image of `suite`: the release, its updates and its security archive.
 * @param {{ main: string, security: string }} mirrors
 * @param {string} suite
 * @param {string[]} components
 */
export function imageSourceLines(mirrors, suite, components) {
  if (!mirrors.main) throw new Error("no Debian archive found in this machine's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/); set ROOST_IMAGE_MIRROR=URI");
  const c = components.join(' ');
  const lines = [`deb ${mirrors.main} ${suite} ${c}`, `deb ${mirrors.main} ${suite}-updates ${c}`];
  if (mirrors.security) lines.push(`deb ${mirrors.security} ${suite}-security ${c}`);
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const suite = process.argv[2];
  if (!suite) {
    process.stderr.write('usage: node apt-sources.mjs SUITE [COMPONENT,...]\n');
    process.exit(2);
  }
  const components = (process.argv[3] ?? 'main').split(',').filter(Boolean);
  const found = debianMirrors(readHostSources(process.env.ROOST_IMAGE_APT_ROOT || '/etc/apt'));
  const mirrors = {
    main: process.env.ROOST_IMAGE_MIRROR || found.main,
    security: process.env.ROOST_IMAGE_SECURITY_MIRROR || found.security,
  };
  try {
    const lines = imageSourceLines(mirrors, suite, components);
    if (!mirrors.security) process.stderr.write('apt-sources: no security archive in the host apt sources; the image gets no bookworm-security line (set ROOST_IMAGE_SECURITY_MIRROR)\n');
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (e) {
    process.stderr.write(`apt-sources: ${/** @type {Error} */ (e).message}\n`);
    process.exit(1);
  }
}
