/**
 * Remembers WhatsApp's `onWhatsApp` answers so a send to a known number costs no extra round trip
 * to WhatsApp: a number that exists is trusted for a day, a missing one is asked again after an
 * hour (it may join meanwhile). Both are configurable (WHATSAPP_EXISTS_CACHE_TTL,
 * WHATSAPP_MISSING_CACHE_TTL); 0 turns that half off. Failed checks are never remembered.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from '../shared/clock.js';
import { entryBound } from '../shared/lru-bound.js';

export interface ExistsCache {
  /** The remembered answer, or undefined when WhatsApp must be asked. */
  get(jid: string): boolean | undefined;
  remember(jid: string, exists: boolean): void;
  size(): number;
}

export function createExistsCache(deps: { clock: Clock; existsTtlMs: number; missingTtlMs: number; maxEntries?: number }): ExistsCache {
  const { existsTtlMs, missingTtlMs } = deps;
  const cache = new LRUCache<string, boolean>({
    // A trader's contacts are a handful; the bound only stops a caller cycling numbers from growing it.
    ...entryBound(deps.maxEntries ?? 10_000),
    ttl: Math.max(existsTtlMs, missingTtlMs, 1),
    // The injected clock, read on every check (no cached "now"), so tests can move time.
    perf: deps.clock,
    ttlResolution: 0,
  });
  return {
    get: (jid) => cache.get(jid),
    remember(jid, exists) {
      const ttl = exists ? existsTtlMs : missingTtlMs;
      if (ttl > 0) cache.set(jid, exists, { ttl });
    },
    size: () => cache.size,
  };
}
