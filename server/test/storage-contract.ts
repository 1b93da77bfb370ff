// The storage contract (server/src/storage/types.ts), as one suite that every backend runs with
// the same expectations: storage-sqlite.test.ts and storage-postgres.test.ts call it against a
// real SQLite file and a real PostgreSQL server. Archive queries are checked against a small
// reference model written here (plain array filtering), over every combination of filters.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../src/storage/errors.js';
import type { Migration } from '../src/storage/sqlite-schema.js';
import type { ArchiveItem, ArchiveQuery, ArchiveStore, JsonValue, Storage } from '../src/storage/types.js';

export interface StorageOptions {
  maxPage?: number;
  migrations?: readonly Migration[];
}

export interface TestDatabase {
  /** A new, unopened storage on this database (each call a separate connection/pool). */
  make(opts?: StorageOptions): Storage;
  /** Runs SQL directly on the database (to look at or tamper with the schema table). */
  exec(sql: string): Promise<Record<string, unknown>[]>;
}

export interface Backend {
  /** The released migrations of this backend. */
  migrations: readonly Migration[];
  /** The database shared by most tests (each test uses its own store names). */
  shared: TestDatabase;
  /** A new, empty database. */
  fresh(): Promise<TestDatabase>;
}

/** Timeout for the tests that issue thousands of calls (the machine may be shared and busy). */
const HEAVY = 180_000;

const uniq = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function rejection(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StorageError);
    return e as StorageError;
  }
  throw new Error('expected the promise to reject');
}

/** Reference order: by when, then by the order items were appended. */
interface RefItem extends ArchiveItem {
  n: number;
}

function reference(all: RefItem[], q: ArchiveQuery): { page: RefItem[]; complete: boolean; count: number } {
  const sorted = [...all].sort((a, b) => a.when - b.when || a.n - b.n);
  const pos = (id: string): number => sorted.findIndex((i) => i.id === id);
  const matches = sorted.filter(
    (i) =>
      (q.with === undefined || i.with === q.with) &&
      (q.start === undefined || i.when >= q.start) &&
      (q.end === undefined || i.when <= q.end) &&
      (q.ids === undefined || q.ids.includes(i.id)) &&
      (q.text === undefined || (i.body ?? '').toLowerCase().includes(q.text.toLowerCase())),
  );
  const window = matches.filter(
    (i) => (q.after === undefined || pos(i.id) > pos(q.after)) && (q.before === undefined || pos(i.id) < pos(q.before)),
  );
  const limit = q.limit ?? Infinity;
  const page = q.reverse ? window.slice(Math.max(0, window.length - limit)) : window.slice(0, limit);
  return { page, complete: window.length <= limit, count: matches.length };
}

const strip = (i: RefItem): ArchiveItem => {
  const { n: _n, ...rest } = i;
  return rest;
};

