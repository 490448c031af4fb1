/** The reconnect policy by close reason, and the backoff every retry in the sidecar uses. */
import { backoffDelayMs } from '../../shared/backoff.js';
import { describeDisconnect, disconnectAction } from '../../sidecar/disconnect-policy.js';

describe('disconnect policy', () => {
  test.each([
    [515, 'reconnect-now'],
    [401, 'logged-out'],
    [440, 'stop'],
    [403, 'stop'],
    [405, 'refresh-version'],
    [408, 'reconnect-backoff'],
    [428, 'reconnect-backoff'],
    [500, 'reconnect-backoff'],
    [503, 'reconnect-backoff'],
    [undefined, 'reconnect-backoff'],
  ])('close code %s → %s', (code, kind) => {
    expect(disconnectAction(code).kind).toBe(kind);
  });

  test('a replaced session (440) is never retried: two sockets would fight', () => {
    const action = disconnectAction(440);
    expect(action).toEqual({ kind: 'stop', reason: expect.stringContaining('440') });
  });

  test('known reasons read as words, unknown ones name their code', () => {
    expect(describeDisconnect(408)).toBe('connection lost or timed out');
    expect(describeDisconnect(499)).toBe('closed with code 499');
    expect(describeDisconnect(undefined)).toBe('connection closed');
  });
});

describe('backoff', () => {
  test('equal jitter: each delay lies between half the ceiling and the ceiling', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const ceiling = Math.min(60_000, 1_000 * 2 ** attempt);
      expect(backoffDelayMs(attempt, () => 0)).toBe(ceiling / 2);
      expect(backoffDelayMs(attempt, () => 1)).toBe(ceiling);
    }
  });

  test('the cap holds however many attempts have failed', () => {
    expect(backoffDelayMs(1_000, () => 1)).toBe(60_000);
    expect(backoffDelayMs(50, () => 1, 2_000, 300_000)).toBe(300_000);
  });

  test('delays grow with the attempt until the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, () => 0.5));
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
  });
});
