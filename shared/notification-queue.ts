/**
 * The durable notification queue (`WhatsappNotificationQueue`). A notification is one header row
 * plus one row per recipient, written in a single entity-group transaction, so it is either fully
 * queued or not at all. The id embeds the partition (`q<yyyyMMddHHmm>-<random>`) so a lookup by id
 * is a point query, and notifications accepted in the same minute can share one transaction
 * (group commit: while transactions are in flight, new notifications gather for the next one).
 *
 * Recipient rows carry the delivery state machine: queued → sending → sent → delivered → read, or
 * failed / expired. A sender takes a row with an ETag-conditional update (a lease), so two senders
 * can never both send the same recipient.
 */
import { randomBytes } from 'node:crypto';
import { odata, type TransactionAction } from '@azure/data-tables';
import type { TableStore } from './table-store.js';
import { isConflict, isPreconditionFailed } from './table-store.js';
import { notificationContentSchema, type NotificationContent, type WireRecipient } from './sidecar-protocol.js';
import { phoneToJid } from './phone-number.js';

export type RecipientState = 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'expired';
export const FINAL_STATES: ReadonlySet<RecipientState> = new Set(['sent', 'delivered', 'read', 'failed', 'expired']);
/** States after which nothing more is sent (delivered/read only ever follow sent). */
export const isFinished = (state: RecipientState): boolean => FINAL_STATES.has(state);

const STATE_RANK: Record<RecipientState, number> = { queued: 0, sending: 1, sent: 2, delivered: 3, read: 4, failed: 5, expired: 5 };
/** Receipts can arrive out of order (READ before DELIVERY_ACK): keep the highest state seen. */
export const laterState = (a: RecipientState, b: RecipientState): RecipientState => (STATE_RANK[b] > STATE_RANK[a] ? b : a);

export interface NewNotification {
  id: string;
  apiKeyHash: string;
  createdAt: Date;
  expiresAt: Date;
  skipped: number;
  waitForDelivery: boolean;
  recipients: WireRecipient[];
  content: NotificationContent;
}

export interface RecipientRow {
  notificationId: string;
  index: number;
  /** A JID, or `self` until the paired number is known. */
  to: string;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: number;
  expiresAt?: number;
  leaseOwner?: string;
  leaseUntil?: number;
  error?: string;
  messageIds: string[];
  updatedAt: string;
  etag: string;
}

export interface QueuedNotification {
  id: string;
  apiKeyHash: string;
  createdAt: string;
  expiresAt: string;
  skipped: number;
  waitForDelivery: boolean;
  content: NotificationContent;
  recipients: RecipientRow[];
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
  /** The notification's expiry, copied so expired rows are found without reading each header. */
  expiresAt?: number;
  leaseOwner?: string;
  leaseUntil?: number;
  error?: string;
  messageIds: string;
  updatedAt: string;
};

const ID_PATTERN = /^(q\d{12})-[0-9a-f]{16}$/;

export function newNotificationId(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const bucket = `q${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}${p(now.getUTCHours())}${p(now.getUTCMinutes())}`;
  return `${bucket}-${randomBytes(8).toString('hex')}`;
}

export const isNotificationId = (id: string): boolean => ID_PATTERN.test(id);
const partitionOf = (id: string): string => ID_PATTERN.exec(id)?.[1] ?? 'invalid';
const recipientRowKey = (id: string, index: number): string => `${id}~${index}`;

export function recipientAddress(r: WireRecipient): string {
  return r.kind === 'self' ? 'self' : phoneToJid(r.phone);
}

export class NotificationExists extends Error {
  constructor(id: string) {
    super(`notification ${id} is already queued`);
    this.name = 'NotificationExists';
  }
}

export type RecipientPatch = Partial<Pick<RecipientRow, 'to' | 'state' | 'attempts' | 'nextAttemptAt' | 'leaseOwner' | 'leaseUntil' | 'error' | 'messageIds'>>;

export interface NotificationQueue {
  /** Durably writes the notification (header and recipients atomically). Throws NotificationExists on a repeat id. */
  enqueue(notification: NewNotification): Promise<void>;
  get(id: string): Promise<QueuedNotification | undefined>;
  /** Recipients that may be sent now: queued and due, or sending with an expired lease. */
  due(now: number, limit: number): Promise<RecipientRow[]>;
  /** Every recipient not yet finished (for status pages). */
  unfinished(limit: number): Promise<RecipientRow[]>;
  /** Queued recipients whose notification was due to expire by `now` (candidates: the header decides). */
  expiring(now: number, limit: number): Promise<RecipientRow[]>;
  /** Takes the row if nobody changed it since it was read; undefined when someone else did. */
  claim(row: RecipientRow, owner: string, leaseUntil: number): Promise<RecipientRow | undefined>;
  /** Conditional update against the row's ETag; undefined when the row changed meanwhile. */
  update(row: RecipientRow, patch: RecipientPatch): Promise<RecipientRow | undefined>;
  /** Re-reads one recipient row. */
  recipient(notificationId: string, index: number): Promise<RecipientRow | undefined>;
  /** Recipients of notifications created since `since`, most recently updated first (admin page). */
  recent(since: Date, limit: number): Promise<RecipientRow[]>;
  /** Moves a notification's expiry (admin retry of an expired one); false when it does not exist. */
  extendExpiry(id: string, expiresAt: Date): Promise<boolean>;
}

