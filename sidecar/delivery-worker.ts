/**
 * Drains the durable queue: takes each due recipient with a lease (ETag claim), sends its parts,
 * and records the outcome, one recipient at a time with a jittered gap (pacing keeps the paired
 * number safe). Message ids are chosen at the first claim and reused on every retry, so a resend
 * after a crash carries the same ids and the recipient's device treats it as the same message.
 *
 * The owner is the sidecar's stable identity, so a restarted sidecar finds the rows it was sending
 * when it died (leased by its own name before this process started) and resends them at once, with
 * their ids, instead of waiting out the lease.
 *
 * Outcomes: every part acknowledged → `sent`; not on WhatsApp or refused by the server (463, 479…)
 * → `failed` at once; offline, timeouts, dropped sockets → back to `queued` with exponential
 * backoff; past the notification's expiry → `expired`.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { laterState, type NotificationQueue, type QueuedNotification, type RecipientRow } from '../shared/notification-queue.js';
import { maskPhone } from '../shared/phone-number.js';
import { backoffDelayMs } from '../shared/backoff.js';
import { messageParts, type MessagePart } from './message-parts.js';
import type { PartContentBuilder } from './part-content.js';
import type { ReceiptStatus, WhatsAppSession } from './whatsapp-session.js';

export interface DeliveryReport {
  notificationId: string;
  to: string;
  outcome: 'sent' | 'failed';
  error?: string;
}

export interface DeliveryWorker {
  /** Asks for a pass soon (new work was queued, or the session opened). */
  kick(): void;
  /**
   * Hands over a notification just queued: it is cached (no re-read of what was just written) and,
   * while WhatsApp is open, its recipients are taken by point reads instead of a scan of the queue.
   */
  remember(notification: QueuedNotification, recipientCount: number): void;
  onReport(listener: (report: DeliveryReport) => void): () => void;
  start(): void;
  stop(): Promise<void>;
}

export interface DeliveryWorkerDeps {
  queue: NotificationQueue;
  session: WhatsAppSession;
  content: PartContentBuilder;
  clock: Clock;
  log: Logger;
  owner: string;
  sendIntervalMs: number;
  leaseMs?: number;
  pollMs?: number;
  random?: () => number;
  /** Where attachment bytes live; removed once every recipient of a notification is finished. */
  attachments?: { remove(notificationId: string): Promise<void> };
  /** How often queued rows are checked for expiry (default 60 s). */
  expirySweepMs?: number;
  /** Optional gate (global send budget): resolves when one more send may go out. */
  beforeSend?: () => Promise<void>;
}

type Outcome = { kind: 'sent' } | { kind: 'failed'; error: string } | { kind: 'retry'; error: string };

