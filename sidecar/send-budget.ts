/**
 * The anti-ban guardrail: a global budget of WhatsApp sends for the paired number, e.g. "60 per
 * minute, 1000 per day" (WHATSAPP_SEND_BUDGET). Every message the delivery worker sends first
 * calls `acquire()`; over budget, the send waits (the notification stays queued) instead of failing.
 *
 * Each limit is a sliding window, not a fixed one: at most N sends in ANY window of that length, so
 * there is no double burst across a minute boundary. The window keeps the timestamps of the last N
 * sends in a ring buffer, so memory is N numbers per limit (N is capped) plus a capped waiter list.
 */
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { RateLimitSpec } from '../shared/rate-limit-spec.js';

/** Largest N a budget limit may have (memory: 8 bytes per unit of N). */
export const MAX_BUDGET_LIMIT = 100_000;

/** Timers as a dependency, so a test clock can fire them when it moves. */
export interface Timers {
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const realTimers: Timers = {
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface SendBudget {
  /** Resolves when one more send may go out (and counts it); waits while the budget is spent. */
  acquire(): Promise<void>;
  /** Sends counted in each limit's current window. */
  usage(): { limit: number; windowMs: number; used: number }[];
  /** Sends waiting for budget. */
  waiting(): number;
  /** Refuses pending and future acquires (the process is stopping). */
  close(): void;
}

export class SendBudgetClosed extends Error {
  constructor() {
    super('send budget closed: the sidecar is stopping');
    this.name = 'SendBudgetClosed';
  }
}

export class SendBudgetBusy extends Error {
  constructor(max: number) {
    super(`more than ${max} sends are already waiting for send budget`);
    this.name = 'SendBudgetBusy';
  }
}

/** The last `limit` send times of one limit, oldest first when read from `head`. */
class SlidingWindow {
  private readonly times: Float64Array;
  private head = 0; // index of the oldest entry once full
  private count = 0;
  private latest = -Infinity;

  constructor(readonly spec: RateLimitSpec) {
    this.times = new Float64Array(spec.limit);
  }

  /** Milliseconds until one more send fits (0: now). */
  delay(now: number): number {
    if (now < this.latest) this.clampTo(now);
    if (this.count < this.spec.limit) return 0;
    const oldest = this.times[this.head]!;
    return Math.max(oldest + this.spec.windowMs - now, 0);
  }

  /** The clock stepped backwards: sends "in the future" count as sent now, so a wait is at most one window. */
  private clampTo(now: number): void {
    for (let i = 0; i < this.count; i++) {
      const at = (this.head + i) % this.spec.limit;
      this.times[at] = Math.min(this.times[at]!, now);
    }
    this.latest = now;
  }

  record(now: number): void {
    this.latest = Math.max(this.latest, now);
    if (this.count < this.spec.limit) {
      this.times[(this.head + this.count) % this.spec.limit] = now;
      this.count++;
    } else {
      this.times[this.head] = now;
      this.head = (this.head + 1) % this.spec.limit;
    }
  }

  used(now: number): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.times[(this.head + i) % this.spec.limit]! > now - this.spec.windowMs) n++;
    return n;
  }
}

export function createSendBudget(deps: {
  limits: RateLimitSpec[];
  clock: Clock;
  timers?: Timers;
  log?: Logger;
  /** Waiters beyond this are refused (the worker sends one at a time, so 1 is normal). */
  maxWaiters?: number;
}): SendBudget {
  const { clock, log } = deps;
  const timers = deps.timers ?? realTimers;
  const maxWaiters = deps.maxWaiters ?? 1_000;
  for (const spec of deps.limits) {
    if (!Number.isSafeInteger(spec.limit) || spec.limit < 1 || spec.limit > MAX_BUDGET_LIMIT || !(spec.windowMs > 0)) {
      throw new RangeError(`send budget limit must be 1 to ${MAX_BUDGET_LIMIT} per positive window`);
    }
  }
  const windows = deps.limits.map((spec) => new SlidingWindow(spec));
  const waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let cancelTimer: (() => void) | undefined;
  let closed = false;

  const delay = (now: number) => windows.reduce((wait, w) => Math.max(wait, w.delay(now)), 0);
  const record = (now: number) => {
    for (const w of windows) w.record(now);
  };

  const pump = () => {
    cancelTimer = undefined;
    while (waiters.length > 0) {
      const now = clock.now();
      const wait = delay(now);
      if (wait > 0) {
        // Timers may fire a little early; never schedule less than 1 ms.
        cancelTimer = timers.setTimer(pump, Math.max(1, Math.ceil(wait)));
        return;
      }
      record(now);
      waiters.shift()!.resolve();
    }
  };

  return {
    acquire() {
      if (closed) return Promise.reject(new SendBudgetClosed());
      const now = clock.now();
      if (waiters.length === 0) {
        const wait = delay(now);
        if (wait === 0) {
          record(now);
          return Promise.resolve();
        }
        log?.info({ waitMs: Math.ceil(wait), budget: deps.limits }, 'send budget spent; the next send waits');
      }
      if (waiters.length >= maxWaiters) return Promise.reject(new SendBudgetBusy(maxWaiters));
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        if (!cancelTimer) pump();
      });
    },
    usage() {
      const now = clock.now();
      return windows.map((w) => ({ limit: w.spec.limit, windowMs: w.spec.windowMs, used: w.used(now) }));
    },
    waiting: () => waiters.length,
    close() {
      closed = true;
      cancelTimer?.();
      cancelTimer = undefined;
      for (const w of waiters.splice(0)) w.reject(new SendBudgetClosed());
    },
  };
}
