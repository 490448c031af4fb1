/**
 * WhatsApp message ids derived from where the message lives: the notification id (which names its
 * time partition), the recipient's index and the part's index. So the ids are fixed the moment a
 * notification is written (a resend after a crash or a takeover reuses them, and the phone shows
 * the message once), nobody has to store them, and an id alone leads back to its row with a point
 * read (Baileys' getMessage for retry receipts, after a restart).
 *
 * Shape: `3EB0` + 36 upper-case hex digits, like Baileys' own generateMessageID: the partition
 * (10: its minute × 1000 + its shard), the notification's random part (16), recipient (2), part (2),
 * check (6). Ids of notifications written before partitions had shards keep their first shape
 * (minute in 8, check in 8), so a resend after an upgrade reuses them; the check tells the shapes apart.
 */
import { createHash } from 'node:crypto';

const NOTIFICATION_ID = /^q(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})?-([0-9a-f]{16})$/;
const MESSAGE_ID = /^3EB0([0-9A-F]{10})([0-9A-F]{16})([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{6})$/;
const UNSHARDED_MESSAGE_ID = /^3EB0([0-9A-F]{8})([0-9A-F]{16})([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{8})$/;

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
const check = (notificationId: string, recipient: number, part: number, digits: number) =>
  createHash('sha256').update(`${notificationId}/${recipient}/${part}`).digest('hex').slice(0, digits).toUpperCase();

export interface MessageRef {
  notificationId: string;
  recipient: number;
  part: number;
}

export function messageIdFor(notificationId: string, recipient: number, part: number): string {
  const m = NOTIFICATION_ID.exec(notificationId);
  if (!m || recipient > 255 || part > 255) throw new RangeError(`cannot derive a message id for ${notificationId}/${recipient}/${part}`);
  const minute = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])) / 60_000;
  const tail = `${m[7]!.toUpperCase()}${hex(recipient, 2)}${hex(part, 2)}`;
  if (m[6] === undefined) return `3EB0${hex(minute, 8)}${tail}${check(notificationId, recipient, part, 8)}`;
  return `3EB0${hex(minute * 1000 + Number(m[6]), 10)}${tail}${check(notificationId, recipient, part, 6)}`;
}

const minuteText = (minute: number) => {
  const at = new Date(minute * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `q${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}${p(at.getUTCHours())}${p(at.getUTCMinutes())}`;
};

/** The notification, recipient and part a message id was derived for; undefined for any other id. */
export function parseMessageId(messageId: string): MessageRef | undefined {
  const sharded = MESSAGE_ID.exec(messageId);
  if (sharded) {
    const at = parseInt(sharded[1]!, 16);
    const notificationId = `${minuteText(Math.floor(at / 1000))}${String(at % 1000).padStart(3, '0')}-${sharded[2]!.toLowerCase()}`;
    const ref = { notificationId, recipient: parseInt(sharded[3]!, 16), part: parseInt(sharded[4]!, 16) };
    if (check(notificationId, ref.recipient, ref.part, 6) === sharded[5]) return ref;
  }
  const m = UNSHARDED_MESSAGE_ID.exec(messageId);
  if (!m) return undefined;
  const notificationId = `${minuteText(parseInt(m[1]!, 16))}-${m[2]!.toLowerCase()}`;
  const ref = { notificationId, recipient: parseInt(m[3]!, 16), part: parseInt(m[4]!, 16) };
  return check(notificationId, ref.recipient, ref.part, 8) === m[5] ? ref : undefined;
}
