/**
 * The delivery worker alone, with its clock in the test's hand: storage is an in-memory table
 * behind the real group committer (shared/group-commit.ts), WhatsApp a session whose acks the test
 * gives. The end-to-end suites cover the same worker against Azurite and the loopback peer; these
 * pin the ordering rules of its write path, which those can only see through timing:
 * the report leaves on the ack, the outcome waits for the Signal keys, a receipt rides on a
 * lingering outcome, a send slot does not wait for a write, and backoff and expiry follow the clock.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGroupCommitter } from '../../shared/group-commit.js';
import type { Clock } from '../../shared/clock.js';
import { createLogger } from '../../shared/logger.js';
import {
  isFinished,
  partitionOf,
  type NotificationQueue,
  type QueuedNotification,
  type RecipientRow,
  type SaveOptions,
} from '../../shared/notification-queue.js';
import { createDeliveryWorker, type DeliveryReport, type DeliveryWorker } from '../../sidecar/delivery-worker.js';
import { createPartContentBuilder } from '../../sidecar/part-content.js';
import type { AckOutcome } from '../../sidecar/ack-waiter.js';
import type { ReceiptStatus, SessionStatus, WhatsAppSession } from '../../sidecar/whatsapp-session.js';

const PHONE = '919876543210@s.whatsapp.net';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

async function until(check: () => boolean, what: string, ms = 3_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Rows as storage holds them, and every write that reached it (one entry per row per transaction).
 * `failReads` point reads and `failWrites` writes fail first, as they do while storage is unreachable.
 */
function memoryQueue() {
  const stored = new Map<string, RecipientRow>();
  const notifications = new Map<string, QueuedNotification>();
  const faults = { failReads: 0, failWrites: 0 };
  /** The `open` index: a partition is listed from its first accept until the worker retires it. */
  const open = new Set<string>();
  const writes: { key: string; state: string; transaction: number }[] = [];
  let transactions = 0;
  let etags = 0;
  type Pending = { current: () => RecipientRow; resolve: (row: RecipientRow | undefined) => void };
  const committer = createGroupCommitter<Pending>({
    partitionOf: (p) => partitionOf(p.current().notificationId),
    actionsOf: () => 1,
    keyOf: (p) => `${p.current().notificationId}~${p.current().index}`,
    async commit(group) {
      transactions++;
      await sleep(1);
      for (const p of group) {
        const row = p.current();
        const key = `${row.notificationId}~${row.index}`;
        if (stored.get(key)?.etag !== row.etag) {
          p.resolve(undefined); // someone else changed it
          continue;
        }
        const saved = { ...row, etag: `e${++etags}` };
        stored.set(key, saved);
        writes.push({ key, state: row.state, transaction: transactions });
        p.resolve(saved);
      }
    },
  });
  const unsupported = () => Promise.reject(new Error('not used by these tests'));
  const queue: NotificationQueue = {
    enqueue: unsupported,
    get: async () => undefined,
    header: async () => undefined,
    save: (row: RecipientRow | (() => RecipientRow), options: SaveOptions = {}) => {
      if (faults.failWrites > 0) {
        faults.failWrites--;
        return Promise.reject(new Error('connect ECONNREFUSED'));
      }
      return new Promise((resolve) => committer.add({ current: typeof row === 'function' ? row : () => row, resolve }, options.lingerMs));
    },
    flushLingering: () => committer.flushLingering(),
    update: unsupported,
    claim: unsupported,
    recipient: async (id, index) => {
      if (faults.failReads > 0) {
        faults.failReads--;
        throw new Error('connect ECONNREFUSED');
      }
      return stored.get(`${id}~${index}`);
    },
    // One ETag per partition that never changes: the worker reads a partition it knows again only when it let a row go.
    openPartitions: async () => [...open].map((partition) => ({ partition, etag: `open ${partition}` })),
    // As the real one: notifications with unfinished rows, and those rows only.
    unfinishedIn: async (partition) =>
      [...notifications.values()]
        .filter((n) => partitionOf(n.id) === partition)
        .map((n) => ({
          ...n,
          recipients: n.recipients.map((r) => stored.get(`${r.notificationId}~${r.index}`)!).filter((r) => !isFinished(r.state)),
        }))
        .filter((n) => n.recipients.length > 0),
    markOpen: async (partition) => {
      open.add(partition);
      return `open ${partition}`;
    },
    retire: async (partition) => open.delete(partition) || true,
    retiredBefore: async () => [],
    removePartition: async () => 0,
    extendExpiry: async () => false,
  };
  return { queue, stored, writes, notifications, faults, open };
}

