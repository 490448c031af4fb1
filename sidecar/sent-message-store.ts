/**
 * Sent messages by id, for Baileys' `getMessage`: when a recipient's device cannot decrypt a
 * message it asks for a retry, and without the original the recipient sees "Waiting for this
 * message". Recent ones are answered from memory (an LRU, so memory stays flat under load); older
 * ones, and every one after a restart, from the queue through `lookup`.
 */
import type { proto } from '@whiskeysockets/baileys';
import { LRUCache } from 'lru-cache';

export interface SentMessageStore {
  remember(id: string, message: proto.IMessage): void;
  get(id: string): Promise<proto.IMessage | undefined>;
  size(): number;
}

export function createSentMessageStore(
  options: { limit?: number; lookup?: (id: string) => Promise<proto.IMessage | undefined> } = {},
): SentMessageStore {
  const messages = new LRUCache<string, proto.IMessage>({ max: options.limit ?? 5_000 });
  return {
    remember(id, message) {
      messages.set(id, message);
    },
    async get(id) {
      return messages.get(id) ?? (await options.lookup?.(id));
    },
    size: () => messages.size,
  };
}
