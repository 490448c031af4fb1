/**
 * Encrypts the WhatsApp session at rest (AES-256-GCM) under a key derived from
 * WHATSAPP_SESSION_SECRET. Whoever reads the table without the secret learns nothing usable;
 * a wrong secret fails loudly instead of yielding garbage.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 1;

export interface SessionCipher {
  /** An opaque, stable row key for a key id: ids name contacts (JIDs), which must not show in storage. */
  rowKey(id: string): string;
  encrypt(plain: Uint8Array, context: string): Uint8Array;
  decrypt(sealed: Uint8Array, context: string): Uint8Array;
}

export function createSessionCipher(secret: string): SessionCipher {
  const key = Buffer.from(hkdfSync('sha256', secret, 'wa-notify/session', 'aes-256-gcm/v1', 32));
  const naming = Buffer.from(hkdfSync('sha256', secret, 'wa-notify/session', 'row-keys/v1', 32));
  return {
    rowKey: (id) => createHmac('sha256', naming).update(id).digest('hex'),
    encrypt(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context)); // a row cannot be swapped for another row's value
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
    },
    decrypt(sealed, context) {
      const buf = Buffer.from(sealed);
      if (buf[0] !== VERSION) throw new Error('unknown session encryption version');
      const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(1, 13));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(buf.subarray(13, 29));
      return Buffer.concat([decipher.update(buf.subarray(29)), decipher.final()]);
    },
  };
}
