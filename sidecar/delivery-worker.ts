/**
 * Sends what the queue holds, as the owner of it. While this sidecar holds the session lease it
 * keeps every unfinished recipient in memory, and Table storage is the durable log behind it:
 *
 * - on gaining the lease (or starting with it) it reads the `open` index and each listed partition
 *   once, and resends every row found `sending` at once, whoever was sending it, under the row's
 *   fixed message ids (message-ids.ts), so the phone shows it once;
 * - rows it accepts itself arrive through `accepted()` (already written as `sending`: the insert is
 *   the claim) and are never read back;
 * - outcomes and receipts are written through (ETag-conditional, group-committed per partition);
 *   the report to a waiting caller leaves on the server's ack, before the write;
 * - the only periodic read is the small `open` index (one PartitionKey), to notice partitions the
 *   function wrote while it could not reach this sidecar.
 *
 * It is woken two ways: `pump()` when something can be sent now (a row accepted, the session
 * opened, a send slot freed, a partition loaded), and one timer tick for whatever falls due by the
 * clock (retry backoff, expiry, the `open` index poll, the history sweep).
 *
 * With pacing off (WHATSAPP_SEND_INTERVAL_MS=0) up to `maxInFlight` recipients are sent at once;
 * with pacing on, one at a time with a jittered gap. A recipient's parts always go in order.
 *
 * Outcomes: every part acknowledged → `sent`; not on WhatsApp or refused by the server (463, 479…)
 * → `failed` at once; offline, timeouts, dropped sockets → back to `queued` with exponential
 * backoff; past the notification's expiry → `expired`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { EventEmitter } from 'node:events';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { messageIdFor, parseMessageId } from '../shared/message-ids.js';
import { resolveSelf } from '../shared/notification-model.js';
import {
  isFinished,
  laterState,
  partitionOf,
  partitionStart,
  type NotificationQueue,
  type QueuedNotification,
  type RecipientRow,
} from '../shared/notification-queue.js';
import { maskPhone } from '../shared/whatsapp-jid.js';
import { backoffDelayMs } from '../shared/backoff.js';
import { messageParts, type MessagePart } from './message-parts.js';
import type { PartContentBuilder } from './part-content.js';
import type { ReceiptStatus, WhatsAppSession } from './whatsapp-session.js';
import { entryBound } from '../shared/lru-bound.js';
import { rowWith } from '../shared/recipient-row.js';

export interface DeliveryReport {
  notificationId: string;
  to: string;
  outcome: 'sent' | 'failed';
  error?: string;
}

export interface QueueSnapshot {
  /** Unfinished recipients, oldest notification first. */
  unfinished: RecipientRow[];
  /** Recently finished recipients, newest first. */
  recent: RecipientRow[];
  /** Creation time (epoch ms) of the oldest notification with unfinished recipients. */
  oldestCreatedAt: number | undefined;
}

