// `roost invite`: invitation links (XEP-0401 v0.5.0 https://xmpp.org/extensions/xep-0401.html,
// XEP-0445 v0.2.0 https://xmpp.org/extensions/xep-0445.html, XEP-0379 v0.3.3
// https://xmpp.org/extensions/xep-0379.html) written to the daemon's keyval store 'invites'
// (modules/invites/store.ts). Works while the daemon runs: it reads the store at each use.
// Tokens, timestamps, URIs and the QR code come from the installer's invite.ts, so a link from
// `roost invite` looks exactly like the one `roost setup` shows.
import { createInvite, inviteQr, inviteUri, type Invite } from '../../../installer/src/invite.js';
import type { RoostConfig } from '../config/types.js';
import { createAccounts } from '../core/accounts.js';
import { prepareDomain, prepareLocalpart } from '../core/jid.js';
import { INVITES_STORE, InviteStore, inviteStatus, plausibleToken, type InviteRecord } from '../modules/invites/store.js';
import type { Storage } from '../storage/types.js';
import type { CliIo } from './main.js';
import { configOrExit, configPathOf, parseOrUsage, servedDomain, UsageError, withStorage } from './options.js';

const USAGE = `usage: roost invite [--host DOMAIN] [--inviter USER] [--uses N] [--days N] [--json] [--config FILE]
       roost invite list [--host DOMAIN] [--json] [--config FILE]
       roost invite revoke TOKEN [--host DOMAIN] [--config FILE]
Creates an invitation link to open in a chat app: xmpp:DOMAIN?register;preauth=TOKEN creates an
account; with --inviter USER, xmpp:USER@DOMAIN?roster;preauth=TOKEN;ibr=y also makes the new
user and USER contacts (or lets someone with an account add USER). --uses: how many accounts
(default 1); --days: how long it works (default registration.inviteDays).`;

const MAX_USES = 10_000;

