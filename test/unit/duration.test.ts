/** Durations as configuration writes them (WHATSAPP_QUEUE_TTL, WHATSAPP_SESSION_LEASE, …). */
import { parseDurationMs } from '../../shared/duration.js';

describe('durations', () => {
  test.each([
    ['1500', 1_500],
    ['250ms', 250],
    ['30s', 30_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    [' 1.5s ', 1_500],
    ['2H', 7_200_000],
  ])('%p → %d ms', (text, ms) => expect(parseDurationMs(text)).toBe(ms));

  test.each(['', 'soon', '10 minutes', '-5s', '1w'])('refuses %p', (text) => expect(parseDurationMs(text)).toBeUndefined());
});
