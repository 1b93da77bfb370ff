// One error class for every backend, so callers (modules, the CLI) can react to the kind of
// failure without knowing whether SQLite or PostgreSQL is underneath: 'busy' and 'unavailable'
// are worth retrying later, 'full' needs an administrator, 'invalid' is the caller's bug.

export type StorageErrorCode =
  /** The database server cannot be reached (PostgreSQL down, connection lost, timeout). */
  | 'unavailable'
  /** No space left on the disk holding the database. */
  | 'full'
  /** Another process holds a lock for longer than the busy timeout. */
  | 'busy'
  /** The database file or an index is damaged, or the file is not a database. */
  | 'corrupt'
  /** The database cannot be written (read-only file or file system, missing permission). */
  | 'readonly'
  /** The schema is newer than this build knows, or a migration failed. */
  | 'schema'
  /** An item with this id already exists in this archive (ids are unique per store+owner). */
  | 'conflict'
  /** An `after`/`before` id that is not in the archive (XEP-0059 item-not-found). */
  | 'not-found'
  /** The caller passed a value the store cannot keep as given (NaN, a cycle, a bad limit...). */
  | 'invalid'
  /** The storage was closed (or never opened). */
  | 'closed'
  /** Anything else; the message carries the backend's own text. */
  | 'internal';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isStorageError(e: unknown): e is StorageError {
  return e instanceof StorageError;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** better-sqlite3 errors carry SQLite's extended result code name in `code` (SQLITE_FULL...). */
export function fromSqliteError(e: unknown, what: string): StorageError {
  if (e instanceof StorageError) return e;
  const code = typeof (e as { code?: unknown })?.code === 'string' ? ((e as { code: string }).code) : '';
  const text = `${what}: ${messageOf(e)}`;
  if (code.startsWith('SQLITE_FULL')) return new StorageError('full', `${what}: the disk holding the database is full`, { cause: e });
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return new StorageError('busy', `${what}: the database is locked by another connection or process (busy timeout exceeded)`, { cause: e });
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB'))
    return new StorageError('corrupt', `${what}: the database file is damaged or is not a SQLite database (${messageOf(e)})`, { cause: e });
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_AUTH'))
    return new StorageError('readonly', `${what}: cannot open or write the database file (${messageOf(e)})`, { cause: e });
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return new StorageError('conflict', `${what}: an item with this id already exists`, { cause: e });
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_NOMEM'))
    return new StorageError('unavailable', text, { cause: e });
  if (code.startsWith('SQLITE_TOOBIG') || code.startsWith('SQLITE_RANGE') || code.startsWith('SQLITE_MISMATCH'))
    return new StorageError('invalid', text, { cause: e });
  if (e instanceof TypeError && /database connection is not open/i.test(messageOf(e)))
    return new StorageError('closed', `${what}: the storage is closed`, { cause: e });
  return new StorageError('internal', text, { cause: e });
}

/** Network-level failures of node-postgres (no SQLSTATE): the server is gone or unreachable. */
const PG_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** Maps node-postgres errors by SQLSTATE (Appendix A of the PostgreSQL manual) or socket errno. */
export function fromPgError(e: unknown, what: string): StorageError {
  if (e instanceof StorageError) return e;
  const code = typeof (e as { code?: unknown })?.code === 'string' ? ((e as { code: string }).code) : '';
  const msg = messageOf(e);
  const text = `${what}: ${msg}`;
  if (PG_NETWORK.has(code) || /^08/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' ||
      /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout|not queryable/i.test(msg))
    return new StorageError('unavailable', `${what}: the PostgreSQL server is unavailable (${msg})`, { cause: e });
  if (code === '53100') return new StorageError('full', `${what}: the PostgreSQL server's disk is full`, { cause: e });
  if (code === '53300' || code === '40001' || code === '40P01' || code === '55P03' || code === '57014')
    return new StorageError('busy', `${what}: the PostgreSQL server is busy (${msg})`, { cause: e });
  if (code.startsWith('53')) return new StorageError('unavailable', text, { cause: e });
  if (code === 'XX001' || code === 'XX002') return new StorageError('corrupt', text, { cause: e });
  if (code === '23505') return new StorageError('conflict', `${what}: an item with this id already exists`, { cause: e });
  if (code === '25006' || code === '42501') return new StorageError('readonly', text, { cause: e });
  if (code.startsWith('22')) return new StorageError('invalid', text, { cause: e });
  return new StorageError('internal', text, { cause: e });
}

/** The database was migrated by a newer Roost: refuse to touch it. */
export function newerSchema(found: number, known: number): StorageError {
  return new StorageError(
    'schema',
    `the database has schema version ${found}, but this Roost only knows versions up to ${known}: ` +
      'it was written by a newer Roost. Upgrade Roost (or restore a backup made before the upgrade); nothing was changed.',
  );
}
