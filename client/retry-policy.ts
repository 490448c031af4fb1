/**
 * When the client tries again. A notify call is retried only when it carries an idempotency key:
 * without one, a retry after a lost answer could send the notification twice. With a key, the
 * server answers a repeat with the first answer and sends nothing again, so these are retried:
 *
 * - no answer at all (connection refused or reset, DNS failure, our timeout);
 * - 429 Too Many Requests, after its Retry-After;
 * - 503 Service Unavailable (storage down, nothing was queued), after its Retry-After;
 * - 409 with Retry-After: the same key is still being processed by an earlier attempt (the repeat
 *   then gets that attempt's answer). A 409 without Retry-After (offline policy `reject`) is final.
 *
 * Never retried: 504 (wait_for_delivery ran out of time, but sending goes on — the report says who
 * is pending), 502 (in wait mode: no recipient could be sent; a repeat would replay that answer),
 * 500, and every other 4xx (the request itself is wrong). A Retry-After longer than `maxDelayMs`
 * ends the retries too: the error carries `retryAfterSeconds` for the caller to decide.
 *
 * GET status is a read, so it follows the same list without needing a key.
 */
import { backoffDelayMs } from '../shared/backoff.js';

export interface RetryOptions {
  /** Further attempts after the first (default 3). */
  retries: number;
  /** Longest wait before one retry (default 30 s); a longer Retry-After ends the retries. */
  maxDelayMs: number;
  /** First backoff step (default 250 ms), doubled per attempt, with jitter. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 3, maxDelayMs: 30_000, baseDelayMs: 250 };

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export type AttemptOutcome = { kind: 'network' } | { kind: 'http'; status: number; retryAfterSeconds?: number };

/** Milliseconds to wait before the next attempt, or undefined to give up. `attempt` counts from 0. */
export function retryDelayMs(
  outcome: AttemptOutcome,
  attempt: number,
  options: RetryOptions,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= options.retries) return undefined;
  if (outcome.kind === 'http' && !RETRYABLE_STATUSES.has(outcome.status)) {
    if (!(outcome.status === 409 && outcome.retryAfterSeconds !== undefined)) return undefined;
  }
  const jittered = backoffDelayMs(attempt, random, options.baseDelayMs, options.maxDelayMs);
  if (outcome.kind === 'http' && outcome.retryAfterSeconds !== undefined) {
    const asked = outcome.retryAfterSeconds * 1000;
    return asked > options.maxDelayMs ? undefined : Math.max(asked, jittered);
  }
  return jittered;
}

/** Retry-After as seconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
