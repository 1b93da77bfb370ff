// Step 3: every DNS record the setup needs, as a zone snippet to paste, checked live.
import { Box, Text } from 'ink';
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import type { DnsReport } from '../../../../appliance/src/types.js';
import { setWarnings } from '../../steps/context.js';
import { dnsStep, dnsWarnings, zoneSnippet } from '../../steps/dns.js';
import { Mark, Screen, markOf, useKeys } from '../widgets.js';
import type { ScreenProps } from './types.js';

export function DnsScreen({ state, onNext, onBack }: ScreenProps): ReactNode {
  const a = state.answers;
  const [report, setReport] = useState<DnsReport | undefined>(state.dns);
  const [running, setRunning] = useState(false);
  const [showZone, setShowZone] = useState(false);
  const [checkedAt, setCheckedAt] = useState<Date | undefined>(state.dns ? new Date() : undefined);
  const alive = useRef(true);
  useEffect(() => () => void (alive.current = false), []);
  const run = useCallback(() => {
    setRunning(true);
    void dnsStep(a, state.options.resolver, state.options.dnsTimeoutMs, state.existing).then((r) => {
      if (!alive.current) return;
      state.dns = r;
      setWarnings(state, 'dns', dnsWarnings(r));
      setReport(r);
      setCheckedAt(new Date());
      setRunning(false);
    });
  }, [a, state]);
  useEffect(() => {
    if (!state.dns) run();
  }, [run, state.dns]);
  useKeys((input, key) => {
    if (input === 'z' || input === 'Z') setShowZone((v) => !v);
    else if (key.escape) onBack();
    else if (running) return;
    else if (input === 'r' || input === 'R') run();
    else if (key.return && report) onNext();
  });
  const red = report?.checks.filter((c) => c.status === 'red' && !c.record.optional).length ?? 0;
  return (
    <Screen
      step={3}
      title="DNS records"
      intro={`Chat apps find ${a.domain} through DNS. These records must exist at your DNS provider (where the domain is managed).`}
      keys="R check again · Z show/hide the records to copy · Enter continue · Esc back"
    >
      {showZone ? (
        // No border: the lines are meant to be copied as they are.
        <Box flexDirection="column" marginBottom={1}>
          <Text>{zoneSnippet(a, state.existing).trimEnd()}</Text>
        </Box>
      ) : (
        <Text dimColor>Press Z to see all the records as a snippet to copy into your DNS provider's zone.</Text>
      )}
      {running || !report ? <Text color="cyan">… asking DNS{state.options.resolver ? ` (${state.options.resolver.nameServers?.join(', ')}:${state.options.resolver.port ?? 53})` : ''}</Text> : null}
      {report && !running ? (
        <Box flexDirection="column">
          <Text dimColor>{`Asked ${report.resolver}${checkedAt ? ` at ${checkedAt.toLocaleTimeString()}` : ''}:`}</Text>
          {report.checks.map((c) => (
            <Text key={`${c.record.type} ${c.record.name}`}>
              <Mark kind={markOf(c.status)} /> {`${c.record.type.padEnd(5)} ${c.record.name}`}
              <Text dimColor>{` — ${c.reason}`}</Text>
            </Text>
          ))}
          <Box marginTop={1}>
            <Text {...(red ? { color: 'yellow' } : { color: 'green' })}>
              {red
                ? `${red} record(s) not right yet. Fix them at your DNS provider and press R (changes can take a few minutes), or press Enter to continue anyway: the summary will remind you.`
                : 'All required records are right. Press Enter to continue.'}
            </Text>
          </Box>
        </Box>
      ) : null}
    </Screen>
  );
}
