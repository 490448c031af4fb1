/**
 * The server's answers to an accepted message: the `<ack class=message>` (with an error code when
 * a fault is injected), then delivery / read `<receipt>`s, each after its configurable delay.
 * Baileys debounces its own `messages.upsert` of a sent message for 100 ms and folds a receipt that
 * arrives inside that window into it, hence the default receipt delay of 250 ms.
 */
import type { BinaryNode } from '@whiskeysockets/baileys';
import type { Accounts } from './accounts.js';
import { deviceOf, send, type Conn } from './connection.js';
import type { Connections } from './connections.js';
import type { Changed } from './events.js';
import type { Faults } from './faults.js';
import { nowS } from './nodes.js';
import type { ReceivedMessage, ReceivedMessages } from './received.js';
import type { PeerTimers } from './timers.js';

export type ReceiptKind = 'delivery' | 'read';

export interface DeliverySettings {
  ackDelayMs: number;
  receiptDelayMs: number;
  autoDeliver: boolean;
  autoRead: boolean;
}

export interface DeliveryDeps {
  settings: DeliverySettings;
  accounts: Accounts;
  faults: Faults;
  connections: Connections;
  received: ReceivedMessages;
  timers: PeerTimers;
  changed: Changed;
}

export interface AckRequest {
  conn: Conn;
  id: string;
  to: string;
  /** the recorded message; undefined for protocol messages, which get a bare ack only */
  rec: ReceivedMessage | undefined;
  isProtocol: boolean;
  /** error code for the ack (from faults) */
  failCode: string | undefined;
}

export interface Delivery {
  readonly settings: DeliverySettings;
  /** acks the message and schedules its automatic receipts, unless acks are dropped */
  acknowledge(req: AckRequest): void;
  /** sends a receipt for `msgId` on the sender's connection (or the same device's newer one) */
  sendReceipt(msgId: string, kind: ReceiptKind): Promise<void>;
}

export function createDelivery({ settings, accounts, faults, connections, received, timers, changed }: DeliveryDeps): Delivery {
  const ackNode = (id: string, to: string, error?: string): BinaryNode => ({
    tag: 'ack',
    attrs: { class: 'message', id, from: to, t: nowS(), ...(error ? { error } : {}) },
  });

  const receiptNode = (id: string, to: string, kind: ReceiptKind): BinaryNode => {
    const acc = accounts.of(to);
    const from = acc ? acc.jid : to;
    const attrs: Record<string, string> = { from, id, t: nowS() };
    // receipts for messages to the own number name the own jid as recipient, as WhatsApp does
    if (acc === accounts.self) attrs.recipient = accounts.self.jid;
    if (kind === 'read') attrs.type = 'read';
    return { tag: 'receipt', attrs };
  };

  const acknowledge = ({ conn, id, to, rec, isProtocol, failCode }: AckRequest): void => {
    if (faults.dropAcks) return;
    const finish = (): void => {
      send(conn, ackNode(id, to, isProtocol ? undefined : failCode));
      if (rec) {
        rec.acked = true;
        rec.ackedAt = performance.now();
      }
      changed('ack');
      if (isProtocol || failCode || (!settings.autoDeliver && !settings.autoRead)) return;
      const receipts = (): void => {
        if (settings.autoDeliver) send(conn, receiptNode(id, to, 'delivery'));
        if (settings.autoRead) send(conn, receiptNode(id, to, 'read'));
      };
      if (settings.receiptDelayMs > 0) timers.later(settings.receiptDelayMs, receipts);
      else receipts();
    };
    if (settings.ackDelayMs > 0) timers.later(settings.ackDelayMs, finish);
    else finish();
  };

  const sendReceipt = async (msgId: string, kind: ReceiptKind): Promise<void> => {
    const rec = received.sender(msgId);
    if (!rec) throw new Error(`unknown message id ${msgId}`);
    let conn: Conn | undefined = rec.conn.stage === 'open' ? rec.conn : undefined;
    if (!conn) {
      const devJid = deviceOf(rec.conn)?.jid;
      conn = connections.open().find((c) => deviceOf(c)?.jid === devJid);
    }
    if (!conn) throw new Error(`the device that sent ${msgId} is not connected`);
    send(conn, receiptNode(msgId, rec.to, kind));
  };

  return { settings, acknowledge, sendReceipt };
}
