/**
 * Where Idempotency-Key records live (`WhatsappIdempotency`): one partition per UTC day of the
 * claim, `d<yyyyMMdd>`, rows `<API key hash>~<SHA-256 of the key>`. A record lives 24 h, so a repeat
 * finds it in its own day's partition or the one before; and whole days go at once when they are
 * two days old (removeIdempotencyDay), without a query that names no partition.
 */
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { isNotFound } from './table-store.js';

const DAY_MS = 86_400_000;

export function idempotencyDay(epochMs: number): string {
  const d = new Date(epochMs);
  return `d${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** The day partitions a sweep at `now` may remove: `days` of them, ending two days back. */
export function expiredIdempotencyDays(now: number, days: number): string[] {
  return Array.from({ length: days }, (_, i) => idempotencyDay(now - (2 + i) * DAY_MS));
}

/** Deletes every row of one partition, 100 per entity-group transaction; returns how many. */
export async function removeWholePartition(client: TableClient, partitionKey: string): Promise<number> {
  const keys: string[] = [];
  for await (const e of client.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ['RowKey'] } })) keys.push(e.rowKey!);
  for (let i = 0; i < keys.length; i += 100) {
    const actions = keys.slice(i, i + 100).map((rowKey): TransactionAction => ['delete', { partitionKey, rowKey }]);
    await client.submitTransaction(actions).catch(async () => {
      // Someone removed a row meanwhile (a transaction fails whole): one by one, gone is fine.
      for (const rowKey of keys.slice(i, i + 100)) {
        await client.deleteEntity(partitionKey, rowKey).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
      }
    });
  }
  return keys.length;
}
