/**
 * Recipient rows, always built in one shape. The sidecar holds thousands of rows at a time
 * (unfinished ones, and finished ones kept a minute for their receipts). Rows made by spreading
 * (`{ ...row, state }`) mostly got a V8 hidden class of their own, about half a KiB apiece: after
 * the 10,000-send soak 9,591 rows held 9,591 maps. Rows built here, field by field in one order,
 * share one.
 */
import type { RecipientRow } from './notification-queue.js';

/** `row` with `patch` applied: a key present in `patch` wins, even when it is `undefined`. */
export function rowWith(row: RecipientRow, patch: Partial<RecipientRow> = {}): RecipientRow {
  const pick = <K extends keyof RecipientRow>(key: K): RecipientRow[K] =>
    (Object.hasOwn(patch, key) ? patch[key] : row[key]) as RecipientRow[K];
  // Every field of RecipientRow, optional ones included: the type below makes a field added later
  // and forgotten here a compile error instead of a field silently dropped.
  const built: { [K in keyof Required<RecipientRow>]: RecipientRow[K] } = {
    notificationId: pick('notificationId'),
    index: pick('index'),
    to: pick('to'),
    state: pick('state'),
    attempts: pick('attempts'),
    nextAttemptAt: pick('nextAttemptAt'),
    expiresAt: pick('expiresAt'),
    leaseOwner: pick('leaseOwner'),
    leaseUntil: pick('leaseUntil'),
    error: pick('error'),
    messageIds: pick('messageIds'),
    updatedAt: pick('updatedAt'),
    etag: pick('etag'),
  };
  return built;
}
