// The configuration API: load and validate roost.yaml, write it, and tell what a reload applies.
export { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
export { defaultConfig, loadConfig, parseConfigText, type LoadOptions, type ParseOptions } from './load.js';
export { liveReloadable } from './reload.js';
export { renderConfigYaml, type ConfigAnswers } from './render.js';
export { schemaKeys, type KeyInfo } from './introspect.js';
export { roostConfigSchema, type RoostConfigInput } from './schema.js';
export { tlsFiles } from './paths.js';
export { parseDuration, parseSize } from './units.js';
export { ACME_DIRECTORIES, DEFAULT_PUSH_GATEWAYS, LDAP_FLAVOR_DEFAULTS, LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING } from './presets.js';
export type * from './types.js';
