// images/lib/apt-sources.mjs: the image build takes its Debian mirror from the host's apt
// configuration (both sources.list formats), ignoring other vendors' repositories.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ES module of the image build, no type declarations
import { debianMirrors, imageSourceLines, parseDeb822, parseOneLine, readHostSources } from '../../images/lib/apt-sources.mjs';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function fakeApt(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'roost-apt-'));
  dirs.push(root);
  await mkdir(join(root, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(root, name), text);
  return root;
}

const DEB822 = `Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;
const NODE_REPO = `Types: deb
URIs: https://nodejs-repo.example/node_20.x
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/nodesource.gpg
`;

describe('apt sources of the build host', () => {
  it('deb822: finds the main and security archives, not a vendor repository listed first', async () => {
    const root = await fakeApt({ 'sources.list.d/a-node.sources': NODE_REPO, 'sources.list.d/debian.sources': DEB822, 'sources.list': 'deb [signed-by=/usr/share/keyrings/cloud.gpg] https://cloud.example/apt cloud-sdk-bookworm main\n' });
    const m = debianMirrors(readHostSources(root));
    expect(m).toEqual({ main: 'http://mirror.example/debian', security: 'http://security.example/debian-security' });
    expect(imageSourceLines(m, 'bookworm', ['main', 'non-free-firmware'])).toEqual([
      'deb http://mirror.example/debian bookworm main non-free-firmware',
      'deb http://mirror.example/debian bookworm-updates main non-free-firmware',
      'deb http://security.example/debian-security bookworm-security main non-free-firmware',
    ]);
  });

  it('one-line format with options and comments; a host on another release still gives its mirror', () => {
    const entries = parseOneLine(
      [
        '# comment',
        'deb-src http://mirror.example/debian trixie main',
        'deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian/ trixie main contrib # trailing',
        'deb http://security.example/debian-security trixie-security main',
      ].join('\n'),
    );
    expect(entries).toHaveLength(3);
    expect(entries[1]).toMatchObject({ types: ['deb'], uris: ['http://mirror.example/debian/'], suites: ['trixie'], components: ['main', 'contrib'] });
    expect(debianMirrors(entries)).toEqual({ main: 'http://mirror.example/debian', security: 'http://security.example/debian-security' });
  });

  it('deb822: disabled stanzas and inline keys; no Debian archive at all is a clear error', () => {
    const entries = parseDeb822(`Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n${NODE_REPO}`);
    expect(entries).toHaveLength(2);
    expect(debianMirrors(entries)).toEqual({ main: '', security: '' });
    expect(() => imageSourceLines(debianMirrors(entries), 'bookworm', ['main'])).toThrow(/no Debian archive found/);
    const inline = parseDeb822('Types: deb\nURIs: http://vendor.example/debian\nSuites: stable\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n');
    expect(inline[0].signedBy).toBe('inline key');
    expect(debianMirrors(inline).main).toBe('');
  });
});