/** A WhatsApp session whose acks come when the test says (or at once, by default). */
function scriptedSession() {
  const sends: { jid: string; messageId: string; ack: (outcome: AckOutcome) => void }[] = [];
  let autoAck: AckOutcome | undefined = { ok: true };
  const receiptListeners = new Set<(id: string, status: ReceiptStatus) => void>();
  const status: SessionStatus = { state: 'open', me: '15550001111' };
  const session: WhatsAppSession = {
    status: () => status,
    selfJid: () => '15550001111@s.whatsapp.net',
    isOpen: () => true,
    start: async () => undefined,
    pair: async () => status,
    connect: async () => status,
    disconnect: async () => status,
    unlink: async () => status,
    send: (jid, _content, messageId) =>
      new Promise<AckOutcome>((ack) => {
        sends.push({ jid, messageId, ack });
        if (autoAck) ack(autoAck);
      }),
    newMessageId: () => 'unused',
    exists: async () => true,
    onStatus: () => () => undefined,
    onReceipt: (listener) => {
      receiptListeners.add(listener);
      return () => receiptListeners.delete(listener);
    },
    stop: async () => undefined,
  };
  return {
    session,
    sends,
    ackWith: (outcome: AckOutcome | undefined) => (autoAck = outcome),
    receipt: (messageId: string, s: ReceiptStatus) => receiptListeners.forEach((l) => l(messageId, s)),
  };
}

let serial = 0;
function notification(at: number, ttlMs = 3_600_000): QueuedNotification {
  const id = `q202611251200-${(++serial).toString(16).padStart(16, '0')}`;
  return {
    id,
    apiKeyHash: 'hash',
    createdAt: at,
    expiresAt: at + ttlMs,
    skipped: 0,
    waitForDelivery: true,
    content: { message: `alert ${serial}` },
    recipientCount: 1,
    recipients: [
      {
        notificationId: id,
        index: 0,
        to: PHONE,
        state: 'sending',
        attempts: 0,
        nextAttemptAt: at,
        messageIds: [],
        updatedAt: at,
        etag: 'e0',
      },
    ],
  };
}

interface Rig {
  worker: DeliveryWorker;
  reports: DeliveryReport[];
  store: ReturnType<typeof memoryQueue>;
  wa: ReturnType<typeof scriptedSession>;
  clock: Clock & { t: number };
  keys: { release(): void; calls: number };
  /** Attachment bytes by notification id, and the ids whose attachments the worker removed. */
  attachments: { bytes: Map<string, Buffer>; removed: string[] };
  accept(n: QueuedNotification): void;
}

const workers: DeliveryWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

