// The appliance layer's public API: host integration used by the installer (`roost setup`),
// `roost check` and the daemon (certificate renewal, ACME challenge responder).
export type * from './types.js';

export {
  MIN_CLOCK_YEAR,
  ROOST_PORTS,
  checkPort,
  defaultIsRoost,
  findPortOwners,
  runPreflight,
  type PortOwner,
  type PreflightOptions,
  type ProcessInfo,
} from './preflight.js';
export { DOMAIN_HELP, HOST_HELP, validateDomain, validateHost } from './domain.js';

export { SERVICE_SUBDOMAINS, computeRecords, renderZoneSnippet, subdomainsFromConfig } from './dns/records.js';
export { localAddresses, type LocalAddresses } from './dns/addresses.js';
export { checkDns, isPrivateAddress, lookup, parseResolver, systemNameServers } from './dns/check.js';

export { createChallengeStore, startChallengeResponder } from './acme/challenge-store.js';
export { AcmeError, LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING, certificatePaths, obtainCertificate } from './acme/obtain.js';
export {
  certificateNames,
  nameCovered,
  needsRenewal,
  readRenewalStatus,
  renewIfDue,
  selectCertificateNames,
  startRenewalTimer,
  type RenewalTimer,
} from './acme/renew.js';
export { certificateFingerprint, selfSignedFallback, selfSignedWarning } from './acme/self-signed.js';
export { challengeDir, renewalOptions, type RenewalPlan } from './acme/daemon.js';

export { describeLdapError, escapeFilterValue, testLdap } from './ldap/test.js';

export { runCheck, type CheckIo } from './check/cli.js';
export { CHECK_SECTIONS, runChecks, servedNames, servedSubdomains, type CheckReport, type CheckSection, type RunChecksOptions, type SectionResult } from './check/run.js';

export { chownTree, ensureDataDirs, ensureSystemUser, writeFileAtomic } from './system/files.js';
export {
  DEFAULT_CONFIG_PATH,
  DEFAULT_DATA_DIR,
  hasSystemd,
  installService,
  manualStartInstructions,
  renderUnit,
  type UnitOptions,
} from './system/service.js';
export { waitForReady } from './system/ready.js';
