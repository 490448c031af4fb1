/**
 * The IQs a client sends while its session settles, answered with fixed data: `passive` (and, on
 * the first `active` of a logged-in device, `<ib><offline count=0/></ib>`: no offline messages),
 * `privacy` settings, `abt` props, the empty `blocklist`, and `w:m` `media_conn` pointing at the
 * peer's media host.
 */
import { randomBytes } from 'node:crypto';
import type { BinaryNode } from '@whiskeysockets/baileys';
import { send, type Conn } from './connection.js';
import { iqResult, S_WHATSAPP_NET } from './nodes.js';

type IqHandler = (conn: Conn, iq: BinaryNode, first: BinaryNode | undefined) => void;

const PRIVACY_CATEGORIES = ['readreceipts', 'last', 'online', 'profile', 'status', 'groupadd', 'calladd', 'messages'];

export const onPassiveIq: IqHandler = (conn, iq, first) => {
  send(conn, iqResult(iq));
  if (first?.tag === 'active' && conn.role.kind === 'device' && !conn.role.offlineSent) {
    conn.role.offlineSent = true;
    send(conn, { tag: 'ib', attrs: { from: S_WHATSAPP_NET }, content: [{ tag: 'offline', attrs: { count: '0' } }] });
  }
};

export const onPrivacyIq: IqHandler = (conn, iq) => {
  if (iq.attrs.type !== 'get') {
    send(conn, iqResult(iq));
    return;
  }
  send(
    conn,
    iqResult(iq, [
      {
        tag: 'privacy',
        attrs: {},
        content: PRIVACY_CATEGORIES.map((name) => ({
          tag: 'category',
          attrs: { name, value: name === 'readreceipts' ? 'all' : name === 'online' ? 'all' : 'contacts' },
        })),
      },
    ]),
  );
};

export const onAbtIq: IqHandler = (conn, iq) => {
  send(conn, iqResult(iq, [{ tag: 'props', attrs: { protocol: '1', hash: 'peer' }, content: [] }]));
};

export const onBlocklistIq: IqHandler = (conn, iq) => {
  send(conn, iqResult(iq, [{ tag: 'list', attrs: {}, content: [] }]));
};

export const createMediaConnIq =
  (mediaHost: string): IqHandler =>
  (conn, iq, first) => {
    if (first?.tag !== 'media_conn') {
      send(conn, iqResult(iq));
      return;
    }
    send(
      conn,
      iqResult(iq, [
        {
          tag: 'media_conn',
          attrs: { auth: randomBytes(16).toString('base64'), ttl: '300', auth_ttl: '3600', max_buckets: '12' },
          content: [{ tag: 'host', attrs: { hostname: mediaHost, maxContentLengthBytes: '104857600' } }],
        },
      ]),
    );
  };
