/**
 * What the peer does with the ClientPayload at the end of the handshake. Without `creds.me` the
 * client registers: it gets `<pair-device>` with six refs and shows a QR. With them it logs in: only
 * a linked, not removed device whose Noise static key is the one it paired with gets `<success>`,
 * else `<failure reason=401>`; a newer login of the same device replaces the older connection
 * (`conflict type=replaced` → 440 on the client).
 */
import type { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { proto } from '@whiskeysockets/baileys';
import { deviceOf, send, streamError, type Conn } from './connection.js';
import type { Connections } from './connections.js';
import type { LinkedDevices } from './devices.js';
import type { Changed } from './events.js';
import type { Faults } from './faults.js';
import { nowS, S_WHATSAPP_NET, type NextTag } from './nodes.js';
import type { PeerStats } from './stats.js';

export interface LoginDeps {
  devices: LinkedDevices;
  connections: Connections;
  faults: Faults;
  stats: PeerStats;
  events: EventEmitter;
  changed: Changed;
  log: (line: string) => void;
  tag: NextTag;
}

export function createLogin(deps: LoginDeps): (conn: Conn, payload: proto.ClientPayload) => void {
  const { devices, connections, faults, stats, events, changed, log, tag } = deps;

  const register = (conn: Conn, pairing: proto.ClientPayload.IDevicePairingRegistrationData): void => {
    const regId = pairing.eRegid ? Buffer.from(pairing.eRegid).readUInt32BE(0) : 0;
    const refs = Array.from({ length: 6 }, () => randomBytes(16).toString('base64url'));
    conn.role = {
      kind: 'registering',
      registration: { identityKey: Buffer.from(pairing.eIdent ?? []), registrationId: regId },
      refs,
    };
    log(`conn ${conn.id}: registration attempt, sending pair-device`);
    send(conn, {
      tag: 'iq',
      attrs: { from: S_WHATSAPP_NET, type: 'set', id: tag(), xmlns: 'md' },
      content: [
        {
          tag: 'pair-device',
          attrs: {},
          content: refs.map((r) => ({ tag: 'ref', attrs: {}, content: Buffer.from(r, 'utf8') })),
        },
      ],
    });
    changed('registration');
  };

  const login = (conn: Conn, payload: proto.ClientPayload): void => {
    const user = payload.username !== null && payload.username !== undefined ? String(payload.username) : '';
    const deviceId = payload.device ?? 0;
    const dev = devices.get(user, deviceId);
    const fail = (code: number): void => {
      stats.loginFailures++;
      log(`conn ${conn.id}: login of ${user}:${deviceId} failed (${code})`);
      streamError(conn, { tag: 'failure', attrs: { reason: String(code), location: 'peer' } });
      changed('login-failure');
    };
    const injected = faults.takeLoginFailure();
    if (injected !== undefined) {
      fail(injected);
      return;
    }
    if (!dev || dev.removed || !conn.clientStatic || !dev.noiseKey.equals(conn.clientStatic)) {
      fail(401);
      return;
    }
    for (const other of connections.open()) {
      if (other !== conn && deviceOf(other) === dev) {
        streamError(other, {
          tag: 'stream:error',
          attrs: {},
          content: [{ tag: 'conflict', attrs: { type: 'replaced' } }],
        });
      }
    }
    connections.loggedIn(conn, dev);
    log(`conn ${conn.id}: ${dev.jid} logged in`);
    send(conn, {
      tag: 'success',
      attrs: {
        t: nowS(),
        props: '1',
        abprops: '1',
        location: 'peer',
        creation: nowS(),
        lid: dev.lid,
      },
    });
    changed('login');
    events.emit('login', dev.jid);
  };

  return (conn, payload) => {
    if (payload.devicePairingData) register(conn, payload.devicePairingData);
    else login(conn, payload);
  };
}
