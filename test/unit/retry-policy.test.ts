/** When the client library tries a request again, and after how long. */
import { DEFAULT_RETRY, parseRetryAfter, retryDelayMs } from '../../client/retry-policy.js';

const half = () => 0.5;

describe('client retry policy', () => {
  test('no answer at all is retried with a growing, capped delay', () => {
    const delays = [0, 1, 2].map((attempt) => retryDelayMs({ kind: 'network' }, attempt, DEFAULT_RETRY, half));
    expect(delays).toEqual([188, 375, 750]);
  });

  test('gives up after the configured retries', () => {
    expect(retryDelayMs({ kind: 'network' }, DEFAULT_RETRY.retries, DEFAULT_RETRY, half)).toBeUndefined();
  });

  test('429 and 503 wait at least their Retry-After; one longer than the cap ends the retries', () => {
    expect(retryDelayMs({ kind: 'http', status: 429, retryAfterSeconds: 2 }, 0, DEFAULT_RETRY, half)).toBe(2_000);
    expect(retryDelayMs({ kind: 'http', status: 503 }, 0, DEFAULT_RETRY, half)).toBe(188);
    expect(retryDelayMs({ kind: 'http', status: 429, retryAfterSeconds: 31 }, 0, DEFAULT_RETRY, half)).toBeUndefined();
  });

  test('a 409 is retried only while an earlier attempt with the same key is still running (Retry-After)', () => {
    expect(retryDelayMs({ kind: 'http', status: 409, retryAfterSeconds: 1 }, 0, DEFAULT_RETRY, half)).toBe(1_000);
    expect(retryDelayMs({ kind: 'http', status: 409 }, 0, DEFAULT_RETRY, half)).toBeUndefined();
  });

  test.each([400, 401, 404, 413, 500, 502, 504])('%d is final', (status) => {
    expect(retryDelayMs({ kind: 'http', status }, 0, DEFAULT_RETRY, half)).toBeUndefined();
  });

  test('Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 10, 25, 12, 0, 0);
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
