/**
 * Where Idempotency-Key records live (`WhatsappIdempotency`): one partition per UTC day of the
 * claim, `d<yyyyMMdd>`, rows `<API key hash>~<SHA-256 of the key>`. A record lives 24 h, so a repeat
 * finds it in its own day's partition or the one before; and whole days go at once when they are
 * two days old (removeIdempotencyDay), without a query that names no partition.
 */

const DAY_MS = 86_400_000;

export function idempotencyDay(epochMs: number): string {
  const d = new Date(epochMs);
  return `d${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** The day partitions a sweep at `now` may remove: `days` of them, ending two days back. */
export function expiredIdempotencyDays(now: number, days: number): string[] {
  return Array.from({ length: days }, (_, i) => idempotencyDay(now - (2 + i) * DAY_MS));
}
