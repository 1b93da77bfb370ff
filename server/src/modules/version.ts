// XEP-0092: Software Version
// https://xmpp.org/extensions/xep-0092.html
// Version 1.1 (2007-02-15)
//
// Name and version are public; the operating system is hidden unless modules.version.showOs,
// because it helps attackers more than it helps users.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { defineModule } from '../core/module.js';
import { xml } from '../xml/element.js';

export const NS_VERSION = 'jabber:iq:version';

let cached: string | undefined;

/** Roost's version from the nearest package.json up from this file (works from src and dist). */
export function roostVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if ((pkg.name === '@roost/server' || pkg.name === 'roost') && typeof pkg.version === 'string') {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // not here; keep walking up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  cached = 'unknown';
  return cached;
}

export default defineModule({
  name: 'version',
  spec: 'XEP-0092: Software Version',
  load(api) {
    const showOs = api.options.showOs === true;
    api.disco.addFeature(NS_VERSION);
    api.hook('iq-get/host/' + NS_VERSION, (event) =>
      api.replyResult(
        event,
        xml(
          'query',
          { xmlns: NS_VERSION },
          xml('name', {}, 'Roost'),
          xml('version', {}, roostVersion()),
          showOs ? xml('os', {}, `${os.type()} ${os.release()}`) : undefined,
        ),
      ),
    );
  },
});
