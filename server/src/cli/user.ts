// `roost user add|del|passwd|list`: account administration on the same storage as the daemon.
// It works while the daemon runs: both open the same database (SQLite in WAL mode, or
// PostgreSQL), and the daemon reads credentials at each login.
import type { RoostConfig } from '../config/types.js';
import { AccountExistsError, createAccounts } from '../core/accounts.js';
import { prepareDomain, prepareLocalpart } from '../core/jid.js';
import type { Storage } from '../storage/types.js';
import { deleteAccount } from './delete-account.js';
import type { CliIo } from './main.js';
import { configOrExit, configPathOf, parseOrUsage, servedDomain, UsageError, withStorage } from './options.js';
import { readPassword } from './password.js';

const USAGE = `usage: roost user add NAME [--password PW] [--config FILE]
       roost user passwd NAME [--password PW] [--config FILE]
       roost user del NAME [--config FILE]
       roost user list [--host DOMAIN] [--config FILE]
NAME is a username on the first served domain, or NAME@DOMAIN. Without --password the password
is read from standard input when it is piped, or asked for twice.`;

export async function runUser(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseOrUsage('user', argv, ['config', 'password', 'host'], USAGE, io.stderr);
  if (typeof parsed === 'number') return parsed;
  const [action, name, ...extra] = parsed.positional;
  const known = ['add', 'del', 'delete', 'passwd', 'password', 'list'];
  if (!action || !known.includes(action) || extra.length || (action !== 'list' && !name)) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = await configOrExit(configPathOf(parsed), io.stderr);
  if (typeof config === 'number') return config;
  return withStorage('user', config, io.stderr, async (storage) => {
    if (action === 'list') return await list(config, storage, parsed.flags.get('host'), io);
    const target = account(name!, config);
    const accounts = createAccounts(storage, target.host);
    if (action === 'add' || action === 'passwd' || action === 'password') {
      const pw = parsed.flags.get('password');
      const password = typeof pw === 'string' ? pw : await readPassword(io, action === 'add' || io.stdin.isTTY === true);
      if (password.length === 0) throw new UsageError('the password is empty');
      if (action === 'add') {
        await accounts.create(target.username, password).catch((e: unknown) => {
          throw e instanceof AccountExistsError ? new Error(`${name} already exists`) : e;
        });
        io.stdout.write(`created ${target.username}@${target.host}\n`);
      } else {
        if (!(await accounts.exists(target.username))) throw new UsageError(`no account ${target.username}@${target.host}`);
        await accounts.setPassword(target.username, password);
        io.stdout.write(`password changed for ${target.username}@${target.host}\n`);
      }
      return 0;
    }
    if (!(await accounts.exists(target.username))) throw new UsageError(`no account ${target.username}@${target.host}`);
    await deleteAccount(config, storage, target.host, target.username);
    io.stdout.write(`deleted ${target.username}@${target.host}\n`);
    return 0;
  });
}

function account(name: string, config: RoostConfig): { username: string; host: string } {
  const at = name.lastIndexOf('@');
  const host = at >= 0 ? servedDomain(name.slice(at + 1), config) : config.hosts[0]!;
  return { username: prepareLocalpart(at >= 0 ? name.slice(0, at) : name), host };
}

async function list(config: RoostConfig, storage: Storage, hostFlag: string | true | undefined, io: CliIo): Promise<number> {
  const hosts = typeof hostFlag === 'string' ? [prepareDomain(hostFlag)] : config.hosts;
  for (const host of hosts) {
    const names = await createAccounts(storage, host).list();
    for (const n of names.sort()) io.stdout.write(`${n}@${host}\n`);
  }
  return 0;
}
