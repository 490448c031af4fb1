/**
 * `peer.disconnect(reason)`: ends sessions with the node WhatsApp sends for each reason, so Baileys
 * reports the matching `lastDisconnect.error.output.statusCode`:
 * 515 restart required, 440 replaced, 401 device removed (Baileys maps a bare `device_removed`
 * conflict to 440, hence `code=401`), 405 / 403 `<failure>`, 'drop' a TCP reset (428), and
 * 'silence' a server that stops reading and answering (408 after the client's keep-alive).
 */
import { closeConn, deviceOf, streamError } from './connection.js';
import type { Connections } from './connections.js';

export type DisconnectReasonInput = 515 | 440 | 401 | 405 | 403 | 'drop' | 'silence';

export function createDisconnect(
  connections: Connections,
): (reason: DisconnectReasonInput, opts?: { deviceJid?: string }) => Promise<void> {
  return async (reason, opts = {}) => {
    const targets = connections.open().filter((c) => !opts.deviceJid || deviceOf(c)?.jid === opts.deviceJid);
    for (const c of targets) {
      switch (reason) {
        case 515:
          streamError(c, { tag: 'stream:error', attrs: { code: '515' } });
          break;
        case 440:
          streamError(c, { tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] });
          break;
        case 401: {
          const device = deviceOf(c);
          if (device) device.removed = true;
          streamError(c, {
            tag: 'stream:error',
            attrs: { code: '401' },
            content: [{ tag: 'conflict', attrs: { type: 'device_removed' } }],
          });
          break;
        }
        case 405:
        case 403:
          streamError(c, { tag: 'failure', attrs: { reason: String(reason), location: 'peer' } });
          break;
        case 'drop':
          closeConn(c, true);
          break;
        case 'silence':
          c.silenced = true;
          break;
      }
    }
    if (reason === 'silence') return;
    // bounded wait until the sockets are really gone
    const deadline = Date.now() + 2000;
    while (targets.some((c) => c.stage !== 'closed') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of targets) if (c.stage !== 'closed') closeConn(c, true);
  };
}
