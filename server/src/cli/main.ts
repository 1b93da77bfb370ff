// The `roost` command: one entry point for the daemon and its administration.
//
//   roost serve [--config FILE]
//   roost user add|del|passwd|list ...
//   roost check [config|dns|certs|ports|all] ...
//   roost check clients ...
//   roost reports ...
//   roost invite [list|revoke] ...
//   roost setup ...
// Subcommands load on use: `roost user` need not load the whole daemon (a second less per call).

export const USAGE = `usage: roost <command> [options]

Commands:
  serve [--config FILE]             run the chat server (no config: domain localhost, data in ./data)
  user add NAME [--password PW]     create an account (NAME or NAME@domain); prompts when no password is given
  user passwd NAME [--password PW]  change an account's password
  user del NAME                     delete an account and everything it stored
  user list [--host DOMAIN]         list accounts
  check [SECTION...] [--json]       check configuration, DNS, certificates and listeners
  check clients [--user N --password PW] [--json]
                                    log in and list what Conversations, Monal and Gajim look for
  reports [--limit N] [--json]      spam/abuse reports people sent when blocking someone
  invite [--inviter USER] [--uses N] [--days N] [--json]
                                    create an invitation link; invite list, invite revoke TOKEN
  setup                             the installer (run as root on the server)
  version                           print the version

Every command takes --config FILE (default: $ROOST_CONFIG, else the embedded default).`;

export interface CliIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

const defaultIo: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

export async function run(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return (await import('./serve.js')).runServe(rest, io);
    case 'user':
    case 'users':
      return (await import('./user.js')).runUser(rest, io);
    case 'check': {
      if (rest[0] === 'clients') return (await import('./check-clients.js')).runCheckClients(rest.slice(1), io);
      const { runCheck } = await import('../../../appliance/src/check/cli.js');
      return runCheck(rest, { stdout: (s) => io.stdout.write(s), stderr: (s) => io.stderr.write(s) });
    }
    case 'reports':
      return (await import('./reports.js')).runReports(rest, io);
    case 'invite':
    case 'invites':
      return (await import('./invite.js')).runInvite(rest, io);
    case 'setup': {
      const { runSetup } = await import('../../../installer/src/index.js');
      return runSetup(rest);
    }
    case 'version':
    case '--version':
      io.stdout.write(`roost ${await version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    default:
      io.stderr.write(`roost: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
