// `roost setup --non-interactive`: the same steps as the screens, in order, printing each
// result. Stops with a clear message (and nothing written) at the first problem it cannot carry
// on past; DNS problems and warnings are remembered and listed at the end, as on the Done screen.
import { execa } from 'execa';
import type { CheckResult, DnsTxtRecord } from '../../appliance/src/types.js';
import type { Canceller } from './cancel.js';
import { Cancelled } from './cancel.js';
import { describeLdapResult, ldapStep, localAccountErrors } from './steps/accounts.js';
import { applyStep } from './steps/apply.js';
import { certStep } from './steps/certs.js';
import { setWarnings, type SetupState } from './steps/context.js';
import { checkDomainAnswers, dnsStep, dnsWarnings } from './steps/dns.js';
import { doneInfo, renderDoneText } from './steps/done.js';
import { ensureTurnSecret, featureErrors, featureWarnings } from './steps/features.js';
import { preflightProblems, preflightStep } from './steps/preflight.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

const MARK: Record<string, string> = { true: '✔', warn: '!', false: '✘', green: '✔', red: '✘', ok: '✔', fail: '✘', skip: '-', running: '…' };

async function runHook(cmd: string, record: DnsTxtRecord, what: string): Promise<void> {
  const r = await execa(cmd, {
    shell: true,
    reject: false,
    timeout: 120_000,
    env: { ...process.env, ROOST_TXT_NAME: record.name, ROOST_TXT_VALUE: record.value, ROOST_TXT_ZONE_LINE: record.zoneLine },
  });
  if (r.exitCode !== 0) throw new Error(`the ${what} ${JSON.stringify(cmd)} failed (exit ${r.exitCode}): ${String(r.stderr || r.stdout).trim().slice(0, 300)}`);
}

function printChecks(io: Io, results: CheckResult[]): void {
  for (const r of results) {
    io.out(`  ${MARK[String(r.ok)]} ${r.message}\n`);
    if (r.ok !== true && r.fix) io.out(`      fix: ${r.fix}\n`);
  }
}

