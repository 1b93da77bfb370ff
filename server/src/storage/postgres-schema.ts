// PostgreSQL schema, as numbered migrations (same tables and meaning as sqlite-schema.ts). A
// released migration never changes: add a new one. Each runs in its own transaction under an
// advisory lock (storage/postgres.ts), so two daemons starting at once apply it once.
//
// Archive order is (at, seq); seq is an identity column, so each index ends in (at, seq) and a
// keyset page is one range scan with a row comparison `(at, seq) > ($1, $2)`.
import type { Migration } from './sqlite-schema.js';

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'keyval and archive stores',
    sql: `
      CREATE TABLE roost_keyval (
        store text NOT NULL,
        owner text NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (store, owner, key)
      );

      CREATE TABLE roost_archive (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        store text NOT NULL,
        owner text NOT NULL,
        id text NOT NULL,
        at bigint NOT NULL,
        with_jid text NOT NULL,
        body text,
        xml text NOT NULL
      );
      CREATE UNIQUE INDEX roost_archive_id ON roost_archive (store, owner, id);
      CREATE INDEX roost_archive_time ON roost_archive (store, owner, at, seq);
      CREATE INDEX roost_archive_with ON roost_archive (store, owner, with_jid, at, seq);
      CREATE INDEX roost_archive_purge ON roost_archive (store, at);
    `,
  },
  {
    // Its own migration so that a server without the contrib package fails here, with the
    // message from storage/postgres.ts, after the basic tables exist.
    version: 2,
    name: 'trigram index for archive text search (pg_trgm)',
    sql: `
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      CREATE INDEX roost_archive_body_trgm ON roost_archive USING gin (body gin_trgm_ops);
    `,
  },
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;
