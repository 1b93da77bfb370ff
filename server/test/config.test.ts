// roost.yaml: defaults, ROOST_DATA, the example file, every kind of problem with its exact
// line and column, sizes/durations, the installer's renderer and what SIGHUP may apply.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, isMap, isScalar, parseDocument, stringify, type YAMLMap } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_PUSH_GATEWAYS,
  LETSENCRYPT_STAGING,
  defaultConfig,
  liveReloadable,
  loadConfig,
  parseConfigText,
  parseDuration,
  parseSize,
  renderConfigYaml,
  schemaKeys,
  tlsFiles,
  type ConfigProblem,
  type RoostConfig,
} from '../src/config/index.js';
import { closest, editDistance } from '../src/config/suggest.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const examplePath = join(repoRoot, 'roost.example.yaml');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'roost-config-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The problems parseConfigText reports for `lines` (fails the test when it accepts them). */
function problemsOf(lines: string[], source = 'roost.yaml'): ConfigProblem[] {
  try {
    parseConfigText(lines.join('\n') + '\n', source, {}, { cwd: tmp });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

function only(ps: ConfigProblem[], path: string): ConfigProblem {
  const found = ps.filter((p) => p.path === path);
  if (found.length !== 1) throw new Error(`expected one problem at ${path}, got:\n${ps.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`).join('\n')}`);
  return found[0]!;
}

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(text, join(tmp, 'roost.yaml'), env, { cwd: tmp });

describe('defaults', () => {
  it('no file: localhost, ./data in cwd, SQLite and auto TLS in it, the five listeners', async () => {
    const c = await loadConfig({ cwd: tmp, env: {} });
    expect(c.hosts).toEqual(['localhost']);
    expect(c.dataDir).toBe(join(tmp, 'data'));
    expect(c.storage).toEqual({ type: 'sqlite', path: join(tmp, 'data', 'roost.sqlite'), searchIndexLag: 100_000 });
    expect(c.tls.certificate).toBe('auto');
    expect(c.tls.key).toBeUndefined();
    expect(tlsFiles(c)).toEqual({ certificate: join(tmp, 'data', 'tls', 'cert.pem'), key: join(tmp, 'data', 'tls', 'key.pem'), generated: true });
    const ports = Object.fromEntries(Object.entries(c.listeners).map(([k, l]) => [k, [l.address, l.port, l.enabled]]));
    expect(ports).toEqual({
      c2s: ['::', 5222, true],
      c2sDirectTls: ['::', 5223, true],
      s2s: ['::', 5269, false],
      http: ['::', 5280, true],
      https: ['::', 5281, true],
    });
    expect(c.registration).toEqual({ enabled: false, mode: 'closed', inviteDays: 7, captchaTimeout: 600 });
    expect(c.limits).toMatchObject({ stanzaSize: 256 * 1024, preAuthSize: 16 * 1024, authTimeout: 60, offlineMessages: 1000, registrationsPerAddress: 5, maxConnections: 10000 });
    expect(c.admins).toEqual([]);
    expect(c.adminGroup).toBe('jabberadmins');
    expect(c.ldap).toMatchObject({ enabled: false, adminGroup: 'jabberadmins', timeoutMs: 10000, userFilter: 'auto' });
    expect(c.acme).toMatchObject({ enabled: false, directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory', challenge: 'http-01', httpPort: 80, renewDaysBefore: 30 });
    expect(c.upload).toEqual({ enabled: true, maxFileSize: 100e6, dailyQuota: 1e9, retentionDays: 30, subdomain: 'upload' });
    expect(c.archive).toEqual({ enabled: true, retentionDays: 365, defaultPolicy: 'always' });
    expect(c.muc).toEqual({
      enabled: true, subdomain: 'conference', creators: 'all', name: 'Group chats', persistentByDefault: true, subjectChange: 'moderators',
      historyLength: 20, maxHistoryLength: 100, archiveRetentionDays: 365, maxOccupants: 1000, maxRooms: 10000, lockedRoomTimeout: 600,
      voiceRequestInterval: 60, maxInvitesPerMessage: 20, archivePageSize: 250, vcardMaxSize: 65536,
    });
    expect(c.federation).toEqual({ enabled: false, pushGateways: [...DEFAULT_PUSH_GATEWAYS] });
    expect(c.turn).toMatchObject({ enabled: false, port: 3478, ttl: 86400 });
    expect(c.modules).toEqual({ disabled: [] });
    expect(c.log).toEqual({ level: 'info', format: 'text' });
    expect(c.source).toBeUndefined();
  });

  it('a listener can be set to loopback only', () => {
    const c = parse('listeners:\n  c2s: { address: 127.0.0.1, port: 15222 }\n');
    expect(c.listeners.c2s).toEqual({ address: '127.0.0.1', port: 15222, enabled: true });
  });
});

describe('ROOST_DATA', () => {
  it('sets dataDir without a file (relative to cwd), and the SQLite file follows', async () => {
    const c = await loadConfig({ cwd: tmp, env: { ROOST_DATA: 'state' } });
    expect(c.dataDir).toBe(join(tmp, 'state'));
    expect(c.storage).toEqual({ type: 'sqlite', path: join(tmp, 'state', 'roost.sqlite'), searchIndexLag: 100_000 });
    expect((await loadConfig({ cwd: tmp, env: { ROOST_DATA: '/srv/roost' } })).dataDir).toBe('/srv/roost');
    expect((await loadConfig({ cwd: tmp, env: { ROOST_DATA: '' } })).dataDir).toBe(join(tmp, 'data'));
  });

  it('applies to a file without dataDir; a file that sets dataDir wins', async () => {
    const dir = join(tmp, 'etc');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'a.yaml'), 'hosts: [example.org]\n');
    await writeFile(join(dir, 'b.yaml'), 'dataDir: lib\nstorage: { type: sqlite, path: db/chat.sqlite }\n');
    const a = await loadConfig({ path: join(dir, 'a.yaml'), cwd: tmp, env: { ROOST_DATA: '/srv/from-env' } });
    expect(a.dataDir).toBe('/srv/from-env');
    const b = await loadConfig({ path: join(dir, 'b.yaml'), cwd: tmp, env: { ROOST_DATA: '/srv/from-env' } });
    // Relative to the file's folder; storage.path inside dataDir.
    expect(b.dataDir).toBe(join(dir, 'lib'));
    expect(b.storage).toEqual({ type: 'sqlite', path: join(dir, 'lib', 'db', 'chat.sqlite'), searchIndexLag: 100_000 });
    expect(b.source).toBe(join(dir, 'b.yaml'));
  });
});

describe('roost.example.yaml', () => {
  it('is what renderConfigYaml({}) writes (regenerate: npx vite-node server/src/config/print-example.ts > roost.example.yaml)', async () => {
    expect(await readFile(examplePath, 'utf8')).toBe(renderConfigYaml({}));
  });

  it('parses to exactly the defaults', async () => {
    const fromFile = await loadConfig({ path: examplePath, cwd: repoRoot, env: {} });
    const { source, ...rest } = fromFile;
    expect(source).toBe(examplePath);
    expect(rest).toEqual(defaultConfig({ cwd: repoRoot, env: {} }));
  });

  it('holds every key of the schema, each with an explanation above it', async () => {
    const text = await readFile(examplePath, 'utf8');
    const lines = text.split('\n');
    const counter = new LineCounter();
    const doc = parseDocument(text, { lineCounter: counter });
    const keys = schemaKeys();
    // A sanity floor, so an introspection bug that finds nothing cannot pass.
    expect(keys.length).toBeGreaterThan(100);
    for (const sample of ['limits.offlineMessages', 'limits.registrationsPerAddress', 'registration.enabled', 'storage.type', 'storage.url', 'ldap.bindPasswordFile', 'federation.pushGateways', 'turn.ttl', 'modules.disabled', 'listeners.c2sDirectTls.port'])
      expect(keys.map((k) => k.path.join('.'))).toContain(sample);
    const missing: string[] = [];
    const undocumented: string[] = [];
    for (const k of keys) {
      const name = k.path.join('.');
      if (!k.description) undocumented.push(name);
      const parent = k.path.length === 1 ? doc.contents : doc.getIn(k.path.slice(0, -1), true);
      const pair = isMap(parent) ? (parent as YAMLMap).items.find((p) => isScalar(p.key) && p.key.value === k.path[k.path.length - 1]) : undefined;
      if (pair && isScalar(pair.key) && pair.key.range) {
        // The explanation is the comment line right above the key.
        const line = counter.linePos(pair.key.range[0]).line;
        if (!/^\s*# \S/.test(lines[line - 2] ?? '')) undocumented.push(name);
        continue;
      }
      // A key of the storage type not chosen is shown as a commented-out alternative.
      if (k.variant !== undefined && new RegExp(`^\\s*#\\s*${k.path[k.path.length - 1]}:`, 'm').test(text)) continue;
      missing.push(name);
    }
    expect(missing).toEqual([]);
    expect(undocumented).toEqual([]);
  });
});