export function storageContract(backend: () => Backend): void {
  const opened = async (opts?: StorageOptions, db?: TestDatabase): Promise<Storage> => {
    const s = (db ?? backend().shared).make(opts);
    await s.open();
    return s;
  };

  describe('keyval', () => {
    it('get / set / overwrite / delete / getAll / owners / deleteOwner', async () => {
      const s = await opened();
      try {
        const kv = s.keyval(uniq('kv'));
        expect(await kv.get('alice@example.org', 'missing')).toBeUndefined();
        expect(await kv.owners()).toEqual([]);
        await kv.set('alice@example.org', 'b', { n: 1 });
        await kv.set('alice@example.org', 'a', [1, 2]);
        await kv.set('bob@example.org', 'x', 'y');
        expect(await kv.get('alice@example.org', 'b')).toEqual({ n: 1 });
        await kv.set('alice@example.org', 'b', { n: 2 });
        expect(await kv.get('alice@example.org', 'b')).toEqual({ n: 2 });
        expect([...(await kv.getAll('alice@example.org'))]).toEqual([
          ['a', [1, 2]],
          ['b', { n: 2 }],
        ]);
        expect(await kv.owners()).toEqual(['alice@example.org', 'bob@example.org']);
        await kv.set('alice@example.org', 'a', undefined);
        expect(await kv.get('alice@example.org', 'a')).toBeUndefined();
        expect([...(await kv.getAll('alice@example.org')).keys()]).toEqual(['b']);
        // Deleting a key that does not exist is not an error.
        await kv.set('alice@example.org', 'never', undefined);
        await kv.deleteOwner('alice@example.org');
        expect((await kv.getAll('alice@example.org')).size).toBe(0);
        expect(await kv.owners()).toEqual(['bob@example.org']);
        expect(await kv.get('bob@example.org', 'x')).toBe('y');
      } finally {
        await s.close();
      }
    });

    it('reads see writes issued before them that have not committed yet (read-your-writes)', async () => {
      const s = await opened();
      try {
        const name = uniq('ryw');
        const kv = s.keyval(name);
        await kv.set('o@x', 'kept', 1);
        await kv.set('o@x', 'dropped', 2);
        // Not awaited: each read below is issued while these are still queued for commit.
        const writes = [kv.set('o@x', 'k', { v: 'new' }), kv.set('o@x', 'dropped', undefined), kv.set('o@x', 'b', 'bee')];
        const [k, dropped, all] = await Promise.all([kv.get('o@x', 'k'), kv.get('o@x', 'dropped'), kv.getAll('o@x')]);
        expect(k).toEqual({ v: 'new' });
        expect(dropped).toBeUndefined();
        expect([...all]).toEqual([
          ['b', 'bee'],
          ['k', { v: 'new' }],
          ['kept', 1],
        ]);
        // A value read back is a copy: changing it changes nothing stored.
        (k as { v: string }).v = 'changed';
        expect(await kv.get('o@x', 'k')).toEqual({ v: 'new' });
        await Promise.all(writes);
        // A deleteOwner, then a set of the same owner, both pending.
        const more = [kv.deleteOwner('o@x'), kv.set('o@x', 'after', true)];
        expect(await kv.get('o@x', 'kept')).toBeUndefined();
        expect(await kv.get('o@x', 'after')).toBe(true);
        expect([...(await kv.getAll('o@x'))]).toEqual([['after', true]]);
        await Promise.all(more);
        // Committed: the same answers from the database, also through another connection.
        expect([...(await kv.getAll('o@x'))]).toEqual([['after', true]]);
        const s2 = await opened();
        try {
          expect([...(await s2.keyval(name).getAll('o@x'))]).toEqual([['after', true]]);
        } finally {
          await s2.close();
        }
      } finally {
        await s.close();
      }
    });

    it('keeps owners and stores apart', async () => {
      const s = await opened();
      try {
        const name = uniq('iso');
        const a = s.keyval(name);
        const b = s.keyval(name + '-other');
        await Promise.all([a.set('o1', 'k', 1), a.set('o2', 'k', 2), b.set('o1', 'k', 3)]);
        expect(await a.get('o1', 'k')).toBe(1);
        expect(await a.get('o2', 'k')).toBe(2);
        expect(await b.get('o1', 'k')).toBe(3);
        expect(await b.get('o2', 'k')).toBeUndefined();
        expect(await b.owners()).toEqual(['o1']);
        await a.deleteOwner('o1');
        expect(await b.get('o1', 'k')).toBe(3);
        expect(await a.get('o2', 'k')).toBe(2);
      } finally {
        await s.close();
      }
    });

    it('round-trips JSON exactly: unicode, nesting, numbers, odd keys and owners', async () => {
      const s = await opened();
      try {
        const kv = s.keyval(uniq('json'));
        const value: JsonValue = {
          text: 'Grüße, 日本語, עברית, emoji 👩‍👩‍👧 e\u0301',
          quotes: `"'\\ \n\t%_*`,
          nul: 'a\u0000b',
          nested: { deep: [[[{ x: [null, true, false] }]]], empty: {}, none: [] },
          numbers: [0, -1, 1.5, -2.25e-10, 1e300, Number.MAX_SAFE_INTEGER],
          '': 'empty key',
        };
        const owner = 'ö@例え.jp';
        const key = `k %_"'\\ 😀`;
        await kv.set(owner, key, value);
        expect(await kv.get(owner, key)).toEqual(value);
        expect((await kv.getAll(owner)).get(key)).toEqual(value);
        for (const v of [null, true, false, 0, 'plain', [], {}] as JsonValue[]) {
          await kv.set(owner, 'scalar', v);
          expect(await kv.get(owner, 'scalar')).toEqual(v);
        }
        expect(await kv.owners()).toEqual([owner]);
      } finally {
        await s.close();
      }
    });

    it('refuses values JSON cannot give back, and bad names, without losing other writes', async () => {
      const s = await opened();
      try {
        const kv = s.keyval(uniq('bad'));
        await kv.set('o', 'k', 'kept');
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const bad: unknown[] = [NaN, Infinity, { a: undefined }, [1, () => 2], 10n, cyclic, new Date(0)];
        const results = await Promise.allSettled([...bad.map((v) => kv.set('o', 'k', v as JsonValue)), kv.set('o', 'good', 1)]);
        for (const r of results.slice(0, bad.length)) {
          expect(r.status).toBe('rejected');
          expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
          expect(((r as PromiseRejectedResult).reason as StorageError).code).toBe('invalid');
        }
        expect(results[bad.length]!.status).toBe('fulfilled');
        expect(await kv.get('o', 'k')).toBe('kept');
        expect(await kv.get('o', 'good')).toBe(1);
        expect((await rejection(kv.set('', 'k', 1))).code).toBe('invalid');
        expect((await rejection(kv.set('o', 'a\u0000b', 1))).code).toBe('invalid');
        expect((await rejection(kv.get('o', ''))).code).toBe('invalid');
      } finally {
        await s.close();
      }
    });

    it('a value damaged in the database rejects with corrupt; the others still read', async () => {
      const s = await opened();
      try {
        const name = uniq('corrupt');
        const kv = s.keyval(name);
        await kv.set('o', 'bad', { fine: true });
        await kv.set('o', 'good', 1);
        await backend().shared.exec(`UPDATE roost_keyval SET value = '{"fine": tr' WHERE store = '${name}' AND key = 'bad'`);
        const err = await rejection(kv.get('o', 'bad'));
        expect(err.code).toBe('corrupt');
        expect(err.message).toContain(`${name}/o/bad`);
        expect((await rejection(kv.getAll('o'))).code).toBe('corrupt');
        expect(await kv.get('o', 'good')).toBe(1);
        await kv.set('o', 'bad', 'repaired');
        expect(await kv.get('o', 'bad')).toBe('repaired');
      } finally {
        await s.close();
      }
    });

    it('group commit: many writes in one turn, one transaction, applied in order', async () => {
      const s = await opened();
      try {
        const kv = s.keyval(uniq('burst'));
        const before = s.stats!();
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 500; i++) writes.push(kv.set(`o${i % 10}`, `k${i}`, i));
        // The same key three times in one batch, then deleted and set again: the last write wins.
        writes.push(kv.set('o0', 'same', 1), kv.set('o0', 'same', 2), kv.set('o0', 'same', 3));
        writes.push(kv.set('o1', 'gone', 1), kv.set('o1', 'gone', undefined));
        writes.push(kv.set('o2', 'back', 1), kv.set('o2', 'back', undefined), kv.set('o2', 'back', 'again'));
        await Promise.all(writes);
        const after = s.stats!();
        expect(after.writes - before.writes).toBe(writes.length);
        expect(after.commits - before.commits).toBeLessThanOrEqual(2);
        expect(await kv.get('o0', 'same')).toBe(3);
        expect(await kv.get('o1', 'gone')).toBeUndefined();
        expect(await kv.get('o2', 'back')).toBe('again');
        expect((await kv.getAll('o3')).size).toBe(50);
      } finally {
        await s.close();
      }
    });
  });

  describe('archive', () => {
    const append = (ar: ArchiveStore, owner: string, items: (Omit<ArchiveItem, 'id'> & { id?: string })[]) =>
      Promise.all(items.map((i) => ar.append(owner, i)));

    it('append gives unique, stable, unguessable ids; items round-trip; given ids are kept', async () => {
      const s = await opened();
      try {
        const name = uniq('ar');
        const ar = s.archive(name);
        const ids = await append(ar, 'alice@x', [
          { when: 1000, with: 'bob@x', body: 'hello', xml: '<message><body>hello</body></message>' },
          { when: 1001, with: 'bob@x', xml: '<message/>' },
          { when: 1002, with: 'bob@x', body: '', xml: '<message><body/></message>' },
          { when: 1003, with: 'bob@x', body: 'given', xml: '<m/>', id: 'my-own-id' },
        ]);
        expect(new Set(ids).size).toBe(4);
        expect(ids[3]).toBe('my-own-id');
        for (const id of ids.slice(0, 3)) expect(id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
        const { items, complete } = await ar.query('alice@x');
        expect(complete).toBe(true);
        expect(items).toEqual([
          { id: ids[0], when: 1000, with: 'bob@x', body: 'hello', xml: '<message><body>hello</body></message>' },
          { id: ids[1], when: 1001, with: 'bob@x', xml: '<message/>' },
          { id: ids[2], when: 1002, with: 'bob@x', body: '', xml: '<message><body/></message>' },
          { id: 'my-own-id', when: 1003, with: 'bob@x', body: 'given', xml: '<m/>' },
        ]);
        // Stable: the same ids on every read, and from another connection.
        expect((await ar.query('alice@x')).items.map((i) => i.id)).toEqual(ids);
        const s2 = await opened();
        try {
          expect((await s2.archive(name).query('alice@x')).items.map((i) => i.id)).toEqual(ids);
        } finally {
          await s2.close();
        }
        // 1000 generated ids: all distinct.
        const many = await append(ar, 'carol@x', Array.from({ length: 1000 }, (_, i) => ({ when: i, with: 'd@x', xml: '<m/>' })));
        expect(new Set(many).size).toBe(1000);
      } finally {
        await s.close();
      }
    });

    it('a duplicate id rejects with conflict alone; the rest of the batch commits', async () => {
      const s = await opened();
      try {
        const ar = s.archive(uniq('dup'));
        const r = await Promise.allSettled([
          ar.append('o', { id: 'X', when: 1, with: 'w', xml: '<a/>' }),
          ar.append('o', { when: 2, with: 'w', xml: '<b/>' }),
          ar.append('o', { id: 'X', when: 3, with: 'w', xml: '<c/>' }),
          ar.append('other', { id: 'X', when: 4, with: 'w', xml: '<d/>' }),
          ar.append('o', { when: 1.5, with: 'w', xml: '<e/>' }),
          ar.append('o', { when: 5, with: '', xml: '<f/>' }),
        ]);
        expect(r.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected']);
        expect(((r[2] as PromiseRejectedResult).reason as StorageError).code).toBe('conflict');
        expect(((r[4] as PromiseRejectedResult).reason as StorageError).code).toBe('invalid');
        expect(((r[5] as PromiseRejectedResult).reason as StorageError).code).toBe('invalid');
        expect((await ar.query('o')).items.map((i) => i.xml)).toEqual(['<a/>', '<b/>']);
        expect((await ar.query('other')).items.map((i) => i.id)).toEqual(['X']);
        // The conflict persists across batches too.
        expect((await rejection(ar.append('o', { id: 'X', when: 9, with: 'w', xml: '<g/>' }))).code).toBe('conflict');
      } finally {
        await s.close();
      }
    });

    it('orders chronologically, ties in append order, late items in place; owners and stores apart', async () => {
      const s = await opened();
      try {
        const name = uniq('order');
        const ar = s.archive(name);
        await append(ar, 'o', [
          { when: 5000, with: 'w', xml: '1' },
          { when: 5000, with: 'w', xml: '2' },
          { when: 7000, with: 'w', xml: '3' },
        ]);
        await ar.append('o', { when: 6000, with: 'w', xml: 'late' });
        await ar.append('o', { when: 5000, with: 'w', xml: '4' });
        await ar.append('o2', { when: 1, with: 'w', xml: 'other owner' });
        await s.archive(name + '-b').append('o', { when: 1, with: 'w', xml: 'other store' });
        expect((await ar.query('o')).items.map((i) => i.xml)).toEqual(['1', '2', '4', 'late', '3']);
        expect((await ar.query('o2')).items.map((i) => i.xml)).toEqual(['other owner']);
        expect((await s.archive(name + '-b').query('o')).items.map((i) => i.xml)).toEqual(['other store']);
        expect(await ar.query('nobody')).toEqual({ items: [], complete: true });
      } finally {
        await s.close();
      }
    });

    describe('queries against a reference model', () => {
      const C = ['bob@x', 'carol@x', 'dave@x'];
      const bodies = ['Hello there', 'HELLO again', 'hellö wörld', 'Grüße aus KÖLN', 'köln calling', '100% sure_thing', 'quote "me"', 'back\\slash', '', undefined, 'ab', 'x', 'emoji 😀 here', 'nothing to see'];
      const build = async (s: Storage): Promise<{ ar: ArchiveStore; all: RefItem[] }> => {
        const ar = s.archive(uniq('ref'));
        const all: RefItem[] = [];
        const base = 1_700_000_000_000;
        for (let n = 0; n < 84; n++) {
          // Ties every few items, and every 9th item arrives late (older than the ones before).
          const when = n % 9 === 8 ? base + (n - 20) * 1000 + 1 : base + Math.floor(n / 3) * 3000 + (n % 3 === 1 ? 0 : (n % 3) * 1000);
          const body = bodies[n % bodies.length];
          const item: Omit<ArchiveItem, 'id'> = { when, with: C[n % 3]!, xml: `<message n="${n}"/>` };
          if (body !== undefined) item.body = body;
          all.push({ ...item, id: '', n });
        }
        // Appended in three turns (three batches) to cover ordering across commits.
        for (const chunk of [all.slice(0, 30), all.slice(30, 31), all.slice(31)]) {
          const ids = await Promise.all(chunk.map(({ id: _id, n: _n, ...i }) => ar.append('alice@x', i)));
          chunk.forEach((i, k) => (i.id = ids[k]!));
        }
        await ar.append('mallory@x', { when: base, with: 'bob@x', body: 'Hello there', xml: '<not-yours/>' });
        return { ar, all };
      };

      it('every filter, bound, limit and direction, and their combinations', async () => {
        const s = await opened();
        try {
          const { ar, all } = await build(s);
          const sorted = [...all].sort((a, b) => a.when - b.when || a.n - b.n);
          const t = (k: number) => sorted[k]!.when;
          const choices = {
            with: [undefined, 'carol@x'],
            start: [undefined, t(20)],
            end: [undefined, t(70)],
            text: [undefined, 'hello', 'KÖLN', 'ö', '%', 'e "m', '\\'],
            ids: [undefined, sorted.filter((_, k) => k % 4 === 0).map((i) => i.id).concat(['no-such-id'])],
            after: [undefined, sorted[10]!.id],
            before: [undefined, sorted[75]!.id],
            limit: [undefined, 0, 4],
            reverse: [false, true],
          } as const;
          let checked = 0;
          const keys = Object.keys(choices) as (keyof typeof choices)[];
          const combos: ArchiveQuery[] = [{}];
          for (const k of keys) {
            const next: ArchiveQuery[] = [];
            for (const q of combos) for (const v of choices[k] as readonly unknown[]) next.push(v === undefined ? q : { ...q, [k]: v });
            combos.splice(0, combos.length, ...next);
          }
          // All 2688 combinations.
          for (let k = 0; k < combos.length; k++) {
            const q = { ...combos[k]!, count: k % 2 === 0 };
            const want = reference(all, q);
            const got = await ar.query('alice@x', q);
            const label = JSON.stringify(q);
            expect(got.items, label).toEqual(want.page.map(strip));
            expect(got.complete, label).toBe(want.complete);
            if (q.count) expect(got.count, label).toBe(want.count);
            else expect(got.count, label).toBeUndefined();
            checked++;
          }
          expect(checked).toBe(2688);
          // count() takes the same filters.
          expect(await ar.count('alice@x')).toBe(all.length);
          expect(await ar.count('alice@x', { with: 'bob@x', start: t(10), end: t(50) })).toBe(reference(all, { with: 'bob@x', start: t(10), end: t(50) }).count);
          expect(await ar.count('alice@x', { text: 'HELLO' })).toBe(reference(all, { text: 'hello' }).count);
          expect(await ar.count('mallory@x')).toBe(1);
          expect(await ar.count('nobody@x')).toBe(0);
        } finally {
          await s.close();
        }
      }, HEAVY);

      it('pages forward with after and backward with before until complete', async () => {
        const s = await opened();
        try {
          const { ar, all } = await build(s);
          for (const filter of [{}, { with: 'bob@x' }, { text: 'ö' }, { start: all[5]!.when, end: all[60]!.when, text: 'e' }] as ArchiveQuery[]) {
            const want = reference(all, filter).page.map(strip);
            const forward: ArchiveItem[] = [];
            let after: string | undefined;
            for (let pages = 0; ; pages++) {
              expect(pages).toBeLessThan(50);
              const r = await ar.query('alice@x', { ...filter, limit: 7, ...(after ? { after } : {}) });
              forward.push(...r.items);
              if (r.complete) break;
              after = r.items[r.items.length - 1]!.id;
            }
            expect(forward).toEqual(want);
            const backward: ArchiveItem[] = [];
            let before: string | undefined;
            for (let pages = 0; ; pages++) {
              expect(pages).toBeLessThan(50);
              const r = await ar.query('alice@x', { ...filter, limit: 5, reverse: true, ...(before ? { before } : {}) });
              // Each page is oldest first; pages come newest first.
              backward.unshift(...r.items);
              if (r.complete) break;
              before = r.items[0]!.id;
            }
            expect(backward).toEqual(want);
          }
        } finally {
          await s.close();
        }
      }, HEAVY);

      it('an unknown after/before id is not-found; bad queries are invalid', async () => {
        const s = await opened();
        try {
          const { ar, all } = await build(s);
          expect((await rejection(ar.query('alice@x', { after: 'nope' }))).code).toBe('not-found');
          expect((await rejection(ar.query('alice@x', { before: 'nope' }))).code).toBe('not-found');
          // Another owner's id is not in this archive.
          const theirs = (await ar.query('mallory@x')).items[0]!.id;
          expect((await rejection(ar.query('alice@x', { after: theirs }))).code).toBe('not-found');
          for (const q of [{ limit: -1 }, { limit: 1.5 }, { start: NaN }, { end: Infinity }, { ids: 'x' }, { reverse: 'yes' }, { with: '' }] as unknown as ArchiveQuery[])
            expect((await rejection(ar.query('alice@x', q))).code, JSON.stringify(q)).toBe('invalid');
          expect((await ar.query('alice@x', { ids: [] })).items).toEqual([]);
          expect((await ar.query('alice@x', { text: '' })).items.length).toBe(all.length);
        } finally {
          await s.close();
        }
      });
    });

    it('caps pages at maxPage and says so with complete=false', async () => {
      const s = await opened({ maxPage: 10 });
      try {
        const ar = s.archive(uniq('cap'));
        await append(ar, 'o', Array.from({ length: 25 }, (_, i) => ({ when: i, with: 'w', xml: `${i}` })));
        const r = await ar.query('o');
        expect(r.items.map((i) => i.xml)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}`));
        expect(r.complete).toBe(false);
        expect((await ar.query('o', { limit: 1000, reverse: true })).items.map((i) => i.xml)[0]).toBe('15');
        expect((await ar.query('o', { limit: 3 })).items.length).toBe(3);
      } finally {
        await s.close();
      }
    });

    it('delete by ids, delete everything of an owner, purgeBefore across owners', async () => {
      const s = await opened();
      try {
        const name = uniq('del');
        const ar = s.archive(name);
        const other = s.archive(name + '-other');
        const a = await append(ar, 'a', Array.from({ length: 10 }, (_, i) => ({ when: 1000 * i, with: 'w', body: `m${i}`, xml: `<a${i}/>` })));
        await append(ar, 'b', Array.from({ length: 10 }, (_, i) => ({ when: 1000 * i + 500, with: 'w', body: `m${i}`, xml: `<b${i}/>` })));
        await append(other, 'a', Array.from({ length: 10 }, (_, i) => ({ when: 1000 * i, with: 'w', xml: `<o${i}/>` })));
        expect(await ar.delete('a', [a[1]!, a[3]!, 'unknown'])).toBe(2);
        expect(await ar.delete('a', [])).toBe(0);
        // b's items are not a's to delete.
        const b0 = (await ar.query('b', { limit: 1 })).items[0]!.id;
        expect(await ar.delete('a', [b0])).toBe(0);
        expect((await ar.query('a')).items.map((i) => i.xml)).toEqual(['<a0/>', '<a2/>', '<a4/>', '<a5/>', '<a6/>', '<a7/>', '<a8/>', '<a9/>']);
        // The deleted items are gone from text search too.
        expect((await ar.query('a', { text: 'm1' })).items).toEqual([]);
        // Strictly older than the cutoff: a's 5000 item stays, b's 4500 goes.
        expect(await ar.purgeBefore(5000)).toBe(3 + 5);
        expect((await ar.query('a')).items.map((i) => i.when)).toEqual([5000, 6000, 7000, 8000, 9000]);
        expect((await ar.query('b')).items.map((i) => i.when)).toEqual([5500, 6500, 7500, 8500, 9500]);
        expect(await other.count('a')).toBe(10);
        expect(await ar.purgeBefore(5000)).toBe(0);
        expect(await ar.delete('a')).toBe(5);
        expect(await ar.query('a')).toEqual({ items: [], complete: true });
        expect(await ar.count('b')).toBe(5);
        expect(await other.count('a')).toBe(10);
      } finally {
        await s.close();
      }
    });

    it('deletes and purges more items than one chunk', async () => {
      const s = await opened();
      try {
        const ar = s.archive(uniq('bigdel'));
        for (let k = 0; k < 3; k++) await append(ar, 'o', Array.from({ length: 4000 }, (_, i) => ({ when: k * 4000 + i, with: 'w', body: 'x y z', xml: '<m/>' })));
        await append(ar, 'p', Array.from({ length: 6000 }, (_, i) => ({ when: i, with: 'w', xml: '<m/>' })));
        expect(await ar.purgeBefore(5500)).toBe(5500 + 5500);
        expect(await ar.delete('o')).toBe(12000 - 5500);
        expect(await ar.count('o')).toBe(0);
        expect(await ar.count('p')).toBe(500);
      } finally {
        await s.close();
      }
    }, HEAVY);

    it('a turn with more writes than one batch holds commits in several, in order', async () => {
      const s = await opened();
      try {
        const ar = s.archive(uniq('huge'));
        const before = s.stats!();
        // Two and a half batches' worth in one turn.
        const n = Math.floor(before.maxBatch * 2.4);
        const ids = await Promise.all(Array.from({ length: n }, (_, i) => ar.append('o', { when: 7, with: 'w', xml: `<m n="${i}"/>` })));
        const commits = s.stats!().commits - before.commits;
        expect(commits).toBeGreaterThanOrEqual(3);
        expect(commits).toBeLessThanOrEqual(4);
        const got: string[] = [];
        let after: string | undefined;
        for (;;) {
          const r = await ar.query('o', { limit: 1000, ...(after ? { after } : {}) });
          got.push(...r.items.map((i) => i.id));
          if (r.complete) break;
          after = got[got.length - 1];
        }
        expect(got).toEqual(ids);
      } finally {
        await s.close();
      }
    }, HEAVY);

    it('many appends in one turn: one commit, all durable, in call order', async () => {
      const s = await opened();
      try {
        const name = uniq('burst');
        const ar = s.archive(name);
        const before = s.stats!();
        const ids = await Promise.all(Array.from({ length: 2000 }, (_, i) => ar.append('o', { when: 42, with: `w${i % 5}`, body: `n${i}`, xml: `<m n="${i}"/>` })));
        const after = s.stats!();
        expect(after.writes - before.writes).toBe(2000);
        expect(after.commits - before.commits).toBeLessThanOrEqual(2);
        // Read through a second connection: committed, not just cached.
        const s2 = await opened();
        try {
          const got = await s2.archive(name).query('o', { limit: 1000 });
          const rest = await s2.archive(name).query('o', { limit: 1000, after: got.items[999]!.id });
          expect([...got.items, ...rest.items].map((i) => i.id)).toEqual(ids);
          expect(rest.complete).toBe(true);
        } finally {
          await s2.close();
        }
      } finally {
        await s.close();
      }
    }, HEAVY);
  });

  describe('lifecycle', () => {
    it('reopen persists; close flushes pending writes first; a closed storage rejects', async () => {
      const name = uniq('life');
      const s = await opened();
      await s.keyval(name).set('o', 'k', { v: 1 });
      // Not awaited: close() must commit them before it returns.
      const pending = Promise.all([
        s.keyval(name).set('o', 'late', 'yes'),
        ...Array.from({ length: 50 }, (_, i) => s.archive(name).append('o', { when: i, with: 'w', xml: `<m${i}/>` })),
      ]);
      await s.close();
      await pending;
      expect((await rejection(s.keyval(name).get('o', 'k'))).code).toBe('closed');
      expect((await rejection(s.archive(name).append('o', { when: 1, with: 'w', xml: '' }))).code).toBe('closed');
      const s2 = await opened();
      try {
        expect(await s2.keyval(name).get('o', 'k')).toEqual({ v: 1 });
        expect(await s2.keyval(name).get('o', 'late')).toBe('yes');
        expect(await s2.archive(name).count('o')).toBe(50);
      } finally {
        await s2.close();
      }
      // The same object opens again after close.
      await s.open();
      try {
        expect(await s.keyval(name).get('o', 'late')).toBe('yes');
      } finally {
        await s.close();
      }
    });

    it('migrations: applied once, idempotent on reopen, concurrent openers, a failed one rolls back, newer schema refused', async () => {
      const b = backend();
      const db = await b.fresh();
      const versions = async (): Promise<number[]> => (await db.exec('SELECT version FROM roost_schema ORDER BY version')).map((r) => Number(r.version));
      const released = b.migrations.map((m) => m.version);
      // Two storages opening an empty database at the same time.
      const [x, y] = [db.make(), db.make()];
      await Promise.all([x.open(), y.open()]);
      await x.keyval('k').set('o', 'k', 1);
      expect(await y.keyval('k').get('o', 'k')).toBe(1);
      await Promise.all([x.close(), y.close()]);
      expect(await versions()).toEqual(released);
      const again = await opened(undefined, db);
      await again.close();
      expect(await versions()).toEqual(released);

      const top = released[released.length - 1]!;
      // A migration that fails half-way leaves nothing behind and the version unchanged.
      const broken: Migration = { version: top + 1, name: 'broken', sql: 'CREATE TABLE roost_half (x integer); CREATE TABLE roost_half (x integer);' };
      const err = await rejection(db.make({ migrations: [...b.migrations, broken] }).open());
      expect(err.code).toBe('schema');
      expect(err.message).toMatch(/migration .*broken/);
      expect(await versions()).toEqual(released);
      expect(await db.exec('CREATE TABLE roost_half (x integer)')).toBeDefined();
      await db.exec('DROP TABLE roost_half');

      // A later release adds a migration: applied once, then a no-op.
      const extra: Migration = { version: top + 1, name: 'extra table', sql: 'CREATE TABLE roost_extra (x integer)' };
      for (let i = 0; i < 2; i++) {
        const s = await opened({ migrations: [...b.migrations, extra] }, db);
        await s.close();
      }
      expect(await versions()).toEqual([...released, top + 1]);

      // This build does not know that version: it refuses to start and changes nothing.
      const refused = await rejection(db.make().open());
      expect(refused.code).toBe('schema');
      expect(refused.message).toMatch(new RegExp(`schema version ${top + 1}.*only knows versions up to ${top}.*newer Roost`));
      expect(await versions()).toEqual([...released, top + 1]);
    });
  });
}
