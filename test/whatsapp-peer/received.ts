/**
 * What the peer received: each 1:1 message once per (recipient, message id), in arrival order, as
 * a device shows a repeated id as the same message; and which connection sent each id, so a
 * receipt can be sent for it later.
 */
import type { proto } from '@whiskeysockets/baileys';
import type { Conn } from './connection.js';

export interface ReceivedMessage {
  /** destination as addressed by the client (the stanza `to`) */
  to: string;
  id: string;
  /** the sending (companion) device */
  from: string;
  kind: 'text' | 'image' | 'document' | 'other';
  text?: string;
  caption?: string;
  fileName?: string;
  mimetype?: string;
  /** plaintext media length (image/document) */
  bytesLength?: number;
  /** decrypted media bytes (image/document) */
  bytes?: Buffer;
  mediaError?: string;
  decryptError?: string;
  /** the full decrypted proto.Message (for DSM copies: the inner message) */
  message?: proto.IMessage;
  /** devices (jid) whose copy the peer decrypted */
  decryptedFor: string[];
  /** ack error code the peer answered with, if any */
  ackError?: string;
  acked: boolean;
  at: number;
  /** performance.now() when the peer began handling the stanza, and when it sent the ack (bench timing) */
  handledAt?: number;
  ackedAt?: number;
}

export interface SentRecord {
  conn: Conn;
  to: string;
}

export class ReceivedMessages {
  readonly list: ReceivedMessage[] = [];
  private readonly keys = new Set<string>();
  private readonly senders = new Map<string, SentRecord>();

  has(to: string, id: string): boolean {
    return this.keys.has(`${to}|${id}`);
  }

  add(rec: ReceivedMessage): void {
    this.keys.add(`${rec.to}|${rec.id}`);
    this.list.push(rec);
  }

  /** remembers the connection that sent message `id` (the latest resend wins) */
  sentBy(id: string, conn: Conn, to: string): void {
    this.senders.set(id, { conn, to });
  }

  sender(id: string): SentRecord | undefined {
    return this.senders.get(id);
  }
}
