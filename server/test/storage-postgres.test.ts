// The storage contract against a real PostgreSQL server (a throwaway cluster from
// helpers/postgres.ts), plus a server that dies mid-run and comes back.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../src/storage/errors.js';
import { createStorage } from '../src/storage/index.js';
import { PostgresStorage } from '../src/storage/postgres.js';
import { PG_MIGRATIONS } from '../src/storage/postgres-schema.js';
import { startPostgres, type PgCluster } from './helpers/postgres.js';
import { rejection, storageContract, type Backend, type TestDatabase } from './storage-contract.js';

let cluster: PgCluster | undefined;
let backend: Backend | undefined;

function database(url: string): TestDatabase {
  return {
    make: (opts) => new PostgresStorage({ url, ...opts }),
    exec: async (sql) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query(sql)).rows as Record<string, unknown>[];
      } finally {
        await c.end();
      }
    },
  };
}

beforeAll(async () => {
  cluster = await startPostgres();
  const c = cluster;
  backend = { migrations: PG_MIGRATIONS, shared: database(await c.createDatabase('shared')), fresh: async () => database(await c.createDatabase()) };
});

afterAll(async () => {
  await cluster?.stop();
});

describe('PostgreSQL storage: contract', () => {
  storageContract(() => backend!);
});

describe('PostgreSQL storage: server', () => {
  it('creates the pg_trgm extension and the trigram index in a migration', async () => {
    const db = database(await cluster!.createDatabase());
    const s = db.make();
    await s.open();
    await s.close();
    expect(await db.exec("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")).toEqual([{ extname: 'pg_trgm' }]);
    expect((await db.exec("SELECT indexdef FROM pg_indexes WHERE indexname = 'roost_archive_body_trgm'"))[0]?.indexdef).toMatch(/gin .*gin_trgm_ops/);
  });

  it('a missing extension fails the migration with a message naming the package', async () => {
    const db = database(await cluster!.createDatabase());
    const missing = { version: 99, name: 'needs an extension', sql: 'CREATE EXTENSION roost_no_such_extension' };
    const err = await rejection(db.make({ migrations: [...PG_MIGRATIONS, missing] }).open());
    expect(err.code).toBe('schema');
    expect(err.message).toMatch(/extension roost_no_such_extension.*postgresql-contrib/);
  });

  it('a server that cannot be reached: open rejects with unavailable', async () => {
    const s = createStorage({ type: 'postgres', url: `postgres://roost@127.0.0.1:${cluster!.port}/no_such_database` });
    const err = await rejection(s.open());
    // A missing database is not "unavailable"; a closed port is.
    expect(err.code).not.toBe('unavailable');
    const dead = createStorage({ type: 'postgres', url: 'postgres://roost@127.0.0.1:1/x' });
    expect((await rejection(dead.open())).code).toBe('unavailable');
  });

  it('the server dies mid-run: calls reject with unavailable, nothing crashes, all works again after restart', async () => {
    const url = await cluster!.createDatabase();
    const s = createStorage({ type: 'postgres', url, connectTimeoutMs: 2000 });
    await s.open();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const ar = s.archive('offline');
      const kv = s.keyval('roster');
      await ar.append('o', { when: 1, with: 'w', body: 'before', xml: '<m/>' });
      await kv.set('o', 'k', 'before');
      // Writes in flight while the server goes down.
      const inFlight = Promise.allSettled(Array.from({ length: 200 }, (_, i) => ar.append('o', { when: 10 + i, with: 'w', xml: '<m/>' })));
      cluster!.kill();
      const settled = await inFlight;
      const committed = settled.filter((r) => r.status === 'fulfilled').length;
      for (const r of settled) if (r.status === 'rejected') expect((r.reason as StorageError).code).toBe('unavailable');

      for (const call of [
        () => ar.append('o', { when: 2, with: 'w', xml: '<m/>' }),
        () => ar.query('o'),
        () => ar.count('o'),
        () => kv.set('o', 'k', 'during'),
        () => kv.get('o', 'k'),
        () => kv.owners(),
        () => ar.delete('o'),
      ]) {
        const err = await rejection(call());
        expect(err.code).toBe('unavailable');
        expect(err.message).toMatch(/PostgreSQL server is unavailable/);
      }

      cluster!.start();
      // The pool reconnects on its own; the first call may still meet a stale connection.
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        try {
          await kv.get('o', 'k');
          ok = true;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(ok).toBe(true);
      expect(await kv.get('o', 'k')).toBe('before');
      await kv.set('o', 'k', 'after');
      expect(await kv.get('o', 'k')).toBe('after');
      // The 200 were one batch, all or nothing: acknowledged ones are there; a batch whose COMMIT
      // was cut off may have landed without an acknowledgement, but never in part.
      const count = await ar.count('o');
      expect([1, 201]).toContain(count);
      expect(count).toBeGreaterThanOrEqual(1 + committed);
      await ar.append('o', { when: 3, with: 'w', xml: '<m/>' });
      expect(await ar.count('o')).toBe(count + 1);

      // Again a few times, with reads and writes in flight from several callers at each kill.
      for (let cycle = 0; cycle < 3; cycle++) {
        const traffic = Promise.allSettled(
          Array.from({ length: 60 }, (_, i) =>
            i % 3 === 0 ? kv.set(`c${cycle}`, `k${i}`, i) : i % 3 === 1 ? ar.query('o', { limit: 10, reverse: true }) : ar.append('o', { when: 100 + i, with: 'w', xml: '<m/>' }),
          ),
        );
        await new Promise((r) => setTimeout(r, cycle * 3));
        cluster!.kill();
        for (const r of await traffic) if (r.status === 'rejected') expect((r.reason as StorageError).code).toBe('unavailable');
        expect((await rejection(kv.get('o', 'k'))).code).toBe('unavailable');
        cluster!.start();
        await kv.set('o', 'k', `cycle ${cycle}`);
        expect(await kv.get('o', 'k')).toBe(`cycle ${cycle}`);
      }
      expect(unhandled).toEqual([]);
    } finally {
      process.removeListener('unhandledRejection', onUnhandled);
      cluster!.start();
      await s.close();
    }
  }, 180_000);
});
