// Step 5: local accounts (with the first administrator) or an LDAP / Active Directory directory,
// tested live with a button: bind, users found, members of the admin group.
import { Box, Text } from 'ink';
import { type ReactNode, useEffect, useRef, useState } from 'react';
import type { LdapTestResult } from '../../../../appliance/src/types.js';
import type { AccountsMode } from '../../answers.js';
import { describeLdapResult, ldapStep, localAccountErrors } from '../../steps/accounts.js';
import { setWarnings } from '../../steps/context.js';
import { Button, Choice, Errors, type FormItem, Help, Screen, TextField, cycle, fieldOf, useForm, useLiveState } from '../widgets.js';
import type { ScreenProps } from './types.js';

export function AccountsScreen({ state, onNext, onBack }: ScreenProps): ReactNode {
  const a = state.answers;
  const [mode, setMode, liveMode] = useLiveState<AccountsMode>(a.accounts);
  const [local, setLocal, liveLocal] = useLiveState({ username: a.admin.username, password: a.admin.password, confirm: a.admin.password });
  const [ldap, setLdap, liveLdap] = useLiveState({ ...a.ldap, startTls: (a.ldap.startTls ? 'yes' : 'no') as 'yes' | 'no' });
  const [errors, setErrors] = useState<string[]>([]);
  const [testing, setTesting] = useState(false);
  const [result, setResult, liveResult] = useLiveState<LdapTestResult | undefined>(state.ldap);
  const alive = useRef(true);
  useEffect(() => () => void (alive.current = false), []);
  const ldapField = (k: 'url' | 'bindDn' | 'bindPassword' | 'baseDn' | 'userFilter' | 'adminGroup' | 'caFile'): FormItem => ({
    kind: 'text',
    key: k,
    set: (f) => {
      // A changed setting invalidates the last test.
      fieldOf(setLdap, k)(f);
      setResult(() => undefined);
    },
  });
  const items: FormItem[] =
    mode === 'local'
      ? [
          { kind: 'choice', key: 'mode', cycle: (d) => switchMode(d) },
          { kind: 'text', key: 'username', set: fieldOf(setLocal, 'username') },
          { kind: 'text', key: 'password', set: fieldOf(setLocal, 'password') },
          { kind: 'text', key: 'confirm', set: fieldOf(setLocal, 'confirm') },
        ]
      : [
          { kind: 'choice', key: 'mode', cycle: (d) => switchMode(d) },
          ldapField('url'),
          {
            kind: 'choice',
            key: 'startTls',
            cycle: (d) => {
              setLdap((s) => ({ ...s, startTls: cycle(['no', 'yes'] as const, s.startTls, d) }));
              setResult(() => undefined);
            },
          },
          ldapField('bindDn'),
          ldapField('bindPassword'),
          ldapField('baseDn'),
          ldapField('userFilter'),
          ldapField('adminGroup'),
          ldapField('caFile'),
          { kind: 'button', key: 'test', press: () => (liveResult.current ? submit() : test()) },
        ];
  function switchMode(d: 1 | -1): void {
    setMode((m) => cycle(['local', 'ldap'] as const, m, d));
    setErrors([]);
  }

  const ldapAnswers = () => {
    const l = liveLdap.current;
    return { ...l, startTls: l.startTls === 'yes', url: l.url.trim(), baseDn: l.baseDn.trim(), bindDn: l.bindDn.trim() };
  };
  const test = (): void => {
    setTesting(true);
    setResult(() => undefined);
    void ldapStep(ldapAnswers()).then((r) => {
      if (!alive.current) return;
      state.ldap = r;
      setResult(() => r);
      setTesting(false);
    });
  };
  function submit(): void {
    const local = liveLocal.current;
    const result = liveResult.current;
    if (liveMode.current === 'local') {
      a.accounts = 'local';
      a.admin.username = local.username.trim();
      a.admin.password = local.password;
      const errs = localAccountErrors(a);
      if (!a.admin.password && !state.existing) errs.push('Choose a password for the first administrator.');
      if (local.password !== local.confirm) errs.push('The two passwords are not the same.');
      setErrors(errs);
      if (errs.length) return;
      setWarnings(state, 'accounts', []);
      onNext();
      return;
    }
    a.accounts = 'ldap';
    a.ldap = ldapAnswers();
    if (!result) {
      setErrors(['Test the connection first (the Test button at the bottom).']);
      return;
    }
    setErrors([]);
    setWarnings(state, 'accounts', [...result.errors.map((e) => ({ message: `directory: ${e}`, level: 'red' as const })), ...result.warnings.map((w) => `directory: ${w}`)]);
    onNext();
  }
  const focus = useForm({ items, active: !testing, onBack, onSubmit: submit });
  const f = (name: string): boolean => focus === name;
  return (
    <Screen step={5} title="Accounts" intro="Where the chat accounts of your colleagues live.">
      <Choice
        label="Accounts"
        options={[
          { value: 'local', label: 'On this server' },
          { value: 'ldap', label: 'LDAP / Active Directory' },
        ]}
        value={mode}
        focused={f('mode')}
      />
      {mode === 'local' ? (
        <Box flexDirection="column" marginTop={1}>
          <Help
            text={`The first administrator signs in as user-name@${a.domain}; they can then invite colleagues.`}
            example={`For example admin, which gives admin@${a.domain}.`}
          />
          <TextField label="User name" value={local.username} focused={f('username')} hint="admin" />
          <TextField label="Password" value={local.password} mask focused={f('password')} hint={state.existing ? '(empty: keep the current one)' : '(at least 8 characters)'} />
          <TextField label="Password again" value={local.confirm} mask focused={f('confirm')} />
        </Box>
      ) : (
        <Box flexDirection="column" marginTop={1}>
          <Help
            text="Roost reads your company directory; people sign in with their usual name and password. Members of the admin group are administrators."
            example="For example ldaps://dc1.example.org, bind DN cn=roost,ou=services,dc=example,dc=org, base DN dc=example,dc=org."
          />
          <TextField label="Directory URL" value={ldap.url} focused={f('url')} hint="ldaps://dc1.example.org" />
          <Choice
            label="StartTLS (encrypt ldap://)"
            options={[
              { value: 'no', label: 'No' },
              { value: 'yes', label: 'Yes' },
            ]}
            value={ldap.startTls}
            focused={f('startTls')}
          />
          <TextField label="Bind DN" value={ldap.bindDn} focused={f('bindDn')} hint="cn=roost,dc=example,dc=org" />
          <TextField label="Bind password" value={ldap.bindPassword} mask focused={f('bindPassword')} />
          <TextField label="Base DN" value={ldap.baseDn} focused={f('baseDn')} hint="dc=example,dc=org" />
          <TextField label="User filter" value={ldap.userFilter} focused={f('userFilter')} hint="(empty: the usual one for your directory)" />
          <TextField label="Admin group" value={ldap.adminGroup} focused={f('adminGroup')} hint="jabberadmins" />
          <TextField label="CA file" value={ldap.caFile} focused={f('caFile')} hint="(only for a company CA)" />
          <Box marginTop={1}>
            <Button label={testing ? 'Testing…' : result ? 'Continue' : 'Test the connection'} focused={f('test')} />
          </Box>
          {testing ? <Text color="cyan">… connecting to the directory</Text> : null}
          {result
            ? describeLdapResult(result, ldap.adminGroup || 'jabberadmins').map((l) => (
                <Text key={l} {...(l.startsWith('✘') ? { color: 'red' } : l.startsWith('!') ? { color: 'yellow' } : { color: 'green' })}>
                  {l}
                </Text>
              ))
            : null}
          {result && !result.ok ? <Text dimColor>Change a setting to test again, or press Enter on Continue to go on with these problems.</Text> : null}
        </Box>
      )}
      <Errors errors={errors} />
    </Screen>
  );
}
