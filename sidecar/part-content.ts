/**
 * Turns one message part into the content Baileys sends. Text never gets a link preview: fetching
 * arbitrary URLs from a notification body would be a server-side request to wherever the caller
 * points, and a slow one.
 */
import type { AnyMessageContent } from '@whiskeysockets/baileys';
import type { QueuedNotification } from '../shared/notification-queue.js';
import type { MessagePart } from './message-parts.js';

export interface PartContentBuilder {
  build(notification: QueuedNotification, part: MessagePart): Promise<AnyMessageContent>;
}

export interface AttachmentSource {
  /** A fresh readable stream of the stored attachment bytes. */
  open(notificationId: string, slot: 'image' | 'document'): Promise<NodeJS.ReadableStream>;
}

export function createPartContentBuilder(attachments?: AttachmentSource): PartContentBuilder {
  return {
    async build(notification, part) {
      if (part.kind === 'text') return { text: part.text, linkPreview: null };
      if (!attachments) throw new Error('attachments are not configured');
      const stream = await attachments.open(notification.id, part.kind);
      if (part.kind === 'image') {
        return {
          image: { stream: stream as never },
          mimetype: part.mimetype,
          ...(part.caption !== undefined ? { caption: part.caption } : {}),
        };
      }
      return { document: { stream: stream as never }, mimetype: part.mimetype, fileName: part.fileName };
    },
  };
}
