// The validated configuration, as the schema (config/schema.ts) produces it from roost.yaml:
// every key filled in (defaults), sizes in bytes, durations in seconds (ldap.timeoutMs in
// milliseconds), names normalised, paths absolute. The types are derived from the schema so that
// what the validator checks and what modules read cannot differ; the explanation of each key is
// its `.describe()` text there (and in roost.example.yaml).
import type { z } from 'zod';
import type { roostConfigSchema } from './schema.js';

type Parsed = z.output<typeof roostConfigSchema>;

export type RoostConfig = Parsed & {
  /** Where the file was loaded from, if any (for messages). */
  source?: string;
};

/** One listening socket: `{ address, port, enabled }`. */
export type ListenerConfig = Parsed['listeners']['c2s'];

/**
 * Limits: stanzaSize, depth, preAuthSize (bytes), authTimeout, idleTimeout, pingTimeout
 * (seconds), sendBuffer (bytes), offlineMessages, loginFailuresPerAddress/PerAccount (per
 * minute), registrationsPerAddress (per hour), stanzasPerSecond, connectionsPerAddress,
 * maxConnections, maxSessionsPerAccount.
 */
export type LimitsConfig = Parsed['limits'];

export type StorageConfig = Parsed['storage'];
export type TlsConfig = Parsed['tls'];
export type RegistrationConfig = Parsed['registration'];
export type LdapConfig = Parsed['ldap'];
export type AcmeConfig = Parsed['acme'];
export type UploadConfig = Parsed['upload'];
export type ArchiveConfig = Parsed['archive'];
export type MucConfig = Parsed['muc'];
export type FederationConfig = Parsed['federation'];
export type TurnConfig = Parsed['turn'];
export type LogConfig = Parsed['log'];
export type ModulesConfig = Parsed['modules'];