/**
 * Where `needle` starts on line `line` (1-based) of `lines`: the position a problem must report.
 * Computed from the text itself so that each expectation names the exact character.
 */
function at(lines: string[], line: number, needle: string): { line: number; column: number } {
  const i = lines[line - 1]!.indexOf(needle);
  if (i < 0) throw new Error(`"${needle}" is not on line ${line}`);
  return { line, column: i + 1 };
}

describe('problems, each at its line and column', () => {
  it('YAML syntax errors', () => {
    const unclosed = problemsOf(['hosts: [example.org', 'log:', '  level: info']);
    expect(unclosed[0]).toMatchObject({ source: 'roost.yaml', line: 2, column: 1, path: '' });
    expect(unclosed[0]!.message).toMatch(/^YAML syntax: /);
    expect(unclosed[0]!.hint).toBe('a [ above is not closed with ]');
    const tab = problemsOf(['log:', '\tlevel: info']);
    expect(tab).toEqual([{ source: 'roost.yaml', line: 2, column: 1, path: '', message: 'YAML syntax: Tabs are not allowed as indentation', hint: 'indent with spaces; YAML does not allow tabs' }]);
    const quote = problemsOf(['hosts: [example.org]', 'dataDir: "/var/lib/roost', 'log: {}']);
    expect(quote[0]).toMatchObject({ message: 'YAML syntax: Missing closing "quote', hint: 'a bracket or quote is not closed' });
    expect(quote[0]!.line).toBeGreaterThanOrEqual(2);
    const top = problemsOf(['- just', '- a list']);
    expect(top).toEqual([{ source: 'roost.yaml', line: 1, column: 1, path: '', message: 'the file must hold settings as "key: value" lines', hint: 'see roost.example.yaml' }]);
  });

  it('unknown keys at any depth, with a suggestion', () => {
    const L = [
      'hosts: [example.org]',
      'listeners:',
      '  c2s:',
      '    prot: 5222',
      '  c2ss: {}',
      'limit:',
      '  depth: 10',
      'offlineMessages: 5',
      'upload:',
      '  max_file_size: 10MB',
      'colour: blue',
    ];
    const ps = problemsOf(L);
    expect(only(ps, 'listeners.c2s.prot')).toEqual({ source: 'roost.yaml', ...at(L, 4, 'prot'), path: 'listeners.c2s.prot', message: 'unknown key', hint: 'did you mean "port"?' });
    expect(only(ps, 'listeners.c2ss')).toMatchObject({ ...at(L, 5, 'c2ss'), hint: 'did you mean "c2s"?' });
    expect(only(ps, 'limit')).toMatchObject({ ...at(L, 6, 'limit'), hint: 'did you mean "limits"?' });
    expect(only(ps, 'offlineMessages')).toMatchObject({ ...at(L, 8, 'offlineMessages'), hint: '"offlineMessages" belongs under limits' });
    expect(only(ps, 'upload.max_file_size')).toMatchObject({ ...at(L, 10, 'max_file_size'), hint: 'did you mean "maxFileSize"?' });
    expect(only(ps, 'colour')).toMatchObject({ ...at(L, 11, 'colour'), message: 'unknown key' });
    expect(only(ps, 'colour').hint).toBeUndefined();
    expect(ps).toHaveLength(6);
  });

  it('the documented one-line format', () => {
    try {
      parseConfigText('listeners:\n  c2s:\n    prot: 5222\n', 'roost.yaml', {});
      throw new Error('accepted');
    } catch (e) {
      expect((e as ConfigError).format()).toBe('roost.yaml:3:5: listeners.c2s.prot: unknown key (did you mean "port"?)');
      expect((e as Error).message).toBe((e as ConfigError).format());
    }
  });

  it('wrong types', () => {
    const L = [
      'hosts: example.org',
      'listeners:',
      '  c2s:',
      '    port: "abc"',
      '    enabled: yes',
      '  https:',
      '    port: "5281"',
      'limits:',
      '  depth: 2.5',
      'log: verbose',
    ];
    const ps = problemsOf(L);
    expect(only(ps, 'hosts')).toMatchObject({ ...at(L, 1, 'example.org'), message: 'expected a list, got the text "example.org"', hint: 'write a list: [example.org]' });
    expect(only(ps, 'listeners.c2s.port')).toEqual({ source: 'roost.yaml', ...at(L, 4, '"abc"'), path: 'listeners.c2s.port', message: 'expected a number, got the text "abc"' });
    expect(only(ps, 'listeners.c2s.enabled')).toMatchObject({ ...at(L, 5, 'yes'), message: 'expected true or false, got the text "yes"', hint: 'write true or false' });
    expect(only(ps, 'listeners.https.port')).toMatchObject({ ...at(L, 7, '"5281"'), hint: 'remove the quotes' });
    expect(only(ps, 'limits.depth')).toMatchObject({ ...at(L, 9, '2.5'), message: 'must be a whole number, got 2.5' });
    expect(only(ps, 'log')).toMatchObject({ ...at(L, 10, 'verbose'), message: expect.stringMatching(/^expected a section/) });
    expect(ps).toHaveLength(6);
  });

  it('impossible ports, and two listeners on one address and port', () => {
    const L = ['listeners:', '  c2s: { port: 0 }', '  http:', '    port: 70000'];
    const ps = problemsOf(L);
    expect(only(ps, 'listeners.c2s.port')).toMatchObject({ ...at(L, 2, '0 }'), message: '0 is not a port number', hint: 'ports go from 1 to 65535' });
    expect(only(ps, 'listeners.http.port')).toMatchObject({ ...at(L, 4, '70000'), message: '70000 is not a port number' });

    const C = ['listeners:', '  c2s: { address: 127.0.0.1, port: 6000 }', '  https:', '    address: "::"', '    port: 6000', '  http: { port: 5222 }'];
    const clash = problemsOf(C);
    expect(only(clash, 'listeners.https.port')).toMatchObject({ ...at(C, 5, '6000'), message: 'port 6000 on :: is already used by listeners.c2s (127.0.0.1 port 6000)' });
    // c2s moved to 6000 here, so http may take 5222; with c2s at its default it may not.
    expect(clash).toHaveLength(1);
    const D = ['listeners:', '  http: { port: 5222 }'];
    expect(only(problemsOf(D), 'listeners.http.port')).toMatchObject({ ...at(D, 2, '5222'), message: 'port 5222 on :: is already used by listeners.c2s (:: port 5222)' });

    // Different addresses of different families on one port do not collide; a closed listener never does.
    const ok = parse('listeners:\n  c2s: { address: 127.0.0.1, port: 7000 }\n  https: { address: "::1", port: 7000 }\n  http: { port: 5222, enabled: false }\n');
    expect(ok.listeners.https.port).toBe(7000);
    expect(only(problemsOf(['listeners:', '  c2s: { address: 0.0.0.0 }', '  https: { address: 127.0.0.1, port: 5222 }']), 'listeners.https.port').message).toMatch(/already used by listeners.c2s/);
    expect(only(problemsOf(['listeners:', '  c2s: { address: localhost }']), 'listeners.c2s.address')).toMatchObject({ message: 'must be an IP address' });
  });

  it('negative limits and other impossible values', () => {
    const L = [
      'limits:',
      '  offlineMessages: -1',
      '  stanzaSize: -5',
      '  connectionsPerAddress: 0',
      '  authTimeout: -3s',
      'upload:',
      '  maxFileSize: 2GB',
      '  dailyQuota: 1GB',
      'acme: { renewDaysBefore: 120 }',
    ];
    const ps = problemsOf(L);
    expect(only(ps, 'limits.offlineMessages')).toMatchObject({ ...at(L, 2, '-1'), message: 'cannot be negative (-1)' });
    expect(only(ps, 'limits.stanzaSize')).toMatchObject({ ...at(L, 3, '-5'), message: 'a size cannot be negative (-5)' });
    expect(only(ps, 'limits.connectionsPerAddress')).toMatchObject({ ...at(L, 4, '0'), message: 'must be at least 1, got 0' });
    expect(only(ps, 'limits.authTimeout')).toMatchObject({ ...at(L, 5, '-3s'), message: '"-3s" is not a duration' });
    expect(only(ps, 'upload.dailyQuota')).toMatchObject({ ...at(L, 8, '1GB'), message: 'is smaller than upload.maxFileSize (2000000000 bytes)' });
    expect(only(ps, 'acme.renewDaysBefore')).toMatchObject({ ...at(L, 9, '120'), message: 'must be at most 89, got 120' });
    expect(ps).toHaveLength(6);
  });

  it('a storage url that is not postgres://', () => {
    const L = ['storage:', '  type: postgres', '  url: mysql://db.example.org/roost'];
    expect(only(problemsOf(L), 'storage.url')).toEqual({
      source: 'roost.yaml',
      ...at(L, 3, 'mysql'),
      path: 'storage.url',
      message: '"mysql://db.example.org/roost" must start with postgres:// or postgresql://',
      hint: 'for example postgres://roost:secret@localhost:5432/roost',
    });
    // Not in the file: reported at the section that lacks it.
    const missing = problemsOf(['storage:', '  type: postgres']);
    expect(only(missing, 'storage.url')).toMatchObject({ line: 1, column: 1, message: 'is missing', hint: expect.stringContaining('postgres://') });
    const T = ['storage:', '  type: postgress', '  url: postgres://x/y'];
    expect(only(problemsOf(T), 'storage.type')).toMatchObject({ ...at(T, 2, 'postgress'), hint: 'did you mean "postgres"?' });
    const V = ['storage:', '  type: sqlite', '  url: postgres://x/y'];
    expect(only(problemsOf(V), 'storage.url')).toMatchObject({ ...at(V, 3, 'url'), message: 'unknown key', hint: 'with type: sqlite the keys are type, path, searchIndexLag' });
    const c = parse('storage: { type: postgres, url: "postgresql:///roost?host=/run/postgresql" }\n');
    expect(c.storage).toEqual({ type: 'postgres', url: 'postgresql:///roost?host=/run/postgresql' });
  });

  it('hosts that are not domain names', () => {
    const L = ['hosts:', '  - example.org', '  - "exa mple.org"', '  - 192.0.2.7', '  - -bad.example.org', '  - a..b', '  - Example.ORG', '  - chat_server.example.org'];
    const ps = problemsOf(L);
    expect(only(ps, 'hosts[1]')).toMatchObject({ ...at(L, 3, '"exa'), message: '"exa mple.org" contains spaces' });
    expect(only(ps, 'hosts[2]')).toMatchObject({ ...at(L, 4, '192'), message: '"192.0.2.7" is an IP address, not a domain name' });
    expect(only(ps, 'hosts[3]')).toMatchObject({ ...at(L, 5, '-bad'), message: expect.stringContaining('not allowed') });
    expect(only(ps, 'hosts[4]')).toMatchObject({ ...at(L, 6, 'a..b'), message: expect.stringMatching(/not a valid domain name|empty part/) });
    expect(only(ps, 'hosts[6]')).toMatchObject({ ...at(L, 8, 'chat_'), message: expect.stringContaining('underscore') });
    expect(ps).toHaveLength(5);
    // Example.ORG is the same name as example.org (checked once every name is valid).
    const D = ['hosts:', '  - example.org', '  - Example.ORG'];
    expect(problemsOf(D)).toEqual([{ source: 'roost.yaml', ...at(D, 3, 'Example'), path: 'hosts[1]', message: 'example.org is listed twice', hint: 'remove one of the two entries' }]);
    // Names are compared lower case, IDN in Unicode form (RFC 7622 section 3.2).
    expect(parse('hosts: [Example.ORG, xn--bcher-kva.example]\n').hosts).toEqual(['example.org', 'bücher.example']);
    expect(only(problemsOf(['hosts: []']), 'hosts')).toMatchObject({ line: 1, column: 1, message: 'needs at least 1 entry' });
  });

  it('tls.certificate without key, and a key with auto', () => {
    const L = ['tls:', '  certificate: /etc/roost/cert.pem'];
    expect(only(problemsOf(L), 'tls.certificate')).toEqual({
      source: 'roost.yaml',
      ...at(L, 2, '/etc'),
      path: 'tls.certificate',
      message: 'a certificate file needs its private key',
      hint: 'add tls.key with the path of the key file',
    });
    const K = ['tls:', '  key: key.pem'];
    expect(only(problemsOf(K), 'tls.key')).toMatchObject({ ...at(K, 2, 'key.pem'), message: 'a key is only used with a certificate file' });
  });

  it('admins that are not bare JIDs', () => {
    const L = ['admins:', '  - alice@example.org', '  - bob', '  - carol@example.org/phone', '  - "@example.org"', '  - dave@1.2.3.4'];
    const ps = problemsOf(L);
    expect(only(ps, 'admins[1]')).toMatchObject({ ...at(L, 3, 'bob'), message: '"bob" is not a chat address (it has no @)', hint: 'write a full chat address such as alice@example.org' });
    expect(only(ps, 'admins[2]')).toMatchObject({ ...at(L, 4, 'carol'), message: '"carol@example.org/phone" has a resource (the part after /)', hint: 'write only "carol@example.org"' });
    expect(only(ps, 'admins[3]')).toMatchObject({ ...at(L, 5, '"@') });
    expect(only(ps, 'admins[4]')).toMatchObject({ ...at(L, 6, 'dave'), message: expect.stringContaining('IP address') });
    expect(ps).toHaveLength(4);
    expect(parse('admins: [Alice@Example.org]\n').admins).toEqual(['alice@example.org']);
  });

  it('duplicate keys, at their second place', () => {
    const L = ['hosts: [example.org]', 'listeners:', '  c2s:', '    port: 5222', '    port: 5224', 'hosts: [example.com]'];
    const ps = problemsOf(L);
    expect(only(ps, 'listeners.c2s.port')).toEqual({
      source: 'roost.yaml',
      ...at(L, 5, 'port'),
      path: 'listeners.c2s.port',
      message: 'duplicate key (already set on line 4)',
      hint: 'remove one of them; only the last one would count',
    });
    expect(only(ps, 'hosts')).toMatchObject({ ...at(L, 6, 'hosts'), message: 'duplicate key (already set on line 1)' });
    expect(ps).toHaveLength(2);
  });

  it('registration: enabled must agree with mode', () => {
    const L = ['registration:', '  enabled: true', '  mode: closed'];
    expect(only(problemsOf(L), 'registration.enabled')).toMatchObject({ ...at(L, 2, 'true'), message: 'enabled: true contradicts mode: closed' });
    expect(parse('registration: { enabled: true }\n').registration).toMatchObject({ enabled: true, mode: 'open' });
    expect(parse('registration: { mode: invite }\n').registration).toMatchObject({ enabled: true, mode: 'invite' });
    expect(parse('registration: { enabled: false }\n').registration).toMatchObject({ enabled: false, mode: 'closed' });
    const M = ['registration: { mode: opne }'];
    expect(only(problemsOf(M), 'registration.mode')).toMatchObject({ ...at(M, 1, 'opne'), hint: 'did you mean "open"?' });
  });

  it('sections that need each other', () => {
    const L = [
      'hosts: [localhost]',
      'ldap:',
      '  enabled: true',
      '  url: ldaps://dc1.example.org',
      '  startTls: true',
      '  baseDn: dc=example,dc=org',
      '  bindDn: cn=roost,dc=example,dc=org',
      'turn: { enabled: true }',
    ];
    const ps = problemsOf(L);
    expect(only(ps, 'ldap.startTls')).toMatchObject({ ...at(L, 5, 'true'), message: 'startTls is for ldap:// addresses; ldaps:// is encrypted already' });
    expect(only(ps, 'ldap.bindDn')).toMatchObject({ ...at(L, 7, 'cn='), message: 'bindDn has no password' });
    const turn = ps.filter((p) => p.path === 'turn.enabled');
    expect(turn.map((p) => p.message)).toEqual(['the TURN server is missing', 'the shared secret is missing']);
    expect(turn[0]).toMatchObject(at(L, 8, 'true'));
    expect(ps).toHaveLength(4);
    // Checks across sections run once each section is valid in itself.
    const C = ['hosts: [localhost]', 'acme: { enabled: true }', 'federation:', '  enabled: true', 'ldap: { enabled: true, url: "ldaps://dc1", baseDn: "dc=x" }', 'registration: { mode: open }'];
    const cross = problemsOf(C);
    expect(only(cross, 'acme.enabled')).toMatchObject({ ...at(C, 2, 'true'), message: 'a public certificate cannot be issued for "localhost"' });
    expect(only(cross, 'federation.enabled')).toMatchObject({ ...at(C, 4, 'true'), message: 'other servers could not reach this one: listeners.s2s is off' });
    expect(only(cross, 'registration.mode')).toMatchObject({ ...at(C, 6, 'open'), message: 'accounts come from the directory when ldap is on' });
    expect(cross).toHaveLength(3);
    const S = ['hosts: [example.org, conference.example.org]', 'upload: { subdomain: conference }'];
    const subs = problemsOf(S);
    expect(subs.map((p) => p.message).sort()).toEqual([
      '"conference" is already the group chat subdomain',
      'conference.example.org is both a host and the muc service',
      'conference.example.org is both a host and the upload service',
    ]);
  });

  it('every problem of a file at once, in file order', () => {
    const L = [
      'hosts: [example.org, 10.0.0.1]',
      'listeners:',
      '  c2s: { prot: 5222 }',
      '  https: { port: "x" }',
      'limits:',
      '  offlineMessages: -1',
      'storage: { type: postgres, url: "sqlite://x" }',
      'tls: { certificate: c.pem }',
      'admins: [root]',
      'log: { level: loud }',
      'log: { level: info }',
    ];
    let err: ConfigError | undefined;
    try {
      parseConfigText(L.join('\n'), 'roost.yaml', {});
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const where = (p: { line: number; column: number }, path: string) => `${p.line}:${p.column} ${path}`;
    expect(err!.problems.map((p) => where(p, p.path))).toEqual([
      where(at(L, 1, '10.0'), 'hosts[1]'),
      where(at(L, 3, 'prot'), 'listeners.c2s.prot'),
      where(at(L, 4, '"x"'), 'listeners.https.port'),
      where(at(L, 6, '-1'), 'limits.offlineMessages'),
      where(at(L, 7, '"sqlite'), 'storage.url'),
      where(at(L, 8, 'c.pem'), 'tls.certificate'),
      where(at(L, 9, 'root'), 'admins[0]'),
      where(at(L, 11, 'log'), 'log'),
    ]);
    expect(err!.format().split('\n')).toHaveLength(8);
    expect(err!.format().split('\n')[1]).toBe('roost.yaml:3:10: listeners.c2s.prot: unknown key (did you mean "port"?)');
  });
});

describe('odd input never crashes the loader', () => {
  it('empty files and comments are the defaults; aliases resolve to their anchors', () => {
    const d = defaultConfig({ cwd: tmp, env: {} });
    expect(parseConfigText('', 'x.yaml', {}, { cwd: tmp, baseDir: tmp })).toEqual({ ...d, source: 'x.yaml' });
    expect(parseConfigText('# nothing set\n', 'x.yaml', {}, { cwd: tmp, baseDir: tmp })).toEqual({ ...d, source: 'x.yaml' });
    const L = ['base: &loop { address: 127.0.0.1, port: 7100 }'];
    // The anchor's own key is unknown; the alias that uses it is fine.
    expect(only(problemsOf([...L, 'listeners: { c2s: *loop }']), 'base')).toMatchObject({ line: 1, column: 1, message: 'unknown key' });
    const A = ['listeners:', '  c2s: &l { address: 127.0.0.1, port: 7100 }', '  https: *l'];
    expect(only(problemsOf(A), 'listeners.https.port')).toMatchObject({ ...at(A, 2, '7100'), message: expect.stringContaining('already used by listeners.c2s') });
  });

  it('an alias bomb, binary junk and unknown tags give problems, not crashes', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]'];
    expect(problemsOf(bomb)[0]).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/^YAML: .*alias/i) });
    expect(problemsOf(['\u0000\u0001\u00ff: [', '{{{']).length).toBeGreaterThan(0);
    const U = ['hosts: [example.org]', 'log: *nowhere'];
    expect(problemsOf(U)).toEqual([{ source: 'roost.yaml', ...at(U, 2, '*nowhere'), path: '', message: expect.stringMatching(/^YAML: Unresolved alias/) }]);
    const T = ['hosts: !!binary aGVsbG8=', 'log: { level: !custom debug }'];
    const ps = problemsOf(T);
    expect(only(ps, 'hosts')).toMatchObject({ ...at(T, 1, 'aGVs'), message: 'expected a list, got binary data' });
  });
});

