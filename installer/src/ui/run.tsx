// Mounts the screens in the real terminal and resolves with the exit code.
import { render } from 'ink';
import type { Canceller } from '../cancel.js';
import type { SetupState } from '../steps/context.js';
import { App } from './App.js';

export async function runInteractive(state: SetupState, _cancel: Canceller): Promise<number> {
  let code = 130;
  const app = render(<App state={state} onExit={(c) => (code = c)} />, { exitOnCtrlC: false });
  await app.waitUntilExit();
  return code;
}
