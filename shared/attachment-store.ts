/**
 * Attachment bytes kept durably with the queued notification (`WhatsappAttachments`), because the
 * file may change or vanish before a retry. Chunked table rows rather than Blob storage: one storage
 * account, one connection string and one Azurite process serve everything, and the function's cold
 * path loads no extra SDK. A value is split into entities of up to 640 KiB (10 binary properties of
 * 64 KiB), partition `<notification id>~<slot>`, row keys in order, so a 100 MiB document is 160
 * entities, written and read one at a time: memory stays at a couple of chunks.
 */
import { Readable } from 'node:stream';
import { MAX_CHUNKED_BYTES, fromChunkProperties, toChunkProperties } from './chunked-binary.js';
import { odata } from '@azure/data-tables';
import { getEntityOrUndefined, type TableStore } from './table-store.js';

export type AttachmentSlot = 'image' | 'document';

export interface AttachmentWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** Flushes the rest; resolves with the total byte count. */
  finish(): Promise<number>;
}

export interface AttachmentStore {
  writer(notificationId: string, slot: AttachmentSlot): AttachmentWriter;
  open(notificationId: string, slot: AttachmentSlot): Readable;
  remove(notificationId: string): Promise<void>;
}

const partition = (id: string, slot: AttachmentSlot) => `${id}~${slot}`;
const rowKey = (n: number) => String(n).padStart(6, '0');
const MAX_WRITES_IN_FLIGHT = 2;

export function createAttachmentStore(tables: TableStore): AttachmentStore {
  const client = () => tables.client('attachments');
  return {
    writer(notificationId, slot) {
      const pk = partition(notificationId, slot);
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      let index = 0;
      let total = 0;
      const inFlight = new Set<Promise<void>>();
      let failure: unknown;

      const flush = async (all: boolean) => {
        while (pendingBytes >= MAX_CHUNKED_BYTES || (all && pendingBytes > 0)) {
          const joined = Buffer.concat(pending);
          const piece = joined.subarray(0, MAX_CHUNKED_BYTES);
          const rest = joined.subarray(MAX_CHUNKED_BYTES);
          pending = rest.length > 0 ? [rest] : [];
          pendingBytes = rest.length;
          const write = client()
            .upsertEntity({ partitionKey: pk, rowKey: rowKey(index++), ...toChunkProperties(Buffer.from(piece)) }, 'Replace')
            .then(() => undefined)
            .catch((error: unknown) => {
              failure ??= error;
            })
            .finally(() => inFlight.delete(write));
          inFlight.add(write);
          if (inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(inFlight);
          if (failure) throw failure;
        }
      };

      return {
        async write(bytes) {
          await tables.ensureTables();
          pending.push(bytes);
          pendingBytes += bytes.byteLength;
          total += bytes.byteLength;
          await flush(false);
        },
        async finish() {
          await tables.ensureTables();
          await flush(true);
          await Promise.all(inFlight);
          if (failure) throw failure;
          // An empty file still gets a row, so `open` can tell "empty" from "missing".
          if (index === 0) await client().upsertEntity({ partitionKey: pk, rowKey: rowKey(0), chunks: 0 }, 'Replace');
          return total;
        },
      };
    },

    open(notificationId, slot) {
      const pk = partition(notificationId, slot);
      async function* chunks() {
        await tables.ensureTables();
        // Point reads, one entity at a time: a query would page up to 1000 entities (a whole 100 MiB
        // document) into a single response.
        for (let index = 0; ; index++) {
          const entity = await getEntityOrUndefined<Record<string, unknown>>(client(), pk, rowKey(index));
          if (!entity) {
            if (index === 0) throw new Error(`attachment ${slot} of ${notificationId} is missing`);
            return;
          }
          const bytes = fromChunkProperties(entity);
          if (bytes.byteLength > 0) yield bytes;
        }
      }
      return Readable.from(chunks(), { objectMode: false });
    },

    async remove(notificationId) {
      await tables.ensureTables();
      for (const slot of ['image', 'document'] as const) {
        const pk = partition(notificationId, slot);
        for await (const e of client().listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['RowKey'] } })) {
          await client()
            .deleteEntity(pk, e.rowKey!)
            .catch(() => undefined);
        }
      }
    },
  };
}
