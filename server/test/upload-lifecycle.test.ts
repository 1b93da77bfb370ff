// XEP-0363 uploads over their life against a real server: PUT refusals (token, size, expiry,
// twice, at the same time), an aborted upload, a full disk (a real 1 MiB tmpfs mounted over the
// uploads folder), retention and unused-slot purge by the periodic task, account deletion, and
// `roost check clients` (the real CLI) showing HTTP File Upload green.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { ensureBuilt, runRoost } from './helpers/cli.js';
import { startTestServer } from './helpers/server.js';
import { httpsRequest, putFile, requestSlot, type Slot } from './helpers/upload.js';
import { FILES_STORE, USERS_STORE } from '../src/modules/upload/store.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let service: string;
let uploads: string;

beforeAll(async () => {
  ensureBuilt();
  srv = await startTestServer({
    listeners: { https: { enabled: true } },
    upload: { retentionDays: 1 },
    modules: { upload: { slotTimeout: 2, idleTimeout: 1, purgeInterval: 1 }, register: { allowRemove: true } },
  });
  service = `upload.${srv.host}`;
  uploads = join(srv.dataDir, 'uploads');
  for (const u of ['alice', 'bob', 'leaving']) await srv.addUser(u, 'pw');
}, 120_000);

afterAll(async () => {
  await srv?.stop();
});

const until = async (what: string, ok: () => Promise<boolean>, ms = 8000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const files = () => readdir(uploads);
const idOf = (slot: Slot) => new URL(slot.put).pathname.split('/')[2]!;

/** A PUT that sends `sent` of `declared` bytes, then drops the connection. */
function abortedPut(slot: Slot, declared: number, sent: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const req = https.request(slot.put, {
      method: 'PUT',
      headers: { ...slot.headers, 'content-length': String(declared) },
      ca: srv.certPem,
      agent: false,
      lookup: (_h, o, cb) => ((o as { all?: boolean }).all ? (cb as any)(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)),
    });
    req.on('error', () => resolve());
    req.write(sent, () => setTimeout(() => req.destroy(), 100));
    req.on('close', () => resolve());
  });
}

describe('PUT refusals (§6)', () => {
  it('wrong or missing token 401, wrong size 413/400, no length 411, expired 410, twice 409', async () => {
    const c = await srv.client('alice', 'pw');
    const data = randomBytes(10_000);
    const slot = await requestSlot(c, service, 'a.bin', data.length);
    const noAuth = await putFile({ ...slot, headers: {} }, srv.certPem, data);
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers['www-authenticate']).toBe('Bearer');
    const other = await requestSlot(c, service, 'b.bin', data.length);
    expect((await putFile({ ...slot, headers: other.headers }, srv.certPem, data)).status).toBe(401);
    const forged = slot.headers.Authorization!.slice(0, -2) + (slot.headers.Authorization!.endsWith('AA') ? 'BB' : 'AA');
    expect((await putFile(slot, srv.certPem, data, undefined, { authorization: forged })).status).toBe(401);
    expect((await putFile(slot, srv.certPem, Buffer.concat([data, Buffer.from('x')]))).status).toBe(413);
    expect((await putFile(slot, srv.certPem, data.subarray(1))).status).toBe(400);
    const chunked = await httpsRequest(slot.put, srv.certPem, {
      method: 'PUT',
      headers: { ...slot.headers, 'transfer-encoding': 'chunked' },
      body: data,
    });
    expect(chunked.status).toBe(411);
    // None of that used the slot up.
    expect((await putFile(slot, srv.certPem, data)).status).toBe(201);
    expect((await putFile(slot, srv.certPem, data)).status).toBe(409);
    expect((await httpsRequest(slot.get, srv.certPem)).body.equals(data)).toBe(true);

    // modules.upload.slotTimeout is 2 s here.
    const late = await requestSlot(c, service, 'late.bin', data.length);
    await new Promise((r) => setTimeout(r, 2200));
    expect((await putFile(late, srv.certPem, data)).status).toBe(410);
    // Another method on an upload URL.
    expect((await httpsRequest(slot.put, srv.certPem, { method: 'DELETE', headers: slot.headers })).status).toBe(405);
    // An unknown id, and a path that is not an upload URL.
    expect((await httpsRequest(slot.get.replace(idOf(slot), 'A'.repeat(22)), srv.certPem)).status).toBe(404);
    expect((await httpsRequest(slot.get.replace(idOf(slot), '..%2F..%2Ftls'), srv.certPem)).status).toBe(404);
  });

  it('a second PUT while the first is still arriving is refused (409)', async () => {
    const c = await srv.client('alice', 'pw');
    const data = randomBytes(64 * 1024);
    const slot = await requestSlot(c, service, 'race.bin', data.length);
    let first: Promise<number> | undefined;
    const started = new Promise<void>((ready) => {
      first = httpsRequest(slot.put, srv.certPem, {
        method: 'PUT',
        headers: { ...slot.headers, 'content-length': String(data.length) },
        onRequest: (req) => {
          req.write(data.subarray(0, 1000), () => setTimeout(ready, 150));
          setTimeout(() => req.end(data.subarray(1000)), 400);
        },
      }).then((r) => r.status);
    });
    await started;
    expect((await putFile(slot, srv.certPem, data)).status).toBe(409);
    expect(await first!).toBe(201);
    expect((await httpsRequest(slot.get, srv.certPem)).body.equals(data)).toBe(true);
  });
});

