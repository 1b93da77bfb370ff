// `roost setup`: the appliance installer. Screens (Ink) by default, or unattended with
// --non-interactive / --answers. The daemon's CLI (`roost setup`) calls runSetup.
import { USAGE, UsageError } from './args.js';
import { createCanceller } from './cancel.js';
import { ConfigInvalidError } from './config-output.js';
import { type Io, runNonInteractive } from './noninteractive.js';
import { prepareState } from './prepare.js';

export type { Answers } from './answers.js';
export type { Io } from './noninteractive.js';

const stdio: Io = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };

/** Runs `roost setup ARGV`; resolves with the exit code (0 ok, 1 failed, 2 usage, 130 cancelled). */
export async function runSetup(argv: string[], io: Io = stdio): Promise<number> {
  let state;
  try {
    state = await prepareState(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`roost setup: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ConfigInvalidError) {
      io.err(`roost setup: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (state.help) {
    io.out(USAGE);
    return 0;
  }
  const cancel = createCanceller();
  if (state.options.nonInteractive) {
    const untrap = cancel.trapSigint(() => io.err('\nStopping at the next safe point (Ctrl-C again to quit at once)...\n'));
    try {
      return await runNonInteractive(state, io, cancel);
    } finally {
      untrap();
    }
  }
  if (!process.stdin.isTTY) {
    io.err('roost setup: no terminal to show the screens in; use --non-interactive with flags or --answers FILE\n');
    return 2;
  }
  // A person adds DNS-01 records by hand at their provider: give them time (Esc stops waiting).
  if (!argv.some((x) => x === '--dns-wait' || x.startsWith('--dns-wait='))) state.options.dnsWaitMs = 15 * 60_000;
  const { runInteractive } = await importWithoutCiEnv(() => import('./ui/run.js'));
  return runInteractive(state, cancel);
}

const CI_VARS = ['CI', 'CONTINUOUS_INTEGRATION'] as const;

/**
 * Ink decides once, when it is first imported, that CI or CONTINUOUS_INTEGRATION in the
 * environment means "output goes to a log", and then draws nothing until it exits. The screens run
 * only on a real terminal (checked above), so an admin whose shell or automation exports CI=true
 * must still see them: Ink is loaded with those variables hidden, and they are put back at once
 * for everything setup starts afterwards.
 */
async function importWithoutCiEnv<T>(load: () => Promise<T>): Promise<T> {
  const saved = CI_VARS.map((k) => [k, process.env[k]] as const);
  for (const k of CI_VARS) delete process.env[k];
  try {
    return await load();
  } finally {
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}
