// Step 7: the summary (with every warning the admin chose to continue with), then applying it
// with progress: configuration, data directories, first administrator, service, readiness, checks.
import { Box, Text } from 'ink';
import { type ReactNode, useEffect, useRef, useState } from 'react';
import { formatSize, hostOf } from '../../answers.js';
import { type ApplyEvent, type ApplyResult, applyStep } from '../../steps/apply.js';
import { STEP_TITLES } from '../../steps/context.js';
import { Mark, Screen, markOf, useKeys } from '../widgets.js';
import type { ScreenProps } from './types.js';

export function ApplyScreen({ state, onNext, onBack, onResult, onStart, cancelled }: ScreenProps & { onResult(r: ApplyResult): void; onStart?(): void; cancelled?: () => boolean }): ReactNode {
  const a = state.answers;
  const [phase, setPhase] = useState<'summary' | 'running' | 'done'>('summary');
  const [events, setEvents] = useState<ApplyEvent[]>([]);
  const [result, setResult] = useState<ApplyResult | undefined>();
  const alive = useRef(true);
  useEffect(() => () => void (alive.current = false), []);
  const run = (): void => {
    setPhase('running');
    onStart?.();
    void applyStep(
      state,
      (e) => {
        if (!alive.current) return;
        setEvents((l) => [...l.filter((x) => x.id !== e.id), e]);
      },
      // Quitting (Ctrl-C twice) unmounts the screen: stop at the next step.
      { cancelled: () => !alive.current || cancelled?.() === true },
    ).then((r) => {
      if (!alive.current) return;
      setResult(r);
      onResult(r);
      setPhase('done');
    });
  };
  useKeys((_input, key) => {
    if (phase === 'summary') {
      if (key.return) run();
      else if (key.escape) onBack();
    } else if (phase === 'done' && key.return) onNext();
    // Nothing was written (e.g. the configuration was refused): go back and change the answers.
    else if (phase === 'done' && key.escape && result && !result.written) setPhase('summary');
  });
  const cert = state.cert;
  const rows: Array<[string, string]> = [
    ['Domain', `${a.domain}${hostOf(a) !== a.domain ? ` (server ${hostOf(a)})` : ''}`],
    ['Certificate', cert ? `${cert.mode === 'letsencrypt' ? "Let's Encrypt" : cert.mode} for ${cert.names.join(', ')}` : 'none'],
    ['Accounts', a.accounts === 'local' ? `on this server${a.admin.username ? `, first administrator ${a.admin.username}@${a.domain}` : ''}` : `directory ${a.ldap.url}, admins: group ${a.ldap.adminGroup || 'jabberadmins'}`],
    ['Registration', a.registration],
    ['File sharing', `${formatSize(a.upload.maxFileSize)} per file, ${formatSize(a.upload.dailyQuota)} per person per day, kept ${a.upload.retentionDays} days`],
    ['History', `kept ${a.archive.retentionDays} days`],
    ['Federation', a.federation.enabled ? 'on' : `off (push: ${a.federation.pushGateways.join(', ') || 'none'})`],
    ['TURN', a.turn.enabled ? `${a.turn.host}:${a.turn.port}` : 'none'],
    ['Files', `${a.configPath}${state.existing ? ' (the current one is kept as roost.yaml.bak)' : ''}, data in ${a.dataDir}${state.existing ? ' (kept)' : ''}`],
  ];
  return (
    <Screen
      step={7}
      title="Apply"
      keys={phase === 'summary' ? 'Enter apply these settings · Esc back' : phase === 'running' ? 'working…' : 'Enter continue'}
    >
      {phase === 'summary' ? (
        <Box flexDirection="column">
          <Text>Ready to apply:</Text>
          {rows.map(([k, v]) => (
            <Text key={k}>
              {`  ${k.padEnd(13)}`}
              {v}
            </Text>
          ))}
          {state.warnings.length ? (
            <Box flexDirection="column" marginTop={1}>
              <Text color="yellow">You chose to continue with these warnings:</Text>
              {state.warnings.map((w) => (
                <Text key={`${w.step}${w.message}`} color={w.level === 'red' ? 'red' : 'yellow'}>{`  ${w.level === 'red' ? '✘' : '!'} [${STEP_TITLES[w.step]}] ${w.message}`}</Text>
              ))}
            </Box>
          ) : (
            <Text color="green">No warnings.</Text>
          )}
        </Box>
      ) : (
        <Box flexDirection="column">
          {events.map((e) => (
            <Text key={e.id}>
              <Mark kind={markOf(e.status)} /> {e.message}
            </Text>
          ))}
          {result?.checks
            ? result.checks.results
                // Red only; DNS was shown (and accepted) on its own screen.
                .filter((r) => r.ok === false && !(r.section === 'dns' && state.dns))
                .map((r) => (
                  <Text key={r.id} {...(r.ok === false ? { color: 'red' } : { color: 'yellow' })}>{`    ${r.ok === false ? '✘' : '!'} ${r.message}`}</Text>
                ))
            : null}
          {phase === 'done' ? (
            <Text {...(result?.ok ? { color: 'green' } : { color: 'yellow' })}>
              {result?.ok
                ? 'Done. Press Enter.'
                : result && !result.written
                  ? 'Nothing was changed. Press Esc to go back and change the settings, or Enter to finish.'
                  : 'Finished with problems (listed on the next screen). Press Enter.'}
            </Text>
          ) : null}
        </Box>
      )}
    </Screen>
  );
}
