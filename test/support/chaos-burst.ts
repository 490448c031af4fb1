/**
 * Burst-and-break helpers for the chaos tests (and `npm run chaos`): fire many fire-and-forget
 * notifications with distinct texts, break something part-way, then count at the WhatsApp peer what
 * was lost (answered 200, never arrived) and what was duplicated (the same text shown twice).
 * A resend of the same message id is not a duplicate: the peer, like a phone, shows it once and
 * counts it in `stats.duplicates` ("resends" below).
 */
import { appendFileSync } from 'node:fs';
import type { WhatsAppPeer } from '../whatsapp-peer/index.js';

export interface BurstOutcome {
  index: number;
  text: string;
  /** HTTP status, or undefined when no answer came (connection refused/reset). */
  status?: number;
  error?: string;
}

export interface ChaosCounts {
  scenario: string;
  requests: number;
  answered: number;
  /** Status (or "no answer") → count, for the requests not answered 200. */
  notAnswered: Record<string, number>;
  lost: number;
  duplicated: number;
  unansweredSentTwice: number;
  unansweredDelivered: number;
  resends: number;
  elapsedMs: number;
  lostTexts: string[];
  /** Failover scenarios: from the break to the new holder `open`, and to the first message it delivered. */
  takeoverOpenMs?: number;
  takeoverFirstDeliveryMs?: number;
  /** The most WhatsApp sockets logged in to the session at once during the scenario (peer count). */
  maxSockets?: number;
}

/** How many notifications a burst sends: CHAOS_COUNT (the chaos script raises it), default 200. */
export const burstSize = (fallback = 200): number => {
  const n = Number(process.env.CHAOS_COUNT);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};

export async function runBurst(options: {
  count: number;
  prefix: string;
  concurrency?: number;
  /** Pause each sender between requests, so the burst lasts long enough to break in the middle. */
  gapMs?: number;
  /** A client's pause after a request got no answer at all (connection refused), before the next. */
  errorPauseMs?: number;
  send: (index: number, text: string) => Promise<{ status: number }>;
  /** Started (not awaited) once this many requests have been started. */
  breakAt: number;
  breakIt: () => Promise<void>;
}): Promise<BurstOutcome[]> {
  const outcomes: BurstOutcome[] = [];
  let next = 0;
  let breaking: Promise<void> | undefined;
  const worker = async () => {
    while (next < options.count) {
      const index = next++;
      if (index === options.breakAt) breaking = options.breakIt();
      const text = `${options.prefix}-${String(index).padStart(5, '0')}`;
      try {
        const res = await options.send(index, text);
        outcomes.push({ index, text, status: res.status });
      } catch (error) {
        outcomes.push({ index, text, error: (error as Error).message });
        if (options.errorPauseMs) await new Promise((r) => setTimeout(r, options.errorPauseMs));
      }
      if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  await breaking;
  return outcomes.sort((a, b) => a.index - b.index);
}

/** Accepted: queued or deferred (200), or still being sent when the wait ran out (504). */
export const isAnswered = (o: BurstOutcome): boolean => o.status === 200 || o.status === 504;

/** Waits (bounded) for every answered text to arrive, lets stragglers land, then counts. */
export async function countAtPeer(options: {
  scenario: string;
  peer: WhatsAppPeer;
  outcomes: BurstOutcome[];
  prefix: string;
  resendsBefore: number;
  startedAt: number;
  timeoutMs?: number;
  settleMs?: number;
  /** Figures measured by the scenario itself, added to the counts (and the chaos report). */
  extra?: () => Partial<ChaosCounts>;
}): Promise<ChaosCounts> {
  const { peer, outcomes, prefix } = options;
  const answered = outcomes.filter(isAnswered);
  const texts = () => {
    const counts = new Map<string, number>();
    for (const m of peer.received) if (m.text?.startsWith(`${prefix}-`)) counts.set(m.text, (counts.get(m.text) ?? 0) + 1);
    return counts;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline && answered.some((o) => !texts().has(o.text))) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, options.settleMs ?? 2_000));
  const counts = texts();
  const notAnswered: Record<string, number> = {};
  for (const o of outcomes.filter((x) => !isAnswered(x))) {
    const key = o.status === undefined ? 'no answer' : String(o.status);
    notAnswered[key] = (notAnswered[key] ?? 0) + 1;
  }
  const unanswered = outcomes.filter((o) => !isAnswered(o));
  const lostTexts = answered.filter((o) => !counts.has(o.text)).map((o) => o.text);
  const result: ChaosCounts = {
    scenario: options.scenario,
    requests: outcomes.length,
    answered: answered.length,
    notAnswered,
    lost: lostTexts.length,
    duplicated: [...counts.values()].filter((n) => n > 1).length,
    unansweredSentTwice: unanswered.filter((o) => (counts.get(o.text) ?? 0) > 1).length,
    unansweredDelivered: unanswered.filter((o) => counts.has(o.text)).length,
    resends: peer.stats.duplicates - options.resendsBefore,
    elapsedMs: Date.now() - options.startedAt,
    lostTexts: lostTexts.slice(0, 10),
    ...options.extra?.(),
  };
  if (process.env.CHAOS_REPORT) appendFileSync(process.env.CHAOS_REPORT, `${JSON.stringify(result)}\n`);
  return result;
}

/**
 * One chaos scenario: a burst of `burstSize()` distinct texts, broken a third of the way in by
 * `breakIt`, then counted at the peer. The caller asserts on the counts.
 */
export async function chaosScenario(options: {
  scenario: string;
  prefixBase: string;
  peer: WhatsAppPeer;
  send: (index: number, text: string) => Promise<{ status: number }>;
  breakIt: () => Promise<void>;
  errorPauseMs?: number;
  /** Runs after the burst, before counting (e.g. wait for WhatsApp to be open again). */
  afterBurst?: () => Promise<void>;
  timeoutMs?: number;
  extra?: () => Partial<ChaosCounts>;
}): Promise<{ count: number; counts: ChaosCounts }> {
  const count = burstSize();
  const prefix = `${options.prefixBase}-${Date.now()}`;
  const startedAt = Date.now();
  const resendsBefore = options.peer.stats.duplicates;
  const outcomes = await runBurst({
    count,
    prefix,
    gapMs: 20,
    ...(options.errorPauseMs !== undefined ? { errorPauseMs: options.errorPauseMs } : {}),
    breakAt: Math.floor(count / 3),
    breakIt: options.breakIt,
    send: options.send,
  });
  await options.afterBurst?.();
  const counts = await countAtPeer({
    scenario: options.scenario,
    peer: options.peer,
    outcomes,
    prefix,
    resendsBefore,
    startedAt,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.extra ? { extra: options.extra } : {}),
  });
  console.log(JSON.stringify(counts));
  return { count, counts };
}