export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const { queue, session, clock, log } = deps;
  const random = deps.random ?? Math.random;
  const leaseMs = deps.leaseMs ?? 120_000;
  const pollMs = deps.pollMs ?? 5_000;
  const events = new EventEmitter();
  events.setMaxListeners(1000);
  const notifications = new Map<string, QueuedNotification>();
  const sentIds = new Map<string, { notificationId: string; index: number }>();
  let running = false;
  let wake: (() => void) | undefined;
  let kicked = false;
  let loop: Promise<void> | undefined;
  let lastSendAt = 0;
  let reconciled = false;

  // Notifications handed over by remember(), in arrival order; scans of the queue table are for
  // everything else (retries, rows the function wrote while the sidecar was away, restarts).
  const fresh: { id: string; count: number }[] = [];
  let scanNeeded = true;

  const kick = () => {
    kicked = true;
    scanNeeded = true;
    wake?.();
  };

  const processFresh = async ({ id, count }: { id: string; count: number }) => {
    for (let index = 0; index < count; index++) {
      if (!running || !session.isOpen()) return;
      const row = await queue.recipient(id, index);
      if (row && row.state === 'queued' && row.nextAttemptAt <= clock.now()) await processRow(row);
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const notificationFor = async (id: string): Promise<QueuedNotification | undefined> => {
    let n = notifications.get(id);
    if (!n) {
      n = await queue.get(id);
      if (n) {
        notifications.set(id, n);
        if (notifications.size > 1000) notifications.delete(notifications.keys().next().value!);
      }
    }
    return n;
  };

  const report = (r: DeliveryReport) => events.emit('report', r);

  const pace = async () => {
    if (deps.sendIntervalMs <= 0) return;
    const jittered = deps.sendIntervalMs * (0.7 + random() * 0.6);
    const wait = lastSendAt + jittered - clock.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };

  const deliver = async (row: RecipientRow, n: QueuedNotification, parts: MessagePart[]): Promise<{ outcome: Outcome; to: string }> => {
    const to = row.to === 'self' ? session.selfJid() : row.to;
    if (!to) return { outcome: { kind: 'retry', error: 'paired number not known yet' }, to: row.to };
    if (row.to !== 'self') {
      const exists = await session.exists(to);
      if (exists === false) return { outcome: { kind: 'failed', error: 'not on WhatsApp' }, to };
      if (exists === undefined) return { outcome: { kind: 'retry', error: 'could not check the number' }, to };
    }
    for (const [i, part] of parts.entries()) {
      const messageId = row.messageIds[i]!;
      let content;
      try {
        content = await deps.content.build(n, part);
      } catch (error) {
        return { outcome: { kind: 'failed', error: `attachment unavailable: ${(error as Error).message}` }, to };
      }
      await deps.beforeSend?.();
      const ack = await session.send(to, content, messageId);
      lastSendAt = clock.now();
      if (!ack.ok) {
        // A refusal from the server is final; anything else (socket gone, no ack) is worth a retry.
        return { outcome: ack.code ? { kind: 'failed', error: ack.error } : { kind: 'retry', error: ack.error }, to };
      }
      sentIds.set(messageId, { notificationId: n.id, index: row.index });
      if (sentIds.size > 20_000) sentIds.delete(sentIds.keys().next().value!);
    }
    return { outcome: { kind: 'sent' }, to };
  };

  /** The cached copy may predate an admin retry that extended the expiry: re-read before expiring. */
  const stillExpired = async (n: QueuedNotification, now: number): Promise<QueuedNotification | undefined> => {
    if (Date.parse(n.expiresAt) > now) return undefined;
    const fresh = await queue.get(n.id);
    if (fresh) notifications.set(n.id, fresh);
    return !fresh || Date.parse(fresh.expiresAt) <= now ? n : undefined;
  };

  const processRow = async (candidate: RecipientRow): Promise<void> => {
    let n = await notificationFor(candidate.notificationId);
    if (!n) return;
    const now = clock.now();
    if (await stillExpired(n, now)) {
      const expired = await queue.update(candidate, { state: 'expired', error: 'expired before it could be sent', leaseOwner: undefined, leaseUntil: undefined });
      if (expired) report({ notificationId: n.id, to: candidate.to === 'self' ? (session.selfJid() ?? 'self') : candidate.to, outcome: 'failed', error: 'expired' });
      return;
    }
    n = notifications.get(n.id) ?? n;
    const parts = messageParts(n.content);
    const messageIds = candidate.messageIds.length === parts.length ? candidate.messageIds : parts.map(() => session.newMessageId());
    const claimed = await queue.update(candidate, {
      state: 'sending',
      leaseOwner: deps.owner,
      leaseUntil: now + leaseMs,
      attempts: candidate.attempts + 1,
      messageIds,
    });
    if (!claimed) return; // another sender took it
    await pace();
    const { outcome, to } = await deliver(claimed, n, parts);
    const base = { to: claimed.to === 'self' && to !== 'self' ? to : claimed.to, leaseOwner: undefined, leaseUntil: undefined };
    if (outcome.kind === 'sent') {
      await record(claimed, { ...base, state: 'sent', error: undefined });
      log.info({ id: n.id, to: maskPhone(to) }, 'sent');
      report({ notificationId: n.id, to, outcome: 'sent' });
    } else if (outcome.kind === 'failed') {
      await record(claimed, { ...base, state: 'failed', error: outcome.error });
      log.warn({ id: n.id, to: maskPhone(to), error: outcome.error }, 'failed');
      report({ notificationId: n.id, to, outcome: 'failed', error: outcome.error });
    } else {
      const delay = backoffDelayMs(claimed.attempts - 1, random, 2_000, 300_000);
      await record(claimed, { ...base, state: 'queued', error: outcome.error, nextAttemptAt: clock.now() + delay });
      log.info({ id: n.id, to: maskPhone(to), error: outcome.error, retryInMs: delay }, 'will retry');
      return;
    }
    await releaseAttachmentsIfFinished(n).catch((e: unknown) => log.warn({ err: e }, 'could not remove finished attachments'));
  };

  // What was sent must be recorded, or it is sent again: ride out a short storage outage (bounded;
  // past that the row stays leased by our name and the next start resends it under the same ids).
  const record = async (row: RecipientRow, patch: Parameters<NotificationQueue['update']>[1]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await queue.update(row, patch);
      } catch (error) {
        if (attempt >= 30 || !running) throw error;
        log.warn({ err: (error as Error).message, id: row.notificationId }, 'could not record a send outcome; retrying');
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  };

  /**
   * Rows in `sending` when the session opens: due now, not at row-lease expiry, whoever leased them.
   * Only the session-lease holder is open, and nothing of ours is mid-send at this point, so they
   * belong to a previous process or a sidecar that lost the session (same ids, shown once).
   */
  const reconcileOwn = async () => {
    const mine = (await queue.unfinished(10_000)).filter((r) => r.state === 'sending');
    if (mine.length > 0) log.info({ count: mine.length }, 'resending what this sidecar was sending when it stopped');
    for (const row of mine.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)) {
      if (!running || !session.isOpen()) return false;
      await processRow(row);
    }
    return true;
  };

  const releaseAttachmentsIfFinished = async (n: QueuedNotification) => {
    if (!deps.attachments || (!n.content.image && !n.content.document)) return;
    const fresh = await queue.get(n.id);
    if (fresh && fresh.recipients.every((r) => r.state !== 'queued' && r.state !== 'sending')) {
      await deps.attachments.remove(n.id);
      notifications.delete(n.id);
    }
  };

  // Rows carry their notification's expiry, so finding candidates is one filtered query; processRow
  // re-reads the header (an admin retry may have extended it) before expiring anything.
  const expireStale = async () => {
    for (const row of await queue.expiring(clock.now(), 500)) {
      const n = await notificationFor(row.notificationId);
      if (n && (await stillExpired(n, clock.now()))) await processRow(row);
    }
  };

  const onReceipt = async (messageId: string, status: ReceiptStatus) => {
    const ref = sentIds.get(messageId);
    if (!ref) return;
    const row = await queue.recipient(ref.notificationId, ref.index);
    if (!row || row.state === 'failed' || row.state === 'expired') return;
    const next = laterState(row.state, status);
    if (next !== row.state) await queue.update(row, { state: next });
  };

  const run = async () => {
    let lastSweep = 0;
    while (running) {
      kicked = false;
      try {
        if (clock.now() - lastSweep > (deps.expirySweepMs ?? 60_000)) {
          lastSweep = clock.now();
          await expireStale();
        }
        if (session.isOpen() && !reconciled) reconciled = await reconcileOwn();
        if (session.isOpen() && fresh.length > 0) {
          await processFresh(fresh.shift()!);
          continue;
        }
        if (session.isOpen() && scanNeeded) {
          scanNeeded = false;
          const due = await queue.due(clock.now(), 50);
          for (const row of due) {
            if (!running || !session.isOpen()) break;
            await processRow(row);
          }
          if (due.length > 0) {
            scanNeeded = true;
            continue;
          }
        }
      } catch (error) {
        log.error({ err: error }, 'delivery pass failed; will try again');
        await sleep(1_000);
      }
      if (!kicked) {
        if (running) await sleep(pollMs);
        scanNeeded = true; // retries come due and other writers (the function, offline) add rows
      }
    }
  };

  let offReceipt: (() => void) | undefined;
  let offStatus: (() => void) | undefined;
  return {
    kick,
    remember(n, recipientCount) {
      notifications.set(n.id, n);
      if (notifications.size > 1000) notifications.delete(notifications.keys().next().value!);
      // Offline, the scan after reconnecting finds them; a bounded list keeps a flood from growing memory.
      if (session.isOpen() && fresh.length < 10_000) fresh.push({ id: n.id, count: recipientCount });
      kicked = true;
      wake?.();
    },
    onReport(listener) {
      events.on('report', listener);
      return () => events.off('report', listener);
    },
    start() {
      if (running) return;
      running = true;
      offReceipt = session.onReceipt((id, status) => {
        onReceipt(id, status).catch((e: unknown) => log.warn({ err: e }, 'could not record a receipt'));
      });
      offStatus = session.onStatus((s) => {
        if (s.state !== 'open') return;
        reconciled = false; // (re)gained the session: take over what any sidecar left in `sending`
        kick();
      });
      loop = run();
    },
    async stop() {
      running = false;
      offReceipt?.();
      offStatus?.();
      wake?.();
      await loop;
    },
  };
}
