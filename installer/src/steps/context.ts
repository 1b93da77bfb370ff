// State shared by the steps, the same for the screens and the unattended run.
import type { CheckResult, DnsReport, LdapTestResult } from '../../../appliance/src/types.js';
import type { Answers } from '../answers.js';
import type { SetupOptions } from '../args.js';

export type StepId = 'preflight' | 'domain' | 'dns' | 'certs' | 'accounts' | 'features' | 'apply';

export const STEP_TITLES: Record<StepId, string> = {
  preflight: 'Welcome',
  domain: 'Domain',
  dns: 'DNS records',
  certs: 'Certificate',
  accounts: 'Accounts',
  features: 'Features and limits',
  apply: 'Apply',
};

/** Something the admin chose to continue with; the summary and the Done screen list them. */
export interface Warning {
  step: StepId;
  message: string;
  /** red: something will not work (the Done screen lists it under "still to fix"); warn: a note. */
  level: 'red' | 'warn';
}

export interface CertOutcome {
  mode: Answers['cert']['mode'];
  certPath: string;
  keyPath: string;
  /** Names the certificate covers. */
  names: string[];
  notAfter?: Date;
  /** Self-signed: SHA-256 fingerprint and the warning users will see. */
  fingerprint?: string;
  userWarning?: string;
}

export interface SetupState {
  answers: Answers;
  options: SetupOptions;
  /** The configuration found on disk (raw), when `roost setup` runs on a configured box. */
  existing?: Record<string, unknown>;
  preflight?: CheckResult[];
  dns?: DnsReport;
  cert?: CertOutcome;
  ldap?: LdapTestResult;
  warnings: Warning[];
}

/** Replaces the warnings of one step (a re-check supersedes the previous result). Plain strings are notes. */
export function setWarnings(state: SetupState, step: StepId, messages: Array<string | { message: string; level: 'red' | 'warn' }>): void {
  const list = messages.map((m) => (typeof m === 'string' ? { step, message: m, level: 'warn' as const } : { step, ...m }));
  state.warnings = [...state.warnings.filter((w) => w.step !== step), ...list];
}
