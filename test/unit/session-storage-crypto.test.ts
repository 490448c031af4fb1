/** The session's at-rest encryption and the chunking of values over 64 KiB. */
import { randomBytes } from 'node:crypto';
import { CHUNK_BYTES, MAX_CHUNKED_BYTES, fromChunkProperties, toChunkProperties } from '../../shared/chunked-binary.js';
import { createSessionCipher } from '../../sidecar/session-cipher.js';

describe('session cipher', () => {
  const cipher = createSessionCipher('a test secret that is long enough');

  test('round-trips a value under its row context', () => {
    const plain = randomBytes(300);
    expect(Buffer.from(cipher.decrypt(cipher.encrypt(plain, 'keys/abc'), 'keys/abc'))).toEqual(plain);
  });

  test('a value moved to another row does not decrypt', () => {
    const sealed = cipher.encrypt(Buffer.from('secret'), 'keys/a');
    expect(() => cipher.decrypt(sealed, 'keys/b')).toThrow();
  });

  test('a wrong secret fails loudly instead of yielding garbage', () => {
    const sealed = cipher.encrypt(Buffer.from('secret'), 'creds/creds');
    expect(() => createSessionCipher('another secret entirely').decrypt(sealed, 'creds/creds')).toThrow();
  });

  test('row keys are stable, opaque and do not contain the id', () => {
    const id = 'session~919876543210@s.whatsapp.net';
    expect(cipher.rowKey(id)).toBe(cipher.rowKey(id));
    expect(cipher.rowKey(id)).toMatch(/^[0-9a-f]{64}$/);
    expect(cipher.rowKey(id)).not.toBe(createSessionCipher('another secret entirely').rowKey(id));
  });
});

describe('chunked binary properties', () => {
  test('a value over one property splits into chunks and joins back', () => {
    const data = randomBytes(CHUNK_BYTES * 2 + 5);
    const props = toChunkProperties(data);
    expect(props.chunks).toBe(3);
    expect(Buffer.from(fromChunkProperties(props))).toEqual(data);
  });

  test('too large for one entity is refused', () => {
    expect(() => toChunkProperties(new Uint8Array(MAX_CHUNKED_BYTES + 1))).toThrow(/too large/);
  });

  test('a missing chunk is an error, not a short value', () => {
    const props = toChunkProperties(randomBytes(CHUNK_BYTES + 1));
    delete props.d1;
    expect(() => fromChunkProperties(props)).toThrow(/d1/);
  });
});
