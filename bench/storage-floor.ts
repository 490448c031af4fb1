/**
 * Floor for the notify throughput bench: how many notifications per second Azurite itself can
 * insert durably, written as entity-group transactions of exactly the rows
 * shared/notification-queue.ts writes (one header row + one recipient row per notification, same
 * properties and value sizes), grouped up to the 100-action transaction limit. Several group
 * sizes and concurrencies are tried; the best is the floor (the storage's real limit). Sent the way
 * the service sends them (shared/table-transaction.ts), so the floor and the service pay the same
 * client cost per transaction (with the SDK's submitTransaction the best run measured 4,291/s, with
 * this 4,047/s: within run-to-run noise at 50 per transaction).
 */
import { randomBytes } from 'node:crypto';
import { TableClient, TableServiceClient, type TransactionAction } from '@azure/data-tables';
import { createNotificationIds, newNotificationId, NOTIFICATIONS_PER_PARTITION, partitionOf } from '../shared/notification-queue.js';
import { submitTransaction } from '../shared/table-transaction.js';

export interface StorageFloorRun {
  notificationsPerTransaction: number;
  concurrency: number;
  seconds: number;
  notifications: number;
  notificationsPerSecond: number;
}

const TABLE = 'BenchFloorQueue';

function rowsFor(id: string, apiKeyHash: string, content: string, now: Date): TransactionAction[] {
  const pk = partitionOf(id);
  const createdAt = now.toISOString();
  return [
    [
      'create',
      {
        partitionKey: pk,
        rowKey: id,
        kind: 'notification',
        apiKeyHash,
        createdAt,
        expiresAt: new Date(now.getTime() + 86_400_000).toISOString(),
        skipped: 0,
        waitForDelivery: false,
        content,
        recipientCount: 1,
      },
    ],
    [
      'create',
      {
        partitionKey: pk,
        rowKey: `${id}~0`,
        kind: 'recipient',
        notificationId: id,
        index: 0,
        to: 'self',
        state: 'queued',
        attempts: 0,
        nextAttemptAt: now.getTime(),
        messageIds: '[]',
        updatedAt: createdAt,
      },
    ],
  ];
}

export async function measureStorageFloor(
  connectionString: string,
  message: string,
  options: { seconds: number; configs: { group: number; concurrency: number }[]; insertSamples: number },
): Promise<{ runs: StorageFloorRun[]; insertMs: number[] }> {
  const opts = { allowInsecureConnection: true, retryOptions: { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 500 } };
  await TableServiceClient.fromConnectionString(connectionString, opts).createTable(TABLE);
  const client = TableClient.fromConnectionString(connectionString, TABLE, opts);
  const apiKeyHash = randomBytes(32).toString('hex');
  const content = JSON.stringify({ message });
  // warm-up: connections and Azurite's own code paths
  for (let i = 0; i < 20; i++) {
    const now = new Date();
    await submitTransaction(client, rowsFor(newNotificationId(now), apiKeyHash, content, now));
  }
  // One notification's insert, alone and awaited: what the accept path waits for before a send.
  const insertMs: number[] = [];
  for (let i = 0; i < options.insertSamples; i++) {
    const now = new Date();
    const t0 = performance.now();
    await submitTransaction(client, rowsFor(newNotificationId(now), apiKeyHash, content, now));
    insertMs.push(performance.now() - t0);
  }
  const runs: StorageFloorRun[] = [];
  for (const { group, concurrency } of options.configs) {
    // Partitions fill as the queue's do: NOTIFICATIONS_PER_PARTITION each, one id per transaction here.
    const partitions = createNotificationIds({ perPartition: Math.max(1, Math.floor(NOTIFICATIONS_PER_PARTITION / group)) });
    let done = 0;
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    const lane = async () => {
      while (performance.now() < deadline) {
        const now = new Date();
        // one partition per transaction, as the queue's group commit does
        const first = partitions.next(now.getTime());
        const ids = [first, ...Array.from({ length: group - 1 }, () => `${partitionOf(first)}-${randomBytes(8).toString('hex')}`)];
        await submitTransaction(
          client,
          ids.flatMap((id) => rowsFor(id, apiKeyHash, content, now)),
        );
        done += group;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    const seconds = (performance.now() - started) / 1000;
    runs.push({ notificationsPerTransaction: group, concurrency, seconds, notifications: done, notificationsPerSecond: done / seconds });
  }
  return { runs, insertMs };
}
