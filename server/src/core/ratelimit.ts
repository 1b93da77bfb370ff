// Rate limits: generic building blocks (sliding-window counters, token buckets, concurrency
// counters, all keyed and memory-bounded) and the failed-login limiter SASL uses.
//
// Every table is bounded: entries expire once they no longer affect a decision, and a table
// at its cap drops its least recently used entry. Under a flood from more distinct keys than
// the cap, limits therefore become forgetful instead of the process running out of memory.
import { isIPv4, isIPv6 } from 'node:net';
import type { LimitsConfig } from '../config/types.js';

export type Clock = () => number;

export interface RateDecision {
  allowed: boolean;
  /** Seconds to wait before the next attempt can be allowed (0 when allowed). */
  retryAfter: number;
}

const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfter: 0 }) as RateDecision;

interface Window {
  start: number;
  prev: number;
  cur: number;
}

export interface SlidingWindowOptions {
  /** Events allowed per window. */
  limit: number;
  windowMs: number;
  /** Largest number of keys kept (default 100,000). */
  maxKeys?: number;
  now?: Clock;
}

/**
 * "At most `limit` events per `windowMs`" per key, with the two-bucket sliding-window
 * estimate: count = previous window's count weighted by how much of it still overlaps the
 * last `windowMs`, plus the current window's count. O(1) memory per key whatever the limit,
 * so one class serves 10 failed logins a minute and 200 stanzas a second alike.
 */
export class SlidingWindowLimiter {
  readonly limit: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: Clock;
  // Map iteration order is least recently touched first (touch = delete + set), which lets
  // the sweep stop at the first live entry and eviction take the oldest.
  private readonly table = new Map<string, Window>();

  constructor(opts: SlidingWindowOptions) {
    if (!(opts.limit >= 0) || !(opts.windowMs > 0)) throw new RangeError('SlidingWindowLimiter needs limit >= 0 and windowMs > 0');
    this.limit = opts.limit;
    this.windowMs = opts.windowMs;
    this.maxKeys = Math.max(1, opts.maxKeys ?? 100_000);
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.table.size;
  }

  /** Estimated events in the last window. */
  count(key: string): number {
    const w = this.table.get(key);
    if (!w) return 0;
    const t = this.now();
    this.roll(w, t);
    return this.estimate(w, t);
  }

  check(key: string): RateDecision {
    const w = this.table.get(key);
    if (!w) return this.limit > 0 ? ALLOWED : { allowed: false, retryAfter: Math.ceil(this.windowMs / 1000) };
    const t = this.now();
    this.roll(w, t);
    if (this.estimate(w, t) < this.limit) return ALLOWED;
    return { allowed: false, retryAfter: Math.max(1, Math.ceil(this.waitMs(w, t) / 1000)) };
  }

  /** Records `n` events. */
  hit(key: string, n = 1): void {
    const t = this.now();
    let w = this.table.get(key);
    if (w) {
      this.table.delete(key);
      this.roll(w, t);
    } else {
      this.sweep(t);
      if (this.table.size >= this.maxKeys) this.table.delete(this.table.keys().next().value as string);
      w = { start: this.windowStart(t), prev: 0, cur: 0 };
    }
    w.cur += n;
    this.table.set(key, w);
  }

  /** check(), and when allowed, hit(): "may this happen? then it did". */
  attempt(key: string, n = 1): RateDecision {
    const d = this.check(key);
    if (d.allowed) this.hit(key, n);
    return d;
  }

  /** Takes back up to `n` recorded events (newest first). */
  forget(key: string, n: number): void {
    const w = this.table.get(key);
    if (!w) return;
    this.roll(w, this.now());
    const fromCur = Math.min(w.cur, n);
    w.cur -= fromCur;
    w.prev = Math.max(0, w.prev - (n - fromCur));
    if (w.cur === 0 && w.prev === 0) this.table.delete(key);
  }

  reset(key: string): void {
    this.table.delete(key);
  }

  private windowStart(t: number): number {
    return Math.floor(t / this.windowMs) * this.windowMs;
  }

  private roll(w: Window, t: number): void {
    const start = this.windowStart(t);
    if (start === w.start) return;
    w.prev = start - w.start === this.windowMs ? w.cur : 0;
    w.cur = 0;
    w.start = start;
  }