describe('nothing half-visible', () => {
  it('an aborted upload leaves no file; the slot can still be filled', async () => {
    const c = await srv.client('alice', 'pw');
    const data = randomBytes(300_000);
    const slot = await requestSlot(c, service, 'abort.bin', data.length);
    const before = await files();
    await abortedPut(slot, data.length, data.subarray(0, 100_000));
    await until('the partial file is gone', async () => (await files()).length === before.length);
    expect(await files()).toEqual(before);
    expect((await httpsRequest(slot.get, srv.certPem)).status).toBe(404);
    expect((await putFile(slot, srv.certPem, data)).status).toBe(201);
    expect((await httpsRequest(slot.get, srv.certPem)).body.equals(data)).toBe(true);
  });

  it('an upload that stalls past modules.upload.idleTimeout is dropped and deleted', async () => {
    const c = await srv.client('alice', 'pw');
    const slot = await requestSlot(c, service, 'stall.bin', 5000);
    const before = await files();
    const status = await httpsRequest(slot.put, srv.certPem, {
      method: 'PUT',
      headers: { ...slot.headers, 'content-length': '5000' },
      onRequest: (req) => req.write(Buffer.alloc(100)),
    }).then((r) => r.status);
    expect(status).toBe(408);
    await until('the partial file is gone', async () => (await files()).length === before.length);
  });

  it('temporary files left by a crash are removed; one being written is not', async () => {
    const dead = join(uploads, '.part-' + 'D'.repeat(22) + '-000000000000');
    const recent = join(uploads, '.part-' + 'R'.repeat(22) + '-000000000000');
    await writeFile(dead, 'half a file');
    await writeFile(recent, 'still arriving?');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(dead, hourAgo, hourAgo);
    // The periodic task (purgeInterval 1 s) removes what nothing has written to for longer than
    // idleTimeout plus a minute; the recent one could still be another process's upload.
    await until('the dead part is gone', async () => !(await files()).includes(basename(dead)));
    expect(await files()).toContain(basename(recent));
    await rm(recent);
  });

  it('a full disk answers 507 and deletes the partial file', async () => {
    // A real small file system over the uploads folder (we are root in tests and CI).
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', uploads], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(`this test mounts a 1 MiB tmpfs and needs root (mount -t tmpfs): ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
    }
    try {
      const c = await srv.client('bob', 'pw');
      const data = randomBytes(2 * 1024 * 1024);
      const slot = await requestSlot(c, service, 'big.bin', data.length);
      const r = await putFile(slot, srv.certPem, data);
      expect(r.status).toBe(507);
      await until('the partial file is gone', async () => (await files()).length === 0);
      expect((await httpsRequest(slot.get, srv.certPem)).status).toBe(404);
      // What fits still works.
      const small = randomBytes(1000);
      const ok = await requestSlot(c, service, 'small.bin', small.length);
      expect((await putFile(ok, srv.certPem, small)).status).toBe(201);
    } finally {
      execFileSync('umount', [uploads]);
    }
  });
});

