/**
 * Linking with a pairing code. The client's `companion_hello` (its ephemeral key wrapped with
 * PBKDF2(code)) gets a ref; `pairWithCode(code)` plays the phone: unwraps that key with the code,
 * sends `primary_hello`, decrypts the client's `companion_finish` key bundle (a wrong code fails
 * here), derives the same `adv_secret` as the client and completes like QR pairing.
 */
import { randomBytes } from 'node:crypto';
import { aesDecryptCTR, aesDecryptGCM, aesEncryptCTR, Curve, derivePairingCodeKey, hkdf, type BinaryNode } from '@whiskeysockets/baileys';
import type { Accounts } from './accounts.js';
import { send, type Conn } from './connection.js';
import type { Connections } from './connections.js';
import type { LinkedDevice } from './devices.js';
import type { Changed } from './events.js';
import { childBuf, iqResult, nowS, S_WHATSAPP_NET, type NextTag } from './nodes.js';
import type { Pairing } from './pairing.js';
import type { PeerTimers } from './timers.js';

export interface PairingCodeDeps {
  accounts: Accounts;
  pairing: Pairing;
  connections: Connections;
  changed: Changed;
  timers: PeerTimers;
  tag: NextTag;
}

export interface PairingCode {
  /** answers `md` `link_code_companion_reg`; false for a stage it does not know */
  onCompanionReg(conn: Conn, iq: BinaryNode, reg: BinaryNode): boolean;
  pairWithCode(code: string, opts?: { timeoutMs?: number }): Promise<LinkedDevice>;
  /** open connections that asked for a pairing code */
  pendingRequests(): number;
}

export function createPairingCode({ accounts, pairing, connections, changed, timers, tag }: PairingCodeDeps): PairingCode {
  const self = accounts.self;

  const onCompanionReg: PairingCode['onCompanionReg'] = (conn, iq, reg) => {
    const stage = reg.attrs.stage;
    if (stage === 'companion_hello') {
      const ref = randomBytes(20);
      conn.codeRequest = {
        ref,
        phoneJid: reg.attrs.jid ?? '',
        wrappedCompanionEphemeral: childBuf(reg, 'link_code_pairing_wrapped_companion_ephemeral_pub') ?? Buffer.alloc(0),
        at: Date.now(),
      };
      send(
        conn,
        iqResult(iq, [
          {
            tag: 'link_code_companion_reg',
            attrs: {},
            content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: ref }],
          },
        ]),
      );
      changed('code-request');
      return true;
    }
    if (stage === 'companion_finish') {
      send(conn, iqResult(iq));
      conn.onCompanionFinish?.(reg);
      return true;
    }
    return false;
  };

  const waitForCompanionFinish = (conn: Conn, timeoutMs: number): Promise<BinaryNode> =>
    new Promise<BinaryNode>((resolve, reject) => {
      const cancel = timers.later(timeoutMs, () => {
        conn.onCompanionFinish = undefined;
        reject(new Error(`client did not send companion_finish within ${timeoutMs}ms`));
      });
      conn.onCompanionFinish = (n) => {
        cancel();
        conn.onCompanionFinish = undefined;
        resolve(n);
      };
    });

  const pairWithCode: PairingCode['pairWithCode'] = async (code, opts = {}) => {
    const timeoutMs = opts.timeoutMs ?? 10000;
    const conn = pairing.findRegistering((c) => !!c.codeRequest);
    if (!conn || !conn.codeRequest) throw new Error('no connected client has requested a pairing code');
    const req = conn.codeRequest;
    if (accounts.of(req.phoneJid) !== self) {
      throw new Error(`pairing code was requested for ${req.phoneJid}, the peer's phone is ${self.jid}`);
    }
    const unwrap = async (wrapped: Buffer): Promise<Buffer> => {
      const key = await derivePairingCodeKey(code, wrapped.subarray(0, 32));
      return aesDecryptCTR(wrapped.subarray(48, 80), key, wrapped.subarray(32, 48));
    };
    const companionEphemeral = await unwrap(req.wrappedCompanionEphemeral);
    const primaryEphemeral = Curve.generateKeyPair();
    const salt = randomBytes(32);
    const iv = randomBytes(16);
    const wrapKey = await derivePairingCodeKey(code, salt);
    const wrappedPrimary = Buffer.concat([salt, iv, aesEncryptCTR(primaryEphemeral.public, wrapKey, iv)]);

    const finishNode = waitForCompanionFinish(conn, timeoutMs);
    send(conn, {
      tag: 'notification',
      attrs: { from: S_WHATSAPP_NET, id: tag(), type: 'link_code_companion_reg', t: nowS() },
      content: [
        {
          tag: 'link_code_companion_reg',
          attrs: { stage: 'primary_hello' },
          content: [
            { tag: 'link_code_pairing_ref', attrs: {}, content: req.ref },
            { tag: 'primary_identity_pub', attrs: {}, content: self.keys.identity.public },
            { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: wrappedPrimary },
          ],
        },
      ],
    });
    const fin = await finishNode;
    const bundle = childBuf(fin, 'link_code_pairing_wrapped_key_bundle');
    const companionIdentity = childBuf(fin, 'companion_identity_public');
    if (!bundle || !companionIdentity) throw new Error('malformed companion_finish');
    const companionShared = Curve.sharedKey(primaryEphemeral.private, companionEphemeral);
    const bundleKey = Buffer.from(
      hkdf(companionShared, 32, { salt: bundle.subarray(0, 32), info: 'link_code_pairing_key_bundle_encryption_key' }),
    );
    let plain: Buffer;
    try {
      plain = aesDecryptGCM(bundle.subarray(44), bundleKey, bundle.subarray(32, 44), Buffer.alloc(0));
    } catch {
      throw new Error('wrong pairing code (key bundle does not decrypt)');
    }
    if (!plain.subarray(0, 32).equals(companionIdentity) || !plain.subarray(32, 64).equals(Buffer.from(self.keys.identity.public))) {
      throw new Error('key bundle identities do not match');
    }
    const random = plain.subarray(64, 96);
    const identityShared = Curve.sharedKey(self.keys.identity.private, companionIdentity);
    const advSecret = Buffer.from(hkdf(Buffer.concat([companionShared, identityShared, random]), 32, { info: 'adv_secret' }));
    conn.codeRequest = undefined;
    return pairing.completePairing(conn, advSecret, companionIdentity, 'code', timeoutMs);
  };

  const pendingRequests = (): number => connections.open().filter((c) => !!c.codeRequest).length;

  return { onCompanionReg, pairWithCode, pendingRequests };
}