  private estimate(w: Window, t: number): number {
    const elapsed = (t - w.start) / this.windowMs;
    return w.prev * (1 - elapsed) + w.cur;
  }

  /** Milliseconds until estimate() drops below the limit with no new events. */
  private waitMs(w: Window, t: number): number {
    const W = this.windowMs;
    const e = t - w.start;
    if (this.limit <= 0) return W;
    if (w.cur >= this.limit) {
      // Not before this window ends; then the current count becomes the decaying previous one.
      return W - e + W * (1 - this.limit / w.cur) + 1;
    }
    return Math.max(0, W * (1 - (this.limit - w.cur) / w.prev) - e) + 1;
  }

  private sweep(t: number): void {
    // An entry whose window started two windows ago counts zero: drop it. Entries are in touch
    // order and a touch moves `start` forward, so the first live entry ends the sweep.
    const horizon = this.windowStart(t) - this.windowMs;
    for (const [k, w] of this.table) {
      if (w.start >= horizon) break;
      this.table.delete(k);
    }
  }
}

export interface TokenBucketOptions {
  /** Burst size: tokens available at most. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
  now?: Clock;
}

/** One token bucket (e.g. per session: stanzas per second with a burst). */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly now: Clock;
  private readonly opts: TokenBucketOptions;

  /** `new TokenBucket({ capacity, refillPerSecond })`, or `new TokenBucket(ratePerSecond, burst = rate)`. */
  constructor(opts: TokenBucketOptions);
  constructor(refillPerSecond: number, capacity?: number);
  constructor(a: TokenBucketOptions | number, capacity?: number) {
    const opts = typeof a === 'number' ? { refillPerSecond: a, capacity: capacity ?? a } : a;
    if (!(opts.capacity > 0) || !(opts.refillPerSecond > 0)) throw new RangeError('TokenBucket needs capacity > 0 and refillPerSecond > 0');
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.tokens = opts.capacity;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.last) {
      this.tokens = Math.min(this.opts.capacity, this.tokens + ((t - this.last) / 1000) * this.opts.refillPerSecond);
    }
    this.last = t;
  }

  /** Takes `n` tokens when there are enough; false (nothing taken) otherwise. */
  take(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until `n` tokens are available (0 when they are now). */
  waitMs(n = 1): number {
    this.refill();
    if (this.tokens >= n) return 0;
    return Math.ceil(((n - this.tokens) / this.opts.refillPerSecond) * 1000);
  }

  /** waitMs(1): when the next single token will be there. */
  msUntilNext(): number {
    return this.waitMs(1);
  }

  available(): number {
    this.refill();
    return this.tokens;
  }

  /** True when the bucket is full again, i.e. forgetting it changes nothing. */
  isFull(): boolean {
    this.refill();
    return this.tokens >= this.opts.capacity;
  }
}

/** Token buckets by key (e.g. per address), bounded: full buckets are dropped, LRU at the cap. */
export class KeyedTokenBuckets {
  private readonly table = new Map<string, TokenBucket>();
  private readonly maxKeys: number;
  private ops = 0;

  constructor(private readonly opts: TokenBucketOptions & { maxKeys?: number }) {
    this.maxKeys = Math.max(1, opts.maxKeys ?? 100_000);
  }

  get size(): number {
    return this.table.size;
  }

  take(key: string, n = 1): boolean {
    let b = this.table.get(key);
    if (b) this.table.delete(key);
    else {
      if (++this.ops % 256 === 0 || this.table.size >= this.maxKeys) this.sweep();
      if (this.table.size >= this.maxKeys) this.table.delete(this.table.keys().next().value as string);
      b = new TokenBucket(this.opts);
    }
    this.table.set(key, b);
    return b.take(n);
  }

  waitMs(key: string, n = 1): number {
    return this.table.get(key)?.waitMs(n) ?? 0;
  }

  private sweep(): void {
    for (const [k, b] of this.table) if (b.isFull()) this.table.delete(k);
  }
}

/** Concurrent holders per key (e.g. open connections per address); entries vanish at zero. */
export class ConcurrencyLimiter {
  private readonly table = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Takes a slot when fewer than `limit` are held; the caller must release() it later. */
  acquire(key: string): boolean {
    const n = this.table.get(key) ?? 0;
    if (n >= this.limit) return false;
    this.table.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = this.table.get(key);
    if (n === undefined) return;
    if (n <= 1) this.table.delete(key);
    else this.table.set(key, n - 1);
  }

