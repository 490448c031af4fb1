/**
 * Rebuilds a sent message from the queue for Baileys' `getMessage` (retry receipts), after the
 * in-memory copy is gone (a restart). The message id names its notification, recipient and part
 * (shared/message-ids.ts), so this is one point read of the notification's header, within the
 * history window. Text parts only: a media part's upload keys live only in the original message,
 * so for those there is nothing faithful to resend.
 */
import type { proto } from '@whiskeysockets/baileys';
import type { Logger } from '../shared/logger.js';
import { parseMessageId } from '../shared/message-ids.js';
import type { NotificationQueue } from '../shared/notification-queue.js';
import { messageParts } from './message-parts.js';

export function createQueuedMessageLookup(deps: {
  queue: Pick<NotificationQueue, 'header'>;
  log: Logger;
}): (id: string) => Promise<proto.IMessage | undefined> {
  return async (id) => {
    const ref = parseMessageId(id);
    if (!ref) return undefined;
    try {
      const n = await deps.queue.header(ref.notificationId);
      if (!n || ref.recipient >= n.recipientCount) return undefined;
      const part = messageParts(n.content)[ref.part];
      // What Baileys sends for `{ text }` is an extendedTextMessage.
      return part?.kind === 'text' ? { extendedTextMessage: { text: part.text } } : undefined;
    } catch (error) {
      deps.log.warn({ err: (error as Error).message }, 'getMessage: could not read the queue');
      return undefined;
    }
  };
}
