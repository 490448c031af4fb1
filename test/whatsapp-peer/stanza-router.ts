/**
 * Routes the stanzas of an open connection: IQs by `xmlns` to their handlers (every IQ the peer
 * does not model gets a plain result, so the client never waits for its 60 s query timeout),
 * results of the peer's own IQs back to their waiter, `<message>` to the receiver. Every client
 * IQ is logged in `iqLog`.
 */
import type { EventEmitter } from 'node:events';
import type { BinaryNode } from '@whiskeysockets/baileys';
import type { Accounts } from './accounts.js';
import { answerServerIq, deviceOf, send, type Conn } from './connection.js';
import type { Changed } from './events.js';
import type { LinkedDevices } from './devices.js';
import { children, iqResult, type NextTag } from './nodes.js';
import type { PairingCode } from './pairing-code.js';
import { createMediaConnIq, onAbtIq, onBlocklistIq, onPassiveIq, onPrivacyIq } from './session-iqs.js';
import { usyncResult } from './usync.js';

export interface IqRecord {
  xmlns: string;
  type: string;
  child: string;
  at: number;
}

export interface StanzaRouterDeps {
  accounts: Accounts;
  devices: LinkedDevices;
  pairingCode: PairingCode;
  mediaHost: string;
  iqLog: IqRecord[];
  events: EventEmitter;
  changed: Changed;
  tag: NextTag;
  onEncryptIq: (conn: Conn, iq: BinaryNode, first: BinaryNode | undefined) => void;
  onMessage: (conn: Conn, stanza: BinaryNode) => Promise<void>;
}

export function createStanzaRouter(deps: StanzaRouterDeps): (conn: Conn, node: BinaryNode) => Promise<void> {
  const { accounts, devices, pairingCode, iqLog, events, changed, tag, onEncryptIq, onMessage } = deps;
  const onMediaIq = createMediaConnIq(deps.mediaHost);

  const onMdIq = (conn: Conn, iq: BinaryNode, first: BinaryNode | undefined): void => {
    if (first?.tag === 'link_code_companion_reg' && pairingCode.onCompanionReg(conn, iq, first)) return;
    if (first?.tag === 'remove-companion-device') {
      devices.unlink(first.attrs.jid);
      send(conn, iqResult(iq));
      changed('unlink');
      return;
    }
    send(conn, iqResult(iq));
  };

  const onIq = async (conn: Conn, iq: BinaryNode): Promise<void> => {
    const { type = '', xmlns = '' } = iq.attrs;
    if (type === 'result' || type === 'error') {
      answerServerIq(conn, iq);
      return;
    }
    const first = children(iq)[0];
    iqLog.push({ xmlns, type, child: first?.tag ?? '', at: Date.now() });
    events.emit('iq', { xmlns, type, child: first?.tag ?? '' });
    switch (xmlns) {
      case 'encrypt':
        return onEncryptIq(conn, iq, first);
      case 'usync':
        send(conn, usyncResult(accounts, deviceOf(conn), iq, tag));
        return;
      case 'passive':
        return onPassiveIq(conn, iq, first);
      case 'privacy':
        return onPrivacyIq(conn, iq, first);
      case 'abt':
        return onAbtIq(conn, iq, first);
      case 'blocklist':
        return onBlocklistIq(conn, iq, first);
      case 'w:m':
        return onMediaIq(conn, iq, first);
      case 'md':
        return onMdIq(conn, iq, first);
      default:
        // w:p ping, w:stats, w:profile:picture, status, ... : a plain result
        send(conn, iqResult(iq));
    }
  };

  return async (conn, node) => {
    switch (node.tag) {
      case 'iq':
        return onIq(conn, node);
      case 'message':
        return onMessage(conn, node);
      default:
        // presence, ib (unified_session), ack (for our receipts/notifications), receipt: nothing to do
        return;
    }
  };
}