describe('retention and account deletion', () => {
  it('the periodic task removes files older than retentionDays and unused expired slots', async () => {
    const c = await srv.client('alice', 'pw');
    const data = randomBytes(5000);
    const old = await requestSlot(c, service, 'old.txt', data.length, 'text/plain');
    const fresh = await requestSlot(c, service, 'fresh.txt', data.length, 'text/plain');
    for (const s of [old, fresh]) expect((await putFile(s, srv.certPem, data, 'text/plain')).status).toBe(201);
    const unused = await requestSlot(c, service, 'never.txt', data.length);
    const store = srv.server.storage.keyval(FILES_STORE);
    // Back-date one upload by two days (retentionDays is 1 here).
    const rec = (await store.get<any>(service, idOf(old)))!;
    await store.set(service, idOf(old), { ...rec, created: rec.created - 2 * 86_400_000, uploaded: rec.uploaded - 2 * 86_400_000 });
    // modules.upload.purgeInterval is 1 s, slotTimeout 2 s.
    // The purge forgets the record first and deletes the file after it, so wait for both.
    await until('the old file is gone', async () => (await httpsRequest(old.get, srv.certPem)).status === 404 && !(await files()).includes(idOf(old)));
    expect(await store.get(service, idOf(old))).toBeUndefined();
    expect(await srv.server.storage.keyval(USERS_STORE).get(`alice@${srv.host}`, idOf(old))).toBeUndefined();
    await until('the unused slot is gone', async () => (await store.get(service, idOf(unused))) === undefined);
    const got = await httpsRequest(fresh.get, srv.certPem);
    expect(got.status).toBe(200);
    expect(got.body.equals(data)).toBe(true);
    // The fresh file's cache lifetime ends with its retention (about a day).
    const maxAge = Number(/max-age=(\d+)/.exec(got.headers['cache-control'] as string)![1]);
    expect(maxAge).toBeGreaterThan(86_000);
    expect(maxAge).toBeLessThanOrEqual(86_400);
  });

  it("removing an account (in-band) removes its files, and nobody else's", async () => {
    const c = await srv.client('leaving', 'pw');
    const data = randomBytes(4000);
    const mine = [await requestSlot(c, service, 'one.jpg', data.length, 'image/jpeg'), await requestSlot(c, service, 'two.pdf', data.length, 'application/pdf')];
    for (const s of mine) expect((await putFile(s, srv.certPem, data)).status).toBe(201);
    const a = await srv.client('alice', 'pw');
    const theirs = await requestSlot(a, service, 'keep.txt', data.length);
    expect((await putFile(theirs, srv.certPem, data)).status).toBe(201);

    await c.iqCaller.set(xml('query', { xmlns: 'jabber:iq:register' }, xml('remove')));
    await until('the files are gone', async () => {
      const names = await files();
      return mine.every((s) => !names.includes(idOf(s)));
    });
    for (const s of mine) expect((await httpsRequest(s.get, srv.certPem)).status).toBe(404);
    expect(await srv.server.storage.keyval(USERS_STORE).getAll(`leaving@${srv.host}`)).toEqual(new Map());
    expect((await httpsRequest(theirs.get, srv.certPem)).status).toBe(200);
  });
});

describe('roost check clients', () => {
  it('shows XEP-0363 HTTP File Upload green for Conversations, Monal and Gajim', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roost-upload-check-'));
    try {
      const configFile = join(dir, 'roost.yaml');
      await writeFile(configFile, [`hosts: [${srv.host}]`, `dataDir: ${srv.dataDir}`, 'listeners:', `  c2s: { address: 127.0.0.1, port: ${srv.port} }`, ''].join('\n'));
      const r = await runRoost(['check', 'clients', '--config', configFile, '--user', 'alice', '--password', 'pw', '--json'], { cwd: dir, timeoutMs: 60_000 });
      const out = JSON.parse(r.stdout);
      for (const c of out.clients) {
        const item = c.items.find((i: any) => i.name === 'XEP-0363 HTTP File Upload');
        expect(item, c.client).toBeTruthy();
        expect(item.ok, c.client).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