function rig(
  options: {
    maxInFlight?: number;
    writeLingerMs?: number;
    keysHeld?: boolean;
    tickMs?: number;
    storageRetry?: { tries: number; waitMs: number };
  } = {},
): Rig {
  const store = memoryQueue();
  const wa = scriptedSession();
  const clock = { t: T0, now: () => clock.t };
  // The Signal keys writer: flushed() resolves when the test releases it (or at once).
  let release!: () => void;
  let gate = options.keysHeld ? new Promise<void>((r) => (release = r)) : Promise.resolve();
  const keys = {
    calls: 0,
    release: () => {
      release?.();
      gate = Promise.resolve();
    },
  };
  const attachments = { bytes: new Map<string, Buffer>(), removed: [] as string[] };
  const worker = createDeliveryWorker({
    queue: store.queue,
    session: wa.session,
    content: createPartContentBuilder({
      open: async (id) => {
        const bytes = attachments.bytes.get(id);
        if (!bytes) throw new Error('no such attachment');
        return Readable.from([bytes]);
      },
    }),
    attachments: {
      remove: async (id) => {
        attachments.removed.push(id);
        attachments.bytes.delete(id);
      },
    },
    clock,
    log: createLogger({ level: 'silent', name: 'test' }),
    owner: 'unit',
    sendIntervalMs: 0,
    maxInFlight: options.maxInFlight ?? 16,
    pollMs: options.tickMs ?? 50,
    expirySweepMs: options.tickMs ?? 50,
    writeLingerMs: options.writeLingerMs ?? 0,
    receiptFlushMs: options.tickMs ?? 50,
    ...(options.storageRetry ? { storageRetry: options.storageRetry } : {}),
    random: () => 0.5,
    keysDurable: () => {
      keys.calls++;
      return gate;
    },
  });
  const reports: DeliveryReport[] = [];
  worker.onReport((r) => reports.push(r));
  worker.start();
  workers.push(worker);
  return {
    worker,
    reports,
    store,
    wa,
    clock,
    keys,
    attachments,
    accept(n) {
      store.notifications.set(n.id, n);
      store.open.add(partitionOf(n.id));
      for (const r of n.recipients) store.stored.set(`${r.notificationId}~${r.index}`, r);
      worker.accepted(n, `open ${partitionOf(n.id)}`); // the index row's ETag as the memory queue gives it
    },
  };
}

const stateOf = (r: Rig, n: QueuedNotification) => r.store.stored.get(`${n.id}~0`)?.state;

test('the report leaves on the ack; the outcome is written only once the Signal keys are stored', async () => {
  const r = rig({ keysHeld: true });
  const n = notification(T0);
  r.accept(n);
  await until(() => r.reports.length === 1, 'the report');
  expect(r.reports[0]).toMatchObject({ notificationId: n.id, to: PHONE, outcome: 'sent' });
  await sleep(60);
  expect(stateOf(r, n)).toBe('sending'); // keys not stored yet: storage still says sending
  r.keys.release();
  await until(() => stateOf(r, n) === 'sent', 'the outcome write');
  expect(r.store.writes).toHaveLength(1);
});

test('a send slot does not wait for its write: sends go on while outcomes wait for the keys', async () => {
  const r = rig({ keysHeld: true, maxInFlight: 2 });
  const many = Array.from({ length: 6 }, () => notification(T0));
  many.forEach((n) => r.accept(n));
  await until(() => r.wa.sends.length === 6, 'six sends through two slots');
  expect(r.store.writes).toHaveLength(0);
  r.keys.release();
  await until(() => r.store.writes.length === 6, 'six outcome writes');
});

test('a receipt that comes while the outcome lingers is in the same write', async () => {
  const r = rig({ writeLingerMs: 300 });
  const n = notification(T0);
  r.accept(n);
  await until(() => r.wa.sends.length === 1, 'the send');
  r.wa.receipt(r.wa.sends[0]!.messageId, 'delivered');
  await until(() => stateOf(r, n) === 'delivered', 'the write');
  expect(r.store.writes).toEqual([expect.objectContaining({ state: 'delivered' })]);
});

test('outcomes of one partition lingering together share one transaction', async () => {
  const r = rig({ writeLingerMs: 150 });
  const many = Array.from({ length: 5 }, () => notification(T0));
  many.forEach((n) => r.accept(n));
  await until(() => r.store.writes.length === 5, 'five writes');
  expect(new Set(r.store.writes.map((w) => w.transaction)).size).toBe(1);
});

test('a send without an ack is retried after its backoff, by the clock, under the same message id', async () => {
  const r = rig();
  r.wa.ackWith({ ok: false, error: 'no ack from the server' });
  const n = notification(T0);
  r.accept(n);
  await until(() => stateOf(r, n) === 'queued', 'the retry write');
  const queued = r.store.stored.get(`${n.id}~0`)!;
  expect(queued.attempts).toBe(1);
  expect(queued.nextAttemptAt).toBeGreaterThan(T0); // backoff from the clock, not now()
  r.wa.ackWith({ ok: true });
  await sleep(150);
  expect(r.wa.sends).toHaveLength(1); // the clock has not moved: no resend
  r.clock.t = queued.nextAttemptAt;
  await until(() => stateOf(r, n) === 'sent', 'the resend');
  expect(r.wa.sends.map((s) => s.messageId)).toEqual([r.wa.sends[0]!.messageId, r.wa.sends[0]!.messageId]);
});

