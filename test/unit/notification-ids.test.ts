/**
 * Notification ids name their partition (minute + shard), and message ids are derived from them and
 * lead back to them, in both the sharded shape and the one written before partitions had shards.
 */
import { messageIdFor, parseMessageId } from '../../shared/message-ids.js';
import { createNotificationIds, isNotificationId, partitionOf, partitionStart } from '../../shared/notification-queue.js';

const T = Date.UTC(2026, 10, 25, 21, 7, 30);

test('a writer fills one partition per minute until it holds its share, then picks another shard', () => {
  let r = 0;
  const shards = [0.123, 0.456, 0.789];
  const ids = createNotificationIds({ perPartition: 3, random: () => shards[r++ % shards.length]! });
  const made = Array.from({ length: 7 }, () => ids.next(T));
  expect(made.every(isNotificationId)).toBe(true);
  expect(made.map(partitionOf)).toEqual([
    'q202611252107123',
    'q202611252107123',
    'q202611252107123',
    'q202611252107456',
    'q202611252107456',
    'q202611252107456',
    'q202611252107789',
  ]);
  expect(new Set(made).size).toBe(7);
  expect(partitionOf(ids.next(T + 60_000))).toMatch(/^q202611252108\d{3}$/); // a new minute, a new partition
});

test('a partition starts at its minute, with or without a shard', () => {
  expect(partitionStart('q202611252107123')).toBe(Date.UTC(2026, 10, 25, 21, 7));
  expect(partitionStart('q202611252107')).toBe(Date.UTC(2026, 10, 25, 21, 7));
  expect(partitionStart('q20261125210')).toBeNaN();
  expect(partitionOf('q202611252107-0123456789abcdef')).toBe('q202611252107'); // ids from before shards
});

test('message ids lead back to their notification, recipient and part, in both shapes', () => {
  for (const id of ['q202611252107042-0123456789abcdef', 'q202611252107999-fedcba9876543210', 'q202611252107-0123456789abcdef']) {
    const messageId = messageIdFor(id, 3, 1);
    expect(messageId).toMatch(/^3EB0[0-9A-F]{36}$/);
    expect(parseMessageId(messageId)).toEqual({ notificationId: id, recipient: 3, part: 1 });
  }
  // the unsharded shape is the one written before: a resend after an upgrade reuses the same id
  expect(messageIdFor('q202611252107-0123456789abcdef', 0, 0).slice(4, 12)).toBe(
    (Date.UTC(2026, 10, 25, 21, 7) / 60_000).toString(16).toUpperCase().padStart(8, '0'),
  );
  expect(parseMessageId('3EB0' + '0'.repeat(36))).toBeUndefined();
  expect(
    parseMessageId(messageIdFor('q202611252107042-0123456789abcdef', 0, 0).replace(/.$/, (c) => (c === '0' ? '1' : '0'))),
  ).toBeUndefined();
});
