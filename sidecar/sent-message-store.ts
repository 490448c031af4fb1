/**
 * Recently sent messages by id, for Baileys' `getMessage`: when a recipient's device cannot decrypt
 * a message it asks for a retry, and without the original the recipient sees "Waiting for this
 * message". Bounded (oldest out first) so memory stays flat under load.
 */
import type { proto } from '@whiskeysockets/baileys';

export interface SentMessageStore {
  remember(id: string, message: proto.IMessage): void;
  get(id: string): proto.IMessage | undefined;
  size(): number;
}

export function createSentMessageStore(limit = 5_000): SentMessageStore {
  const messages = new Map<string, proto.IMessage>();
  return {
    remember(id, message) {
      messages.delete(id);
      messages.set(id, message);
      if (messages.size > limit) messages.delete(messages.keys().next().value!);
    },
    get: (id) => messages.get(id),
    size: () => messages.size,
  };
}
