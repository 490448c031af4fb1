/**
 * The durable notification queue (`WhatsappNotificationQueue`), laid out so that every request
 * names its PartitionKey (docs/storage-layout.md):
 *
 * - time partitions `q<yyyyMMddHHmm><nnn>` (the creation minute, and a shard a writer picks at
 *   random when its current partition of that minute holds 250 notifications): one header row
 *   `<id>` plus one row per recipient `<id>~<index>`, written in a single entity-group transaction,
 *   so a notification is either fully queued or not at all. The id embeds its partition, so a
 *   lookup by id is a point query, and notifications of the same partition share transactions
 *   (group commit). Older ids without the shard (`q<yyyyMMddHHmm>`) are still read;
 * - partition `open`: one row per time partition that may still hold unfinished work, upserted by
 *   a writer before it writes there, retired by the sidecar once all of it has finished;
 * - partition `hist`: one row per retired time partition, so the history sweep finds partitions
 *   older than WHATSAPP_HISTORY with a range read of that one partition.
 *
 * Recipient rows carry the delivery state machine: queued → sending → sent → delivered → read, or
 * failed / expired. Writes are ETag-conditional: the sidecar holding the session lease owns every
 * unfinished row, but the function's offline path and the admin API may touch rows too.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { odata, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import type { TableStore } from './table-store.js';
import { removeWholePartition } from './partition-removal.js';
import { createGroupCommitter } from './group-commit.js';
import { submitTransaction, type TransactionResult } from './table-transaction.js';
import { getEntityOrUndefined, isConflict, isNotFound, isPreconditionFailed } from './table-store.js';
import { notificationContentSchema } from './sidecar-protocol.js';
import { recipientAddress, type NewNotification } from './notification-model.js';
import { rowWith } from './recipient-row.js';

export type { NewNotification } from './notification-model.js';

export type RecipientState = 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'expired';
export const FINAL_STATES: ReadonlySet<RecipientState> = new Set(['sent', 'delivered', 'read', 'failed', 'expired']);
/** States after which nothing more is sent (delivered/read only ever follow sent). */
export const isFinished = (state: RecipientState): boolean => FINAL_STATES.has(state);

const STATE_RANK: Record<RecipientState, number> = { queued: 0, sending: 1, sent: 2, delivered: 3, read: 4, failed: 5, expired: 5 };
/** Receipts can arrive out of order (READ before DELIVERY_ACK): keep the highest state seen. */
export const laterState = (a: RecipientState, b: RecipientState): RecipientState => (STATE_RANK[b] > STATE_RANK[a] ? b : a);

export interface RecipientRow {
  notificationId: string;
  index: number;
  /** A JID, or `self` until the paired number is known. */
  to: string;
  state: RecipientState;
  attempts: number;
  /** Epoch ms. */
  nextAttemptAt: number;
  /** The notification's expiry (epoch ms), copied onto the row. */
  expiresAt?: number;
  leaseOwner?: string;
  leaseUntil?: number;
  error?: string;
  /** Ids of rows written before ids were derived (message-ids.ts); empty for newer rows. */
  messageIds: string[];
  /** Epoch ms. */
  updatedAt: number;
  etag: string;
}

/** A stored notification as the worker holds it: the new one's fields, with its recipient rows. */
export interface QueuedNotification extends Omit<NewNotification, 'recipients'> {
  recipientCount: number;
  recipients: RecipientRow[];
}

/** A row of the `hist` index: RowKey `<when it was retired, padded epoch ms>~<partition>`, so age is a key range. */
export interface RetiredPartition {
  partition: string;
  historyKey: string;
}

/** A row of the `open` index: a time partition that may hold unfinished work. */
export interface OpenPartition {
  partition: string;
  etag: string;
}

type HeaderEntity = {
  kind: 'notification';
  apiKeyHash: string;
  createdAt: string;
  expiresAt: string;
  skipped: number;
  waitForDelivery: boolean;
  content: string;
  recipientCount: number;
};

