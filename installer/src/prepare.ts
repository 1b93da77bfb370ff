// Builds the starting state of `roost setup`: defaults < current configuration < answers file <
// flags. On a configured box the current values prefill every screen.
import { validateDomain } from '../../appliance/src/domain.js';
import { type Answers, defaultAnswers } from './answers.js';
import { type PartialAnswers, type SetupOptions, layerAnswers, parseSetupArgs, readAnswersFile } from './args.js';
import { answersFromConfig, memoryAnswers, readExistingConfig, readSetupMemory } from './config-output.js';
import type { SetupState } from './steps/context.js';

export async function prepareState(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<SetupState & { help: boolean }> {
  const { answers: fromFlags, options } = parseSetupArgs(argv);
  const fromFile: PartialAnswers = options.answersFile ? await readAnswersFile(options.answersFile) : {};
  const configPath = fromFlags.configPath ?? fromFile.configPath ?? defaultAnswers().configPath;
  const existing = await readExistingConfig(configPath);
  const fromConfig = existing ? answersFromConfig(existing, configPath) : {};
  const dataDir = fromFlags.dataDir ?? fromFile.dataDir ?? fromConfig.dataDir;
  const fromMemory = existing && dataDir ? memoryAnswers(await readSetupMemory(dataDir)) : {};
  const answers: Answers = layerAnswers(defaultAnswers(), fromConfig, fromMemory, fromFile, fromFlags, { configPath });
  if (!answers.admin.password && env.ROOST_ADMIN_PASSWORD) answers.admin.password = env.ROOST_ADMIN_PASSWORD;
  if (!answers.ldap.bindPassword && env.ROOST_LDAP_BIND_PASSWORD) answers.ldap.bindPassword = env.ROOST_LDAP_BIND_PASSWORD;
  normalizeNames(answers);
  if (!answers.cert.email && answers.domain) answers.cert.email = `${answers.admin.username || 'admin'}@${answers.domain}`;
  return { answers, options: options as SetupOptions, ...(existing ? { existing } : {}), warnings: [], help: options.help };
}

/** Stores names the way DNS and certificates use them (IDN as punycode, lower case). */
export function normalizeNames(a: Answers): void {
  if (a.domain) {
    const v = validateDomain(a.domain);
    if (v.ok) a.domain = v.ascii;
  }
  if (a.host) {
    const v = validateDomain(a.host);
    if (v.ok) a.host = v.ascii === a.domain ? '' : v.ascii;
  }
}
