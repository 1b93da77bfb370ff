// Step 4: the certificate. Let's Encrypt (HTTP-01 or DNS-01) with live progress, a self-signed
// fallback with the exact warning users will see, or the admin's own files.
import { Box, Text } from 'ink';
import { type ReactNode, useEffect, useRef, useState } from 'react';
import { selfSignedWarning } from '../../../../appliance/src/acme/self-signed.js';
import type { DnsTxtRecord } from '../../../../appliance/src/types.js';
import type { CertMode } from '../../answers.js';
import { certStep, letsEncryptNames } from '../../steps/certs.js';
import { setWarnings } from '../../steps/context.js';
import { Button, Choice, type ChoiceOption, Errors, type FormItem, Mark, Screen, TextField, cycle, fieldOf, useForm, useKeys, useLiveState } from '../widgets.js';
import type { ScreenProps } from './types.js';

type Phase = 'form' | 'running' | 'done' | 'failed';

const MODE_HELP: Record<CertMode, string> = {
  letsencrypt: "Let's Encrypt gives a free certificate that every chat app trusts; it first checks that the names point to this machine.",
  'self-signed': 'A certificate made here: no Internet needed, but chat apps warn every user until they accept it.',
  keep: 'Keep the certificate this server already uses.',
  files: 'Use a certificate you already have (PEM files, for example from your company CA).',
};

