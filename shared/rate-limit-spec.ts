/** OpenAlgo's rate-limit syntax: `N per second|minute|hour|day` (also `N/minute`). */
export interface RateLimitSpec {
  limit: number;
  windowMs: number;
}

const WINDOWS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export function parseRateLimit(text: string): RateLimitSpec | undefined {
  const match = /^\s*(\d+)\s*(?:per|\/)\s*(second|minute|hour|day)s?\s*$/i.exec(text);
  if (!match) return undefined;
  const limit = Number(match[1]);
  if (!Number.isSafeInteger(limit) || limit < 1) return undefined;
  return { limit, windowMs: WINDOWS[match[2]!.toLowerCase()]! };
}

const UNITS: Array<[string, number]> = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
];

/** `{ limit: 30, windowMs: 60000 }` → `30 per minute`; `5 per 5 minutes` for a window of several units. */
export function describeRateLimit(spec: RateLimitSpec): string {
  for (const [unit, ms] of UNITS) {
    if (spec.windowMs % ms === 0) {
      const n = spec.windowMs / ms;
      return `${spec.limit} per ${n === 1 ? unit : `${n} ${unit}s`}`;
    }
  }
  return `${spec.limit} per ${spec.windowMs} ms`;
}
