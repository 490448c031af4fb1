/**
 * lru-cache options for a cache bounded by its number of entries *without* allocating for them up
 * front. With `max: n`, lru-cache preallocates its index arrays for n entries (and two more for
 * TTLs): a 100,000-key rate limiter held 2.8 MiB from its first second, empty. A size of 1 per entry
 * under `maxSize: n` keeps the same bound and grows with use.
 */
export function entryBound(entries: number): { maxSize: number; sizeCalculation: () => number } {
  return { maxSize: entries, sizeCalculation: () => 1 };
}
