/**
 * shared/recipient-row.ts: rows come out with every field, in one order, whatever order or gaps the
 * row they came from had (that is what lets V8 give them all one hidden class), and a patch key wins
 * even when it says `undefined` (clearing a lease).
 */
import { rowWith } from '../../shared/recipient-row.js';
import type { RecipientRow } from '../../shared/notification-queue.js';

const FIELDS = [
  'notificationId',
  'index',
  'to',
  'state',
  'attempts',
  'nextAttemptAt',
  'expiresAt',
  'leaseOwner',
  'leaseUntil',
  'error',
  'messageIds',
  'updatedAt',
  'etag',
];

const leased: RecipientRow = {
  etag: 'W/"1"',
  notificationId: 'q202611260112751-6c46712614474d1d',
  index: 0,
  to: 'self',
  state: 'sending',
  attempts: 0,
  nextAttemptAt: 1_795_655_540_200,
  leaseOwner: 'sidecar-a',
  leaseUntil: 1_795_655_600_000,
  messageIds: [],
  updatedAt: 1_795_655_540_200,
};

test('every row comes out with the same keys in the same order, whatever it came from', () => {
  expect(Object.keys(leased)).not.toEqual(FIELDS); // built in another order, with gaps
  expect(Object.keys(rowWith(leased))).toEqual(FIELDS);
  expect(Object.keys(rowWith(leased, { state: 'sent', error: 'x' }))).toEqual(FIELDS);
});

test('a patch wins field by field, even with undefined; what it leaves out is kept', () => {
  const sent = rowWith(leased, { state: 'sent', attempts: 1, leaseOwner: undefined, leaseUntil: undefined });
  expect(sent).toMatchObject({ state: 'sent', attempts: 1, etag: 'W/"1"', to: 'self', nextAttemptAt: leased.nextAttemptAt });
  expect(sent.leaseOwner).toBeUndefined();
  expect(sent.leaseUntil).toBeUndefined();
  expect(rowWith(leased)).toEqual(leased);
  expect(rowWith(leased)).not.toBe(leased);
});