type RecipientEntity = {
  kind: 'recipient';
  notificationId: string;
  index: number;
  to: string;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: number;
  expiresAt?: number;
  leaseOwner?: string;
  leaseUntil?: number;
  error?: string;
  messageIds: string;
  updatedAt: string;
};

const OPEN_PK = 'open';
const HISTORY_PK = 'hist';
/** `q<yyyyMMddHHmm><nnn>-<16 hex>`; ids written before shards have no `<nnn>`. */
const ID_PATTERN = /^(q\d{12}(?:\d{3})?)-[0-9a-f]{16}$/;
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The UTC minute of a moment, `q<yyyyMMddHHmm>`: the time part of its partitions. */
export function partitionAt(epochMs: number): string {
  const d = new Date(epochMs);
  return `q${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`;
}

/** The first moment of a time partition's minute (epoch ms); NaN for anything else. */
export function partitionStart(partition: string): number {
  const m = /^q(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:\d{3})?$/.exec(partition);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])) : Number.NaN;
}

/**
 * Notifications a writer puts in one partition before it opens another in the same minute. A busy
 * minute would otherwise be one hot partition: Azure serves about 2,000 entities a second per
 * partition, and Azurite's insert scans the whole partition for the row key, so its cost grows with
 * the partition. Quiet traffic keeps one partition a minute, so the index rows stay few.
 */
export const NOTIFICATIONS_PER_PARTITION = 250;

export interface NotificationIds {
  /** A new notification id for a notification created at `now` (epoch ms). */
  next(now: number): string;
}

/**
 * Ids naming their partition: the minute, then a shard picked at random whenever this writer
 * fills one (or the minute changes). Writers need not agree: two that pick the same shard simply
 * share a partition.
 */
export function createNotificationIds(options: { perPartition?: number; random?: () => number } = {}): NotificationIds {
  const perPartition = options.perPartition ?? NOTIFICATIONS_PER_PARTITION;
  const random = options.random ?? Math.random;
  let current: { minute: string; partition: string; count: number } | undefined;
  return {
    next(now) {
      const minute = partitionAt(now);
      if (!current || current.minute !== minute || current.count >= perPartition) {
        current = { minute, partition: `${minute}${String(Math.floor(random() * 1000)).padStart(3, '0')}`, count: 0 };
      }
      current.count++;
      return `${current.partition}-${randomBytes(8).toString('hex')}`;
    },
  };
}

const processIds = createNotificationIds();
/** A new id from this process's id source (one per process: the partition it fills is its own). */
export function newNotificationId(now: number | Date): string {
  return processIds.next(typeof now === 'number' ? now : now.getTime());
}

export const isNotificationId = (id: string): boolean => ID_PATTERN.test(id);
export const partitionOf = (id: string): string => ID_PATTERN.exec(id)?.[1] ?? 'invalid';
const historyStamp = (epochMs: number): string => String(Math.max(0, Math.floor(epochMs))).padStart(15, '0');
const recipientRowKey = (id: string, index: number): string => `${id}~${index}`;

export class NotificationExists extends Error {
  constructor(id: string) {
    super(`notification ${id} is already queued`);
    this.name = 'NotificationExists';
  }
}

export type RecipientPatch = Partial<
  Pick<RecipientRow, 'to' | 'state' | 'attempts' | 'nextAttemptAt' | 'leaseOwner' | 'leaseUntil' | 'error' | 'messageIds'>
>;

/** What an insert wrote: the recipient rows as stored (with their ETags) and the open index row's ETag. */
export interface Inserted {
  rows: RecipientRow[];
  openEtag: string;
}

export interface EnqueueOptions {
  /** Write the recipient rows already leased (the insert is the claim). */
  claim?: InsertClaim;
  /**
   * The writer owns the rows (holds the session lease, so it retires partitions itself): it lists a
   * partition as open once, not on every write. Any other writer upserts the index row every time,
   * so its ETag change tells the owner to look.
   */
  owner?: boolean;
}

export interface SaveOptions {
  /** Wait up to this long for other writes of the partition to ride along with (default 0: at once). */
  lingerMs?: number;
}

