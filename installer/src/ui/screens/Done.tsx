// Step 8: what to tell users, the first invitation as a QR code, and what is still red.
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import type { DoneInfo } from '../../steps/done.js';
import { Screen, useKeys } from '../widgets.js';

export function DoneScreen({ info, onExit }: { info: DoneInfo; onExit(): void }): ReactNode {
  useKeys((input, key) => {
    if (key.return || key.escape || input === 'q' || input === 'Q') onExit();
  });
  return (
    <Screen step={8} title="Done" keys="Enter or Q to finish">
      <Text {...(info.ok ? { color: 'green' } : { color: 'yellow' })} bold>
        {info.ok ? `Roost is set up for ${info.domain}.` : `Roost is set up for ${info.domain}, with problems (below).`}
      </Text>
      <Text>
        {'Users type: '}
        <Text bold>{info.domain}</Text>
        {`  (in their chat app, their address is name@${info.domain})`}
      </Text>
      {info.host !== info.domain ? <Text>{`Server: ${info.host}`}</Text> : null}
      <Text>{`Ports to open in the firewall: ${info.ports.map((p) => `${p.port} for ${p.what}`).join('; ')}`}</Text>
      {info.adminAddress ? (
        <Text>
          {'First administrator: '}
          <Text bold>{info.adminAddress}</Text>
        </Text>
      ) : null}
      {info.inviteUri ? (
        <Box flexDirection="column" marginTop={1}>
          <Text>{`Scan this with the first phone (Conversations, Monal…) to create an account (valid until ${info.inviteExpires?.slice(0, 10)}):`}</Text>
          <Text>{info.inviteQr}</Text>
          <Text>{info.inviteUri}</Text>
        </Box>
      ) : null}
      {info.certWarning ? <Text color="yellow">{info.certWarning}</Text> : null}
      {info.instructions ? <Text>{info.instructions}</Text> : null}
      {info.notes.length ? (
        <Box flexDirection="column" marginTop={1}>
          <Text color="yellow">Notes:</Text>
          {info.notes.map((m) => (
            <Text key={m} color="yellow">{`  ! ${m}`}</Text>
          ))}
        </Box>
      ) : null}
      <Box flexDirection="column" marginTop={1}>
        {info.remaining.length ? (
          <>
            <Text color="red">Still to fix:</Text>
            {info.remaining.map((m) => (
              <Text key={m} color="red">{`  ✘ ${m}`}</Text>
            ))}
          </>
        ) : (
          <Text color="green">✔ Everything checked out.</Text>
        )}
      </Box>
    </Screen>
  );
}
