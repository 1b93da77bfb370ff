// The storage interface every backend implements (SQLite embedded default, PostgreSQL).
//
// Two shapes, as in Prosody: a key-value store (accounts, rosters, vCards, private XML, module
// state: one JSON value per owner and key) and an archive store (offline messages, message
// archive, room history: an ordered, queryable list of XML stanzas per owner).
// Modules open their own named stores; the backend keeps them apart by store name.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface KeyValStore {
  get<T extends JsonValue = JsonValue>(owner: string, key: string): Promise<T | undefined>;
  /** `undefined` deletes the key. Durable on disk when the promise resolves. */
  set(owner: string, key: string, value: JsonValue | undefined): Promise<void>;
  /** All keys and values of one owner (a roster: one key per contact). */
  getAll<T extends JsonValue = JsonValue>(owner: string): Promise<Map<string, T>>;
  /** Every owner that has at least one key in this store (account listing). */
  owners(): Promise<string[]>;
  /** Removes everything one owner has in this store (account deletion). */
  deleteOwner(owner: string): Promise<void>;
}

export interface ArchiveItem {
  /** Stable id (XEP-0359 stanza-id), assigned by the store when not given. */
  id: string;
  /** Milliseconds since the epoch. */
  when: number;
  /** The other party (bare JID), for `with` queries. */
  with: string;
  /** Message body text, for full-text search; may be empty. */
  body?: string;
  /** The serialized stanza. */
  xml: string;
}

/**
 * Items are ordered chronologically by `when`, items with the same `when` in the order they were
 * appended. Every filter combines with every other (AND).
 */
export interface ArchiveQuery {
  /** Exact match on the item's `with`. */
  with?: string;
  /** Only items with `when >= start` / `when <= end` (milliseconds, inclusive). */
  start?: number;
  end?: number;
  /**
   * Items strictly after / before this id (RSM, XEP-0059). The two bound a window; an id that is
   * not in this owner's archive rejects with StorageError code 'not-found'.
   */
  after?: string;
  before?: string;
  ids?: string[];
  /** Case-insensitive substring match on body (an empty string matches everything). */
  text?: string;
  /** Page size; capped by the backend's page limit (`maxPage`, default 1000), `complete` tells. */
  limit?: number;
  /**
   * Take the page from the newest end of the window (RSM `<before/>` paging: last page first,
   * then `before` = the first id of that page). Items are still returned oldest first.
   * Without it the page is taken from the oldest end (forward paging with `after`).
   */
  reverse?: boolean;
  /** Also compute `count` in the result (costs a walk over every match; off by default). */
  count?: boolean;
}

export interface ArchiveResult {
  items: ArchiveItem[];
  /** True when no more items match beyond this page in the direction of the query. */
  complete: boolean;
  /** Total matching items ignoring paging (after/before/limit); set when the query asked for it. */
  count?: number;
}

export interface ArchiveStore {
  /** Appends and returns the item's id. Durable on disk when the promise resolves. */
  append(owner: string, item: Omit<ArchiveItem, 'id'> & { id?: string }): Promise<string>;
  query(owner: string, q?: ArchiveQuery): Promise<ArchiveResult>;
  count(owner: string, q?: Pick<ArchiveQuery, 'with' | 'start' | 'end' | 'ids' | 'text'>): Promise<number>;
  /** Deletes the given ids, or everything of the owner when ids is omitted. Returns the count. */
  delete(owner: string, ids?: string[]): Promise<number>;
  /**
   * Deletes every item of this store older than `before` (`when < before`) across all owners
   * (retention). Returns the count. Runs in chunks: each chunk is atomic, the whole is not.
   */
  purgeBefore(before: number): Promise<number>;
}

/** Counters for tests and benchmarks: group commit shows as `commits` well below `writes`. */
export interface StorageStats {
  /** Write operations accepted (set, deleteOwner, append, delete...). */
  writes: number;
  /** Transactions committed for them. */
  commits: number;
  /** Most writes one transaction holds (a longer queue commits in several). */
  maxBatch: number;
}

/**
 * Every promise rejects with a StorageError (storage/errors.ts) whose `code` says what went
 * wrong: 'unavailable', 'full', 'busy', 'corrupt', 'readonly', 'schema', 'conflict',
 * 'not-found', 'invalid', 'closed', 'internal'. A rejected write changed nothing.
 * Writes issued in the same event-loop turn are committed together in one transaction.
 */
export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** Connects and applies pending schema migrations. */
  open(): Promise<void>;
  /** Commits pending writes, then disconnects. */
  close(): Promise<void>;
  keyval(store: string): KeyValStore;
  archive(store: string): ArchiveStore;
  stats?(): StorageStats;
}