  count(key: string): number {
    return this.table.get(key) ?? 0;
  }

  get size(): number {
    return this.table.size;
  }
}

/**
 * The rate-limit key of a remote address: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by
 * its /64, since one subscriber usually holds a whole /64 and could otherwise rotate through
 * 2^64 addresses. Anything else (a Unix socket path, '') is used verbatim.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  const a = address.replace(/%.*$/, '');
  if (!isIPv6(a)) return address;
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  // An embedded dotted IPv4 tail counts as two groups; it never reaches the first four.
  const tailGroups = tl.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - tailGroups)).fill('0'), ...tl];
  return (
    groups
      .slice(0, 4)
      .map((g) => (g.includes('.') ? g : parseInt(g || '0', 16).toString(16)))
      .join(':') + '::/64'
  );
}

export interface LoginLimiterOptions {
  /** Failed logins per source address per window (config limits.loginFailuresPerAddress, default 10). */
  perAddress: number;
  /** Failed logins per account per window (config limits.loginFailuresPerAccount, default 20). */
  perAccount: number;
  /** Default one minute. */
  windowMs?: number;
  /** Cap of each table (default 100,000 keys). */
  maxKeys?: number;
  now?: Clock;
}

/**
 * Failed-login limiter. SASL mechanisms call check() before they look at a password and
 * answer temporary-auth-failure when it refuses (so a brute-force client learns nothing about
 * its guesses), fail() after a wrong password or unknown user, succeed() after a success.
 *
 * The account key is whatever the caller uses consistently; the mechanisms pass the bare JID
 * so one limiter can serve several hosts. Unknown and real accounts are counted alike, so the
 * limiter's answers reveal nothing about which accounts exist.
 */
export class LoginLimiter {
  private readonly byAddress: SlidingWindowLimiter;
  private readonly byAccount: SlidingWindowLimiter;
  // Failures of one account from one address, so succeed() forgives exactly the user's own
  // typos: an attacker who logs into a throwaway account does not reset anything else.
  private readonly byPair: SlidingWindowLimiter;

  constructor(opts: LoginLimiterOptions) {
    const windowMs = opts.windowMs ?? 60_000;
    const common = { windowMs, maxKeys: opts.maxKeys, now: opts.now };
    this.byAddress = new SlidingWindowLimiter({ ...common, limit: opts.perAddress });
    this.byAccount = new SlidingWindowLimiter({ ...common, limit: opts.perAccount });
    this.byPair = new SlidingWindowLimiter({ ...common, limit: Math.max(opts.perAddress, opts.perAccount) });
  }

  static fromConfig(
    limits: Pick<LimitsConfig, 'loginFailuresPerAddress' | 'loginFailuresPerAccount'>,
    opts: Omit<LoginLimiterOptions, 'perAddress' | 'perAccount'> = {},
  ): LoginLimiter {
    return new LoginLimiter({ ...opts, perAddress: limits.loginFailuresPerAddress ?? 10, perAccount: limits.loginFailuresPerAccount ?? 20 });
  }

  /** May this address (and account) try a password now? */
  check(address: string, account?: string): RateDecision {
    const a = this.byAddress.check(addressKey(address));
    const b = account === undefined ? ALLOWED : this.byAccount.check(account);
    if (a.allowed && b.allowed) return ALLOWED;
    return { allowed: false, retryAfter: Math.max(a.retryAfter, b.retryAfter) };
  }

  fail(address: string, account?: string): void {
    const key = addressKey(address);
    this.byAddress.hit(key);
    if (account !== undefined) {
      this.byAccount.hit(account);
      this.byPair.hit(pairKey(key, account));
    }
  }

  succeed(address: string, account: string): void {
    const key = addressKey(address);
    const pk = pairKey(key, account);
    const n = Math.round(this.byPair.count(pk));
    if (n > 0) {
      this.byAddress.forget(key, n);
      this.byAccount.forget(account, n);
    }
    this.byPair.reset(pk);
  }

  /** Entries held, for memory checks. */
  size(): number {
    return this.byAddress.size + this.byAccount.size + this.byPair.size;
  }
}

function pairKey(address: string, account: string): string {
  return `${address}\u0000${account}`;
}