export function CertsScreen({ state, onNext, onBack }: ScreenProps): ReactNode {
  const a = state.answers;
  const canKeep = Boolean(state.existing && a.cert.certFile && a.cert.keyFile);
  const [form, setForm, live] = useLiveState({
    mode: (a.cert.mode === 'keep' && !canKeep ? 'letsencrypt' : a.cert.mode) as CertMode,
    email: a.cert.email || `${a.admin.username || 'admin'}@${a.domain}`,
    certFile: a.cert.certFile,
    keyFile: a.cert.keyFile,
    challenge: a.cert.challenge,
    staging: (a.cert.staging ? 'yes' : 'no') as 'no' | 'yes',
  });
  const { mode, challenge, staging } = form;
  const [phase, setPhase] = useState<Phase>(state.cert ? 'done' : 'form');
  const [progress, setProgress] = useState<string[]>([]);
  const [txt, setTxt] = useState<DnsTxtRecord[]>([]);
  const [error, setError] = useState<string>('');
  const [warnings, setLocalWarnings] = useState<string[]>(state.warnings.filter((w) => w.step === 'certs').map((w) => w.message));
  const cancelled = useRef(false);
  const alive = useRef(true);
  useEffect(() => () => void (alive.current = false), []);

  const modes: ChoiceOption<CertMode>[] = [
    { value: 'letsencrypt', label: "Let's Encrypt" },
    { value: 'self-signed', label: 'Self-signed' },
    ...(canKeep ? [{ value: 'keep' as const, label: 'Keep current' }] : []),
    { value: 'files', label: 'My own files' },
  ];
  const start = (m: CertMode = live.current.mode): void => {
    const v = live.current;
    a.cert.mode = m;
    a.cert.email = v.email.trim();
    a.cert.challenge = v.challenge;
    a.cert.staging = v.staging === 'yes';
    if (m === 'files') {
      a.cert.certFile = v.certFile.trim();
      a.cert.keyFile = v.keyFile.trim();
    }
    cancelled.current = false;
    setProgress([]);
    setTxt([]);
    setError('');
    setPhase('running');
    void certStep(state, {
      onProgress: (p) => alive.current && setProgress((l) => [...l, p.message].slice(-8)),
      showTxt: (r) => void (alive.current && setTxt((l) => [...l, r])),
      cancelled: () => cancelled.current || !alive.current,
    }).then(
      (r) => {
        if (!alive.current) return;
        state.cert = r.outcome;
        setWarnings(state, 'certs', r.warnings);
        setLocalWarnings(r.warnings);
        setPhase('done');
      },
      (e: Error) => {
        if (!alive.current) return;
        delete state.cert;
        setError(e.message);
        setPhase('failed');
      },
    );
  };

  const items: FormItem[] = [
    { kind: 'choice', key: 'mode', cycle: (d) => setForm((s) => ({ ...s, mode: cycle(modes, s.mode, d) })) },
    ...(mode === 'letsencrypt'
      ? ([
          { kind: 'text', key: 'email', set: fieldOf(setForm, 'email') },
          { kind: 'choice', key: 'challenge', cycle: (d) => setForm((s) => ({ ...s, challenge: cycle(['http-01', 'dns-01'] as const, s.challenge, d) })) },
          { kind: 'choice', key: 'staging', cycle: (d) => setForm((s) => ({ ...s, staging: cycle(['no', 'yes'] as const, s.staging, d) })) },
        ] as FormItem[])
      : []),
    ...(mode === 'files'
      ? ([
          { kind: 'text', key: 'certFile', set: fieldOf(setForm, 'certFile') },
          { kind: 'text', key: 'keyFile', set: fieldOf(setForm, 'keyFile') },
        ] as FormItem[])
      : []),
    { kind: 'button', key: 'go', press: () => start() },
  ];
  const focus = useForm({ items, active: phase === 'form', onBack, onSubmit: () => start() });
  useKeys((input, key) => {
    if (phase === 'running' && key.escape) cancelled.current = true;
    else if (phase === 'done') {
      if (key.return) onNext();
      else if (key.escape || input === 'c' || input === 'C') setPhase('form');
    } else if (phase === 'failed') {
      if (input === 'r' || input === 'R') start();
      else if (input === 's' || input === 'S') start('self-signed');
      else if (key.escape || key.return) setPhase('form');
    }
  });

  const sel = letsEncryptNames(state);
  const f = (name: string): boolean => phase === 'form' && focus === name;
  return (
    <Screen
      step={4}
      title="Certificate"
      intro="Chat apps only connect without a warning when the server shows a certificate for its names."
      keys={
        phase === 'form'
          ? '↑/↓ move · ←/→ change a choice · Enter next / get the certificate · Esc back'
          : phase === 'running'
            ? 'Esc stop waiting'
            : phase === 'done'
              ? 'Enter continue · C change'
              : 'R try again · S use a self-signed certificate instead · Esc change the settings'
      }
    >
      {phase === 'form' ? (
        <Box flexDirection="column">
          <Choice label="Certificate" options={modes} value={mode} focused={f('mode')} />
          <Text dimColor>{`    ${MODE_HELP[mode]}`}</Text>
          {mode === 'letsencrypt' ? (
            <Box flexDirection="column">
              <Text>{`    Names: ${sel.names.join(', ')}`}</Text>
              {sel.warnings.map((w) => (
                <Text key={w} color="yellow">{`    ! ${w}`}</Text>
              ))}
              <TextField label="E-mail for expiry notices" value={form.email} focused={f('email')} />
              <Choice
                label="Check"
                options={[
                  { value: 'http-01', label: `HTTP (port ${a.cert.httpPort})` },
                  { value: 'dns-01', label: 'DNS TXT record' },
                ]}
                value={challenge}
                focused={f('challenge')}
              />
              <Text dimColor>
                {challenge === 'http-01'
                  ? `    Let's Encrypt connects to port ${a.cert.httpPort} of this machine: it must be open from the Internet.`
                  : '    You add one TXT record per name at your DNS provider; for offices that cannot open port 80.'}
              </Text>
              <Choice label="Test run first (staging)" options={[{ value: 'no', label: 'No' }, { value: 'yes', label: 'Yes' }]} value={staging} focused={f('staging')} />
              {a.cert.directoryUrl ? <Text dimColor>{`    Certificate authority: ${a.cert.directoryUrl}`}</Text> : null}
            </Box>
          ) : null}
          {mode === 'self-signed' ? <Text color="yellow">{`    ${selfSignedWarning(a.domain)}`}</Text> : null}
          {mode === 'files' ? (
            <Box flexDirection="column">
              <TextField label="Certificate file (PEM)" value={form.certFile} focused={f('certFile')} hint="/etc/ssl/chat.pem" />
              <TextField label="Key file (PEM)" value={form.keyFile} focused={f('keyFile')} hint="/etc/ssl/private/chat.key" />
            </Box>
          ) : null}
          {mode === 'keep' ? <Text dimColor>{`    ${a.cert.certFile}`}</Text> : null}
          <Box marginTop={1}>
            <Button label={mode === 'letsencrypt' ? 'Get the certificate' : mode === 'self-signed' ? 'Make the certificate' : 'Check the files'} focused={f('go')} />
          </Box>
        </Box>
      ) : null}
      {phase === 'running' || phase === 'failed' ? (
        <Box flexDirection="column">
          {progress.map((p, i) => (
            <Text key={`${i}-${p}`}>
              <Mark kind={i === progress.length - 1 && phase === 'running' ? 'wait' : 'ok'} /> {p}
            </Text>
          ))}
          {txt.length && phase === 'running' ? (
            <Box flexDirection="column" marginTop={1} borderStyle="single" paddingX={1}>
              <Text>Add these TXT records at your DNS provider now; setup checks DNS until they show up:</Text>
              {txt.map((r) => (
                <Text key={r.zoneLine}>{r.zoneLine}</Text>
              ))}
            </Box>
          ) : null}
          {phase === 'running' && !progress.length ? <Text color="cyan">… starting</Text> : null}
          {phase === 'failed' ? <Errors errors={[error]} /> : null}
          {phase === 'failed' ? <Text dimColor>The certificate files in use before are unchanged.</Text> : null}
        </Box>
      ) : null}
      {phase === 'done' && state.cert ? (
        <Box flexDirection="column">
          <Text>
            <Mark kind="ok" /> {`Certificate for ${state.cert.names.join(', ')}`}
            {state.cert.notAfter ? ` (valid until ${state.cert.notAfter.toISOString().slice(0, 10)})` : ''}
          </Text>
          {state.cert.mode === 'letsencrypt' ? <Text dimColor>    It renews by itself 30 days before it expires.</Text> : null}
          {warnings.map((w) => (
            <Text key={w} color="yellow">
              ! {w}
            </Text>
          ))}
          {state.cert.userWarning ? <Text color="yellow">{state.cert.userWarning}</Text> : null}
          <Text color="green">Press Enter to continue.</Text>
        </Box>
      ) : null}
    </Screen>
  );
}