function wholeNumber(v: string | true | undefined, name: string, def: number, max: number): number {
  if (v === undefined) return def;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} needs a whole number from 1 to ${max}`);
  return n;
}

function hostOf(flag: string | true | undefined, config: RoostConfig): string {
  if (flag === undefined) return config.hosts[0]!;
  if (flag === true) throw new UsageError('--host needs a domain');
  return servedDomain(flag, config);
}

/** The installer's Invite shape for an existing record, for its URI function. */
function asInvite(token: string, host: string, r: InviteRecord): Invite {
  return { token, type: r.type, domain: host, ...(r.inviter ? { inviter: r.inviter } : {}), created: r.created, expires: r.expires, uses: r.uses, source: 'roost setup' };
}

/** XEP-0401 §5.1: without in-band registration the link carries no ibr=y (inviteUri knows). */
function uriOf(token: string, host: string, r: InviteRecord): string {
  return inviteUri(asInvite(token, host, r));
}

export async function runInvite(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseOrUsage('invite', argv, ['config', 'host', 'inviter', 'uses', 'days'], USAGE, io.stderr);
  if (typeof parsed === 'number') return parsed;
  const [action, token, ...extra] = parsed.positional;
  const shape =
    (action === undefined && token === undefined) || (action === 'list' && token === undefined) || (action === 'revoke' && token !== undefined && extra.length === 0);
  if (!shape || extra.length > 0) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = await configOrExit(configPathOf(parsed), io.stderr);
  if (typeof config === 'number') return config;
  return withStorage('invite', config, io.stderr, async (storage) => {
    const hostFlag = parsed.flags.get('host');
    const json = parsed.flags.get('json') === true;
    if (action === 'list') return await list(config, storage, hostFlag === undefined ? config.hosts : [hostOf(hostFlag, config)], json, io);
    if (action === 'revoke') return await revoke(config, storage, hostFlag === undefined ? config.hosts : [hostOf(hostFlag, config)], token!, io);
    return await create(config, storage, hostOf(hostFlag, config), parsed.flags, json, io);
  });
}

async function create(config: RoostConfig, storage: Storage, host: string, flags: Map<string, string | true>, json: boolean, io: CliIo): Promise<number> {
  const uses = wholeNumber(flags.get('uses'), 'uses', 1, MAX_USES);
  const days = wholeNumber(flags.get('days'), 'days', config.registration.inviteDays, 3650);
  let inviter: string | undefined;
  const inviterFlag = flags.get('inviter');
  if (inviterFlag !== undefined) {
    if (inviterFlag === true) throw new UsageError('--inviter needs a username');
    const at = inviterFlag.lastIndexOf('@');
    const user = prepareLocalpart(at >= 0 ? inviterFlag.slice(0, at) : inviterFlag);
    if (at >= 0 && prepareDomain(inviterFlag.slice(at + 1)) !== host) {
      throw new UsageError(`the inviter must be a user of ${host} (use --host for another domain)`);
    }
    // Directory accounts are not in the local store; the daemon checks them when the link is used.
    if (!config.ldap.enabled && !(await createAccounts(storage, host).exists(user))) {
      io.stderr.write(`roost invite: no account ${user}@${host} (create it with roost user add ${user})\n`);
      return 1;
    }
    inviter = `${user}@${host}`;
  }
  const closed = config.registration.mode === 'closed';
  if (closed && !inviter) {
    io.stderr.write(
      `roost invite: registration.mode is closed${config.source ? ` in ${config.source}` : ''}, so an invitation cannot create an account.\n` +
        'Set registration.mode: invite (then reload the daemon), create the account with roost user add, or make a contact invitation with --inviter USER.\n',
    );
    return 1;
  }
  const inv = createInvite(host, inviter, new Date(), days);
  const record: InviteRecord = {
    // A contact invitation only while accounts cannot be created in-band (XEP-0401 §5.1).
    type: closed ? 'roster' : 'register',
    ...(inviter ? { inviter } : {}),
    created: inv.created,
    expires: inv.expires,
    uses,
    usedBy: [],
    source: 'roost invite',
  };
  await new InviteStore(storage.keyval(INVITES_STORE), host).put(inv.token, record);
  const uri = uriOf(inv.token, host, record);
  if (json) {
    io.stdout.write(JSON.stringify({ token: inv.token, uri, host, type: record.type, inviter: record.inviter, created: record.created, expires: record.expires, uses }, null, 2) + '\n');
    return 0;
  }
  const what = record.type === 'roster' ? `Contact invitation from ${inviter} (accounts that exist already; registration is closed)` : `Invitation to ${host}${inviter ? `, as a contact of ${inviter}` : ''}`;
  io.stdout.write(`${what}, ${uses} use${uses === 1 ? '' : 's'}, valid until ${record.expires.replace(/\.\d{3}Z$/, 'Z')}:\n${uri}\n`);
  if (io.stdout.isTTY) io.stdout.write(await inviteQr(uri));
  return 0;
}

async function list(_config: RoostConfig, storage: Storage, hosts: string[], json: boolean, io: CliIo): Promise<number> {
  const now = Date.now();
  const all = [];
  for (const host of hosts) {
    for (const { token, record } of await new InviteStore(storage.keyval(INVITES_STORE), host).list()) {
      all.push({ token, host, status: inviteStatus(record, now), uri: uriOf(token, host, record), ...record });
    }
  }
  if (json) {
    io.stdout.write(JSON.stringify({ invites: all }, null, 2) + '\n');
    return 0;
  }
  if (all.length === 0) {
    io.stdout.write('no invitations\n');
    return 0;
  }
  for (const i of all) {
    const until = i.expires.replace(/\.\d{3}Z$/, 'Z');
    io.stdout.write(`${i.status.padEnd(8)} ${i.token}  ${i.type}${i.inviter ? ` from ${i.inviter}` : ''}  ${i.uses} use${i.uses === 1 ? '' : 's'} left  until ${until}  [${i.source}]\n`);
    if (i.status === 'valid') io.stdout.write(`    ${i.uri}\n`);
    for (const u of i.usedBy) io.stdout.write(`    used by ${u.jid} at ${u.when.replace(/\.\d{3}Z$/, 'Z')}\n`);
  }
  return 0;
}

async function revoke(_config: RoostConfig, storage: Storage, hosts: string[], token: string, io: CliIo): Promise<number> {
  if (!plausibleToken(token)) throw new UsageError(`"${token}" is not an invitation token`);
  for (const host of hosts) {
    if (await new InviteStore(storage.keyval(INVITES_STORE), host).revoke(token)) {
      io.stdout.write(`revoked ${token} (${host}); it stays listed until it expires\n`);
      return 0;
    }
  }
  io.stderr.write(`roost invite: no invitation ${token} on ${hosts.join(', ')}\n`);
  return 1;
}
