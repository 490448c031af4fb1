/**
 * History has an end (WHATSAPP_HISTORY): finished notifications go by whole time partitions once
 * they were retired (all finished) longer ago than the window, and Idempotency-Key records by
 * whole days after their 24 h. Every read names its partition: the `hist` index of the queue
 * (a range of its row keys), and day partitions of the idempotency table.
 */
import type { Clock } from '../shared/clock.js';
import { expiredIdempotencyDays } from '../shared/idempotency-layout.js';
import { removeWholePartition } from '../shared/partition-removal.js';
import type { Logger } from '../shared/logger.js';
import type { NotificationQueue } from '../shared/notification-queue.js';
import type { TableStore } from '../shared/table-store.js';

/** Partitions removed per round; a sweep runs rounds until fewer come back (bounded). */
const BATCH = 50;
const MAX_ROUNDS = 20;

export function createHistorySweeper(deps: {
  queue: NotificationQueue;
  tables: TableStore;
  clock: Clock;
  log: Logger;
  historyMs: number;
}): () => Promise<void> {
  const { queue, tables, clock, log } = deps;
  // The first sweep looks a week of days back (the sidecar may have been down); later ones two days.
  let idempotencyDays = 7;
  return async () => {
    let removed = 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const old = await queue.retiredBefore(clock.now() - deps.historyMs, BATCH);
      for (const retired of old) removed += await queue.removePartition(retired);
      if (old.length < BATCH) break;
    }
    if (removed > 0) log.info({ entities: removed }, 'removed notifications past the history window');
    await tables.ensureTables();
    for (const day of expiredIdempotencyDays(clock.now(), idempotencyDays)) {
      await removeWholePartition(tables.client('idempotency'), day);
    }
    idempotencyDays = 2;
  };
}