export interface DeliveryWorker {
  /** A notification the accept path just wrote (`rows` as stored, with ETags; `openEtag` of its index row). */
  accepted(notification: QueuedNotification, openEtag: string): void;
  /** Someone else (the admin API) changed this notification's rows: adopt what storage now holds. */
  refresh(id: string): Promise<void>;
  /** Whether this sidecar owns the queue now (holds the session lease). */
  owns(): boolean;
  /** What this sidecar holds in memory (empty while it does not hold the session lease). */
  snapshot(): QueueSnapshot;
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
  /** Recipients in flight at once when pacing is off (default 16). */
  maxInFlight?: number;
  /** How often the `open` index is read for partitions other writers added (default 10 s). */
  pollMs?: number;
  random?: () => number;
  /** Where attachment bytes live; removed once every recipient of a notification is finished. */
  attachments?: { remove(notificationId: string): Promise<void> };
  /** How often unfinished rows are checked for expiry, in memory (default 60 s). */
  expirySweepMs?: number;
  /** Optional gate (global send budget): resolves when one more send may go out. */
  beforeSend?: () => Promise<void>;
  /** The session lease: rows are owned (loaded, sent, swept) only while it is held. Without it: always. */
  lease?: { held(): boolean; onChange(listener: (held: boolean) => void): () => void };
  /** A finished partition leaves the `open` index this long after its minute ended (clock skew between writers). */
  retireAfterMs?: number;
  /**
   * How long an outcome's write waits for company: more changes to the same row (a delivery receipt
   * right after the ack) and other writes of its partition (the next accept's insert, other
   * outcomes), whichever transaction leaves first. The report does not wait for it. Default 100 ms.
   */
  writeLingerMs?: number;
  /** How long a receipt's (delivered, read) write waits for company the same way (default 1 s). */
  receiptFlushMs?: number;
  /**
   * Resolves once the Signal keys the sends so far changed are stored (rejects if they never will
   * be: the lease went). An outcome is recorded only after it, so a row reads `sent` only once the
   * ratchet that sent it is durable; before that a crash leaves it `sending`, and the next holder
   * resends it under the same ids from the stored ratchet.
   */
  keysDurable?: () => Promise<void>;
  /**
   * How long a finished row stays in memory for its receipts (default 1 min: a delivery receipt from
   * a phone that is online comes within seconds). A receipt after that
   * (a read receipt hours later) reads the row back first: one point read.
   */
  receiptMemoryMs?: number;
  /** How storage trouble is ridden out by an outcome's write and a read back: tries, and the wait between (default 30, 1 s). */
  storageRetry?: { tries: number; waitMs: number };
  /** Removes old history; called once per `historySweepMs` while owning. */
  historySweep?: () => Promise<void>;
  historySweepMs?: number;
}

type Outcome = { kind: 'sent' } | { kind: 'failed'; error: string } | { kind: 'retry'; error: string };

interface Tracked {
  n: QueuedNotification;
  parts: MessagePart[];
  /** Entries of this notification still unfinished (or whose final write is pending). */
  live: number;
  /** Rows let go unfinished (forgetEntry) until their partition is read again: their attachments stay. */
  forgotten?: Set<string>;
}

/** A row this process writes through: its state in memory, and the write in progress. */
interface Persisted {
  row: RecipientRow;
  writing?: Promise<void>;
  dirty: boolean;
}

interface Entry extends Persisted {
  t: Tracked;
  where: 'ready' | 'later' | 'flight' | 'done';
}

/** What storage holds is not known (storage stayed away past its tries), told apart from a row that is gone. */
const UNKNOWN = Symbol('unknown');
const RECENT_LIMIT = 200;
/** A backstop only: the receipt memory is bounded by its TTL (a finished row is ~0.5 KiB). */
const RECEIPT_LIMIT = 20_000;
const keyOf = (r: { notificationId: string; index: number }) => `${r.notificationId}~${r.index}`;

