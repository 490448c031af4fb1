/** The per-key fixed-window limiter, on a clock that only moves when told. */
import { createRateLimiter } from '../../shared/rate-limiter.js';
import { parseRateLimit } from '../../shared/rate-limit-spec.js';

const clockAt = (start: number) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('rate limiter', () => {
  test('N hits pass, the next is refused with the seconds left in the window', () => {
    const clock = clockAt(0);
    const limiter = createRateLimiter({ limit: 3, windowMs: 60_000 }, clock);
    for (let i = 0; i < 3; i++) expect(limiter.hit('k').allowed).toBe(true);
    clock.advance(20_000);
    expect(limiter.hit('k')).toEqual({ allowed: false, retryAfterSeconds: 40, rate: '3 per minute' });
  });

  test('memory is bounded by maxKeys: under a flood of distinct keys the least recently hit one is forgotten', () => {
    const clock = clockAt(0);
    const limiter = createRateLimiter({ limit: 1, windowMs: 60_000 }, clock, 3);
    for (const k of ['a', 'b', 'c']) limiter.hit(k);
    expect(limiter.hit('b').allowed).toBe(false); // 'b' is remembered, and now the most recent
    limiter.hit('d'); // a fourth key: 'a', least recently hit, goes
    expect(limiter.peek('a').allowed).toBe(true);
    expect(limiter.peek('b').allowed).toBe(false);
    expect(limiter.peek('c').allowed).toBe(false);
  });

  test('the window resets as a whole', () => {
    const clock = clockAt(0);
    const limiter = createRateLimiter({ limit: 1, windowMs: 1_000 }, clock);
    expect(limiter.hit('k').allowed).toBe(true);
    expect(limiter.hit('k').allowed).toBe(false);
    clock.advance(1_000);
    expect(limiter.hit('k').allowed).toBe(true);
  });

  test('keys are counted apart', () => {
    const limiter = createRateLimiter({ limit: 1, windowMs: 1_000 }, clockAt(0));
    expect(limiter.hit('a').allowed).toBe(true);
    expect(limiter.hit('b').allowed).toBe(true);
    expect(limiter.hit('a').allowed).toBe(false);
  });

  test('peek says whether the next hit would pass, without counting', () => {
    const limiter = createRateLimiter({ limit: 2, windowMs: 1_000 }, clockAt(0));
    limiter.hit('k');
    expect(limiter.peek('k').allowed).toBe(true);
    expect(limiter.peek('k').allowed).toBe(true);
    limiter.hit('k');
    expect(limiter.peek('k').allowed).toBe(false);
  });

  test('a flood of distinct keys stays bounded and keeps limiting the newest', () => {
    const limiter = createRateLimiter({ limit: 1, windowMs: 60_000 }, clockAt(0), 100);
    for (let i = 0; i < 1_000; i++) limiter.hit(`key-${i}`);
    expect(limiter.hit('key-999').allowed).toBe(false);
  });
});

describe('rate limit syntax', () => {
  test.each([
    ['30 per minute', { limit: 30, windowMs: 60_000 }],
    ['5/second', { limit: 5, windowMs: 1_000 }],
    ['100 per hours', { limit: 100, windowMs: 3_600_000 }],
    ['1 PER DAY', { limit: 1, windowMs: 86_400_000 }],
  ])('%s', (text, spec) => expect(parseRateLimit(text)).toEqual(spec));

  test.each(['0 per minute', '-1 per minute', 'thirty per minute', '30 per fortnight', ''])('refuses %p', (text) => {
    expect(parseRateLimit(text)).toBeUndefined();
  });
});
