/**
 * Server side of WhatsApp Web's Noise XX handshake (Noise_XX_25519_AESGCM_SHA256), mirroring
 * node_modules/@whiskeysockets/baileys/lib/Utils/noise-handler.js step for step:
 *
 *   client -> intro "WA\x06\x03" + frame(HandshakeMessage{clientHello{ephemeral}})
 *   server -> frame(HandshakeMessage{serverHello{ephemeral, static(enc), payload(enc CertChain)}})
 *   client -> frame(HandshakeMessage{clientFinish{static(enc noise key), payload(enc ClientPayload)}})
 *
 * then both sides derive the transport keys with HKDF(salt, empty input) and every frame is
 * AES-256-GCM with a big-endian counter IV. Frames are prefixed with a 3-byte big-endian length.
 */
import { createHash } from 'node:crypto';
import { aesDecryptGCM, aesEncryptGCM, Curve, hkdf, NOISE_MODE, NOISE_WA_HEADER } from '@whiskeysockets/baileys';

export interface KeyPair {
  private: Uint8Array;
  public: Uint8Array;
}

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

const ivFor = (counter: number): Buffer => {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(counter >>> 0, 8);
  return iv;
};

export class ServerNoise {
  private hash: Buffer;
  private salt: Buffer;
  private key: Buffer;
  private counter = 0;
  private encKey: Buffer | undefined;
  private decKey: Buffer | undefined;
  private readCounter = 0;
  private writeCounter = 0;
  readonly ephemeral: KeyPair = Curve.generateKeyPair();

  constructor() {
    const mode = Buffer.from(NOISE_MODE);
    this.hash = mode.byteLength === 32 ? mode : sha256(mode);
    this.salt = this.hash;
    this.key = this.hash;
    this.authenticate(NOISE_WA_HEADER);
  }

  get isTransport(): boolean {
    return this.encKey !== undefined;
  }

  authenticate(data: Uint8Array): void {
    if (!this.encKey) this.hash = sha256(Buffer.concat([this.hash, data]));
  }

  mixIntoKey(data: Uint8Array): void {
    const out = Buffer.from(hkdf(Buffer.from(data), 64, { salt: this.salt, info: '' }));
    this.salt = out.subarray(0, 32);
    this.key = out.subarray(32);
    this.counter = 0;
  }

  encrypt(plaintext: Uint8Array): Buffer {
    if (this.encKey) {
      return aesEncryptGCM(plaintext, this.encKey, ivFor(this.writeCounter++), Buffer.alloc(0));
    }
    const ct = aesEncryptGCM(plaintext, this.key, ivFor(this.counter++), this.hash);
    this.authenticate(ct);
    return ct;
  }

  decrypt(ciphertext: Uint8Array): Buffer {
    if (this.decKey) {
      return aesDecryptGCM(ciphertext, this.decKey, ivFor(this.readCounter++), Buffer.alloc(0));
    }
    const pt = aesDecryptGCM(ciphertext, this.key, ivFor(this.counter++), this.hash);
    this.authenticate(ciphertext);
    return pt;
  }

  /** the client writes with the first half, reads with the second */
  finish(): void {
    const out = Buffer.from(hkdf(new Uint8Array(0), 64, { salt: this.salt, info: '' }));
    this.decKey = out.subarray(0, 32);
    this.encKey = out.subarray(32);
    this.readCounter = 0;
    this.writeCounter = 0;
  }
}

/** 3-byte length framing; the first bytes a client sends are the 4-byte intro header */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private introSeen = false;

  push(data: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    if (!this.introSeen) {
      if (this.buf.length < NOISE_WA_HEADER.length) return [];
      const intro = this.buf.subarray(0, NOISE_WA_HEADER.length);
      if (!intro.equals(NOISE_WA_HEADER)) {
        throw new Error(`unexpected intro header ${intro.toString('hex')}`);
      }
      this.buf = this.buf.subarray(NOISE_WA_HEADER.length);
      this.introSeen = true;
    }
    const frames: Buffer[] = [];
    while (this.buf.length >= 3) {
      const size = (this.buf[0]! << 16) | (this.buf[1]! << 8) | this.buf[2]!;
      if (this.buf.length < size + 3) break;
      frames.push(Buffer.from(this.buf.subarray(3, size + 3)));
      this.buf = this.buf.subarray(size + 3);
    }
    return frames;
  }
}

export const frame = (data: Uint8Array): Buffer => {
  const out = Buffer.alloc(3 + data.byteLength);
  out[0] = (data.byteLength >>> 16) & 0xff;
  out[1] = (data.byteLength >>> 8) & 0xff;
  out[2] = data.byteLength & 0xff;
  out.set(data, 3);
  return out;
};
