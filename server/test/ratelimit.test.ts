// Rate-limit building blocks: sliding windows, token buckets, concurrency counters, the
// failed-login limiter; bounded memory. Time is an injected clock so windows can be crossed
// without sleeping.
import { describe, expect, it } from 'vitest';
import {
  addressKey,
  ConcurrencyLimiter,
  KeyedTokenBuckets,
  LoginLimiter,
  SlidingWindowLimiter,
  TokenBucket,
} from '../src/core/ratelimit.js';

function clock(start = 10_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('SlidingWindowLimiter', () => {
  it('allows `limit` events per window, then says how long to wait', () => {
    const c = clock();
    const w = new SlidingWindowLimiter({ limit: 5, windowMs: 60_000, now: c.now });
    for (let i = 0; i < 5; i++) expect(w.attempt('k').allowed).toBe(true);
    const d = w.attempt('k');
    expect(d.allowed).toBe(false);
    expect(d.retryAfter).toBeGreaterThan(0);
    expect(d.retryAfter).toBeLessThanOrEqual(120);
    expect(w.count('k')).toBe(5);
    expect(w.check('other').allowed).toBe(true);
    // After retryAfter seconds the key is allowed again, and not a second earlier.
    c.t += (d.retryAfter - 1) * 1000;
    expect(w.check('k').allowed).toBe(false);
    c.t += 1000;
    expect(w.check('k').allowed).toBe(true);
  });

  it('slides: the previous window still counts, weighted by overlap', () => {
    const c = clock(0);
    const w = new SlidingWindowLimiter({ limit: 10, windowMs: 1000, now: c.now });
    c.t = 900;
    w.hit('k', 10); // late in window [0, 1000)
    c.t = 1100; // 90% of the previous window still overlaps
    expect(w.count('k')).toBeCloseTo(9, 5);
    expect(w.check('k').allowed).toBe(true);
    w.hit('k', 1);
    expect(w.check('k').allowed).toBe(false);
    c.t = 2100; // two windows later nothing counts
    expect(w.count('k')).toBeCloseTo(1 * 0.9, 5);
    c.t = 3000;
    expect(w.count('k')).toBe(0);
  });

  it('forget() takes events back; reset() drops the key', () => {
    const c = clock();
    const w = new SlidingWindowLimiter({ limit: 3, windowMs: 1000, now: c.now });
    w.hit('k', 3);
    expect(w.check('k').allowed).toBe(false);
    w.forget('k', 2);
    expect(w.count('k')).toBe(1);
    w.reset('k');
    expect(w.size).toBe(0);
  });

  it('memory is bounded: expired entries go, and the table never exceeds its cap', () => {
    const c = clock();
    const w = new SlidingWindowLimiter({ limit: 1, windowMs: 1000, maxKeys: 1000, now: c.now });
    for (let i = 0; i < 50_000; i++) w.hit(`k${i}`);
    expect(w.size).toBeLessThanOrEqual(1000);
    // The most recent keys are the ones kept.
    expect(w.count('k49999')).toBe(1);
    c.t += 5000;
    w.hit('fresh');
    expect(w.size).toBe(1);
  });

  it('rejects nonsense options', () => {
    expect(() => new SlidingWindowLimiter({ limit: 1, windowMs: 0 })).toThrow(RangeError);
  });
});

describe('TokenBucket and KeyedTokenBuckets', () => {
  it('bursts up to capacity, then refills at the rate', () => {
    const c = clock();
    const b = new TokenBucket({ capacity: 3, refillPerSecond: 2, now: c.now });
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.waitMs()).toBe(500);
    c.t += 500;
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    c.t += 10_000;
    expect(b.available()).toBe(3);
    expect(b.isFull()).toBe(true);
    expect(b.take(4)).toBe(false);
  });

  it('positional form: rate per second and burst', () => {
    const b = new TokenBucket(1, 2);
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, false]);
    expect(b.msUntilNext()).toBeGreaterThan(900);
    expect(new TokenBucket(5).available()).toBe(5);
  });

  it('keyed buckets are independent and bounded', () => {
    const c = clock();
    const k = new KeyedTokenBuckets({ capacity: 1, refillPerSecond: 1, maxKeys: 100, now: c.now });
    expect(k.take('a')).toBe(true);
    expect(k.take('a')).toBe(false);
    expect(k.take('b')).toBe(true);
    expect(k.waitMs('a')).toBe(1000);
    for (let i = 0; i < 10_000; i++) k.take(`x${i}`);
    expect(k.size).toBeLessThanOrEqual(100);
  });
});

