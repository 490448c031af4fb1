/**
 * The `encrypt` IQs: the pre-key count on the server (honest, or `claimPreKeysOnServer`), the key
 * digest, pre-key bundles of the accounts the peer hosts (404 for anyone else and for devices other
 * than 0), and pre-key uploads, which the device's count follows.
 */
import { getBinaryNodeChild, getBinaryNodeChildren, jidDecode, type BinaryNode } from '@whiskeysockets/baileys';
import type { Accounts } from './accounts.js';
import { deviceOf, send, type Conn } from './connection.js';
import { iqResult } from './nodes.js';

export interface PreKeyIqDeps {
  accounts: Accounts;
  /** see WhatsAppPeerOptions.claimPreKeysOnServer */
  claimPreKeysOnServer: number | undefined;
}

export function createPreKeyIq({
  accounts,
  claimPreKeysOnServer,
}: PreKeyIqDeps): (conn: Conn, iq: BinaryNode, first: BinaryNode | undefined) => void {
  return (conn, iq, first) => {
    const device = deviceOf(conn);
    if (first?.tag === 'count') {
      const count = claimPreKeysOnServer ?? device?.uploadedPreKeys ?? 0;
      send(conn, iqResult(iq, [{ tag: 'count', attrs: { value: String(count) } }]));
      return;
    }
    if (first?.tag === 'digest') {
      send(conn, iqResult(iq, [{ tag: 'digest', attrs: {}, content: [] }]));
      return;
    }
    if (first?.tag === 'key') {
      const users = getBinaryNodeChildren(first, 'user').map((u) => {
        const jid = u.attrs.jid ?? '';
        const acc = accounts.of(jid);
        const dev = jidDecode(jid)?.device ?? 0;
        if (acc && acc.onWhatsApp && dev === 0) return acc.keys.bundleNode(jid);
        return {
          tag: 'user',
          attrs: { jid },
          content: [{ tag: 'error', attrs: { code: '404', text: 'item-not-found' } }],
        };
      });
      send(conn, iqResult(iq, [{ tag: 'list', attrs: {}, content: users }]));
      return;
    }
    if (iq.attrs.type === 'set') {
      const list = getBinaryNodeChild(iq, 'list');
      if (list && device) {
        device.uploadedPreKeys += getBinaryNodeChildren(list, 'key').length;
      }
    }
    send(conn, iqResult(iq));
  };
}