export async function runNonInteractive(state: SetupState, io: Io, cancel: Canceller): Promise<number> {
  const a = state.answers;
  const o = state.options;
  const stop = (msg: string, code = 1, partly = false): number => {
    io.err(
      partly
        ? `roost setup: ${msg}\nEach file is either the previous or the new version; run roost setup again to finish.\n`
        : `roost setup: ${msg}\nNothing was changed${state.cert ? ' except the new certificate files' : ''}; the current configuration (if any) is untouched.\n`,
    );
    return code;
  };
  try {
    io.out('1. Checking this machine\n');
    state.preflight = await preflightStep(a, state.existing);
    printChecks(io, state.preflight);
    const pf = preflightProblems(state.preflight);
    setWarnings(state, 'preflight', [...pf.red.map((r) => ({ message: r.message, level: 'red' as const })), ...pf.warn.map((r) => r.message)]);
    if (pf.red.length && !o.force) return stop(`${pf.red.length} pre-flight problem(s): ${pf.red.map((r) => r.message).join('; ')} (fix them, or use --force)`);
    cancel.check();

    io.out('2. Domain\n');
    const dc = checkDomainAnswers(a.domain, a.host);
    if (dc.errors.length) return stop(a.domain ? `invalid domain "${a.domain}": ${dc.errors.join(' ')}` : 'no domain given (use --domain example.org)', 2);
    a.domain = dc.domain.ascii;
    io.out(`  ✔ ${dc.domain.unicode}${dc.domain.unicode !== dc.domain.ascii ? ` (${dc.domain.ascii})` : ''}\n`);
    cancel.check();

    io.out(`3. DNS records${o.resolver ? ` (asking ${o.resolver.nameServers?.join(',')}:${o.resolver.port ?? 53})` : ''}\n`);
    state.dns = await dnsStep(a, o.resolver, o.dnsTimeoutMs, state.existing);
    for (const c of state.dns.checks) io.out(`  ${MARK[c.status]} ${c.record.type} ${c.record.name}: ${c.reason}\n`);
    setWarnings(state, 'dns', dnsWarnings(state.dns));
    cancel.check();

    io.out('4. Certificate\n');
    if (a.cert.mode === 'letsencrypt' && a.cert.challenge === 'dns-01' && !o.dnsHook)
      io.out('  Add each TXT record below at your DNS provider; setup waits until it is visible.\n');
    const cert = await certStep(state, {
      onProgress: (p) => io.out(`  … ${p.message}\n`),
      showTxt: async (record) => {
        if (o.dnsHook) await runHook(o.dnsHook, record, 'DNS hook');
        else io.out(`  ${record.zoneLine}\n`);
      },
      removeTxt: async (record) => {
        if (o.dnsCleanupHook) await runHook(o.dnsCleanupHook, record, 'DNS cleanup hook').catch((e: Error) => io.err(`  ! ${e.message}\n`));
      },
      cancelled: () => cancel.cancelled(),
    }).catch((e: Error) => {
      if (cancel.cancelled()) throw new Cancelled();
      throw Object.assign(new Error(`no certificate: ${e.message}`), { certFailure: true });
    });
    state.cert = cert.outcome;
    setWarnings(state, 'certs', cert.warnings);
    io.out(`  ✔ certificate for ${cert.outcome.names.join(', ')}${cert.outcome.notAfter ? ` (valid until ${cert.outcome.notAfter.toISOString().slice(0, 10)})` : ''}\n`);
    for (const w of cert.warnings) io.out(`  ! ${w}\n`);
    cancel.check();

    io.out('5. Accounts\n');
    if (a.accounts === 'local') {
      const errs = localAccountErrors(a);
      if (errs.length) return stop(`first administrator: ${errs.join(' ')}`, 2);
      if (!a.admin.password) {
        setWarnings(state, 'accounts', state.existing ? [] : ['no administrator account was created (no --admin-password)']);
        io.out(state.existing ? '  ✔ keeping the existing accounts\n' : '  ! no administrator password given: no account created\n');
      } else io.out(`  ✔ first administrator: ${a.admin.username}@${a.domain}\n`);
    } else {
      state.ldap = await ldapStep(a.ldap);
      for (const l of describeLdapResult(state.ldap, a.ldap.adminGroup || 'jabberadmins')) io.out(`  ${l}\n`);
      setWarnings(state, 'accounts', [...state.ldap.errors.map((message) => ({ message: `directory: ${message}`, level: 'red' as const })), ...state.ldap.warnings.map((w) => `directory: ${w}`)]);
      if (!state.ldap.ok && !o.force) return stop(`the directory test failed: ${state.ldap.errors.join(' ')}`);
    }
    cancel.check();

    io.out('6. Features and limits\n');
    const ferr = featureErrors(a);
    if (ferr.length) return stop(ferr.join(' '), 2);
    ensureTurnSecret(a);
    setWarnings(state, 'features', featureWarnings(a));
    io.out(`  ✔ registration ${a.registration}, federation ${a.federation.enabled ? 'on' : 'off'}${a.turn.enabled ? `, TURN ${a.turn.host}:${a.turn.port}` : ''}\n`);
    cancel.check();

    io.out('7. Applying\n');
    const result = await applyStep(
      state,
      (e) => {
        if (e.status !== 'running') io.out(`  ${MARK[e.status]} ${e.message}\n`);
      },
      { cancelled: () => cancel.cancelled() },
    );
    if (cancel.cancelled()) return stop('cancelled (Ctrl-C) during the apply step: the steps marked ✔ above are done, the others were not started', 130, result.written);
    if (!result.written) return stop(result.problems.join('; '));
    if (result.checks) {
      io.out('   roost check:\n');
      printChecks(io, result.checks.results.filter((r) => r.ok !== true));
    }
    io.out('\n8. Done\n');
    io.out(renderDoneText(doneInfo(state, result)));
    return result.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof Cancelled) return stop('cancelled (Ctrl-C)', 130);
    return stop((e as Error).message);
  }
}
