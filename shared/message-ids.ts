/**
 * WhatsApp message ids derived from where the message lives: the notification id (which names its
 * time partition), the recipient's index and the part's index. So the ids are fixed the moment a
 * notification is written (a resend after a crash or a takeover reuses them, and the phone shows
 * the message once), nobody has to store them, and an id alone leads back to its row with a point
 * read (Baileys' getMessage for retry receipts, after a restart).
 *
 * Shape: `3EB0` + 36 upper-case hex digits, like Baileys' own generateMessageID: minute of the
 * partition (8), the notification's random part (16), recipient (2), part (2), check (8).
 */
import { createHash } from 'node:crypto';

const NOTIFICATION_ID = /^q(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})-([0-9a-f]{16})$/;
const MESSAGE_ID = /^3EB0([0-9A-F]{8})([0-9A-F]{16})([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{8})$/;

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
const check = (notificationId: string, recipient: number, part: number) =>
  createHash('sha256').update(`${notificationId}/${recipient}/${part}`).digest('hex').slice(0, 8).toUpperCase();

export interface MessageRef {
  notificationId: string;
  recipient: number;
  part: number;
}

export function messageIdFor(notificationId: string, recipient: number, part: number): string {
  const m = NOTIFICATION_ID.exec(notificationId);
  if (!m || recipient > 255 || part > 255) throw new RangeError(`cannot derive a message id for ${notificationId}/${recipient}/${part}`);
  const minute = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])) / 60_000;
  return `3EB0${hex(minute, 8)}${m[6]!.toUpperCase()}${hex(recipient, 2)}${hex(part, 2)}${check(notificationId, recipient, part)}`;
}

/** The notification, recipient and part a message id was derived for; undefined for any other id. */
export function parseMessageId(messageId: string): MessageRef | undefined {
  const m = MESSAGE_ID.exec(messageId);
  if (!m) return undefined;
  const at = new Date(parseInt(m[1]!, 16) * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const notificationId = `q${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}${p(at.getUTCHours())}${p(at.getUTCMinutes())}-${m[2]!.toLowerCase()}`;
  const recipient = parseInt(m[3]!, 16);
  const part = parseInt(m[4]!, 16);
  return check(notificationId, recipient, part) === m[5] ? { notificationId, recipient, part } : undefined;
}