/** Who the recipient rows of a new notification belong to: written already leased (the insert is the claim). */
export interface InsertClaim {
  owner: string;
  leaseUntil: number;
}

export interface NotificationQueue {
  /**
   * Durably writes the notification (header and recipients atomically), after making sure its
   * time partition is listed as open. Throws NotificationExists on a repeat id.
   */
  enqueue(notification: NewNotification, options?: EnqueueOptions): Promise<Inserted>;
  /** One notification with all its recipients: a range read inside its partition. */
  get(id: string): Promise<QueuedNotification | undefined>;
  /** The notification's header alone (no recipients): one point read. */
  header(id: string): Promise<QueuedNotification | undefined>;
  /**
   * Saves a recipient row (conditional on its ETag), group-committed with other writes of its
   * partition; undefined when the row changed meanwhile. `row` may be a function: it is called when
   * the transaction leaves, so a change made while the write lingered goes along.
   */
  save(row: RecipientRow | (() => RecipientRow), options?: SaveOptions): Promise<RecipientRow | undefined>;
  /** Sends lingering saves now (shutdown). */
  flushLingering(): void;
  /** Conditional update against the row's ETag; undefined when the row changed meanwhile. */
  update(row: RecipientRow, patch: RecipientPatch): Promise<RecipientRow | undefined>;
  /** Takes the row if nobody changed it since it was read; undefined when someone else did. */
  claim(row: RecipientRow, owner: string, leaseUntil: number): Promise<RecipientRow | undefined>;
  /** Re-reads one recipient row (after a conflict). */
  recipient(notificationId: string, index: number): Promise<RecipientRow | undefined>;
  /** The `open` index: time partitions that may hold unfinished work. */
  openPartitions(): Promise<OpenPartition[]>;
  /** Notifications of one time partition with their unfinished recipients (none listed: all finished). */
  unfinishedIn(partition: string): Promise<QueuedNotification[]>;
  /** Lists a partition in the `open` index (again); returns the index row's ETag. */
  markOpen(partition: string): Promise<string>;
  /** Moves a finished partition from `open` to `hist`; false when the open row changed since `etag` (someone wrote there). */
  retire(partition: string, etag: string): Promise<boolean>;
  /** Partitions retired before `before` (epoch ms), oldest first. */
  retiredBefore(before: number, limit: number): Promise<RetiredPartition[]>;
  /** Deletes a whole time partition and its index rows; returns the entities removed. */
  removePartition(retired: RetiredPartition): Promise<number>;
  /** Moves a notification's expiry (admin retry of an expired one); false when it does not exist. */
  extendExpiry(id: string, expiresAt: number): Promise<boolean>;
}

function toRow(e: RecipientEntity & { etag: string }): RecipientRow {
  return {
    notificationId: e.notificationId,
    index: e.index,
    to: e.to,
    state: e.state,
    attempts: e.attempts,
    nextAttemptAt: e.nextAttemptAt,
    expiresAt: typeof e.expiresAt === 'number' ? e.expiresAt : undefined,
    leaseOwner: e.leaseOwner ? e.leaseOwner : undefined,
    leaseUntil: typeof e.leaseUntil === 'number' && e.leaseUntil > 0 ? e.leaseUntil : undefined,
    error: e.error ? e.error : undefined,
    messageIds: e.messageIds ? (JSON.parse(e.messageIds) as string[]) : [],
    updatedAt: Date.parse(e.updatedAt),
    etag: e.etag,
  };
}

function toEntity(row: RecipientRow): RecipientEntity & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: partitionOf(row.notificationId),
    rowKey: recipientRowKey(row.notificationId, row.index),
    kind: 'recipient',
    notificationId: row.notificationId,
    index: row.index,
    to: row.to,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    ...(row.expiresAt !== undefined ? { expiresAt: row.expiresAt } : {}),
    leaseOwner: row.leaseOwner ?? '',
    leaseUntil: row.leaseUntil ?? 0,
    error: row.error ?? '',
    messageIds: JSON.stringify(row.messageIds),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

