// Step 1: welcome and pre-flight checks of this machine.
import { Box, Text } from 'ink';
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import type { CheckResult } from '../../../../appliance/src/types.js';
import { setWarnings } from '../../steps/context.js';
import { preflightProblems, preflightStep } from '../../steps/preflight.js';
import { ResultLine, Screen, markOf, useKeys } from '../widgets.js';
import type { ScreenProps } from './types.js';

export function WelcomeScreen({ state, onNext }: ScreenProps): ReactNode {
  const [results, setResults] = useState<CheckResult[] | undefined>(state.preflight);
  const [running, setRunning] = useState(false);
  const alive = useRef(true);
  useEffect(() => () => void (alive.current = false), []);
  const run = useCallback(() => {
    setRunning(true);
    void preflightStep(state.answers, state.existing).then((r) => {
      if (!alive.current) return;
      state.preflight = r;
      const p = preflightProblems(r);
      setWarnings(state, 'preflight', [...p.red.map((x) => ({ message: x.message, level: 'red' as const })), ...p.warn.map((x) => x.message)]);
      setResults(r);
      setRunning(false);
    });
  }, [state]);
  useEffect(() => {
    if (!state.preflight) run();
  }, [run, state.preflight]);
  useKeys((input, key) => {
    if (running) return;
    if (input === 'r' || input === 'R') run();
    else if (key.return && results) onNext();
  });
  const red = results ? preflightProblems(results).red.length : 0;
  return (
    <Screen
      step={1}
      title="Welcome"
      intro={`This sets up Roost, the chat server for your office${state.existing ? `. It is already set up (${state.answers.configPath}): the screens show the current settings, and your data is kept` : ''}. First, a look at this machine:`}
      keys="Enter continue · R check again · Ctrl-C quit"
    >
      {!results || running ? <Text color="cyan">… checking this machine</Text> : null}
      {results?.map((r) => <ResultLine key={r.id} kind={markOf(r.ok)} text={r.message} fix={r.fix} />)}
      {results && !running ? (
        <Box marginTop={1}>
          <Text {...(red ? { color: 'red' } : { color: 'green' })}>
            {red ? `${red} problem(s) above: fix them and press R, or press Enter to continue anyway (the summary will remind you).` : 'This machine is ready. Press Enter to continue.'}
          </Text>
        </Box>
      ) : null}
    </Screen>
  );
}