export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const { queue, session, clock, log } = deps;
  const random = deps.random ?? Math.random;
  const pollMs = deps.pollMs ?? 10_000;
  const expirySweepMs = deps.expirySweepMs ?? 60_000;
  const retireAfterMs = deps.retireAfterMs ?? 120_000;
  const historySweepMs = deps.historySweepMs ?? 600_000;
  const writeLingerMs = deps.writeLingerMs ?? 100;
  const receiptFlushMs = deps.receiptFlushMs ?? 1_000;
  const window = deps.sendIntervalMs > 0 ? 1 : Math.max(1, deps.maxInFlight ?? 16);
  const events = new EventEmitter();
  events.setMaxListeners(1000);

  const entries = new Map<string, Entry>();
  const notifications = new Map<string, Tracked>();
  /** Time partitions known to hold (or to have held) unfinished work, with the `open` row's ETag as last seen. */
  const partitions = new Map<string, { etag: string | undefined }>();
  /** Partitions to read again whatever their ETag (a row let go there), with a count of the asks. */
  const rereads = new Map<string, number>();
  const ready: Entry[] = [];
  let later: Entry[] = [];
  /**
   * Finished rows by key, for their receipts: the row alone (not the notification it came from),
   * for a short while. A receipt for a row still unfinished goes to its entry (and rides on its
   * outcome write); one for a row forgotten here is read back first.
   */
  const receiptMemoryMs = deps.receiptMemoryMs ?? 60_000;
  const storageRetry = deps.storageRetry ?? { tries: 30, waitMs: 1_000 };
  // Purged by one timer (start()), not lru-cache's ttlAutopurge: that is a timer per entry.
  const finished = new LRUCache<string, Persisted>({ ...entryBound(RECEIPT_LIMIT), ttl: receiptMemoryMs });
  /** Row key by message id, for rows written before ids were derived (message-ids.ts); others parse. */
  const legacyIds = new LRUCache<string, string>({ ...entryBound(RECEIPT_LIMIT), ttl: receiptMemoryMs });
  let receiptPurge: NodeJS.Timeout | undefined;
  /** Rows being read back for a late receipt, so receipts of one row share the read. */
  const readingBack = new Map<string, Promise<Persisted | undefined>>();
  const recent: RecipientRow[] = [];
  let running = false;
  let owning = false;
  let loaded = false;
  let inFlight = 0;
  let lastSendAt = 0;
  let lastPoll = 0;
  let lastExpirySweep = 0;
  let lastHistorySweep = 0;
  let polling: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const runs = new Set<Promise<void>>();

  const report = (r: DeliveryReport) => events.emit('report', r);
  const resolvedTo = (to: string) => resolveSelf(to, session.selfJid());

  /** Keeps what a receipt needs of a finished entry; returns that row. */
  const rememberFinished = (e: Entry): RecipientRow => {
    // Rows share one hidden class (recipient-row.ts), and ETags come already copied out of their batch responses.
    const row = e.row;
    finished.set(keyOf(row), { row, dirty: false });
    return row;
  };

  const rememberRecent = (row: RecipientRow) => {
    recent.unshift(row);
    if (recent.length > RECENT_LIMIT) recent.pop();
  };

  const track = (n: QueuedNotification): Tracked => {
    let t = notifications.get(n.id);
    if (!t) {
      t = { n, parts: messageParts(n.content), live: 0 };
      notifications.set(n.id, t);
    } else t.n = { ...t.n, expiresAt: n.expiresAt };
    return t;
  };

  const schedule = (e: Entry) => {
    if (e.where === 'ready' || e.where === 'flight') return;
    if (e.row.nextAttemptAt <= clock.now() || e.row.state === 'sending') {
      e.where = 'ready';
      ready.push(e);
    } else {
      e.where = 'later';
      later.push(e);
    }
  };

  const markPartition = (partition: string, etag: string | undefined) => {
    const p = partitions.get(partition);
    if (!p) partitions.set(partition, { etag });
    else if (etag !== undefined) p.etag = etag;
  };

  /** Takes rows read from storage into memory; `force`: storage wins over what memory holds (admin changes). */
  const adopt = (n: QueuedNotification, force: boolean) => {
    const unfinished = n.recipients.filter((r) => !isFinished(r.state));
    if (unfinished.length === 0 && !force) return;
    const t = track(n);
    let ended = false; // a row of it finished here, or one let go came back finished
    for (const row of n.recipients) {
      const key = keyOf(row);
      if (t.forgotten?.delete(key)) ended = true;
      const e = entries.get(key);
      if (e) {
        if (!force || e.where === 'flight' || e.writing) continue;
        e.row = row;
        if (isFinished(row.state)) ended = finishEntry(e, false) || ended;
        else if (e.where !== 'ready') {
          later = later.filter((x) => x !== e);
          e.where = 'done';
          schedule(e);
        }
        continue;
      }
      if (isFinished(row.state)) continue;
      const fresh: Entry = { row, t, dirty: false, where: 'done' };
      entries.set(key, fresh);
      t.live++;
      schedule(fresh);
    }
    releaseNotification(t, ended); // after every row: one finished early must not free what a later one needs
    if (unfinished.length > 0) markPartition(partitionOf(n.id), undefined);
  };

  /** Takes an entry out of memory if it is still the one memory holds for its row. */
  const release = (e: Entry): boolean => {
    const key = keyOf(e.row);
    if (entries.get(key) !== e) return false;
    entries.delete(key);
    e.where = 'done';
    e.t.live--;
    return true;
  };

  /**
   * Storage changed the row and could not be read: memory lets go of it without finishing it, and
   * its partition is read again at the next poll, so what storage holds is sent, or not, from there.
   */
  const forgetEntry = (e: Entry) => {
    if (!release(e)) return; // leaves `later` at the next tick: release marks it done
    (e.t.forgotten ??= new Set()).add(keyOf(e.row));
    const partition = partitionOf(e.row.notificationId);
    rereads.set(partition, (rereads.get(partition) ?? 0) + 1);
  };

  /** Done with a notification once nothing of it is unfinished in memory or let go to be read again. */
  const releaseNotification = (t: Tracked, removeAttachments: boolean) => {
    if (t.live > 0 || (t.forgotten?.size ?? 0) > 0) return;
    notifications.delete(t.n.id);
    const { image, document } = t.n.content;
    if (removeAttachments && deps.attachments && (image || document)) {
      deps.attachments.remove(t.n.id).catch((error: unknown) => log.warn({ err: error }, 'could not remove finished attachments'));
    }
  };

  /** The entry is final in memory and its write has landed: it leaves the unfinished set. */
  const finishEntry = (e: Entry, releaseNow = true): boolean => {
    if (!release(e)) return false;
    rememberRecent(rememberFinished(e));
    if (releaseNow) releaseNotification(e.t, true);
    return true;
  };

  /**
   * After a partition was read again: rows let go there before the read that it did not return
   * are finished in storage (its read lists unfinished rows only), so they are not waited for.
   */
  const settleForgotten = (partition: string, read: Set<string>) => {
    for (const t of notifications.values()) {
      if (!t.forgotten?.size || partitionOf(t.n.id) !== partition) continue;
      for (const key of t.forgotten) if (!read.has(key)) t.forgotten.delete(key);
      releaseNotification(t, true);
    }
  };

  /**
   * Runs `step` until it succeeds, riding out storage trouble (bounded: `storageRetry`); UNKNOWN when
   * it gives up, or at once when `final` says the error will not pass. An unknown row is not taken
   * for a gone one: that would end an entry storage still holds unfinished, and its partition would
   * be retired with it unsent.
   */
  const ridingOut = async <T>(
    what: string,
    id: string,
    step: () => Promise<T>,
    final: (error: unknown) => boolean = () => false,
  ): Promise<T | typeof UNKNOWN> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (final(error)) return UNKNOWN;
        if (attempt >= storageRetry.tries || !running) {
          log.error({ err: (error as Error).message, id }, `${what}; gave up`);
          return UNKNOWN;
        }
        log.warn({ err: (error as Error).message, id }, `${what}; retrying`);
        await sleep(storageRetry.waitMs);
      }
    }
  };

  /**
   * Writes the row as memory holds it when its transaction leaves (a change made while the write
   * lingered goes along; one made while it is in flight goes in the next). A write that does not
   * land hands `onNotLanded` what storage holds: the newer row someone else wrote, undefined when the
   * row is gone, UNKNOWN when storage stayed away (or the lease went) and memory should let it go.
   */
  const persist = (
    p: Persisted,
    onNotLanded: (stored: RecipientRow | undefined | typeof UNKNOWN) => void,
    lingerMs: number,
    keys?: () => Promise<void>,
  ): Promise<void> => {
    if (p.writing) {
      p.dirty = true;
      return p.writing;
    }
    p.writing = (async () => {
      try {
        let linger = lingerMs;
        do {
          p.dirty = false;
          const saved = await ridingOut(
            'could not record a send outcome',
            p.row.notificationId,
            async () => {
              if (keys) await keys();
              return queue.save(
                () => {
                  p.dirty = false;
                  return p.row;
                },
                { lingerMs: running ? linger : 0 },
              );
            },
            (error) => {
              if (!(error instanceof Error && error.name === 'KeysNotStored')) return false;
              // The lease went before the ratchet was stored: the next holder resends this row.
              log.info({ id: p.row.notificationId, reason: error.message }, 'outcome not recorded');
              return true;
            },
          );
          if (saved === UNKNOWN) {
            // Storage keeps the row as it last had it: memory lets it go rather than finish it.
            onNotLanded(UNKNOWN);
            return;
          }
          if (!saved) {
            // Someone else (the admin API, another sidecar) changed the row: theirs stands.
            p.dirty = false;
            onNotLanded(
              await ridingOut('could not read back a row changed elsewhere', p.row.notificationId, () =>
                queue.recipient(p.row.notificationId, p.row.index),
              ),
            );
            if (!p.dirty) return;
            continue; // a change came meanwhile: written over the row as it now stands
          }
          p.row = rowWith(p.row, { etag: saved.etag, updatedAt: saved.updatedAt });
          linger = receiptFlushMs; // what changes next is a receipt
        } while (p.dirty);
      } finally {
        p.writing = undefined;
      }
    })().catch((error: unknown) => log.error({ err: error, id: p.row.notificationId }, 'could not record a send outcome'));
    return p.writing;
  };

  /** Writes an entry's outcome once the keys of its send are stored. */
  const persistEntry = (e: Entry): Promise<void> =>
    persist(
      e,
      (stored) => {
        // Sent again meanwhile (the write rode out storage trouble): that run's own write meets the row.
        if (entries.get(keyOf(e.row)) !== e || e.where === 'flight') return;
        if (stored === UNKNOWN) forgetEntry(e);
        else if (stored && !isFinished(stored.state)) {
          later = later.filter((x) => x !== e);
          e.row = stored;
          e.where = 'done';
          schedule(e);
        } else {
          if (stored) e.row = stored;
          finishEntry(e);
        }
      },
      writeLingerMs,
      deps.keysDurable,
    ).then(() => {
      if (isFinished(e.row.state) && !e.writing) finishEntry(e);
    });

  const pace = async () => {
    if (deps.sendIntervalMs <= 0) return;
    const jittered = deps.sendIntervalMs * (0.7 + random() * 0.6);
    const wait = lastSendAt + jittered - clock.now();
    if (wait > 0) await sleep(wait);
  };

  const deliver = async (e: Entry, to: string): Promise<Outcome> => {
    const { row, t } = e;
    if (to === 'self') return { kind: 'retry', error: 'paired number not known yet' };
    if (row.to !== 'self') {
      const exists = await session.exists(to);
      if (exists === false) return { kind: 'failed', error: 'not on WhatsApp' };
      if (exists === undefined) return { kind: 'retry', error: 'could not check the number' };
    }
    for (const [i, part] of t.parts.entries()) {
      // Rows written before ids were derived carry their own.
      const messageId = row.messageIds.length === t.parts.length ? row.messageIds[i]! : messageIdFor(t.n.id, row.index, i);
      let content;
      try {
        content = await deps.content.build(t.n, part);
      } catch (error) {
        return { kind: 'failed', error: `attachment unavailable: ${(error as Error).message}` };
      }
      await deps.beforeSend?.();
      if (row.messageIds.length > 0) legacyIds.set(messageId, keyOf(row));
      const ack = await session.send(to, content, messageId);
      lastSendAt = clock.now();
      if (!ack.ok) {
        // A refusal from the server is final; anything else (socket gone, no ack) is worth a retry.
        return ack.code ? { kind: 'failed', error: ack.error } : { kind: 'retry', error: ack.error };
      }
    }
    return { kind: 'sent' };
  };

  const expire = (e: Entry) => {
    e.row = rowWith(e.row, { state: 'expired', error: 'expired before it could be sent', leaseOwner: undefined, leaseUntil: undefined });
    report({ notificationId: e.t.n.id, to: resolvedTo(e.row.to), outcome: 'failed', error: 'expired' });
    void persistEntry(e);
  };

  const runEntry = async (e: Entry): Promise<void> => {
    const n = e.t.n;
    if (n.expiresAt <= clock.now()) return expire(e);
    await pace();
    const to = resolvedTo(e.row.to);
    let outcome: Outcome;
    try {
      outcome = await deliver(e, to);
    } catch (error) {
      // The send budget closed (stopping): nothing went out; the row stays as stored.
      log.info({ err: (error as Error).message, id: n.id }, 'send not made');
      e.where = 'done';
      if (running) schedule(e);
      return;
    }
    const base = {
      to: e.row.to === 'self' && to !== 'self' ? to : e.row.to,
      attempts: e.row.attempts + 1,
      leaseOwner: undefined,
      leaseUntil: undefined,
    };
    if (outcome.kind === 'sent') {
      e.row = rowWith(e.row, { ...base, state: laterState(e.row.state === 'sending' ? 'queued' : e.row.state, 'sent'), error: undefined });
      // Per message, so at debug: at info it is a noticeable share of the CPU under load (the report,
      // the status route and the admin page say the same).
      if (log.isLevelEnabled('debug')) log.debug({ id: n.id, to: maskPhone(to) }, 'sent');
      // A send that needed a retry is logged where its "will retry" was, so the pair can be read at info.
      else if (base.attempts > 1) log.info({ id: n.id, to: maskPhone(to), attempts: base.attempts }, 'sent after a retry');
      report({ notificationId: n.id, to, outcome: 'sent' });
    } else if (outcome.kind === 'failed') {
      e.row = rowWith(e.row, { ...base, state: 'failed', error: outcome.error });
      log.warn({ id: n.id, to: maskPhone(to), error: outcome.error }, 'failed');
      report({ notificationId: n.id, to, outcome: 'failed', error: outcome.error });
    } else {
      const delay = backoffDelayMs(base.attempts - 1, random, 2_000, 300_000);
      e.row = rowWith(e.row, { ...base, state: 'queued', error: outcome.error, nextAttemptAt: clock.now() + delay });
      log.info({ id: n.id, to: maskPhone(to), error: outcome.error, retryInMs: delay }, 'will retry');
      e.where = 'done';
      schedule(e);
    }
    // The send slot frees now; the write lingers for company and lands on its own.
    void persistEntry(e);
  };

  const pump = () => {
    while (running && owning && session.isOpen() && inFlight < window && ready.length > 0) {
      const e = ready.shift()!;
      if (e.where !== 'ready' || entries.get(keyOf(e.row)) !== e) continue;
      e.where = 'flight';
      inFlight++;
      const run = runEntry(e)
        .catch((error: unknown) => log.error({ err: error, id: e.row.notificationId }, 'delivery failed; will try again'))
        .finally(() => {
          inFlight--;
          if (e.where === 'flight') e.where = 'done';
          runs.delete(run);
          pump();
        });
      runs.add(run);
    }
  };

  /** Adopts a partition's unfinished rows; returns their keys. */
  const loadPartition = async (partition: string): Promise<Set<string>> => {
    const read = new Set<string>();
    for (const n of await queue.unfinishedIn(partition)) {
      adopt(n, false);
      for (const row of n.recipients) read.add(keyOf(row));
    }
    return read;
  };

  /** Reads the `open` index; loads every partition it has not seen, or that changed since. */
  const poll = async (full: boolean) => {
    const open = await queue.openPartitions();
    const listed = new Set(open.map((o) => o.partition));
    for (const { partition, etag } of open) {
      const known = partitions.get(partition);
      const asked = rereads.get(partition);
      if (!full && known && known.etag === etag && asked === undefined) continue;
      const read = await loadPartition(partition);
      partitions.set(partition, { etag });
      // An ask made while this read was under way (the count moved) is read at the next poll.
      if (asked !== undefined && rereads.get(partition) === asked) {
        rereads.delete(partition);
        settleForgotten(partition, read);
      }
    }
    for (const partition of rereads.keys()) {
      if (listed.has(partition)) continue;
      rereads.delete(partition); // retired: every row there is finished
      settleForgotten(partition, new Set());
    }
    // Retire partitions with nothing unfinished once no writer can still be writing there.
    const live = new Set([...entries.values()].map((e) => partitionOf(e.row.notificationId)));
    for (const [partition, known] of partitions) {
      if (live.has(partition) || rereads.has(partition)) continue;
      if (!listed.has(partition)) {
        partitions.delete(partition);
        continue;
      }
      if (partitionStart(partition) + 60_000 + retireAfterMs > clock.now() || known.etag === undefined) continue;
      if (await queue.retire(partition, known.etag)) partitions.delete(partition);
      else known.etag = undefined; // someone wrote there: read it again next time
    }
  };

  const sweepExpired = () => {
    const now = clock.now();
    for (const e of [...entries.values()]) {
      if (e.where === 'flight' || e.writing || isFinished(e.row.state)) continue;
      if (e.t.n.expiresAt > now) continue;
      later = later.filter((x) => x !== e);
      e.where = 'done';
      expire(e);
    }
  };

  const tick = async () => {
    if (!running) return;
    const now = clock.now();
    if (owning && (!loaded || now - lastPoll >= pollMs) && !polling) {
      lastPoll = now;
      const full = !loaded;
      polling = poll(full)
        .then(() => {
          if (full) {
            loaded = true;
            const resending = [...entries.values()].filter((e) => e.row.state === 'sending').length;
            if (resending > 0) log.info({ count: resending }, 'resending what was being sent when the session changed hands');
          }
        })
        .catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not read the queue index; will try again'))
        .finally(() => {
          polling = undefined;
          pump();
        });
    }
    if (owning && loaded && now - lastExpirySweep >= expirySweepMs) {
      lastExpirySweep = now;
      sweepExpired();
    }
    if (owning && deps.historySweep && now - lastHistorySweep >= historySweepMs) {
      lastHistorySweep = now;
      deps.historySweep().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'history sweep failed; will try again'));
    }
    if (later.length > 0) {
      // Only entries still waiting here: one moved on since (rescheduled, let go) may be in flight
      // by now, and starting it again would send it twice at once.
      const due: Entry[] = [];
      const waiting: Entry[] = [];
      for (const e of later) if (e.where === 'later') (e.row.nextAttemptAt <= now ? due : waiting).push(e);
      later = waiting;
      for (const e of due) {
        e.where = 'done';
        schedule(e);
      }
    }
    pump();
  };

  const startTimer = () => {
    const every = Math.max(50, Math.min(1_000, pollMs, expirySweepMs, receiptFlushMs));
    timer = setInterval(() => void tick(), every);
    timer.unref();
  };

  /** The row a receipt is for: its entry while unfinished, else the finished row, else read back. */
  const receiptTarget = (messageId: string): Persisted | Promise<Persisted | undefined> | undefined => {
    const ref = parseMessageId(messageId);
    const key = ref ? keyOf({ notificationId: ref.notificationId, index: ref.recipient }) : legacyIds.get(messageId);
    if (!key) return undefined;
    const held = entries.get(key) ?? finished.get(key);
    if (held || !ref || !owning) return held;
    let reading = readingBack.get(key);
    if (!reading) {
      reading = queue
        .recipient(ref.notificationId, ref.recipient)
        .then((row) => {
          if (!row || !isFinished(row.state)) return undefined; // unfinished and not ours: not ours to write
          const p = { row, dirty: false };
          finished.set(key, p);
          return p;
        })
        .catch((error: unknown) => {
          log.warn({ err: (error as Error).message }, 'could not read a row back for its receipt');
          return undefined;
        })
        .finally(() => readingBack.delete(key));
      readingBack.set(key, reading);
    }
    return reading;
  };

  const onReceipt = (messageId: string, status: ReceiptStatus) => {
    const target = receiptTarget(messageId);
    // What memory holds is changed at once (a receipt right after the ack rides on the outcome write).
    if (target instanceof Promise) void target.then((p) => applyReceipt(p, status));
    else applyReceipt(target, status);
  };

  const applyReceipt = (p: Persisted | undefined, status: ReceiptStatus) => {
    if (!p || p.row.state === 'failed' || p.row.state === 'expired') return;
    const next = laterState(p.row.state, status);
    if (next === p.row.state) return;
    p.row = rowWith(p.row, { state: next });
    // Rides on a write still lingering, or lingers itself for the next transaction of its partition.
    void persist(
      p,
      (stored) => {
        if (stored && stored !== UNKNOWN) p.row = stored;
      },
      receiptFlushMs,
    );
  };

  const becomeOwner = (held: boolean) => {
    if (held === owning) return;
    owning = held;
    loaded = false;
    if (!held) {
      // Another sidecar owns the rows now; what memory holds is no longer the truth.
      entries.clear();
      notifications.clear();
      partitions.clear();
      rereads.clear();
      ready.length = 0;
      later = [];
    }
    void tick();
  };

  let offReceipt: (() => void) | undefined;
  let offStatus: (() => void) | undefined;
  let offLease: (() => void) | undefined;
  return {
    accepted(n, openEtag) {
      if (!owning) return;
      adopt(n, false);
      const partition = partitionOf(n.id);
      const known = partitions.get(partition);
      if (known && known.etag === undefined && openEtag) known.etag = openEtag;
      pump();
    },
    async refresh(id) {
      if (!owning) return;
      const n = await queue.get(id);
      if (!n) return;
      adopt(n, true);
      if (n.recipients.some((r) => !isFinished(r.state))) partitions.set(partitionOf(id), { etag: await queue.markOpen(partitionOf(id)) });
      pump();
    },
    owns: () => owning,
    snapshot() {
      const unfinished = [...entries.values()]
        .map((e) => e.row)
        .sort((a, b) => a.notificationId.localeCompare(b.notificationId) || a.index - b.index);
      let oldest: number | undefined;
      for (const t of notifications.values()) if (t.live > 0 && (oldest === undefined || t.n.createdAt < oldest)) oldest = t.n.createdAt;
      return { unfinished, recent: [...recent], oldestCreatedAt: oldest };
    },
    onReport(listener) {
      events.on('report', listener);
      return () => events.off('report', listener);
    },
    start() {
      if (running) return;
      running = true;
      offReceipt = session.onReceipt(onReceipt);
      offStatus = session.onStatus((s) => {
        if (s.state === 'open') pump();
      });
      offLease = deps.lease?.onChange(becomeOwner);
      startTimer();
      receiptPurge = setInterval(
        () => {
          finished.purgeStale();
          legacyIds.purgeStale();
        },
        Math.min(60_000, receiptMemoryMs),
      );
      receiptPurge.unref();
      becomeOwner(deps.lease ? deps.lease.held() : true);
    },
    async stop() {
      running = false;
      offReceipt?.();
      offStatus?.();
      offLease?.();
      if (timer) clearInterval(timer);
      if (receiptPurge) clearInterval(receiptPurge);
      await Promise.allSettled([...runs]);
      await polling;
      queue.flushLingering();
      await Promise.allSettled([...readingBack.values()]);
      await Promise.allSettled([...entries.values(), ...finished.values()].map((p) => p.writing));
    },
  };
}
