// The setup screens in order. Nothing is written before the Apply step, so Ctrl-C before it
// leaves the machine as it was (a certificate fetched in step 4 lands in its own directory and
// replaces the previous one for the same domain atomically).
import { Text, useApp } from 'ink';
import { type ReactNode, useRef, useState } from 'react';
import type { ApplyResult } from '../steps/apply.js';
import type { SetupState } from '../steps/context.js';
import { doneInfo } from '../steps/done.js';
import { AccountsScreen } from './screens/Accounts.js';
import { ApplyScreen } from './screens/Apply.js';
import { CertsScreen } from './screens/Certs.js';
import { DnsScreen } from './screens/Dns.js';
import { DomainScreen } from './screens/Domain.js';
import { DoneScreen } from './screens/Done.js';
import { FeaturesScreen } from './screens/Features.js';
import { WelcomeScreen } from './screens/Welcome.js';
import { KeyRouter, useKeys } from './widgets.js';

export function App(props: { state: SetupState; onExit(code: number): void; initialStep?: number }): ReactNode {
  return (
    <KeyRouter>
      <Steps {...props} />
    </KeyRouter>
  );
}

function Steps({ state, onExit, initialStep = 0 }: { state: SetupState; onExit(code: number): void; initialStep?: number }): ReactNode {
  const { exit } = useApp();
  const [step, setStep] = useState(initialStep);
  const [result, setResult] = useState<ApplyResult | undefined>();
  const [warnCtrlC, setWarnCtrlC] = useState(false);
  const applying = useRef(false);
  const finish = (code: number): void => {
    onExit(code);
    exit();
  };
  useKeys((input, key) => {
    if (!(key.ctrl && input === 'c')) return;
    if (applying.current && !warnCtrlC) {
      setWarnCtrlC(true);
      return;
    }
    finish(130);
  });
  const next = (): void => setStep((s) => s + 1);
  const back = (): void => setStep((s) => Math.max(0, s - 1));
  const props = { state, onNext: next, onBack: back };
  let screen: ReactNode;
  switch (step) {
    case 0:
      screen = <WelcomeScreen {...props} />;
      break;
    case 1:
      screen = <DomainScreen {...props} />;
      break;
    case 2:
      screen = <DnsScreen {...props} />;
      break;
    case 3:
      screen = <CertsScreen {...props} />;
      break;
    case 4:
      screen = <AccountsScreen {...props} />;
      break;
    case 5:
      screen = <FeaturesScreen {...props} />;
      break;
    case 6:
      screen = (
        <ApplyScreen
          {...props}
          onBack={() => {
            if (!applying.current) back();
          }}
          onNext={() => {
            applying.current = false;
            next();
          }}
          onResult={(r) => {
            applying.current = false;
            setResult(r);
          }}
          onStart={() => {
            applying.current = true;
          }}
        />
      );
      break;
    default:
      screen = result ? <DoneScreen info={doneInfo(state, result)} onExit={() => finish(result.ok ? 0 : 1)} /> : <Text>…</Text>;
  }
  return (
    <>
      {screen}
      {warnCtrlC ? <Text color="yellow">Applying the settings: wait a moment so nothing is left half-done (Ctrl-C again to quit at once).</Text> : null}
    </>
  );
}