test('a retry whose write met a newer row runs once: the backoff it left behind does not start it again in flight', async () => {
  // Ticks a second apart, so what happens between two of them is in the test's hand.
  const r = rig({ keysHeld: true, tickMs: 1_000 });
  r.wa.ackWith({ ok: false, error: 'no ack from the server' });
  const n = notification(T0);
  r.accept(n);
  await until(() => r.wa.sends.length === 1, 'the first send');
  r.wa.ackWith(undefined); // from here, sends stay in flight until the test acks them
  const other = notification(T0);
  r.accept(other);
  await until(() => r.wa.sends.length === 2, "the other notification's send");
  // Storage changed meanwhile (an admin, another sidecar): queued and due now. The retry's write meets it.
  const key = `${n.id}~0`;
  r.store.stored.set(key, { ...r.store.stored.get(key)!, state: 'queued', etag: 'theirs', nextAttemptAt: T0 });
  r.keys.release();
  await sleep(30);
  r.wa.sends[1]!.ack({ ok: true }); // a send ends and the worker pumps before its next tick: the row storage holds goes out
  await until(() => r.wa.sends.length === 3, 'the send of the row storage holds');
  await sleep(2_500); // past two ticks: the entry left waiting for its backoff is not started again
  expect(r.wa.sends.map((x) => x.messageId)).toEqual([r.wa.sends[0]!.messageId, r.wa.sends[1]!.messageId, r.wa.sends[0]!.messageId]);
  r.wa.sends[2]!.ack({ ok: true });
  await until(() => stateOf(r, n) === 'sent', 'the outcome');
  expect(r.wa.sends).toHaveLength(3);
});

/** A retry whose outcome write meets a row someone else reset to queued (due now), as the admin's "retry" does. */
async function retryMeetsReset(r: Rig, n: QueuedNotification, failReads: number) {
  r.wa.ackWith({ ok: false, error: 'no ack from the server' });
  r.accept(n);
  await until(() => r.wa.sends.length === 1, 'the first send');
  r.wa.ackWith({ ok: true });
  const key = `${n.id}~0`;
  r.store.stored.set(key, { ...r.store.stored.get(key)!, state: 'queued', etag: 'theirs', nextAttemptAt: T0 });
  r.store.faults.failReads = failReads;
  r.keys.release();
}

test('a row changed elsewhere that cannot be read back at once is read again: what storage holds is sent', async () => {
  const r = rig({ keysHeld: true, storageRetry: { tries: 5, waitMs: 20 } });
  const n = notification(T0);
  await retryMeetsReset(r, n, 2);
  await until(() => stateOf(r, n) === 'sent', 'the resend of the reset row');
  expect(r.wa.sends).toHaveLength(2);
  expect(r.store.faults.failReads).toBe(0);
});

test('a row changed elsewhere that cannot be read back at all is let go unfinished, and read again with its partition', async () => {
  const r = rig({ keysHeld: true, storageRetry: { tries: 3, waitMs: 20 } });
  const n = notification(T0);
  await retryMeetsReset(r, n, 3);
  await until(() => r.store.faults.failReads === 0, 'the failed reads');
  await sleep(100);
  expect(r.wa.sends).toHaveLength(1); // let go: not sent from memory
  r.clock.t += 1_000; // the next poll is due
  await until(() => stateOf(r, n) === 'sent', 'the send of the row as its partition reads');
  expect(r.wa.sends).toHaveLength(2);
  expect(r.worker.snapshot().recent.map((x) => x.notificationId)).toEqual([n.id]);
});

/**
 * An image to two phones. Row 0's send is to be retried, but storage changed it meanwhile (to `theirs`)
 * and cannot be read back, so it is let go while row 1 is still in flight; then row 1 is sent and finishes.
 */
