/**
 * A fixed-window counter per key (API key hash, client address). Small and allocation-light; the
 * window resets as a whole, which is what OpenAlgo's "N per minute" means to its users.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';
import { describeRateLimit, type RateLimitSpec } from './rate-limit-spec.js';
import { entryBound } from './lru-bound.js';

/** A refusal carries the limit as text (`30 per minute`), so a 429 can say which rate was hit. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; rate: string };

export interface RateLimiter {
  /** Counts one hit for `key` and says whether it is within the limit. */
  hit(key: string): RateDecision;
  /** Says whether `key` is already over the limit, without counting. */
  peek(key: string): RateDecision;
}

export function createRateLimiter(spec: RateLimitSpec, clock: Clock, maxKeys = 100_000): RateLimiter {
  // Bounded under a flood of distinct keys: the least recently hit key goes first.
  const windows = new LRUCache<string, { start: number; count: number }>(entryBound(maxKeys));
  const rate = describeRateLimit(spec);

  const current = (key: string, now: number) => {
    let w = windows.get(key);
    if (!w || now - w.start >= spec.windowMs) {
      w = { start: now, count: 0 };
      windows.set(key, w);
    }
    return w;
  };

  const decide = (w: { start: number; count: number }, now: number): RateDecision =>
    w.count <= spec.limit
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((w.start + spec.windowMs - now) / 1000)), rate };

  return {
    hit(key) {
      const now = clock.now();
      const w = current(key, now);
      w.count++;
      return decide(w, now);
    },
    peek(key) {
      const now = clock.now();
      const w = windows.peek(key);
      if (!w || now - w.start >= spec.windowMs) return { allowed: true };
      return w.count >= spec.limit ? decide({ ...w, count: w.count + 1 }, now) : { allowed: true };
    },
  };
}