function toRow(e: RecipientEntity & { etag: string }): RecipientRow {
  return {
    notificationId: e.notificationId,
    index: e.index,
    to: e.to,
    state: e.state,
    attempts: e.attempts,
    nextAttemptAt: e.nextAttemptAt,
    ...(typeof e.expiresAt === 'number' ? { expiresAt: e.expiresAt } : {}),
    ...(e.leaseOwner ? { leaseOwner: e.leaseOwner } : {}),
    ...(typeof e.leaseUntil === 'number' ? { leaseUntil: e.leaseUntil } : {}),
    ...(e.error ? { error: e.error } : {}),
    messageIds: e.messageIds ? (JSON.parse(e.messageIds) as string[]) : [],
    updatedAt: e.updatedAt,
    etag: e.etag,
  };
}

function actionsFor(n: NewNotification): TransactionAction[] {
  const pk = partitionOf(n.id);
  const updatedAt = n.createdAt.toISOString();
  const header: HeaderEntity & { partitionKey: string; rowKey: string } = {
    partitionKey: pk,
    rowKey: n.id,
    kind: 'notification',
    apiKeyHash: n.apiKeyHash,
    createdAt: n.createdAt.toISOString(),
    expiresAt: n.expiresAt.toISOString(),
    skipped: n.skipped,
    waitForDelivery: n.waitForDelivery,
    content: JSON.stringify(n.content),
    recipientCount: n.recipients.length,
  };
  const rows = n.recipients.map((r, index): TransactionAction => {
    const entity: RecipientEntity & { partitionKey: string; rowKey: string } = {
      partitionKey: pk,
      rowKey: recipientRowKey(n.id, index),
      kind: 'recipient',
      notificationId: n.id,
      index,
      to: recipientAddress(r),
      state: 'queued',
      attempts: 0,
      nextAttemptAt: n.createdAt.getTime(),
      expiresAt: n.expiresAt.getTime(),
      messageIds: '[]',
      updatedAt,
    };
    return ['create', entity];
  });
  return [['create', header], ...rows];
}

const MAX_ACTIONS_PER_TRANSACTION = 100;