function toNotification(id: string, h: HeaderEntity, recipients: RecipientRow[]): QueuedNotification {
  return {
    id,
    apiKeyHash: h.apiKeyHash,
    createdAt: Date.parse(h.createdAt),
    expiresAt: Date.parse(h.expiresAt),
    skipped: h.skipped,
    waitForDelivery: h.waitForDelivery,
    content: notificationContentSchema.parse(JSON.parse(h.content)),
    recipientCount: h.recipientCount,
    recipients: recipients.sort((a, b) => a.index - b.index),
  };
}

function rowsFor(n: NewNotification, claim: InsertClaim | undefined): RecipientRow[] {
  return n.recipients.map((r, index) => ({
    notificationId: n.id,
    index,
    to: recipientAddress(r),
    state: claim ? 'sending' : 'queued',
    attempts: 0,
    nextAttemptAt: n.createdAt,
    expiresAt: n.expiresAt,
    leaseOwner: claim?.owner,
    leaseUntil: claim?.leaseUntil,
    error: undefined,
    messageIds: [],
    updatedAt: n.createdAt,
    etag: '',
  }));
}

function actionsFor(n: NewNotification, rows: RecipientRow[]): TransactionAction[] {
  const pk = partitionOf(n.id);
  const header: HeaderEntity & { partitionKey: string; rowKey: string } = {
    partitionKey: pk,
    rowKey: n.id,
    kind: 'notification',
    apiKeyHash: n.apiKeyHash,
    createdAt: new Date(n.createdAt).toISOString(),
    expiresAt: new Date(n.expiresAt).toISOString(),
    skipped: n.skipped,
    waitForDelivery: n.waitForDelivery,
    content: JSON.stringify(n.content),
    recipientCount: n.recipients.length,
  };
  return [['create', header], ...rows.map((row): TransactionAction => ['create', toEntity(row)])];
}

interface PendingInsert {
  kind: 'insert';
  notification: NewNotification;
  rows: RecipientRow[];
  actions: TransactionAction[];
  resolve: (rows: RecipientRow[]) => void;
  reject: (error: unknown) => void;
}

interface PendingSave {
  kind: 'save';
  notificationId: string;
  index: number;
  /** The row as it is when the transaction leaves (a change made while it lingered goes along). */
  current: () => RecipientRow;
  resolve: (row: RecipientRow | undefined) => void;
  reject: (error: unknown) => void;
}

type PendingWrite = PendingInsert | PendingSave;

