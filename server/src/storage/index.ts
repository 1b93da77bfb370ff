// Storage factory: the config's `storage` section picks the backend. Extra fields (busy
// timeout, pool size, page limit...) pass through to the backend's options; each has a default.
import type { Logger } from '../util/log.js';
import { PostgresStorage, type PostgresOptions } from './postgres.js';
import { SqliteStorage, type SqliteOptions } from './sqlite.js';
import type { Storage } from './types.js';

export type StorageConfig = ({ type: 'sqlite' } & SqliteOptions) | ({ type: 'postgres' } & PostgresOptions);

/** Creates the backend; nothing is opened until `open()`. */
export function createStorage(cfg: StorageConfig, log?: Logger): Storage {
  switch (cfg.type) {
    case 'sqlite':
      return new SqliteStorage(cfg, log);
    case 'postgres':
      return new PostgresStorage(cfg, log);
    default:
      throw new Error(`unknown storage type ${JSON.stringify((cfg as { type: unknown }).type)}: use 'sqlite' or 'postgres'`);
  }
}

export { StorageError, isStorageError, type StorageErrorCode } from './errors.js';
export { SqliteStorage, type SqliteOptions } from './sqlite.js';
export { PostgresStorage, type PostgresOptions } from './postgres.js';
export type * from './types.js';
