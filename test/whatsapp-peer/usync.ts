/**
 * The `usync` IQ: for each queried user, whether it is on WhatsApp (`contact`), its devices (only
 * 0; for the own account also the asking companion) and its LID, in the protocols the client asked.
 */
import { getBinaryNodeChild, getBinaryNodeChildren, type BinaryNode } from '@whiskeysockets/baileys';
import { digitsOnly, type Accounts } from './accounts.js';
import type { LinkedDevice } from './devices.js';
import { children, iqResult, S_WHATSAPP_NET, toBuf, type NextTag } from './nodes.js';

export const usyncResult = (accounts: Accounts, asker: LinkedDevice | undefined, iq: BinaryNode, tag: NextTag): BinaryNode => {
  const usync = getBinaryNodeChild(iq, 'usync');
  const protocols = children(getBinaryNodeChild(usync, 'query')).map((p) => p.tag);
  const seen = new Set<string>();
  const users: BinaryNode[] = [];
  for (const user of getBinaryNodeChildren(getBinaryNodeChild(usync, 'list'), 'user')) {
    const phone = toBuf(getBinaryNodeChild(user, 'contact')?.content)?.toString('utf8');
    const jid = user.attrs.jid;
    const acc = accounts.of(jid ?? phone);
    const exists = !!acc?.onWhatsApp;
    const resultJid = jid ? jid : acc ? acc.jid : `${digitsOnly(phone ?? '')}@${S_WHATSAPP_NET}`;
    if (seen.has(resultJid)) continue;
    seen.add(resultJid);
    const content: BinaryNode[] = [];
    for (const p of protocols) {
      if (p === 'contact') {
        content.push({ tag: 'contact', attrs: { type: exists ? 'in' : 'out' } });
      } else if (p === 'devices') {
        const deviceList: BinaryNode[] = [];
        if (exists && acc) {
          deviceList.push({ tag: 'device', attrs: { id: '0' } });
          if (acc === accounts.self && asker && asker.device !== 0) {
            deviceList.push({ tag: 'device', attrs: { id: String(asker.device), 'key-index': '1' } });
          }
        }
        content.push({ tag: 'devices', attrs: {}, content: [{ tag: 'device-list', attrs: {}, content: deviceList }] });
      } else if (p === 'lid') {
        if (exists && acc) content.push({ tag: 'lid', attrs: { val: acc.lid } });
      }
    }
    users.push({ tag: 'user', attrs: { jid: resultJid }, content });
  }
  return iqResult(iq, [
    {
      tag: 'usync',
      attrs: {
        sid: usync?.attrs.sid ?? tag(),
        index: '0',
        last: 'true',
        mode: usync?.attrs.mode ?? 'query',
        context: usync?.attrs.context ?? 'interactive',
      },
      content: [
        { tag: 'result', attrs: {}, content: protocols.map((p) => ({ tag: p, attrs: {} })) },
        { tag: 'list', attrs: {}, content: users },
      ],
    },
  ]);
};
