// Step 6: registration, file sharing limits, message history, federation, TURN.
import { Box, Text } from 'ink';
import { type ReactNode, useState } from 'react';
import { type RegistrationMode, formatSize, parseSize } from '../../answers.js';
import { setWarnings } from '../../steps/context.js';
import { ensureTurnSecret, featureErrors, featureWarnings } from '../../steps/features.js';
import { Choice, Errors, type FormItem, Screen, TextField, cycle, fieldOf, useForm, useLiveState } from '../widgets.js';
import type { ScreenProps } from './types.js';

const REG_HELP: Record<RegistrationMode, string> = {
  closed: 'Only administrators create accounts.',
  invite: 'People join with an invitation link (a QR code to scan): the usual choice for an office.',
  open: 'Anyone can create an account from their chat app, after a CAPTCHA.',
};

export function FeaturesScreen({ state, onNext, onBack }: ScreenProps): ReactNode {
  const a = state.answers;
  const [form, setForm, live] = useLiveState({
    registration: a.registration as RegistrationMode,
    federation: (a.federation.enabled ? 'on' : 'off') as 'on' | 'off',
    turn: (a.turn.enabled ? 'on' : 'off') as 'on' | 'off',
    maxFileSize: formatSize(a.upload.maxFileSize).replace(' ', ''),
    dailyQuota: formatSize(a.upload.dailyQuota).replace(' ', ''),
    uploadDays: String(a.upload.retentionDays),
    archiveDays: String(a.archive.retentionDays),
    push: a.federation.pushGateways.join(', '),
    turnHost: a.turn.host,
    turnPort: String(a.turn.port),
    turnSecret: a.turn.secret,
  });
  const [errors, setErrors] = useState<string[]>([]);
  const { registration, federation, turn } = form;
  const directory = a.accounts === 'ldap';
  const text = (k: 'maxFileSize' | 'dailyQuota' | 'uploadDays' | 'archiveDays' | 'push' | 'turnHost' | 'turnPort' | 'turnSecret'): FormItem => ({ kind: 'text', key: k, set: fieldOf(setForm, k) });
  const items: FormItem[] = [
    ...(directory ? [] : [{ kind: 'choice', key: 'registration', cycle: (d) => setForm((s) => ({ ...s, registration: cycle(['closed', 'invite', 'open'] as const, s.registration, d) })) } as FormItem]),
    text('maxFileSize'),
    text('dailyQuota'),
    text('uploadDays'),
    text('archiveDays'),
    { kind: 'choice', key: 'federation', cycle: (d) => setForm((s) => ({ ...s, federation: cycle(['on', 'off'] as const, s.federation, d) })) },
    text('push'),
    { kind: 'choice', key: 'turn', cycle: (d) => setForm((s) => ({ ...s, turn: cycle(['off', 'on'] as const, s.turn, d) })) },
    ...(turn === 'on' ? [text('turnHost'), text('turnPort'), text('turnSecret')] : []),
  ];
  const submit = (): void => {
    const form = live.current;
    const { registration, federation, turn } = form;
    const errs: string[] = [];
    const size = (v: string, what: string): number => {
      try {
        return parseSize(v);
      } catch (e) {
        errs.push(`${what}: ${(e as Error).message}`);
        return 0;
      }
    };
    const days = (v: string, what: string): number => {
      const n = Number(v.trim());
      if (!Number.isInteger(n)) errs.push(`${what}: type a number of days, like 30.`);
      return n;
    };
    const next = structuredClone(a);
    next.registration = directory ? 'closed' : registration;
    next.upload = { maxFileSize: size(form.maxFileSize, 'Largest file'), dailyQuota: size(form.dailyQuota, 'Daily quota'), retentionDays: days(form.uploadDays, 'Keep shared files') };
    next.archive = { retentionDays: days(form.archiveDays, 'Keep message history') };
    next.federation = { enabled: federation === 'on', pushGateways: form.push.split(/[\s,]+/).filter(Boolean) };
    next.turn = { enabled: turn === 'on', host: form.turnHost.trim(), port: Number(form.turnPort) || 0, secret: form.turnSecret, ttl: a.turn.ttl };
    if (!errs.length) errs.push(...featureErrors(next));
    setErrors(errs);
    if (errs.length) return;
    Object.assign(a, { registration: next.registration, upload: next.upload, archive: next.archive, federation: next.federation, turn: next.turn });
    ensureTurnSecret(a);
    setWarnings(state, 'features', featureWarnings(a));
    onNext();
  };
  const focus = useForm({ items, onSubmit: submit, onBack });
  const f = (name: string): boolean => focus === name;
  return (
    <Screen step={6} title="Features and limits" intro="What people may do on the server. The usual values are filled in; change what you need.">
      {directory ? (
        <Text>  Registration: closed — accounts come from the directory (LDAP / Active Directory).</Text>
      ) : (
      <Choice
        label="Registration"
        options={[
          { value: 'closed', label: 'Closed' },
          { value: 'invite', label: 'Invitation only' },
          { value: 'open', label: 'Open (CAPTCHA)' },
        ]}
        value={registration}
        focused={f('registration')}
      />
      )}
      {directory ? null : <Text dimColor>{`    ${REG_HELP[registration]}`}</Text>}
      <Box marginTop={1} flexDirection="column">
        <Text>File sharing: how big a file may be, how much each person may send per day, and how long files are kept.</Text>
        <TextField label="Largest file" value={form.maxFileSize} focused={f('maxFileSize')} hint="100MB" />
        <TextField label="Daily quota per person" value={form.dailyQuota} focused={f('dailyQuota')} hint="1GB" />
        <TextField label="Keep shared files (days)" value={form.uploadDays} focused={f('uploadDays')} hint="30" />
        <TextField label="Keep message history (days)" value={form.archiveDays} focused={f('archiveDays')} hint="365" />
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Choice
          label="Chat with other servers (federation)"
          options={[
            { value: 'on', label: 'On' },
            { value: 'off', label: 'Off' },
          ]}
          value={federation}
          focused={f('federation')}
        />
        <Text dimColor>    On: your people can talk to anyone on other chat servers, like e-mail. Off: only among themselves.</Text>
        <TextField label="Push services allowed (phones)" value={form.push} focused={f('push')} />
        <Text dimColor>    Phones are woken up through these even when federation is off.</Text>
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Choice
          label="TURN server for calls"
          options={[
            { value: 'off', label: 'None' },
            { value: 'on', label: 'Use one' },
          ]}
          value={turn}
          focused={f('turn')}
        />
        <Text dimColor>    Voice and video calls through office firewalls need a TURN server (for example coturn on turn.example.org).</Text>
        {turn === 'on' ? (
          <Box flexDirection="column">
            <TextField label="TURN host" value={form.turnHost} focused={f('turnHost')} hint="turn.example.org" />
            <TextField label="TURN port" value={form.turnPort} focused={f('turnPort')} hint="3478" />
            <TextField label="Shared secret" value={form.turnSecret} mask focused={f('turnSecret')} hint="(empty: make one)" />
          </Box>
        ) : null}
      </Box>
      <Errors errors={errors} />
    </Screen>
  );
}
