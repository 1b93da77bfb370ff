// SASL cost benchmark: server-side work per SCRAM login with stored keys (SHA-1/256/512, real
// SQLite storage), the same for unknown users (decoy path) and wrong passwords, PLAIN verify
// (PBKDF2 on the thread pool) and account creation. Prints figures; asserts nothing.
//
//   npm run build && node dist/bench/scram.js [--logins 5000] [--plain 200]
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAccounts, type ScramHash } from '../server/src/core/accounts.js';
import { LoginLimiter } from '../server/src/core/ratelimit.js';
import { saslMechanisms, type SaslContext } from '../server/src/core/sasl/index.js';
import { createStorage } from '../server/src/storage/index.js';

const { values } = parseArgs({ options: { logins: { type: 'string', default: '5000' }, plain: { type: 'string', default: '200' } } });
const LOGINS = Number(values.logins);
const PLAIN = Number(values.plain);
const HOST = 'bench.localhost';
const USERS = 50;
const node: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' };

const dir = mkdtempSync(join(tmpdir(), 'roost-bench-scram-'));
const storage = createStorage({ type: 'sqlite', path: join(dir, 'bench.sqlite') });
await storage.open();
const accounts = createAccounts(storage, HOST);

let t0 = performance.now();
await Promise.all(Array.from({ length: USERS }, (_, i) => accounts.create(`u${i}`, `password-${i}`)));
const createMs = (performance.now() - t0) / USERS;

// A limiter that never trips, so the wrong-password runs measure the mechanism, not the limiter.
const ctx: SaslContext = {
  host: HOST,
  address: '127.0.0.1',
  secure: true,
  accounts,
  limiter: new LoginLimiter({ perAddress: 1e9, perAccount: 1e9 }),
  channelBinding: () => undefined,
  channelBindingTypes: () => [],
};

// Client side, precomputed per (user, salt) so the loop times the server only.
const clientKeys = new Map<string, { clientKey: Buffer; storedKey: Buffer }>();
function clientKeyFor(hash: ScramHash, password: string, salt: string, iterations: number) {
  const k = `${hash}\0${password}\0${salt}`;
  let v = clientKeys.get(k);
  if (!v) {
    const h = node[hash];
    const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations, createHash(h).digest().length, h);
    const clientKey = createHmac(h, salted).update('Client Key').digest();
    v = { clientKey, storedKey: createHash(h).update(clientKey).digest() };
    clientKeys.set(k, v);
  }
  return v;
}

async function scramRun(hash: ScramHash, kind: 'ok' | 'wrong' | 'unknown'): Promise<{ usPerLogin: number; ok: number }> {
  const mech = saslMechanisms().find((m) => m.name === `SCRAM-${hash}`)!;
  let ok = 0;
  let serverUs = 0;
  for (let n = 0; n < LOGINS; n++) {
    const i = n % USERS;
    const user = kind === 'unknown' ? `ghost${i}` : `u${i}`;
    const password = kind === 'ok' ? `password-${i}` : 'wrong';
    const cnonce = randomBytes(12).toString('base64');
    const bare = `n=${user},r=${cnonce}`;
    let t = performance.now();
    const ex = mech.start(ctx);
    const s1 = await ex.step(Buffer.from(`n,,${bare}`));
    serverUs += performance.now() - t;
    if (s1.kind !== 'challenge') throw new Error('unexpected first step');
    const serverFirst = s1.data.toString();
    const a = Object.fromEntries(serverFirst.split(',').map((x) => [x[0], x.slice(2)]));
    const { clientKey, storedKey } = clientKeyFor(hash, password, a.s!, Number(a.i));
    const withoutProof = `c=biws,r=${a.r}`;
    const sig = createHmac(node[hash], storedKey).update(`${bare},${serverFirst},${withoutProof}`).digest();
    const proof = Buffer.from(clientKey.map((x, j) => x ^ sig[j]!)).toString('base64');
    t = performance.now();
    const s2 = await ex.step(Buffer.from(`${withoutProof},p=${proof}`));
    serverUs += performance.now() - t;
    if (s2.kind === 'success') ok++;
  }
  return { usPerLogin: (serverUs * 1000) / LOGINS, ok };
}

console.log(`SASL benchmark (${LOGINS} SCRAM logins per row, ${USERS} accounts, SQLite in a temp dir, Node ${process.version})`);
console.log(`account creation (3 x PBKDF2-4096, concurrent): ${createMs.toFixed(2)} ms per account (wall, amortized)`);
for (const hash of ['SHA-1', 'SHA-256', 'SHA-512'] as const) {
  await scramRun(hash, 'ok'); // warm-up: JIT, client key cache, decoy secret
  await scramRun(hash, 'unknown');
  const good = await scramRun(hash, 'ok');
  const wrong = await scramRun(hash, 'wrong');
  const unknown = await scramRun(hash, 'unknown');
  if (good.ok !== LOGINS || wrong.ok !== 0 || unknown.ok !== 0) throw new Error('benchmark logins did not behave');
  console.log(
    `SCRAM-${hash.padEnd(7)} server work per login: success ${good.usPerLogin.toFixed(1)} us, ` +
      `wrong password ${wrong.usPerLogin.toFixed(1)} us, unknown user ${unknown.usPerLogin.toFixed(1)} us`,
  );
}

const plain = saslMechanisms().find((m) => m.name === 'PLAIN')!;
for (const concurrency of [1, 4]) {
  t0 = performance.now();
  let ok = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let n = w; n < PLAIN; n += concurrency) {
        const i = n % USERS;
        const s = await plain.start(ctx).step(Buffer.from(`\0u${i}\0password-${i}`));
        if (s.kind === 'success') ok++;
      }
    }),
  );
  const ms = performance.now() - t0;
  if (ok !== PLAIN) throw new Error('PLAIN logins failed');
  console.log(`PLAIN (PBKDF2-SHA-256-4096 off the event loop), concurrency ${concurrency}: ${(ms / PLAIN).toFixed(2)} ms per login wall, ${((PLAIN / ms) * 1000).toFixed(0)} logins/s`);
}

await storage.close();
rmSync(dir, { recursive: true, force: true });
