/**
 * Sent messages by id, for Baileys' `getMessage`: when a recipient's device cannot decrypt a
 * message it asks for a retry, and without the original the recipient sees "Waiting for this
 * message". Baileys answers from its own cache first (the last 512 sends, for 5 minutes); after
 * that this store is asked. A text message is rebuilt from the queue by its id (`lookup`, one point
 * read, which also works after a restart), so only what the queue cannot rebuild is held here:
 * media messages, whose upload keys exist only in the message itself. Those are bounded by their
 * encoded size, so a burst of large captions or thumbnails cannot grow it past `maxBytes`.
 */
import { proto } from '@whiskeysockets/baileys';
import { LRUCache } from 'lru-cache';

export interface SentMessageStore {
  remember(id: string, message: proto.IMessage): void;
  get(id: string): Promise<proto.IMessage | undefined>;
  size(): number;
}

/** What the queue can rebuild (queued-message-lookup.ts): a text message and nothing else. */
const rebuildable = (message: proto.IMessage): boolean =>
  Object.entries(message).every(
    ([k, v]) => v === null || v === undefined || k === 'extendedTextMessage' || k === 'conversation' || k === 'messageContextInfo',
  );

export function createSentMessageStore(
  options: { maxBytes?: number; lookup?: (id: string) => Promise<proto.IMessage | undefined> } = {},
): SentMessageStore {
  const messages = new LRUCache<string, proto.IMessage>({
    maxSize: options.maxBytes ?? 2 * 1024 * 1024,
    sizeCalculation: (message) => Math.max(1, proto.Message.encode(message).finish().length),
  });
  return {
    remember(id, message) {
      if (options.lookup && rebuildable(message)) return;
      messages.set(id, message);
    },
    async get(id) {
      return messages.get(id) ?? (await options.lookup?.(id));
    },
    size: () => messages.size,
  };
}
