/**
 * Fills the queue table with finished history fast (entity-group transactions of 100 entities,
 * straight into Azurite, several in flight), so the bench can show that the idle loop and one
 * notification cost the same with 100,000 finished rows as with none.
 *
 * `finishedNotificationEntities` and `retiredPartitionEntity` mirror the stored layout of
 * shared/notification-queue.ts (one header row + one recipient row per notification, partition =
 * the id's minute bucket; a finished partition is listed in `hist`, not in `open`; see
 * docs/storage-layout.md). They are the one place to adapt when that layout changes.
 */
import { randomBytes } from 'node:crypto';
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { TABLE_NAMES } from '../shared/table-store.js';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const minuteBucket = (at: Date) =>
  `q${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}`;

/** One finished (sent, delivered) notification to one recipient, as the queue stores it. */
export function finishedNotificationEntities(createdAt: Date, to: string): TableEntity[] {
  const partitionKey = minuteBucket(createdAt);
  const id = `${partitionKey}-${randomBytes(8).toString('hex')}`;
  const created = createdAt.toISOString();
  const finished = new Date(createdAt.getTime() + 2_000).toISOString();
  return [
    {
      partitionKey,
      rowKey: id,
      kind: 'notification',
      apiKeyHash: 'bench-history',
      createdAt: created,
      expiresAt: new Date(createdAt.getTime() + 86_400_000).toISOString(),
      skipped: 0,
      waitForDelivery: false,
      content: JSON.stringify({ message: 'Order placed: BUY RELIANCE x 10 @ MARKET (history)' }),
      recipientCount: 1,
    },
    {
      partitionKey,
      rowKey: `${id}~0`,
      kind: 'recipient',
      notificationId: id,
      index: 0,
      to,
      state: 'delivered',
      attempts: 1,
      nextAttemptAt: createdAt.getTime(),
      expiresAt: createdAt.getTime() + 86_400_000,
      messageIds: JSON.stringify([`3EB0${randomBytes(8).toString('hex').toUpperCase()}`]),
      updatedAt: finished,
    },
  ];
}

/** The `hist` row that says a partition's work all finished at `retiredAt` (epoch ms). */
export function retiredPartitionEntity(partition: string, retiredAt: number): TableEntity {
  return { partitionKey: 'hist', rowKey: `${String(Math.floor(retiredAt)).padStart(15, '0')}~${partition}`, partition };
}

/**
 * Writes `rows` finished rows spread over the minutes before `now` (as many notifications per
 * minute as fill one transaction), `concurrency` transactions at a time. Returns the seconds taken.
 */
export async function seedFinishedHistory(
  connectionString: string,
  options: { rows: number; now: number; to: string; concurrency?: number },
): Promise<{ rows: number; seconds: number; partitions: number }> {
  const client = TableClient.fromConnectionString(connectionString, TABLE_NAMES.queue, { allowInsecureConnection: true });
  await client.createTable().catch(() => undefined); // the sidecar made it already
  const perTransaction = 100;
  const transactions: TransactionAction[][] = [];
  let written = 0;
  // Start a day back so no seeded minute is the current one, and stay well inside any history window.
  for (let minute = 1; written < options.rows; minute++) {
    const at = new Date(options.now - 23 * 3_600_000 + minute * 60_000);
    const actions: TransactionAction[] = [];
    while (actions.length + 2 <= perTransaction && written + actions.length < options.rows) {
      for (const e of finishedNotificationEntities(at, options.to)) actions.push(['create', e]);
    }
    written += actions.length;
    transactions.push(actions);
  }
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency ?? 4 }, async () => {
      while (next < transactions.length) await client.submitTransaction(transactions[next++]!);
    }),
  );
  // Each seeded partition retired a few minutes after its minute, as the worker would have done.
  const partitions = [...new Set(transactions.map((t) => (t[0]![1] as TableEntity).partitionKey))];
  const hist = partitions.map((pk): TransactionAction => ['upsert', retiredPartitionEntity(pk, options.now - 60_000), 'Replace']);
  for (let i = 0; i < hist.length; i += 100) await client.submitTransaction(hist.slice(i, i + 100));
  return { rows: written, seconds: (performance.now() - t0) / 1000, partitions: transactions.length };
}
