/**
 * Receives a `<message>` stanza from a logged-in device: decrypts every copy addressed to a device
 * the peer hosts (device 0 of known accounts) with libsignal, unwraps device-sent copies, records
 * the message once per (recipient, id) — a resend is only counted — and hands it to delivery for
 * the ack and receipts. Protocol messages (and `category=peer`) are acked but not recorded.
 */
import type { EventEmitter } from 'node:events';
import { getBinaryNodeChild, getBinaryNodeChildren, jidDecode, proto, unpadRandomMax16, type BinaryNode } from '@whiskeysockets/baileys';
import type { Account, Accounts } from './accounts.js';
import { deviceOf, type Conn } from './connection.js';
import type { Delivery } from './delivery.js';
import type { Changed } from './events.js';
import type { Faults } from './faults.js';
import type { MediaServer } from './media-server.js';
import { attachMedia, describeMessage, hasMedia } from './message-content.js';
import { toBuf } from './nodes.js';
import type { ReceivedMessage, ReceivedMessages } from './received.js';
import type { PeerStats } from './stats.js';

export interface MessageReceiverDeps {
  accounts: Accounts;
  media: MediaServer;
  faults: Faults;
  delivery: Delivery;
  received: ReceivedMessages;
  stats: PeerStats;
  events: EventEmitter;
  changed: Changed;
  log: (line: string) => void;
}

interface Copy {
  jid: string;
  acc: Account;
  type: string;
  ct: Buffer;
}

/** the encrypted copies in a stanza for devices the peer hosts: `<participants><to><enc>` and a direct `<enc>` */
const hostedCopies = (stanza: BinaryNode, to: string, dest: Account | undefined, accounts: Accounts): Copy[] => {
  const copies: Copy[] = [];
  for (const toNode of getBinaryNodeChildren(getBinaryNodeChild(stanza, 'participants'), 'to')) {
    const enc = getBinaryNodeChild(toNode, 'enc');
    const jid = toNode.attrs.jid ?? '';
    const acc = accounts.of(jid);
    const ct = toBuf(enc?.content);
    if (acc && (jidDecode(jid)?.device ?? 0) === 0 && enc && ct) {
      copies.push({ jid, acc, type: enc.attrs.type ?? '', ct });
    }
  }
  const directEnc = getBinaryNodeChild(stanza, 'enc');
  const directCt = toBuf(directEnc?.content);
  if (directEnc && directCt && dest) copies.push({ jid: to, acc: dest, type: directEnc.attrs.type ?? '', ct: directCt });
  return copies;
};

export function createMessageReceiver(deps: MessageReceiverDeps): (conn: Conn, stanza: BinaryNode) => Promise<void> {
  const { accounts, media, faults, delivery, received, stats, events, changed, log } = deps;

  return async (conn, stanza) => {
    const handledAt = performance.now();
    const id = stanza.attrs.id ?? '';
    const to = stanza.attrs.to ?? '';
    const sender = deviceOf(conn);
    if (!sender) return;
    const isPeerCategory = stanza.attrs.category === 'peer';
    const destAcc = accounts.of(to);
    const senderDec = jidDecode(sender.jid);
    const senderName = senderDec?.user ?? 'unknown';
    const senderDevice = senderDec?.device ?? 0;

    let chosen: proto.IMessage | undefined;
    let decryptError: string | undefined;
    const decryptedFor: string[] = [];
    for (const c of hostedCopies(stanza, to, destAcc, accounts)) {
      try {
        const plain = await c.acc.keys.decrypt(senderName, senderDevice, c.type, c.ct);
        let msg: proto.IMessage = proto.Message.decode(unpadRandomMax16(plain));
        if (msg.deviceSentMessage?.message) msg = msg.deviceSentMessage.message;
        decryptedFor.push(c.jid);
        if (c.acc === destAcc && !chosen) chosen = msg;
      } catch (err) {
        if (c.acc === destAcc) decryptError = (err as Error).message;
        log(`conn ${conn.id}: could not decrypt copy for ${c.jid}: ${(err as Error).message}`);
      }
    }

    const failCode = faults.ackErrorFor(destAcc, to);
    const isProtocol = !!chosen?.protocolMessage || isPeerCategory;
    const rec: ReceivedMessage | undefined = isProtocol
      ? undefined
      : {
          to,
          id,
          from: sender.jid,
          ...(chosen ? describeMessage(chosen) : { kind: 'other' as const }),
          ...(chosen ? { message: chosen } : {}),
          ...(decryptError ? { decryptError } : !chosen ? { decryptError: 'no copy for the destination' } : {}),
          decryptedFor,
          acked: false,
          at: Date.now(),
          handledAt,
        };

    if (rec && chosen && hasMedia(rec)) await attachMedia(rec, chosen, media);

    if (rec && received.has(to, id)) {
      stats.duplicates++;
      received.sentBy(id, conn, to);
      changed('duplicate');
    } else if (rec) {
      if (failCode) rec.ackError = failCode;
      received.add(rec);
      received.sentBy(id, conn, to);
      events.emit('message', rec);
      changed('message');
    }
    delivery.acknowledge({ conn, id, to, rec, isProtocol, failCode });
  };
}