async function letGoBesideAFinishedSibling(r: Rig, theirs: Partial<RecipientRow>): Promise<QueuedNotification> {
  const OTHER = '447700900123@s.whatsapp.net';
  const base = notification(T0);
  const n: QueuedNotification = {
    ...base,
    content: { image: { byteLength: 3, mimetype: 'image/png', fileName: 'chart.png' }, caption: 'chart' },
    recipientCount: 2,
    recipients: [base.recipients[0]!, { ...base.recipients[0]!, index: 1, to: OTHER }],
  };
  r.attachments.bytes.set(n.id, Buffer.from([1, 2, 3]));
  r.wa.ackWith(undefined);
  r.accept(n);
  await until(() => r.wa.sends.length === 2, 'both sends');
  const [first, second] = PHONE === r.wa.sends[0]!.jid ? r.wa.sends : [r.wa.sends[1]!, r.wa.sends[0]!];
  first!.ack({ ok: false, error: 'no ack from the server' });
  r.wa.ackWith({ ok: true });
  const key = `${n.id}~0`;
  r.store.stored.set(key, { ...r.store.stored.get(key)!, ...theirs, etag: 'theirs' });
  r.store.faults.failReads = 2;
  r.keys.release();
  await until(() => r.store.faults.failReads === 0, 'the failed reads');
  await sleep(50);
  second!.ack({ ok: true });
  await until(() => r.store.stored.get(`${n.id}~1`)?.state === 'sent', 'row 1 sent');
  await sleep(100);
  return n;
}

test("a row let go keeps its notification's attachments, though every other row of it finishes", async () => {
  const r = rig({ keysHeld: true, storageRetry: { tries: 2, waitMs: 20 } });
  const n = await letGoBesideAFinishedSibling(r, { state: 'queued', nextAttemptAt: T0 }); // an admin retry
  expect(r.attachments.removed).toEqual([]);
  r.clock.t += 1_000; // the next poll reads the partition again
  await until(() => stateOf(r, n) === 'sent', 'row 0 sent, image and all');
  expect(r.wa.sends.filter((x) => x.jid === PHONE)).toHaveLength(2);
  await until(() => r.attachments.removed.length === 1, 'the attachments removed once every row is finished');
  expect(r.attachments.removed).toEqual([n.id]);
});

test('a row let go that storage has since finished frees its notification when the partition is read again', async () => {
  const r = rig({ keysHeld: true, storageRetry: { tries: 2, waitMs: 20 } });
  const n = await letGoBesideAFinishedSibling(r, { state: 'failed', error: 'cancelled by admin' });
  expect(r.attachments.removed).toEqual([]);
  r.clock.t += 1_000; // the next poll reads the partition again: nothing of it unfinished
  await until(() => r.attachments.removed.length === 1, 'the attachments removed');
  expect(r.attachments.removed).toEqual([n.id]);
  expect(r.wa.sends.filter((x) => x.jid === PHONE)).toHaveLength(1);
  expect(stateOf(r, n)).toBe('failed');
});

test('an outcome write that gives up lets the row go: read again with its partition, it is sent and recorded', async () => {
  const r = rig({ storageRetry: { tries: 2, waitMs: 20 } });
  r.store.faults.failWrites = 2;
  const n = notification(T0);
  r.accept(n);
  await until(() => r.store.faults.failWrites === 0, 'the failed writes');
  await sleep(100);
  expect(stateOf(r, n)).toBe('sending'); // storage still has it as it was
  expect(r.worker.snapshot().recent).toEqual([]); // not finished in memory either
  r.clock.t += 1_000; // the next poll reads the partition again
  await until(() => stateOf(r, n) === 'sent', 'the resend recorded');
  expect(r.wa.sends.map((x) => x.messageId)).toEqual([r.wa.sends[0]!.messageId, r.wa.sends[0]!.messageId]);
});

test('a refusal with a code is final; past its expiry a notification ends expired without a send', async () => {
  const r = rig();
  r.wa.ackWith({ ok: false, error: 'account restricted', code: '463' });
  const refused = notification(T0);
  r.accept(refused);
  await until(() => stateOf(r, refused) === 'failed', 'the refusal');
  const late = notification(T0 - 10_000, 5_000);
  r.accept(late);
  await until(() => stateOf(r, late) === 'expired', 'the expiry');
  expect(r.wa.sends).toHaveLength(1);
  expect(r.reports.find((x) => x.notificationId === late.id)).toMatchObject({ outcome: 'failed', error: 'expired' });
});