describe('ConcurrencyLimiter', () => {
  it('counts holders per key and forgets keys at zero', () => {
    const l = new ConcurrencyLimiter(2);
    expect([l.acquire('a'), l.acquire('a'), l.acquire('a')]).toEqual([true, true, false]);
    expect(l.acquire('b')).toBe(true);
    l.release('a');
    expect(l.acquire('a')).toBe(true);
    l.release('a');
    l.release('a');
    l.release('a'); // extra releases are harmless
    expect(l.count('a')).toBe(0);
    l.release('b');
    expect(l.size).toBe(0);
  });
});

describe('addressKey', () => {
  it('IPv4 as is, IPv4-mapped unwrapped, IPv6 by /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('not an address')).toBe('not an address');
  });
});

describe('LoginLimiter', () => {
  it('limits by address and by account, from config values', () => {
    const c = clock();
    const l = LoginLimiter.fromConfig({ loginFailuresPerAddress: 3, loginFailuresPerAccount: 5 }, { now: c.now });
    for (let i = 0; i < 3; i++) l.fail('192.0.2.1', `u${i}@h`);
    expect(l.check('192.0.2.1').allowed).toBe(false);
    expect(l.check('192.0.2.1', 'fresh@h').allowed).toBe(false);
    expect(l.check('192.0.2.2', 'u0@h').allowed).toBe(true);
    for (let i = 0; i < 5; i++) l.fail(`198.51.100.${i}`, 'target@h');
    const d = l.check('203.0.113.9', 'target@h');
    expect(d.allowed).toBe(false);
    expect(d.retryAfter).toBeGreaterThan(0);
    c.t += 180_000;
    expect(l.check('192.0.2.1', 'target@h').allowed).toBe(true);
  });

  it('one IPv6 /64 is one address', () => {
    const l = new LoginLimiter({ perAddress: 2, perAccount: 100 });
    l.fail('2001:db8:1:2::1', 'a@h');
    l.fail('2001:db8:1:2::2', 'b@h');
    expect(l.check('2001:db8:1:2:ffff::9').allowed).toBe(false);
    expect(l.check('2001:db8:1:3::1').allowed).toBe(true);
  });

  it('succeed() forgives only that account\'s failures from that address', () => {
    const l = new LoginLimiter({ perAddress: 3, perAccount: 3 });
    l.fail('192.0.2.1', 'me@h');
    l.fail('192.0.2.1', 'me@h');
    l.fail('192.0.2.1', 'other@h');
    expect(l.check('192.0.2.1').allowed).toBe(false);
    l.succeed('192.0.2.1', 'me@h');
    expect(l.check('192.0.2.1').allowed).toBe(true);
    l.fail('192.0.2.9', 'me@h');
    l.fail('192.0.2.9', 'me@h');
    l.fail('192.0.2.9', 'me@h');
    l.succeed('192.0.2.1', 'me@h'); // the attacker's failures elsewhere stay
    expect(l.check('192.0.2.1', 'me@h').allowed).toBe(false);
  });

  it('stays bounded under a spray of addresses and accounts', () => {
    const l = new LoginLimiter({ perAddress: 10, perAccount: 20, maxKeys: 500 });
    for (let i = 0; i < 20_000; i++) l.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `u${i}@h`);
    expect(l.size()).toBeLessThanOrEqual(1500);
  });
});
