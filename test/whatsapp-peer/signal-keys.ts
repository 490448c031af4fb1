/**
 * Signal keys of a WhatsApp user the peer impersonates (device 0 = the user's phone).
 * The peer hands real pre-key bundles to the client and keeps the private halves, so it can
 * decrypt what the client encrypts for that user with libsignal (the same library Baileys uses).
 */
import { createRequire } from 'node:module';
import { Curve, encodeBigEndian, generateRegistrationId, signedKeyPair, type BinaryNode } from '@whiskeysockets/baileys';
import type { KeyPair } from './noise.js';

interface SignalKeyPairRaw {
  pubKey: Buffer;
  privKey: Buffer;
}
interface ProtocolAddressCtor {
  new (id: string, deviceId: number): { toString(): string };
}
interface SessionCipherLike {
  decryptPreKeyWhisperMessage(data: Buffer): Promise<Buffer>;
  decryptWhisperMessage(data: Buffer): Promise<Buffer>;
}
interface LibSignal {
  curve: { verifySignature(pubKey: Buffer, msg: Buffer, sig: Buffer): boolean };
  ProtocolAddress: ProtocolAddressCtor;
  SessionCipher: new (storage: unknown, addr: unknown) => SessionCipherLike;
}

const require = createRequire(import.meta.url);
// libsignal is CommonJS without types; it is a dependency of Baileys (hoisted in node_modules).
const libsignal = require('libsignal') as LibSignal;

const KEY_BUNDLE_TYPE = Buffer.from([5]);
const withType = (pub: Uint8Array): Buffer => (pub.length === 33 ? Buffer.from(pub) : Buffer.concat([KEY_BUNDLE_TYPE, pub]));

/**
 * XEdDSA signature check that really returns false on a bad signature. (Baileys 7.0.0-rc14's
 * `Curve.verify` wraps libsignal's verifySignature in try/catch but ignores its boolean result,
 * so it returns true for any well-formed signature.)
 */
export const verifySignature = (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => {
  try {
    return libsignal.curve.verifySignature(withType(pub), Buffer.from(msg), Buffer.from(sig)) === true;
  } catch {
    return false;
  }
};

export class SignalKeys {
  readonly registrationId = generateRegistrationId();
  readonly identity: KeyPair = Curve.generateKeyPair();
  readonly signedPreKey: { keyId: number; keyPair: KeyPair; signature: Uint8Array };
  private readonly preKeys = new Map<number, KeyPair>();
  private nextPreKeyId = 1;
  private readonly sessions = new Map<string, unknown>();
  /** one-time pre-keys handed out so far */
  bundlesServed = 0;

  constructor() {
    this.signedPreKey = signedKeyPair(this.identity, 1);
  }

  /** `<user jid>` node of an `encrypt` / `key` IQ result with a fresh one-time pre-key */
  bundleNode(jid: string): BinaryNode {
    const id = this.nextPreKeyId++;
    const preKey = Curve.generateKeyPair();
    this.preKeys.set(id, preKey);
    this.bundlesServed++;
    return {
      tag: 'user',
      attrs: { jid },
      content: [
        { tag: 'registration', attrs: {}, content: Buffer.from(encodeBigEndian(this.registrationId)) },
        { tag: 'type', attrs: {}, content: KEY_BUNDLE_TYPE },
        { tag: 'identity', attrs: {}, content: this.identity.public },
        {
          tag: 'skey',
          attrs: {},
          content: [
            { tag: 'id', attrs: {}, content: Buffer.from(encodeBigEndian(this.signedPreKey.keyId, 3)) },
            { tag: 'value', attrs: {}, content: this.signedPreKey.keyPair.public },
            { tag: 'signature', attrs: {}, content: Buffer.from(this.signedPreKey.signature) },
          ],
        },
        {
          tag: 'key',
          attrs: {},
          content: [
            { tag: 'id', attrs: {}, content: Buffer.from(encodeBigEndian(id, 3)) },
            { tag: 'value', attrs: {}, content: preKey.public },
          ],
        },
      ],
    };
  }

  private storage() {
    const raw = (kp: KeyPair): SignalKeyPairRaw => ({ pubKey: Buffer.from(kp.public), privKey: Buffer.from(kp.private) });
    return {
      loadSession: async (id: string) => this.sessions.get(id),
      storeSession: async (id: string, record: unknown) => {
        this.sessions.set(id, record);
      },
      isTrustedIdentity: () => true,
      loadPreKey: async (id: number | string) => {
        const kp = this.preKeys.get(Number(id));
        return kp ? raw(kp) : undefined;
      },
      removePreKey: async (id: number | string) => {
        this.preKeys.delete(Number(id));
      },
      loadSignedPreKey: async (id: number | string) =>
        Number(id) === this.signedPreKey.keyId ? raw(this.signedPreKey.keyPair) : undefined,
      getOurRegistrationId: () => this.registrationId,
      getOurIdentity: () => ({ privKey: Buffer.from(this.identity.private), pubKey: withType(this.identity.public) }),
    };
  }

  /** decrypts a `pkmsg`/`msg` sent by the device `senderName`.`senderDevice` */
  async decrypt(senderName: string, senderDevice: number, type: string, ciphertext: Buffer): Promise<Buffer> {
    const addr = new libsignal.ProtocolAddress(senderName, senderDevice);
    const cipher = new libsignal.SessionCipher(this.storage(), addr);
    if (type === 'pkmsg') return cipher.decryptPreKeyWhisperMessage(ciphertext);
    if (type === 'msg') return cipher.decryptWhisperMessage(ciphertext);
    throw new Error(`unsupported enc type ${type}`);
  }
}
