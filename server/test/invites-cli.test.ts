// `roost invite` as a real process (bin/roost.js) on the database of a running server: the link it
// prints registers an account over the wire, --inviter links make contacts, list shows uses and
// who used them, revoke stops a link, closed mode refuses account links, bad input exits 2.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureBuilt, runRoost } from './helpers/cli.js';
import { startTestServer } from './helpers/server.js';
import { condition, preAuth, preauth, registerLegacy, type Srv } from './helpers/registration.js';

// Each call starts node and loads the CLI: slow on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

let srv: Srv;
let dir: string;
let inviteConfig: string;
let closedConfig: string;

async function registerWith(token: string, username: string, password: string): Promise<{ pre: any; reg?: any }> {
  const s = await preAuth(srv);
  const pre = await preauth(s, token, srv.host);
  const reg = pre.attrs.type === 'result' ? await registerLegacy(s, username, password) : undefined;
  s.destroy();
  return { pre, reg };
}

const roost = (args: string[], config = inviteConfig) => runRoost(['invite', ...args, '--config', config], { cwd: dir, timeoutMs: 45_000 });

beforeAll(async () => {
  ensureBuilt();
  srv = await startTestServer({ registration: { mode: 'invite', enabled: true } });
  await srv.addUser('alice', 'alice-pw');
  dir = await mkdtemp(join(tmpdir(), 'roost-invite-cli-'));
  const base = [`hosts: [${srv.host}]`, `dataDir: ${srv.dataDir}`];
  inviteConfig = join(dir, 'invite.yaml');
  closedConfig = join(dir, 'closed.yaml');
  await writeFile(inviteConfig, [...base, 'registration: { mode: invite, inviteDays: 3 }', ''].join('\n'));
  await writeFile(closedConfig, [...base, 'registration: { mode: closed }', ''].join('\n'));
}, 180_000);

afterAll(async () => {
  await srv?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('roost invite', () => {
  let accountToken = '';
  let contactToken = '';

  it('prints a link that registers one account over the wire', async () => {
    const r = await roost(['--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    accountToken = out.token;
    expect(out).toMatchObject({ host: 'localhost', type: 'register', uses: 1, uri: `xmpp:localhost?register;preauth=${out.token}` });
    expect(out.token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // registration.inviteDays: 3 from the file.
    expect(Date.parse(out.expires) - Date.parse(out.created)).toBe(3 * 86_400_000);
    const { pre, reg } = await registerWith(out.token, 'romeo', 'romeo-pw');
    expect(pre.attrs.type).toBe('result');
    expect(reg.attrs.type).toBe('result');
    const c = await srv.client('romeo', 'romeo-pw');
    await c.stop();
    expect(condition((await registerWith(out.token, 'again', 'pw')).pre)).toBe('item-not-found');
  });

  it('--inviter: a contact link with ibr=y; the new account and the inviter are subscribed both ways', async () => {
    const r = await roost(['--inviter', 'alice', '--uses', '2', '--days', '2']);
    expect(r.code, r.stderr).toBe(0);
    const m = /xmpp:alice@localhost\?roster;preauth=([A-Za-z0-9_-]+);ibr=y/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(r.stdout).toMatch(/2 uses, valid until/);
    contactToken = m![1]!;
    expect((await registerWith(contactToken, 'juliet', 'juliet-pw')).reg.attrs.type).toBe('result');
    const roster = srv.server.storage.keyval('roster');
    expect(await roster.get('alice@localhost', 'juliet@localhost')).toMatchObject({ subscription: 'both' });
    expect(await roster.get('juliet@localhost', 'alice@localhost')).toMatchObject({ subscription: 'both' });
  });

  it('list shows status, uses left and who used each link; revoke stops one', async () => {
    const before = JSON.parse((await roost(['list', '--json'])).stdout).invites;
    const byToken = new Map(before.map((i: any) => [i.token, i]));
    expect(byToken.get(accountToken)).toMatchObject({ status: 'used up', uses: 0, source: 'roost invite', usedBy: [{ jid: 'romeo@localhost' }] });
    expect(byToken.get(contactToken)).toMatchObject({ status: 'valid', uses: 1, inviter: 'alice@localhost', usedBy: [{ jid: 'juliet@localhost' }] });
    const text = await roost(['list']);
    expect(text.stdout).toContain(`used by romeo@localhost`);
    expect(text.stdout).toContain(`xmpp:alice@localhost?roster;preauth=${contactToken};ibr=y`);

    const rev = await roost(['revoke', contactToken]);
    expect(rev.code, rev.stderr).toBe(0);
    expect(condition((await registerWith(contactToken, 'mercutio', 'pw')).pre)).toBe('item-not-found');
    const after = JSON.parse((await roost(['list', '--json'])).stdout).invites;
    expect(after.find((i: any) => i.token === contactToken)).toMatchObject({ status: 'revoked', uses: 0 });
    expect((await roost(['revoke', 'noSuchToken0000000000'])).code).toBe(1);
  });

  it('closed mode: no account links; --inviter makes a contact-only link without ibr=y', async () => {
    const refused = await roost([], closedConfig);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/registration\.mode is closed/);
    const r = await roost(['--inviter', 'alice@localhost', '--json'], closedConfig);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ type: 'roster', inviter: 'alice@localhost', uri: `xmpp:alice@localhost?roster;preauth=${out.token}` });
    // Not an account invitation, even though this server is in invite mode.
    expect(condition((await registerWith(out.token, 'tybalt', 'pw')).pre)).toBe('item-not-found');
  });

  it('bad input: clear errors, nothing written', async () => {
    const count = async () => JSON.parse((await roost(['list', '--json'])).stdout).invites.length;
    const n = await count();
    for (const args of [['--uses', '0'], ['--uses', 'many'], ['--days', '-1'], ['--host', 'other.example'], ['extra'], ['revoke'], ['--inviter']]) {
      const r = await roost(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
    const nobody = await roost(['--inviter', 'nobody']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/no account nobody@localhost/);
    expect(await count()).toBe(n);
  });
});