describe('did you mean', () => {
  it('counts a swap of neighbours as one edit and folds case and separators', () => {
    expect(editDistance('prot', 'port')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('prot', ['address', 'port', 'enabled'])).toBe('port');
    expect(closest('Port', ['address', 'port'])).toBe('port');
    expect(closest('max_file_size', ['maxFileSize', 'dailyQuota'])).toBe('maxFileSize');
    expect(closest('xyz', ['address', 'port'])).toBeUndefined();
    expect(closest('offlinemesages', ['offlineMessages', 'depth'])).toBe('offlineMessages');
  });
});

describe('sizes and durations', () => {
  it('parses units strictly (SI powers of 1000, IEC powers of 1024)', () => {
    expect(parseSize(1234)).toBe(1234);
    expect(parseSize('100MB')).toBe(100_000_000);
    expect(parseSize('1GiB')).toBe(1024 ** 3);
    expect(parseSize('256 KiB')).toBe(262_144);
    expect(parseSize('1.5kB')).toBe(1500);
    expect(parseSize('10')).toBe(10);
    expect(parseSize('10XB')).toMatchObject({ message: '"XB" is not a size unit' });
    expect(parseSize('1.5B')).toMatchObject({ message: expect.stringContaining('whole number') });
    expect(parseSize(-1)).toMatchObject({ message: expect.stringContaining('negative') });
    expect(parseDuration(90)).toBe(90);
    expect(parseDuration('30d')).toBe(30 * 86400);
    expect(parseDuration('12h')).toBe(43200);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('10s', 'ms')).toBe(10000);
    expect(parseDuration('2500', 'ms')).toBe(2500);
    expect(parseDuration('5 fortnights')).toMatchObject({ message: '"fortnights" is not a duration unit' });
    expect(parseDuration('h')).toMatchObject({ message: '"h" is not a duration' });
  });

  it('in the file, with the problem at the value', () => {
    const c = parse('limits:\n  stanzaSize: 1MiB\n  sendBuffer: 4MiB\n  authTimeout: 2m\n  idleTimeout: 1h\nupload: { maxFileSize: 1GiB, dailyQuota: 5GiB }\nturn: { ttl: 12h }\nldap: { timeoutMs: 5s }\n');
    expect(c.limits).toMatchObject({ stanzaSize: 1048576, sendBuffer: 4 * 1048576, authTimeout: 120, idleTimeout: 3600 });
    expect(c.upload).toMatchObject({ maxFileSize: 1024 ** 3, dailyQuota: 5 * 1024 ** 3 });
    expect(c.turn.ttl).toBe(43200);
    expect(c.ldap.timeoutMs).toBe(5000);
    const L = ['limits:', '  stanzaSize: 10XB', '  authTimeout: soon', '  preAuthSize: 1KiB', 'upload: { maxFileSize: true }'];
    const ps = problemsOf(L);
    expect(only(ps, 'limits.stanzaSize')).toMatchObject({ ...at(L, 2, '10XB'), message: '"XB" is not a size unit', hint: expect.stringContaining('KiB') });
    expect(only(ps, 'limits.authTimeout')).toMatchObject({ ...at(L, 3, 'soon'), message: '"soon" is not a duration', hint: expect.stringContaining('30d') });
    expect(only(ps, 'limits.preAuthSize')).toMatchObject({ ...at(L, 4, '1KiB'), message: 'must be at least 4096 bytes' });
    expect(only(ps, 'upload.maxFileSize')).toMatchObject({ ...at(L, 5, 'true'), message: 'expected a size, got true' });
    expect(ps).toHaveLength(4);
  });
});

