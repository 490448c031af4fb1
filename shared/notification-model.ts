/**
 * The stored notification, built from the wire one in one place (the function's offline path, the
 * sidecar's accept path and the admin test message all go through `storedNotification`). Times
 * inside are epoch milliseconds; ISO strings exist only at the edges (storage, HTTP answers).
 */
import { phoneToJid } from './whatsapp-jid.js';
import type { NotificationContent, WireNotification, WireRecipient } from './sidecar-protocol.js';

export interface NewNotification {
  id: string;
  apiKeyHash: string;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms: after this, recipients not yet sent end `expired`. */
  expiresAt: number;
  skipped: number;
  waitForDelivery: boolean;
  recipients: WireRecipient[];
  content: NotificationContent;
}

export function storedNotification(wire: WireNotification, queueTtlMs: number): NewNotification {
  const createdAt = Date.parse(wire.createdAt);
  return {
    id: wire.id,
    apiKeyHash: wire.apiKeyHash,
    createdAt,
    expiresAt: createdAt + queueTtlMs,
    skipped: wire.skipped,
    waitForDelivery: wire.waitForDelivery,
    recipients: wire.recipients,
    content: wire.content,
  };
}

/** How a recipient is stored: a JID, or `self` until the paired number is known. */
export function recipientAddress(r: WireRecipient): string {
  return r.kind === 'self' ? 'self' : phoneToJid(r.phone);
}

/** The one place `self` becomes the paired number's JID (left as `self` while it is unknown). */
export function resolveSelf(address: string, selfJid: string | undefined): string {
  return address === 'self' ? (selfJid ?? 'self') : address;
}
