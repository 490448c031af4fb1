/**
 * Removes one whole partition of a table: one query for its row keys (it names the partition),
 * then delete transactions of 100. How history leaves storage without a scan.
 */
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { isNotFound } from './table-store.js';
import { submitTransaction } from './table-transaction.js';

/** Deletes every row of one partition; returns how many there were. */
export async function removeWholePartition(client: TableClient, partitionKey: string): Promise<number> {
  const keys: string[] = [];
  for await (const e of client.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ['RowKey'] } }))
    keys.push(e.rowKey!);
  for (let i = 0; i < keys.length; i += 100) {
    const slice = keys.slice(i, i + 100);
    await submitTransaction(
      client,
      slice.map((rowKey): TransactionAction => ['delete', { partitionKey, rowKey }]),
    ).catch(async () => {
      // Someone removed a row meanwhile (a transaction fails whole): one by one, gone is fine.
      for (const rowKey of slice) {
        await client.deleteEntity(partitionKey, rowKey).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
      }
    });
  }
  return keys.length;
}
