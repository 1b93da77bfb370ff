// Step 2: the XMPP domain (the part after @) and the machine that serves it.
import { isIP } from 'node:net';
import { Box, Text } from 'ink';
import { type ReactNode, useState } from 'react';
import { DOMAIN_HELP, HOST_HELP } from '../../../../appliance/src/domain.js';
import { checkDomainAnswers } from '../../steps/dns.js';
import { Errors, Help, Screen, TextField, fieldOf, useForm, useLiveState } from '../widgets.js';
import type { ScreenProps } from './types.js';

export function DomainScreen({ state, onNext, onBack }: ScreenProps): ReactNode {
  const a = state.answers;
  const [form, setForm, live] = useLiveState({ domain: a.domain, host: a.host, ip: [...a.publicIpv4, ...a.publicIpv6].join(' ') });
  const [errors, setErrors] = useState<string[]>([]);
  const submit = (): void => {
    const v = live.current;
    const c = checkDomainAnswers(v.domain, v.host);
    const ips = v.ip.split(/[\s,]+/).filter(Boolean);
    const badIp = ips.filter((x) => isIP(x) === 0);
    const errs = [...c.errors, ...badIp.map((x) => `"${x}" is not an IP address (like 203.0.113.7); leave the field empty if you don't know it.`)];
    setErrors(errs);
    if (errs.length) return;
    if (a.domain && a.domain !== c.domain.ascii) {
      // A new domain: the DNS and certificate results were for the old one.
      delete state.dns;
      delete state.cert;
    }
    a.domain = c.domain.ascii;
    a.host = c.host && c.host.ascii !== a.domain ? c.host.ascii : '';
    a.publicIpv4 = ips.filter((x) => isIP(x) === 4);
    a.publicIpv6 = ips.filter((x) => isIP(x) === 6);
    onNext();
  };
  const focus = useForm({
    items: [
      { kind: 'text', key: 'domain', set: fieldOf(setForm, 'domain') },
      { kind: 'text', key: 'host', set: fieldOf(setForm, 'host') },
      { kind: 'text', key: 'ip', set: fieldOf(setForm, 'ip') },
    ],
    onSubmit: submit,
    onBack,
  });
  const preview = form.domain ? checkDomainAnswers(form.domain, '').domain : undefined;
  return (
    <Screen step={2} title="Domain">
      <Help text={DOMAIN_HELP.explanation} example={DOMAIN_HELP.example} />
      <TextField label="Domain" value={form.domain} focused={focus === 'domain'} hint="example.org" />
      {preview?.ok && preview.ascii !== form.domain.trim().toLowerCase() ? <Text dimColor>{`    (written in DNS as ${preview.ascii})`}</Text> : null}
      <Box marginTop={1} flexDirection="column">
        <Help text={HOST_HELP.explanation} example={`${HOST_HELP.example} Leave it empty when it is the domain.`} />
      </Box>
      <TextField label="Host" value={form.host} focused={focus === 'host'} hint={form.domain ? `(same as ${form.domain})` : '(same as the domain)'} />
      <Box marginTop={1} flexDirection="column">
        <Help text="This machine's public IP address, if you know it: the DNS check then makes sure the records point here." example="For example 203.0.113.7 (several: separate with spaces). Leave empty to accept any public address." />
      </Box>
      <TextField label="Public IP" value={form.ip} focused={focus === 'ip'} hint="(optional)" />
      <Errors errors={errors} />
    </Screen>
  );
}