interface Pending {
  notification: NewNotification;
  actions: TransactionAction[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function createNotificationQueue(tables: TableStore): NotificationQueue {
  const client = () => tables.client('queue');
  let waiting: Pending[] = [];
  // Up to this many transactions in flight; notifications arriving meanwhile gather for the next.
  const MAX_COMMITS_IN_FLIGHT = 4;
  let active = 0;

  const commitOne = async (p: Pending): Promise<void> => {
    try {
      await client().submitTransaction(p.actions);
      p.resolve();
    } catch (error) {
      p.reject(isConflict(error) ? new NotificationExists(p.notification.id) : error);
    }
  };

  const commitGroup = async (group: Pending[]): Promise<void> => {
    if (group.length === 1) return commitOne(group[0]!);
    try {
      await client().submitTransaction(group.flatMap((p) => p.actions));
      for (const p of group) p.resolve();
    } catch {
      // One bad member (a repeat id) fails the whole transaction: retry each alone so the rest land
      // and the culprit gets its own error.
      await Promise.all(group.map(commitOne));
    }
  };

  const flush = async (): Promise<void> => {
    if (active >= MAX_COMMITS_IN_FLIGHT) return;
    active++;
    try {
      while (waiting.length > 0) {
        const batch = waiting;
        waiting = [];
        const groups: Pending[][] = [];
        const byPartition = new Map<string, Pending[]>();
        for (const p of batch) {
          const pk = partitionOf(p.notification.id);
          let list = byPartition.get(pk);
          if (!list || list.reduce((n, q) => n + q.actions.length, 0) + p.actions.length > MAX_ACTIONS_PER_TRANSACTION) {
            list = [];
            byPartition.set(pk, list);
            groups.push(list);
          }
          list.push(p);
        }
        await Promise.all(groups.map(commitGroup));
      }
    } finally {
      active--;
    }
  };

  const readRecipients = async (filter: string, limit: number): Promise<RecipientRow[]> => {
    const out: RecipientRow[] = [];
    const iter = client().listEntities<RecipientEntity>({ queryOptions: { filter } });
    for await (const e of iter) {
      out.push(toRow(e as RecipientEntity & { etag: string }));
      if (out.length >= limit) break;
    }
    return out;
  };

  const update: NotificationQueue['update'] = async (row, patch) => {
    const next: RecipientRow = { ...row, ...patch, updatedAt: new Date().toISOString() };
    const entity: Partial<RecipientEntity> & { partitionKey: string; rowKey: string } = {
      partitionKey: partitionOf(row.notificationId),
      rowKey: recipientRowKey(row.notificationId, row.index),
      kind: 'recipient',
      notificationId: next.notificationId,
      index: next.index,
      to: next.to,
      state: next.state,
      attempts: next.attempts,
      nextAttemptAt: next.nextAttemptAt,
      ...(next.expiresAt !== undefined ? { expiresAt: next.expiresAt } : {}),
      leaseOwner: next.leaseOwner ?? '',
      leaseUntil: next.leaseUntil ?? 0,
      error: next.error ?? '',
      messageIds: JSON.stringify(next.messageIds),
      updatedAt: next.updatedAt,
    };
    try {
      const result = await client().updateEntity(entity, 'Replace', { etag: row.etag });
      return { ...next, etag: result.etag ?? row.etag };
    } catch (error) {
      if (isPreconditionFailed(error)) return undefined;
      throw error;
    }
  };

  return {
    async enqueue(notification) {
      await tables.ensureTables();
      await new Promise<void>((resolve, reject) => {
        waiting.push({ notification, actions: actionsFor(notification), resolve, reject });
        void flush();
      });
    },

    async get(id) {
      if (!isNotificationId(id)) return undefined;
      await tables.ensureTables();
      const pk = partitionOf(id);
      let header: HeaderEntity | undefined;
      const recipients: RecipientRow[] = [];
      const filter = odata`PartitionKey eq ${pk} and RowKey ge ${id} and RowKey lt ${`${id}~~`}`;
      for await (const e of client().listEntities<HeaderEntity | RecipientEntity>({ queryOptions: { filter } })) {
        if (e.kind === 'notification' && e.rowKey === id) header = e as HeaderEntity;
        else if (e.kind === 'recipient') recipients.push(toRow(e as RecipientEntity & { etag: string }));
      }
      if (!header) return undefined;
      return {
        id,
        apiKeyHash: header.apiKeyHash,
        createdAt: header.createdAt,
        expiresAt: header.expiresAt,
        skipped: header.skipped,
        waitForDelivery: header.waitForDelivery,
        content: notificationContentSchema.parse(JSON.parse(header.content)),
        recipients: recipients.sort((a, b) => a.index - b.index),
      };
    },

    async due(now, limit) {
      await tables.ensureTables();
      const candidates = await readRecipients(
        odata`kind eq 'recipient' and (state eq 'queued' or state eq 'sending') and nextAttemptAt le ${now}`,
        limit * 4,
      );
      return candidates
        .filter((r) => r.state === 'queued' || (r.leaseUntil ?? 0) < now)
        .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
        .slice(0, limit);
    },

    async expiring(now, limit) {
      await tables.ensureTables();
      return readRecipients(odata`kind eq 'recipient' and state eq 'queued' and expiresAt le ${now}`, limit);
    },

    async unfinished(limit) {
      await tables.ensureTables();
      return readRecipients(`kind eq 'recipient' and (state eq 'queued' or state eq 'sending')`, limit);
    },

    claim(row, owner, leaseUntil) {
      return update(row, { state: 'sending', leaseOwner: owner, leaseUntil, attempts: row.attempts + 1 });
    },

    update,

    async recipient(notificationId, index) {
      await tables.ensureTables();
      try {
        const e = await client().getEntity<RecipientEntity>(partitionOf(notificationId), recipientRowKey(notificationId, index));
        return toRow(e as RecipientEntity & { etag: string });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      }
    },

    async recent(since, limit) {
      await tables.ensureTables();
      // Partitions are creation minutes, so this is a range scan; bounded, then newest first.
      const rows = await readRecipients(odata`PartitionKey ge ${partitionOf(newNotificationId(since))} and kind eq 'recipient'`, 5_000);
      return rows.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, limit);
    },

    async extendExpiry(id, expiresAt) {
      if (!isNotificationId(id)) return false;
      await tables.ensureTables();
      try {
        await client().updateEntity({ partitionKey: partitionOf(id), rowKey: id, expiresAt: expiresAt.toISOString() }, 'Merge');
        return true;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return false;
        throw error;
      }
    },
  };
}