describe('other sections', () => {
  it('ldap: filled in for a known directory type; the admin group falls back to adminGroup', () => {
    const c = parse('adminGroup: chatadmins\nldap:\n  enabled: true\n  url: ldaps://dc1.example.org:636\n  baseDn: dc=example,dc=org\n  bindDn: cn=roost,dc=example,dc=org\n  bindPassword: s3cret\n  flavor: ad\n');
    expect(c.ldap).toMatchObject({ enabled: true, userFilter: '(&(objectClass=user)(objectCategory=person))', usernameAttribute: 'sAMAccountName', adminGroup: 'chatadmins', bindPassword: 's3cret' });
    expect(parse('ldap: { adminGroup: staff }\n').ldap.adminGroup).toBe('staff');
    const L = ['ldap:', '  url: http://dc1', '  userFilter: objectClass=user', '  enabled: true'];
    const ps = problemsOf(L);
    expect(only(ps, 'ldap.url')).toMatchObject({ ...at(L, 2, 'http'), message: '"http://dc1" must start with ldap:// or ldaps://' });
    // The url was wrong, so the section's own checks wait for it to be fixed.
    expect(ps).toHaveLength(1);
    const M = ['ldap:', '  userFilter: objectClass=user', '  bindPassword: x', '  bindPasswordFile: /etc/roost/ldap.pw', '  enabled: true'];
    const ps2 = problemsOf(M);
    expect(only(ps2, 'ldap.userFilter')).toMatchObject({ ...at(M, 2, 'objectClass'), message: '"objectClass=user" is not an LDAP filter' });
    expect(only(ps2, 'ldap.bindPasswordFile')).toMatchObject({ ...at(M, 4, '/etc'), message: 'both bindPassword and bindPasswordFile are set' });
    expect(only(ps2, 'ldap.bindPassword')).toMatchObject({ ...at(M, 3, 'x'), message: 'a password is set but no bindDn' });
    expect(ps2.filter((p) => p.path === 'ldap.enabled').map((p) => p.message)).toEqual(['the directory server address is missing', 'the place to search users is missing']);
    expect(ps2).toHaveLength(5);
  });

  it('acme: Let\'s Encrypt by name, any https directory', () => {
    expect(parse('acme: { directoryUrl: letsencrypt-staging }\n').acme.directoryUrl).toBe(LETSENCRYPT_STAGING);
    expect(parse('acme: { directoryUrl: "https://ca.internal:14000/dir", caBundle: ca.pem }\n').acme).toMatchObject({ directoryUrl: 'https://ca.internal:14000/dir', caBundle: join(tmp, 'ca.pem') });
    const A = ['acme:', '  directoryUrl: http://ca.internal/dir'];
    expect(only(problemsOf(A), 'acme.directoryUrl')).toMatchObject({ ...at(A, 2, 'http'), message: '"http://ca.internal/dir" is not an https:// address' });
    expect(only(problemsOf(['acme: { email: "not an email" }']), 'acme.email')).toMatchObject({ message: 'the text "not an email" is not an email address' });
    expect(only(problemsOf(['acme: { challenge: dns01 }']), 'acme.challenge')).toMatchObject({ hint: 'did you mean "dns-01"?' });
  });

  it('modules: any module name with its own settings section', () => {
    const c = parse('modules:\n  disabled: [vcard]\n  register: { allowRemove: false }\n  some_future_module: { level: 3 }\n');
    expect(c.modules.disabled).toEqual(['vcard']);
    expect(c.modules['register']).toEqual({ allowRemove: false });
    expect(c.modules['some_future_module']).toEqual({ level: 3 });
    const M = ['modules:', '  register: true'];
    expect(only(problemsOf(M), 'modules.register')).toMatchObject({ ...at(M, 2, 'true'), message: expect.stringMatching(/^expected a section/) });
  });

  it('federation push gateways are domain names', () => {
    expect(parse('federation: { pushGateways: [push.example.org] }\n').federation.pushGateways).toEqual(['push.example.org']);
    const F = ['federation:', '  pushGateways:', '    - "https://push.example.org"'];
    expect(only(problemsOf(F), 'federation.pushGateways[0]')).toMatchObject({ ...at(F, 3, '"https'), hint: 'write just the name, without http:// or slashes' });
  });
});

