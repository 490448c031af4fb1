/**
 * How long onWhatsApp answers are trusted (sidecar/whatsapp-exists-cache.ts), on an injected clock,
 * and how the two settings are read from the environment.
 */
import { loadConfig, ConfigError } from '../shared/config.js';
import { createExistsCache } from '../sidecar/whatsapp-exists-cache.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const clockAt = (start: number) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
};

test('a number that exists is trusted for a day, a missing one for an hour', () => {
  const clock = clockAt(1_700_000_000_000);
  const cache = createExistsCache({ clock, existsTtlMs: DAY, missingTtlMs: HOUR });
  cache.remember('919876543210@s.whatsapp.net', true);
  cache.remember('15550009999@s.whatsapp.net', false);
  expect(cache.get('919876543210@s.whatsapp.net')).toBe(true);
  expect(cache.get('15550009999@s.whatsapp.net')).toBe(false);
  expect(cache.get('447700900123@s.whatsapp.net')).toBeUndefined(); // never asked

  clock.advance(HOUR - 1);
  expect(cache.get('15550009999@s.whatsapp.net')).toBe(false);
  clock.advance(2);
  expect(cache.get('15550009999@s.whatsapp.net')).toBeUndefined(); // ask again: it may have joined
  expect(cache.get('919876543210@s.whatsapp.net')).toBe(true);

  clock.advance(DAY - HOUR - 2);
  expect(cache.get('919876543210@s.whatsapp.net')).toBe(true);
  clock.advance(2);
  expect(cache.get('919876543210@s.whatsapp.net')).toBeUndefined();
});

test('a fresh answer replaces the old one with its own lifetime', () => {
  const clock = clockAt(0);
  const cache = createExistsCache({ clock, existsTtlMs: DAY, missingTtlMs: HOUR });
  cache.remember('15550009999@s.whatsapp.net', false);
  clock.advance(HOUR + 1);
  cache.remember('15550009999@s.whatsapp.net', true); // joined meanwhile
  clock.advance(2 * HOUR);
  expect(cache.get('15550009999@s.whatsapp.net')).toBe(true);
});

test('a TTL of 0 turns that half off; the number of remembered numbers is bounded', () => {
  const clock = clockAt(0);
  const noMissing = createExistsCache({ clock, existsTtlMs: DAY, missingTtlMs: 0, maxEntries: 3 });
  noMissing.remember('a@s.whatsapp.net', false);
  expect(noMissing.get('a@s.whatsapp.net')).toBeUndefined();
  for (const n of ['b', 'c', 'd', 'e']) noMissing.remember(`${n}@s.whatsapp.net`, true);
  expect(noMissing.size()).toBe(3);
  expect(noMissing.get('b@s.whatsapp.net')).toBeUndefined(); // least recently used went first
  expect(noMissing.get('e@s.whatsapp.net')).toBe(true);
});

test('WHATSAPP_EXISTS_CACHE_TTL and WHATSAPP_MISSING_CACHE_TTL: defaults 1d and 1h, durations accepted, nonsense refused by name', () => {
  expect(loadConfig({})).toMatchObject({ existsCacheTtlMs: DAY, missingCacheTtlMs: HOUR });
  expect(loadConfig({ WHATSAPP_EXISTS_CACHE_TTL: '7d', WHATSAPP_MISSING_CACHE_TTL: '0' })).toMatchObject({
    existsCacheTtlMs: 7 * DAY,
    missingCacheTtlMs: 0,
  });
  expect(() => loadConfig({ WHATSAPP_MISSING_CACHE_TTL: 'sometimes' })).toThrow(ConfigError);
  expect(() => loadConfig({ WHATSAPP_MISSING_CACHE_TTL: 'sometimes' })).toThrow(/WHATSAPP_MISSING_CACHE_TTL/);
});
