// SQLite schema, as numbered migrations. A migration, once released, never changes: add a new
// one. Each runs in its own BEGIN IMMEDIATE transaction (storage/sqlite.ts) together with the
// row that records it in roost_schema.
//
// Archive rows are ordered by (at, seq): `at` is the item's time (ms), `seq` the rowid, which
// grows with every insert and breaks ties in append order. Every index below ends in `at` and,
// implicitly, the rowid, so each query of storage/sqlite.ts is one range walk of one index.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'keyval and archive stores',
    sql: `
      CREATE TABLE roost_keyval (
        store TEXT NOT NULL,
        owner TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (store, owner, key)
      ) WITHOUT ROWID;

      CREATE TABLE roost_archive (
        seq INTEGER PRIMARY KEY,
        store TEXT NOT NULL,
        owner TEXT NOT NULL,
        id TEXT NOT NULL,
        at INTEGER NOT NULL,
        with_jid TEXT NOT NULL,
        body TEXT,
        xml TEXT NOT NULL
      );
      CREATE UNIQUE INDEX roost_archive_id ON roost_archive (store, owner, id);
      CREATE INDEX roost_archive_time ON roost_archive (store, owner, at);
      CREATE INDEX roost_archive_with ON roost_archive (store, owner, with_jid, at);
      -- Retention purges walk all owners of a store by time.
      CREATE INDEX roost_archive_purge ON roost_archive (store, at);

      -- Substring search on bodies: FTS5 with the trigram tokenizer matches any substring of
      -- three or more characters, case-folded, from the index (external content: bodies are
      -- not stored twice). Shorter needles are scanned (storage/sqlite.ts).
      CREATE VIRTUAL TABLE roost_archive_fts USING fts5(
        body, content = 'roost_archive', content_rowid = 'seq', tokenize = 'trigram case_sensitive 0'
      );
      CREATE TRIGGER roost_archive_fts_insert AFTER INSERT ON roost_archive
      WHEN new.body IS NOT NULL AND new.body <> '' BEGIN
        INSERT INTO roost_archive_fts (rowid, body) VALUES (new.seq, new.body);
      END;
      CREATE TRIGGER roost_archive_fts_delete AFTER DELETE ON roost_archive
      WHEN old.body IS NOT NULL AND old.body <> '' BEGIN
        INSERT INTO roost_archive_fts (roost_archive_fts, rowid, body) VALUES ('delete', old.seq, old.body);
      END;
      -- Archives are append-only, but a later migration that rewrites bodies must not leave
      -- the index stale.
      CREATE TRIGGER roost_archive_fts_update AFTER UPDATE OF body ON roost_archive BEGIN
        INSERT INTO roost_archive_fts (roost_archive_fts, rowid, body)
          SELECT 'delete', old.seq, old.body WHERE old.body IS NOT NULL AND old.body <> '';
        INSERT INTO roost_archive_fts (rowid, body)
          SELECT new.seq, new.body WHERE new.body IS NOT NULL AND new.body <> '';
      END;
    `,
  },
  {
    version: 2,
    name: 'full-text index updated behind the writes',
    // Keeping the FTS index in step with every INSERT was two thirds of an archive row's cost
    // (at COMMIT, FTS5 writes the batch's trigrams as a new segment and merges). Rows up to
    // roost_fts_state.indexed_to are in the index; the writer thread indexes newer ones when
    // it has no writes to do (sqlite-writer.mjs), and text queries scan them meanwhile, so a
    // search always sees every message. Deletes and updates keep the index exact for the rows
    // it holds. seq is the rowid: when the newest rows are deleted SQLite hands their values
    // out again, so an append whose seq is not above indexed_to lowers it (sqlite-writer.mjs).
    sql: `
      DROP TRIGGER roost_archive_fts_insert;
      DROP TRIGGER roost_archive_fts_delete;
      DROP TRIGGER roost_archive_fts_update;
      CREATE TABLE roost_fts_state (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        indexed_to INTEGER NOT NULL
      );
      INSERT INTO roost_fts_state (one, indexed_to) SELECT 1, coalesce(max(seq), 0) FROM roost_archive;
      CREATE TRIGGER roost_archive_fts_delete AFTER DELETE ON roost_archive
      WHEN old.body IS NOT NULL AND old.body <> '' AND old.seq <= (SELECT indexed_to FROM roost_fts_state) BEGIN
        INSERT INTO roost_archive_fts (roost_archive_fts, rowid, body) VALUES ('delete', old.seq, old.body);
      END;
      CREATE TRIGGER roost_archive_fts_update AFTER UPDATE OF body ON roost_archive
      WHEN old.seq <= (SELECT indexed_to FROM roost_fts_state) BEGIN
        INSERT INTO roost_archive_fts (roost_archive_fts, rowid, body)
          SELECT 'delete', old.seq, old.body WHERE old.body IS NOT NULL AND old.body <> '';
        INSERT INTO roost_archive_fts (rowid, body)
          SELECT new.seq, new.body WHERE new.body IS NOT NULL AND new.body <> '';
      END;
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