describe('loadConfig and files', () => {
  it('a missing file, and files the configuration names', async () => {
    await expect(loadConfig({ path: join(tmp, 'nope.yaml') })).rejects.toThrow(/nope\.yaml: the file does not exist/);
    const dir = join(tmp, 'files');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cert.pem'), 'x');
    await writeFile(join(dir, 'roost.yaml'), 'hosts: [example.org]\ntls:\n  certificate: cert.pem\n  key: key.pem\n');
    const err = await loadConfig({ path: join(dir, 'roost.yaml'), env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      {
        source: join(dir, 'roost.yaml'),
        line: 4,
        column: 8,
        path: 'tls.key',
        message: `${join(dir, 'key.pem')} does not exist`,
        hint: 'check the path; relative paths are relative to the folder of this file',
      },
    ]);
    await writeFile(join(dir, 'key.pem'), 'x');
    // The bare path form `roost check` uses; relative paths against the file's folder.
    const c = await loadConfig(join(dir, 'roost.yaml'));
    expect(c.tls).toEqual({ certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem') });
    expect(tlsFiles(c)).toEqual({ certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), generated: false });
  });
});

describe('renderConfigYaml', () => {
  const answers = {
    hosts: ['chat.example.org', 'example.org'],
    dataDir: '/var/lib/roost',
    storage: { type: 'postgres' as const, url: 'postgres://roost:pw@db.example.org:5432/roost' },
    tls: { certificate: '/var/lib/roost/acme/cert.pem', key: '/var/lib/roost/acme/key.pem' },
    listeners: { c2s: { address: '127.0.0.1' }, s2s: { enabled: true } },
    limits: { stanzaSize: '512KiB', maxSessionsPerAccount: 4 },
    registration: { mode: 'invite' as const },
    admins: ['alice@example.org'],
    log: { format: 'json' as const },
    acme: { enabled: true, email: 'it@example.org', challenge: 'dns-01' as const },
    upload: { maxFileSize: '50MB' },
    federation: { enabled: true },
    turn: { enabled: true, host: 'turn.example.org', secret: 'shared', ttl: '6h' },
    modules: { disabled: ['version'], register: { allowRemove: false } },
  };

  it('writes every answer so that it reads back to the same values', () => {
    const text = renderConfigYaml(answers);
    const back = parse(text);
    const direct = parse(stringify(answers));
    expect(back).toEqual(direct);
    expect(back.storage).toEqual(answers.storage);
    expect(back.registration).toMatchObject({ enabled: true, mode: 'invite' });
    expect(back.limits.stanzaSize).toBe(512 * 1024);
    expect(back.listeners.c2s).toEqual({ address: '127.0.0.1', port: 5222, enabled: true });
    expect(back.modules['register']).toEqual({ allowRemove: false });
    // Comments are there for the admin who opens the file later.
    expect(text).toContain('# Where the PostgreSQL database is');
    expect(text).toContain('# Or one database file instead:');
  });

  it('a loaded configuration renders back to itself', () => {
    const once = parse(renderConfigYaml(answers));
    const twice = parse(renderConfigYaml(once));
    expect(twice).toEqual(once);
    const defaults = defaultConfig({ cwd: tmp, env: {} });
    expect(parse(renderConfigYaml(defaults))).toEqual({ ...defaults, source: join(tmp, 'roost.yaml') });
  });

  it('refuses answers that are not a valid configuration', () => {
    expect(() => renderConfigYaml({ listeners: { c2s: { port: 0 } } })).toThrow(ConfigError);
    expect(() => renderConfigYaml({ hosts: ['not a domain'] })).toThrow(/<answers>:\d+:\d+: hosts\[0\]/);
    expect(() => renderConfigYaml({ colour: 'blue' } as never)).toThrow(/colour: unknown key/);
  });
});

describe('liveReloadable', () => {
  const base = (): RoostConfig => defaultConfig({ cwd: '/srv', env: {} });

  it('nothing changed', () => {
    expect(liveReloadable(base(), { ...base(), source: 'other.yaml' })).toEqual({ changed: [], needsRestart: [] });
  });

  it('tls, limits, log, registration and admins apply on SIGHUP', () => {
    const next = base();
    next.tls = { certificate: '/etc/roost/cert.pem', key: '/etc/roost/key.pem' };
    next.limits = { ...next.limits, stanzaSize: 1 << 20 };
    next.log = { ...next.log, level: 'debug' };
    next.registration = { ...next.registration, enabled: true, mode: 'invite' };
    next.admins = ['alice@example.org'];
    next.federation = { ...next.federation, pushGateways: ['push.example.org'] };
    const r = liveReloadable(base(), next);
    expect(r.changed.sort()).toEqual(['admins', 'federation.pushGateways', 'limits.stanzaSize', 'log.level', 'registration.enabled', 'registration.mode', 'tls.certificate', 'tls.key']);
    expect(r.needsRestart).toEqual([]);
  });

  it('listeners, storage, hosts and dataDir need a restart', () => {
    const next = base();
    next.listeners = { ...next.listeners, c2s: { ...next.listeners.c2s, port: 15222 } };
    next.storage = { type: 'postgres', url: 'postgres://x/y' };
    next.hosts = ['example.org'];
    next.dataDir = '/var/lib/roost';
    next.log = { ...next.log, format: 'json' };
    const r = liveReloadable(base(), next);
    expect(r.needsRestart.sort()).toEqual(['dataDir', 'hosts', 'listeners.c2s.port', 'storage.path', 'storage.searchIndexLag', 'storage.type', 'storage.url']);
    expect(r.changed).toContain('log.format');
    expect(r.needsRestart).not.toContain('log.format');
  });
});
