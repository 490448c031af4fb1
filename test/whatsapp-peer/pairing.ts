/**
 * The phone's side of linking a companion. `completePairing` builds the `ADVDeviceIdentity`, signs
 * it with the own account's identity key, HMACs it with the shared `advSecret`, sends
 * `pair-success`, checks the device signature in the client's `pair-device-sign`, stores the
 * device and asks the client to restart (515). `pairWithQr` gets `advSecret` from the QR;
 * the pairing-code flow derives it (pairing-code.ts).
 */
import type { EventEmitter } from 'node:events';
import { createHmac, randomInt } from 'node:crypto';
import { Curve, getBinaryNodeChild, proto, WA_ADV_ACCOUNT_SIG_PREFIX, WA_ADV_DEVICE_SIG_PREFIX } from '@whiskeysockets/baileys';
import type { Account } from './accounts.js';
import { serverIq, streamError, type Conn } from './connection.js';
import type { Connections } from './connections.js';
import type { LinkedDevice, LinkedDevices } from './devices.js';
import type { Changed } from './events.js';
import { childBuf, S_WHATSAPP_NET, type NextTag } from './nodes.js';
import { verifySignature } from './signal-keys.js';
import type { PeerStats } from './stats.js';
import type { PeerTimers } from './timers.js';

export interface PairingDeps {
  self: Account;
  platform: string;
  devices: LinkedDevices;
  connections: Connections;
  stats: PeerStats;
  events: EventEmitter;
  changed: Changed;
  timers: PeerTimers;
  tag: NextTag;
  log: (line: string) => void;
}

export interface Pairing {
  completePairing(
    conn: Conn,
    advSecret: Buffer,
    companionIdentity: Buffer,
    pairedBy: 'qr' | 'code',
    timeoutMs: number,
  ): Promise<LinkedDevice>;
  /** the newest open connection of a registering client that matches `pred` */
  findRegistering(pred: (c: Conn) => boolean): Conn | undefined;
  pairWithQr(qr: string, opts?: { timeoutMs?: number }): Promise<LinkedDevice>;
}

export function createPairing(deps: PairingDeps): Pairing {
  const { self, platform, devices, connections, stats, events, changed, timers, tag, log } = deps;

  const completePairing: Pairing['completePairing'] = async (conn, advSecret, companionIdentity, pairedBy, timeoutMs) => {
    const { deviceId, keyIndex } = devices.allocate();
    const details = proto.ADVDeviceIdentity.encode({
      rawId: randomInt(1, 2 ** 31),
      timestamp: Math.floor(Date.now() / 1000),
      keyIndex,
    }).finish();
    const accountSignature = Curve.sign(self.keys.identity.private, Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, details, companionIdentity]));
    const signed = proto.ADVSignedDeviceIdentity.encode({
      details,
      accountSignatureKey: self.keys.identity.public,
      accountSignature,
    }).finish();
    const hmac = createHmac('sha256', advSecret).update(signed).digest();
    const container = proto.ADVSignedDeviceIdentityHMAC.encode({ details: signed, hmac }).finish();
    const jid = `${self.phone}:${deviceId}@${S_WHATSAPP_NET}`;
    const lid = `${self.lidUser}:${deviceId}@lid`;
    const reply = await serverIq(
      conn,
      {
        tag: 'iq',
        attrs: { from: S_WHATSAPP_NET, type: 'set', id: tag(), xmlns: 'md' },
        content: [
          {
            tag: 'pair-success',
            attrs: {},
            content: [
              { tag: 'device-identity', attrs: {}, content: container },
              { tag: 'platform', attrs: { name: platform } },
              { tag: 'device', attrs: { jid, lid } },
            ],
          },
        ],
      },
      timeoutMs,
      { timers, tag },
    );
    const signNode = getBinaryNodeChild(reply, 'pair-device-sign');
    const identityBytes = childBuf(signNode, 'device-identity');
    if (!identityBytes) throw new Error('client did not return pair-device-sign');
    const account = proto.ADVSignedDeviceIdentity.decode(identityBytes);
    const deviceMsg = Buffer.concat([
      WA_ADV_DEVICE_SIG_PREFIX,
      Buffer.from(account.details ?? []),
      companionIdentity,
      self.keys.identity.public,
    ]);
    if (!account.deviceSignature || !verifySignature(companionIdentity, deviceMsg, account.deviceSignature)) {
      throw new Error('device signature in pair-device-sign does not verify');
    }
    const dev: LinkedDevice = {
      jid,
      lid,
      device: deviceId,
      noiseKey: Buffer.from(conn.clientStatic ?? []),
      identityKey: companionIdentity,
      registrationId: conn.role.kind === 'registering' ? conn.role.registration.registrationId : 0,
      platform,
      pairedBy,
      removed: false,
      uploadedPreKeys: 0,
    };
    devices.add(self.phone, dev);
    stats.pairings++;
    log(`conn ${conn.id}: paired ${jid} by ${pairedBy}; asking the client to restart (515)`);
    streamError(conn, { tag: 'stream:error', attrs: { code: '515' } });
    changed('paired');
    events.emit('paired', jid);
    return dev;
  };

  const findRegistering: Pairing['findRegistering'] = (pred) =>
    connections
      .open()
      .reverse()
      .find((c) => c.role.kind === 'registering' && pred(c));

  const pairWithQr: Pairing['pairWithQr'] = async (qr, opts = {}) => {
    const data = qr.includes('#') ? qr.slice(qr.indexOf('#') + 1) : qr;
    const [ref, noiseB64, identityB64, advB64] = data.split(',');
    if (!ref || !noiseB64 || !identityB64 || !advB64) throw new Error(`not a pairing QR: ${qr}`);
    const noiseKey = Buffer.from(noiseB64, 'base64');
    const conn = findRegistering((c) => c.role.kind === 'registering' && c.role.refs.includes(ref) && !!c.clientStatic?.equals(noiseKey));
    if (!conn || conn.role.kind !== 'registering') throw new Error('no connected client is showing this QR (unknown ref or noise key)');
    const identity = Buffer.from(identityB64, 'base64');
    if (!conn.role.registration.identityKey.equals(identity)) {
      throw new Error('QR identity key does not match the registration payload');
    }
    return completePairing(conn, Buffer.from(advB64, 'base64'), identity, 'qr', opts.timeoutMs ?? 5000);
  };

  return { completePairing, findRegistering, pairWithQr };
}
