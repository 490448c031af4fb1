/**
 * The global send budget (sidecar/send-budget.ts) against a test clock that only moves when told:
 * a real object implementing Clock and the budget's Timers, firing due timers as it advances.
 */
import type { Clock } from '../../shared/clock.js';
import { ConfigError, DEFAULT_SEND_BUDGET, loadConfig } from '../../shared/config.js';
import { parseRateLimit } from '../../shared/rate-limit-spec.js';
import { createSendBudget, SendBudgetBusy, SendBudgetClosed, type Timers } from '../../sidecar/send-budget.js';

class ManualClock implements Clock, Timers {
  private time: number;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing each timer at its own due time, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.fn();
      await flush();
    }
    this.time = end;
    await flush();
  }

  /** A clock stepping backwards (NTP correction). */
  stepBack(ms: number): void {
    this.time -= ms;
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks whether a promise has settled, without awaiting it. */
function track(p: Promise<void>) {
  const state = { settled: false, error: undefined as unknown };
  p.then(
    () => (state.settled = true),
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

const spec = (text: string) => parseRateLimit(text)!;

describe('send budget', () => {
  test('sends within budget go out at once; the next one waits exactly until the oldest leaves the window', async () => {
    const clock = new ManualClock();
    const budget = createSendBudget({ limits: [spec('3 per minute')], clock, timers: clock });
    for (let i = 0; i < 3; i++) {
      await budget.acquire();
      await clock.advance(1_000); // sends at t=0, 1 s, 2 s
    }
    const fourth = track(budget.acquire()); // t = 3 s
    await flush();
    expect(fourth.settled).toBe(false);
    expect(budget.waiting()).toBe(1);
    await clock.advance(56_999); // t = 59.999 s: the first send is still inside the window
    expect(fourth.settled).toBe(false);
    await clock.advance(1); // t = 60 s
    expect(fourth).toEqual({ settled: true, error: undefined });
    expect(budget.usage()).toEqual([{ limit: 3, windowMs: 60_000, used: 3 }]);
  });

  test('the window slides: no double burst across a minute boundary', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 59, 900));
    const budget = createSendBudget({ limits: [spec('60 per minute')], clock, timers: clock });
    for (let i = 0; i < 60; i++) await budget.acquire(); // 60 sends at hh:00:59.900
    await clock.advance(200); // hh:01:00.100 — a fixed window would allow 60 more here
    const next = track(budget.acquire());
    await clock.advance(59_000);
    expect(next.settled).toBe(false);
    await clock.advance(800); // 60 s after the burst
    expect(next.settled).toBe(true);
  });

  test('every limit applies: the daily budget holds sends after the per-minute one allows them', async () => {
    const clock = new ManualClock();
    const budget = createSendBudget({ limits: [spec('2 per minute'), spec('5 per day')], clock, timers: clock });
    const times: number[] = [];
    const start = clock.now();
    const pending = Array.from({ length: 6 }, () => budget.acquire().then(() => times.push(clock.now() - start)));
    await flush();
    await clock.advance(10 * 60_000);
    expect(times).toEqual([0, 0, 60_000, 60_000, 120_000]); // the 6th waits for the day window
    await clock.advance(86_400_000 - 10 * 60_000 - 1);
    expect(times).toHaveLength(5);
    await clock.advance(1);
    await Promise.all(pending);
    expect(times).toEqual([0, 0, 60_000, 60_000, 120_000, 86_400_000]);
  });

  test('waiters are served first come, first served, each once', async () => {
    const clock = new ManualClock();
    const budget = createSendBudget({ limits: [spec('1 per second')], clock, timers: clock });
    const order: number[] = [];
    const all = [1, 2, 3, 4].map((n) => budget.acquire().then(() => order.push(n)));
    await clock.advance(3_000);
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(clock.pendingTimers()).toBe(0); // no timer left running once nobody waits
  });

  test('memory is bounded: waiters past the cap are refused, not stored', async () => {
    const clock = new ManualClock();
    const budget = createSendBudget({ limits: [spec('1 per hour')], clock, timers: clock, maxWaiters: 3 });
    await budget.acquire();
    const waiting = [budget.acquire(), budget.acquire(), budget.acquire()].map(track);
    await expect(budget.acquire()).rejects.toBeInstanceOf(SendBudgetBusy);
    expect(budget.waiting()).toBe(3);
    await clock.advance(3 * 3_600_000);
    expect(waiting.map((w) => w.settled)).toEqual([true, true, true]);
  });

  test('limits past the memory cap are refused at creation', () => {
    const clock = new ManualClock();
    expect(() => createSendBudget({ limits: [{ limit: 100_001, windowMs: 60_000 }], clock, timers: clock })).toThrow(RangeError);
    expect(() => createSendBudget({ limits: [{ limit: 0, windowMs: 60_000 }], clock, timers: clock })).toThrow(RangeError);
  });

  test('close refuses waiting and later sends and stops the timer', async () => {
    const clock = new ManualClock();
    const budget = createSendBudget({ limits: [spec('1 per minute')], clock, timers: clock });
    await budget.acquire();
    const waiting = budget.acquire();
    budget.close();
    await expect(waiting).rejects.toBeInstanceOf(SendBudgetClosed);
    await expect(budget.acquire()).rejects.toBeInstanceOf(SendBudgetClosed);
    expect(clock.pendingTimers()).toBe(0);
  });

  test('a clock stepping backwards never makes a send wait longer than one window', async () => {
    const clock = new ManualClock();
    const budget = createSendBudget({ limits: [spec('1 per minute')], clock, timers: clock });
    await budget.acquire();
    clock.stepBack(3_600_000);
    const next = track(budget.acquire());
    await clock.advance(60_000);
    expect(next.settled).toBe(true);
  });

  test('no limits ("off") lets everything through', async () => {
    const clock = new ManualClock();
    const budget = createSendBudget({ limits: [], clock, timers: clock });
    for (let i = 0; i < 1000; i++) await budget.acquire();
    expect(budget.waiting()).toBe(0);
  });
});

describe('WHATSAPP_SEND_BUDGET', () => {
  test('defaults to 60 per minute and 1000 per day', () => {
    expect(DEFAULT_SEND_BUDGET).toBe('60 per minute, 1000 per day');
    expect(loadConfig({}).sendBudget).toEqual([
      { limit: 60, windowMs: 60_000 },
      { limit: 1000, windowMs: 86_400_000 },
    ]);
  });

  test.each([
    ['20 per minute', [{ limit: 20, windowMs: 60_000 }]],
    [
      ' 10/minute , 200 per hour,500 per day ',
      [
        { limit: 10, windowMs: 60_000 },
        { limit: 200, windowMs: 3_600_000 },
        { limit: 500, windowMs: 86_400_000 },
      ],
    ],
    ['off', []],
    [
      '',
      [
        { limit: 60, windowMs: 60_000 },
        { limit: 1000, windowMs: 86_400_000 },
      ],
    ],
  ])('%j', (text, expected) => {
    expect(loadConfig({ WHATSAPP_SEND_BUDGET: text }).sendBudget).toEqual(expected);
  });

  test.each(['lots', '60 per minute,', '0 per minute', '100001 per day', '60 per fortnight', '-5 per minute'])(
    '%j is refused with the variable name',
    (text) => {
      expect(() => loadConfig({ WHATSAPP_SEND_BUDGET: text })).toThrow(ConfigError);
      expect(() => loadConfig({ WHATSAPP_SEND_BUDGET: text })).toThrow(/WHATSAPP_SEND_BUDGET/);
    },
  );
});