export function createNotificationQueue(tables: TableStore): NotificationQueue {
  const client = () => tables.client('queue');
  // Writers write into the current minute: only the newest few partitions are worth remembering.
  const markedOpen = new LRUCache<string, Promise<string>>({ max: 8 });

  const markOpen = async (partition: string): Promise<string> => {
    await tables.ensureTables();
    const result = await client().upsertEntity({ partitionKey: OPEN_PK, rowKey: partition, at: new Date().toISOString() }, 'Replace');
    return result.etag ?? '';
  };
  const ensureOpen = (partition: string, owner: boolean): Promise<string> => {
    if (!owner) return markOpen(partition);
    let marked = markedOpen.get(partition);
    if (!marked) {
      marked = markOpen(partition);
      markedOpen.set(partition, marked);
      marked.catch(() => markedOpen.delete(partition));
    }
    return marked;
  };

  // Sub-responses come in the order of the actions; their ETags come copied out of the response
  // body (table-transaction.ts), so a row the worker holds does not pin a whole body.
  const etagAt = (result: TransactionResult, position: number): string => result.subResponses[position]?.etag ?? '';
  /** The rows of insert `p`, whose actions start at `offset` in the transaction (header first). */
  const withEtags = (p: PendingInsert, result: TransactionResult, offset: number) =>
    p.rows.map((row, i) => rowWith(row, { etag: etagAt(result, offset + 1 + i) }));
  const insertOne = async (p: PendingInsert): Promise<void> => {
    try {
      p.resolve(withEtags(p, await submitTransaction(client(), p.actions), 0));
    } catch (error) {
      // A 409 after submitTransaction's retries of a 500 means an earlier try landed after all.
      p.reject(isConflict(error) ? new NotificationExists(p.notification.id) : error);
    }
  };

  const updateOne = async (row: RecipientRow): Promise<RecipientRow | undefined> => {
    try {
      const result = await client().updateEntity(toEntity(row), 'Replace', { etag: row.etag });
      return rowWith(row, { etag: result.etag ?? row.etag });
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return undefined;
      throw error;
    }
  };
  const rowOf = (p: PendingSave): RecipientRow => rowWith(p.current(), { updatedAt: Date.now() });
  const saveOne = async (p: PendingSave) => {
    try {
      p.resolve(await updateOne(rowOf(p)));
    } catch (error) {
      p.reject(error);
    }
  };
  const writeOne = (p: PendingWrite) => (p.kind === 'insert' ? insertOne(p) : saveOne(p));

  // Inserts and saves of one time partition share transactions: an outcome lingering after its
  // send rides on the next accept's insert.
  const writes = createGroupCommitter<PendingWrite>({
    partitionOf: (p) => partitionOf(p.kind === 'insert' ? p.notification.id : p.notificationId),
    actionsOf: (p) => (p.kind === 'insert' ? p.actions.length : 1),
    keyOf: (p) => (p.kind === 'insert' ? p.notification.id : recipientRowKey(p.notificationId, p.index)),
    async commit(group) {
      if (group.length === 1) return writeOne(group[0]!);
      const actions: TransactionAction[] = [];
      const settle: ((result: TransactionResult) => void)[] = [];
      for (const p of group) {
        const offset = actions.length;
        if (p.kind === 'insert') {
          actions.push(...p.actions);
          settle.push((result) => p.resolve(withEtags(p, result, offset)));
        } else {
          const row = rowOf(p);
          actions.push(['update', toEntity(row), 'Replace', { etag: row.etag }]);
          settle.push((result) => p.resolve(rowWith(row, { etag: etagAt(result, offset) || row.etag })));
        }
      }
      let result: TransactionResult;
      try {
        result = await submitTransaction(client(), actions);
      } catch {
        // One bad member (a repeat id, a row someone else changed) fails the whole transaction:
        // each alone finds out which, and the rest land; one after another, as one partition's
        // transactions always go.
        for (const p of group) await writeOne(p);
        return;
      }
      for (const s of settle) s(result);
    },
  });

  const listIn = async <T extends object>(filter: string, select?: string[]): Promise<TableEntityResult<T>[]> => {
    const out: TableEntityResult<T>[] = [];
    for await (const e of client().listEntities<T>({ queryOptions: { filter, ...(select ? { select } : {}) } })) out.push(e);
    return out;
  };

  return {
    async enqueue(notification, options = {}) {
      await tables.ensureTables();
      // The index row first: a crash between the two leaves an index row over nothing (harmless),
      // never a notification nobody will find.
      const openEtag = await ensureOpen(partitionOf(notification.id), options.owner === true);
      const rows = rowsFor(notification, options.claim);
      const stored = await new Promise<RecipientRow[]>((resolve, reject) =>
        writes.add({ kind: 'insert', notification, rows, actions: actionsFor(notification, rows), resolve, reject }),
      );
      return { rows: stored, openEtag };
    },

    async get(id) {
      if (!isNotificationId(id)) return undefined;
      await tables.ensureTables();
      let header: HeaderEntity | undefined;
      const recipients: RecipientRow[] = [];
      const entities = await listIn<HeaderEntity | RecipientEntity>(
        odata`PartitionKey eq ${partitionOf(id)} and RowKey ge ${id} and RowKey lt ${`${id}~~`}`,
      );
      for (const e of entities) {
        if (e.kind === 'notification' && e.rowKey === id) header = e as HeaderEntity;
        else if (e.kind === 'recipient') recipients.push(toRow(e as RecipientEntity & { etag: string }));
      }
      return header ? toNotification(id, header, recipients) : undefined;
    },

    async header(id) {
      if (!isNotificationId(id)) return undefined;
      await tables.ensureTables();
      const h = await getEntityOrUndefined<HeaderEntity>(client(), partitionOf(id), id);
      return h && h.kind === 'notification' ? toNotification(id, h, []) : undefined;
    },

    save(row, options = {}) {
      const current = typeof row === 'function' ? row : () => row;
      const { notificationId, index } = current();
      return new Promise((resolve, reject) =>
        writes.add({ kind: 'save', notificationId, index, current, resolve, reject }, options.lingerMs ?? 0),
      );
    },

    flushLingering() {
      writes.flushLingering();
    },

    update(row, patch) {
      return updateOne(rowWith(row, { ...patch, updatedAt: Date.now() }));
    },

    claim(row, owner, leaseUntil) {
      return updateOne(
        rowWith(row, { state: 'sending', leaseOwner: owner, leaseUntil, attempts: row.attempts + 1, updatedAt: Date.now() }),
      );
    },

    async recipient(notificationId, index) {
      await tables.ensureTables();
      try {
        const e = await client().getEntity<RecipientEntity>(partitionOf(notificationId), recipientRowKey(notificationId, index));
        return toRow(e as RecipientEntity & { etag: string });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    async openPartitions() {
      await tables.ensureTables();
      const rows = await listIn<object>(odata`PartitionKey eq ${OPEN_PK}`, ['RowKey']);
      return rows.map((e) => ({ partition: e.rowKey!, etag: e.etag }));
    },

    async unfinishedIn(partition) {
      await tables.ensureTables();
      const entities = await listIn<HeaderEntity | RecipientEntity>(
        odata`PartitionKey eq ${partition} and (kind eq 'notification' or state eq 'queued' or state eq 'sending')`,
      );
      const headers = new Map<string, HeaderEntity>();
      const rows = new Map<string, RecipientRow[]>();
      for (const e of entities) {
        if (e.kind === 'notification') headers.set(e.rowKey!, e as HeaderEntity);
        else if (e.kind === 'recipient') {
          const row = toRow(e as RecipientEntity & { etag: string });
          rows.set(row.notificationId, [...(rows.get(row.notificationId) ?? []), row]);
        }
      }
      const out: QueuedNotification[] = [];
      for (const [id, list] of rows) {
        const h = headers.get(id);
        if (h) out.push(toNotification(id, h, list));
      }
      return out;
    },

    markOpen(partition) {
      markedOpen.delete(partition);
      return markOpen(partition);
    },

    async retire(partition, etag) {
      await tables.ensureTables();
      markedOpen.delete(partition);
      // History first: a crash between the two leaves the partition in both (retired again later).
      await client().upsertEntity({ partitionKey: HISTORY_PK, rowKey: `${historyStamp(Date.now())}~${partition}`, partition }, 'Replace');
      try {
        await client().deleteEntity(OPEN_PK, partition, { etag });
        return true;
      } catch (error) {
        if (isNotFound(error)) return true;
        if (isPreconditionFailed(error)) return false;
        throw error;
      }
    },

    async retiredBefore(before, limit) {
      await tables.ensureTables();
      const out: RetiredPartition[] = [];
      const iter = client().listEntities<{ partition: string }>({
        queryOptions: { filter: odata`PartitionKey eq ${HISTORY_PK} and RowKey lt ${historyStamp(before)}` },
      });
      for await (const e of iter) {
        out.push({ partition: e.partition, historyKey: e.rowKey! });
        if (out.length >= limit) break;
      }
      return out;
    },

    async removePartition({ partition, historyKey }) {
      await tables.ensureTables();
      const count = await removeWholePartition(client(), partition);
      for (const [pk, rk] of [
        [OPEN_PK, partition],
        [HISTORY_PK, historyKey],
      ] as const) {
        await client()
          .deleteEntity(pk, rk)
          .catch((error: unknown) => {
            if (!isNotFound(error)) throw error;
          });
      }
      return count;
    },

    async extendExpiry(id, expiresAt) {
      if (!isNotificationId(id)) return false;
      await tables.ensureTables();
      try {
        await client().updateEntity({ partitionKey: partitionOf(id), rowKey: id, expiresAt: new Date(expiresAt).toISOString() }, 'Merge');
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
  };
}
