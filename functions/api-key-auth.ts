/**
 * Authenticates an API key: HMAC it with the pepper and look the hash up, keeping valid keys in a
 * short cache so a burst of requests costs one storage read. Unknown keys are cached for less time,
 * so a revoked or newly created key takes effect within seconds.
 */
import type { ApiKeyRecord, ApiKeyStore } from '../shared/api-keys.js';
import { hashApiKey } from '../shared/api-keys.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';

export interface ApiKeyAuthenticator {
  authenticate(key: string): Promise<ApiKeyRecord | undefined>;
}

export function createApiKeyAuthenticator(deps: {
  store: ApiKeyStore;
  pepper: string;
  clock: Clock;
  log: Logger;
  validTtlMs?: number;
  invalidTtlMs?: number;
  touchEveryMs?: number;
}): ApiKeyAuthenticator {
  const { store, pepper, clock, log } = deps;
  const validTtl = deps.validTtlMs ?? 30_000;
  const invalidTtl = deps.invalidTtlMs ?? 5_000;
  const touchEvery = deps.touchEveryMs ?? 60_000;
  const cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();
  const touched = new Map<string, number>();

  const remember = (hash: string, record: ApiKeyRecord | undefined, now: number) => {
    if (cache.size > 10_000) cache.clear(); // a flood of random keys must not grow memory
    cache.set(hash, { record, until: now + (record ? validTtl : invalidTtl) });
  };

  return {
    async authenticate(key) {
      if (key.length === 0 || key.length > 512) return undefined;
      const hash = hashApiKey(pepper, key);
      const now = clock.now();
      let entry = cache.get(hash);
      if (!entry || entry.until <= now) {
        remember(hash, await store.findActive(hash), now);
        entry = cache.get(hash)!;
      }
      const record = entry.record;
      if (record && (touched.get(hash) ?? 0) + touchEvery <= now) {
        touched.set(hash, now);
        store.touch(hash, new Date(now)).catch((error: unknown) => log.warn({ err: error }, 'could not record API key use'));
      }
      return record;
    },
  };
}
