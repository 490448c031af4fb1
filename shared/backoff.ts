/**
 * The one backoff every retry loop uses (reconnects, queue retries, the function's socket to the
 * sidecar, the client library): exponential, capped, with equal jitter — half the step fixed, half
 * random — so retries spread out without ever coming back at once.
 */
export function backoffDelayMs(attempt: number, random: () => number = Math.random, baseMs = 1_000, capMs = 60_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
