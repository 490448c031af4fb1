/**
 * Loopback HTTPS stand-in for WhatsApp's media upload hosts (the `media_conn` hosts).
 * Baileys POSTs the ENCRYPTED media to https://<host>/mms/<type>/<fileEncSha256>?auth=..&token=..
 * and expects JSON `{ url, direct_path }`. The peer keeps the encrypted bytes, indexed by their
 * SHA-256, and decrypts them later with the mediaKey it finds inside the Signal-decrypted message.
 *
 * The TLS certificate (certs/server.crt, SAN IP:127.0.0.1 + localhost) is signed by a throw-away
 * test CA (certs/ca.crt) whose private key was deleted right after signing: trusting that CA only
 * ever trusts this loopback certificate.
 */
import { createHash, createHmac, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getMediaKeys, type MediaType } from '@whiskeysockets/baileys';

export const CA_CERT_PATH = fileURLToPath(new URL('./certs/ca.crt', import.meta.url));
const SERVER_CERT_PATH = fileURLToPath(new URL('./certs/server.crt', import.meta.url));
const SERVER_KEY_PATH = fileURLToPath(new URL('./certs/server.key', import.meta.url));

export interface StoredUpload {
  path: string;
  mediaType: string;
  body: Buffer;
  encSha256Hex: string;
}

export class MediaServer {
  readonly uploads: StoredUpload[] = [];
  private readonly byHash = new Map<string, StoredUpload>();
  private server: https.Server | undefined;
  host = '';
  /** when set, uploads are answered with this HTTP status and no URL (upload failure tests) */
  failUploadsWith: number | undefined;
  /** how long a successful upload waits for its answer after the last byte (a slow media host) */
  answerDelayMs = 0;
  onUpload: (() => void) | undefined;

  async start(): Promise<void> {
    const server = https.createServer({ key: readFileSync(SERVER_KEY_PATH), cert: readFileSync(SERVER_CERT_PATH) }, (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 128 * 1024 * 1024) {
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'https://127.0.0.1');
        const m = /^\/mms\/([a-z-]+)\/([^/]+)$/.exec(url.pathname);
        if (req.method !== 'POST' || !m) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
          return;
        }
        if (this.failUploadsWith) {
          res.writeHead(this.failUploadsWith, { 'content-type': 'application/json' }).end('{"error":"injected"}');
          return;
        }
        const body = Buffer.concat(chunks);
        const answer = () => {
          const encSha256Hex = createHash('sha256').update(body).digest('hex');
          const id = randomBytes(12).toString('hex');
          const directPath = `/v/t62.7118-24/${id}.enc?ccb=11-4&oh=peer&oe=0`;
          const upload: StoredUpload = { path: directPath, mediaType: m[1]!, body, encSha256Hex };
          this.uploads.push(upload);
          this.byHash.set(encSha256Hex, upload);
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ url: `https://${this.host}${directPath}`, direct_path: directPath }));
          this.onUpload?.();
        };
        if (this.answerDelayMs > 0) setTimeout(answer, this.answerDelayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  find(fileEncSha256: Uint8Array | null | undefined): StoredUpload | undefined {
    if (!fileEncSha256) return undefined;
    return this.byHash.get(Buffer.from(fileEncSha256).toString('hex'));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** WhatsApp media decryption: AES-256-CBC + 10-byte truncated HMAC-SHA256 over iv||ciphertext */
export async function decryptMedia(
  body: Buffer,
  mediaKey: Uint8Array,
  mediaType: MediaType,
  fileSha256?: Uint8Array | null,
): Promise<Buffer> {
  const keys = await getMediaKeys(mediaKey, mediaType);
  const iv = Buffer.from(keys.iv ?? []);
  const cipherKey = Buffer.from(keys.cipherKey ?? []);
  const macKey = Buffer.from(keys.macKey ?? []);
  const enc = body.subarray(0, body.length - 10);
  const mac = body.subarray(body.length - 10);
  const expected = createHmac('sha256', macKey).update(iv).update(enc).digest().subarray(0, 10);
  if (!expected.equals(mac)) throw new Error('media MAC mismatch');
  const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
  const plain = Buffer.concat([decipher.update(enc), decipher.final()]);
  if (fileSha256 && !createHash('sha256').update(plain).digest().equals(Buffer.from(fileSha256))) {
    throw new Error('media fileSha256 mismatch');
  }
  return plain;
}
