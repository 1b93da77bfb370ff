// Account deletion from the command line (`roost user del`, and the temporary account of
// `roost check clients`): the account and everything kept for it, as the daemon would delete it.
import type { RoostConfig } from '../config/types.js';
import { createAccounts } from '../core/accounts.js';
import type { Storage } from '../storage/types.js';
import { silentLogger } from '../util/log.js';

/** Deletion also clears what every module stored for the account (roster, vCard, offline...). */
export async function deleteAccount(config: RoostConfig, storage: Storage, hostName: string, username: string): Promise<void> {
  // Only deletion needs the modules: loaded here, not for add/passwd/list.
  const [{ Host }, { Router }, { builtinModules }, { FastTokens }] = await Promise.all([
    import('../core/host.js'),
    import('../core/router.js'),
    import('../modules/index.js'),
    import('../core/sasl/fast-tokens.js'),
  ]);
  const accounts = createAccounts(storage, hostName);
  const router = new Router(silentLogger);
  const host = new Host(hostName, { config: () => config, storage, router, accounts, log: silentLogger });
  router.addHost(host);
  // What the daemon's RoostServer (not a module) keeps per account must go too: the same
  // listeners as there (core/server.ts), or its records outlive the account.
  new FastTokens((name) => storage.keyval(name), () => config.fast).watch(host.hooks, hostName);
  await host.load(builtinModules);
  try {
    await accounts.delete(username);
    await host.hooks.fireAsync('account-deleted', { username });
  } finally {
    await host.unload();
  }
}
