import { prepareState } from '../../src/prepare.js';
import type { SetupState } from '../../src/steps/context.js';

/** A setup state as `roost setup ARGS` would start with (flags over defaults / current config). */
export async function stateFrom(args: string[]): Promise<SetupState> {
  const { help: _help, ...s } = await prepareState(args, {});
  return s;
}
