/**
 * A loopback WhatsApp Web protocol peer for tests: the unmodified Baileys client connects to it
 * with `makeWASocket({ waWebSocketUrl: peer.url, ... })` and runs its real protocol against it
 * (Noise handshake, QR / pairing-code linking, login, usync, pre-key bundles, Signal-encrypted
 * 1:1 messages, media upload, acks, receipts, stream errors). See README.md in this folder.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  aesDecryptCTR,
  aesDecryptGCM,
  aesEncryptCTR,
  Curve,
  decodeBinaryNode,
  derivePairingCodeKey,
  encodeBinaryNode,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  hkdf,
  jidDecode,
  proto,
  unpadRandomMax16,
  WA_ADV_ACCOUNT_SIG_PREFIX,
  WA_ADV_DEVICE_SIG_PREFIX,
  WA_CERT_DETAILS,
  type BinaryNode,
  type MediaType,
} from '@whiskeysockets/baileys';
import { CA_CERT_PATH, decryptMedia, MediaServer } from './media-server.js';
import { FrameReader, frame, ServerNoise, type KeyPair } from './noise.js';
import { SignalKeys, verifySignature } from './signal-keys.js';

export type DisconnectReasonInput = 515 | 440 | 401 | 405 | 403 | 'drop' | 'silence';
export type ReceiptKind = 'delivery' | 'read';

export interface WhatsAppPeerOptions {
  /** phone number of the account the client links to ("self"); default 15550001111 */
  selfPhone?: string;
  /** platform name sent in pair-success; default 'android' */
  platform?: string;
  /** send a delivery receipt after each accepted message; default true */
  autoDeliver?: boolean;
  /** send a read receipt after each accepted message; default false */
  autoRead?: boolean;
  /** delay before the server ack of each message; default 0 */
  ackDelayMs?: number;
  /**
   * delay between the ack and the automatic receipts; default 250 ms. Baileys debounces its own
   * `messages.upsert` of a sent message for 100 ms and folds a receipt that arrives inside that
   * window into the upsert instead of emitting `messages.update` (set 0 to provoke exactly that).
   */
  receiptDelayMs?: number;
  /**
   * pre-key count the `encrypt`/`count` IQ reports for every device instead of the number it
   * really uploaded. Default: the honest count (a fresh device then uploads 812 pre-keys). Set it
   * (e.g. 50) for IN-PROCESS tests: Baileys 7.0.0-rc14's uploadPreKeys() arms a 30 s timeout it
   * never clears, which keeps jest alive ~30 s after the last upload.
   */
  claimPreKeysOnServer?: number;
  /** diagnostics sink, e.g. `console.log`; default silent */
  log?: (line: string) => void;
}

export interface Contact {
  phone: string;
  jid: string;
  lid: string;
  onWhatsApp: boolean;
}

export interface LinkedDevice {
  /** e.g. 15550001111:1@s.whatsapp.net */
  jid: string;
  /** e.g. 123456789012345:1@lid */
  lid: string;
  device: number;
  noiseKey: Buffer;
  identityKey: Buffer;
  registrationId: number;
  platform: string;
  pairedBy: 'qr' | 'code';
  removed: boolean;
  /** pre-keys the device uploaded with `encrypt` set */
  uploadedPreKeys: number;
}

export interface ReceivedMessage {
  /** destination as addressed by the client (the stanza `to`) */
  to: string;
  id: string;
  /** the sending (companion) device */
  from: string;
  kind: 'text' | 'image' | 'document' | 'other';
  text?: string;
  caption?: string;
  fileName?: string;
  mimetype?: string;
  /** plaintext media length (image/document) */
  bytesLength?: number;
  /** decrypted media bytes (image/document) */
  bytes?: Buffer;
  mediaError?: string;
  decryptError?: string;
  /** the full decrypted proto.Message (for DSM copies: the inner message) */
  message?: proto.IMessage;
  /** devices (jid) whose copy the peer decrypted */
  decryptedFor: string[];
  /** ack error code the peer answered with, if any */
  ackError?: string;
  acked: boolean;
  at: number;
  /** performance.now() when the peer began handling the stanza, and when it sent the ack (bench timing) */
  handledAt?: number;
  ackedAt?: number;
}

export interface PeerStats {
  connectionsOpened: number;
  handshakes: number;
  logins: number;
  loginFailures: number;
  pairings: number;
  currentConnections: number;
  /** logged-in connections currently open */
  currentLogins: number;
  /**
   * The most logged-in connections open at once (a newer login is counted before the older one is
   * replaced): more than 1 means two clients were logged in to the session together. Tests may
   * reset it to `currentLogins` to measure a window.
   */
  maxLogins: number;
  /**
   * Messages whose (recipient, id) had already been received: a resend of the same message, which a
   * device shows once. Acked like any message but not added to `received` again.
   */
  duplicates: number;
}

export interface IqRecord {
  xmlns: string;
  type: string;
  child: string;
  at: number;
}

export interface WhatsAppPeer {
  /** ws:// URL to pass as `waWebSocketUrl` */
  readonly url: string;
  /** root public key (32 bytes) the client must trust as WA_CERT_DETAILS.PUBLIC_KEY */
  readonly rootPublicKey: Buffer;
  /** base64 of rootPublicKey, for env var WA_PEER_ROOT_PUBLIC_KEY */
  readonly rootPublicKeyBase64: string;
  /** absolute path of trust-peer-root.mjs (preload with NODE_OPTIONS=--import <path>) */
  readonly preloadPath: string;
  /** PEM file of the test CA that signed the media host certificate (NODE_EXTRA_CA_CERTS) */
  readonly caCertPath: string;
  /** host:port of the loopback HTTPS media upload server */
  readonly mediaHost: string;
  readonly selfPhone: string;
  readonly selfJid: string;
  readonly selfLid: string;
  /** env vars for a client running in a child process (merge into the child's env) */
  childEnv(existingNodeOptions?: string): Record<string, string>;
  /** sets WA_CERT_DETAILS.PUBLIC_KEY of the Baileys instance this module imported */
  trustInProcess(): void;

  addContact(phone: string, opts?: { onWhatsApp?: boolean }): Contact;
  contact(phoneOrJid: string): Contact | undefined;

  /** answer messages to `jid` with `<ack error=code>`; `clearFailAcks()` resets */
  failAcks(jid: string, errorCode: number | string): void;
  clearFailAcks(jid?: string): void;
  setAckDelay(ms: number): void;
  setReceiptDelay(ms: number): void;
  /** when on, messages get no ack and no receipts at all */
  dropAcks(on: boolean): void;
  setAutoReceipts(opts: { delivery?: boolean; read?: boolean }): void;
  sendReceipt(msgId: string, kind: ReceiptKind): Promise<void>;
  /** makes the next N logins fail with `<failure reason=code>` */
  failNextLogin(code: number, times?: number): void;

  /** acts on every open connection (or only those of `deviceJid`) */
  disconnect(reason: DisconnectReasonInput, opts?: { deviceJid?: string }): Promise<void>;

  readonly received: ReceivedMessage[];
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  waitForMessage(predicate: (m: ReceivedMessage) => boolean, timeoutMs?: number): Promise<ReceivedMessage>;

  pairWithQr(qr: string, opts?: { timeoutMs?: number }): Promise<LinkedDevice>;
  pairWithCode(code: string, opts?: { timeoutMs?: number }): Promise<LinkedDevice>;
  /** the pairing code the client sent last (the peer cannot read it; only tests know it) */
  readonly pendingCodeRequests: number;
  readonly devices: LinkedDevice[];
  unlinkDevice(jid: string): void;

  readonly stats: PeerStats;
  readonly iqLog: IqRecord[];
  readonly events: EventEmitter;
  close(): Promise<void>;
}

const S_WHATSAPP_NET = 's.whatsapp.net';
const ROOT_KEY: KeyPair = Curve.generateKeyPair();
const PRELOAD_PATH = fileURLToPath(new URL('./trust-peer-root.mjs', import.meta.url));

const toBuf = (c: BinaryNode['content']): Buffer | undefined => {
  if (c === undefined || c === null) return undefined;
  if (typeof c === 'string') return Buffer.from(c, 'utf8');
  if (c instanceof Uint8Array) return Buffer.from(c);
  return undefined;
};
const childBuf = (node: BinaryNode | undefined, tag: string): Buffer | undefined =>
  node ? toBuf(getBinaryNodeChild(node, tag)?.content) : undefined;
const children = (node: BinaryNode | undefined): BinaryNode[] => (node && Array.isArray(node.content) ? node.content : []);
const nowS = (): string => Math.floor(Date.now() / 1000).toString();
const digitsOnly = (s: string): string => s.replace(/\D/g, '');
const randomLidUser = (): string => String(randomInt(1, 9)) + String(randomInt(0, 1e14)).padStart(14, '0');

interface Account {
  phone: string;
  jid: string;
  lidUser: string;
  lid: string;
  onWhatsApp: boolean;
  keys: SignalKeys;
}

interface PendingRegistration {
  identityKey: Buffer;
  registrationId: number;
}

interface CodeRequest {
  ref: Buffer;
  phoneJid: string;
  wrappedCompanionEphemeral: Buffer;
  at: number;
}

interface Conn {
  id: number;
  ws: WebSocket;
  noise: ServerNoise;
  reader: FrameReader;
  stage: 'hello' | 'finish' | 'open' | 'closed';
  queue: Promise<void>;
  clientStatic?: Buffer;
  device?: LinkedDevice;
  registration?: PendingRegistration;
  refs: string[];
  codeRequest?: CodeRequest;
  silenced: boolean;
  offlineSent: boolean;
  serverIqs: Map<string, (node: BinaryNode) => void>;
  /** companion_finish handler installed by pairWithCode */
  onCompanionFinish?: (iq: BinaryNode) => void;
}

interface SentRecord {
  conn: Conn;
  to: string;
}

export async function startWhatsAppPeer(options: WhatsAppPeerOptions = {}): Promise<WhatsAppPeer> {
  const log = options.log ?? (() => undefined);
  const platform = options.platform ?? 'android';
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const changed = (what: string): void => {
    events.emit('change', what);
  };

  // ---------- certificate chain (root -> intermediate -> leaf = server static key) ----------
  const serverStatic = Curve.generateKeyPair();
  const intermediate = Curve.generateKeyPair();
  const notBefore = Math.floor(Date.now() / 1000) - 3600;
  const notAfter = notBefore + 10 * 365 * 24 * 3600;
  const interDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 1,
    issuerSerial: WA_CERT_DETAILS.SERIAL,
    key: intermediate.public,
    notBefore,
    notAfter,
  }).finish();
  const leafDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 2,
    issuerSerial: 1,
    key: serverStatic.public,
    notBefore,
    notAfter,
  }).finish();
  const certChain = proto.CertChain.encode({
    intermediate: { details: interDetails, signature: Curve.sign(ROOT_KEY.private, interDetails) },
    leaf: { details: leafDetails, signature: Curve.sign(intermediate.private, leafDetails) },
  }).finish();

  // ---------- accounts ----------
  const accountsByUser = new Map<string, Account>();
  const makeAccount = (phone: string, onWhatsApp: boolean): Account => {
    const p = digitsOnly(phone);
    if (!p) throw new Error(`invalid phone ${phone}`);
    const existing = accountsByUser.get(p);
    if (existing) {
      existing.onWhatsApp = onWhatsApp;
      return existing;
    }
    const lidUser = randomLidUser();
    const acc: Account = {
      phone: p,
      jid: `${p}@${S_WHATSAPP_NET}`,
      lidUser,
      lid: `${lidUser}@lid`,
      onWhatsApp,
      keys: new SignalKeys(),
    };
    accountsByUser.set(p, acc);
    accountsByUser.set(lidUser, acc);
    return acc;
  };
  const self = makeAccount(options.selfPhone ?? '15550001111', true);
  const accountOf = (jidOrPhone: string | undefined): Account | undefined => {
    if (!jidOrPhone) return undefined;
    if (jidOrPhone.includes('@')) {
      const d = jidDecode(jidOrPhone);
      return d?.user ? accountsByUser.get(d.user) : undefined;
    }
    return accountsByUser.get(digitsOnly(jidOrPhone));
  };

  // ---------- linked devices ----------
  const devices = new Map<string, LinkedDevice>(); // key: `${user}:${device}`
  let nextDeviceId = 1;
  let nextKeyIndex = 1;

  // ---------- behaviour knobs ----------
  const failAckFor = new Map<string, string>();
  let ackDelayMs = options.ackDelayMs ?? 0;
  let receiptDelayMs = options.receiptDelayMs ?? 250;
  let ackDropping = false;
  let autoDeliver = options.autoDeliver ?? true;
  let autoRead = options.autoRead ?? false;
  let loginFailures: { code: number; times: number } | undefined;

  const stats: PeerStats = {
    connectionsOpened: 0,
    handshakes: 0,
    logins: 0,
    loginFailures: 0,
    pairings: 0,
    currentConnections: 0,
    currentLogins: 0,
    maxLogins: 0,
    duplicates: 0,
  };
  const iqLog: IqRecord[] = [];
  const received: ReceivedMessage[] = [];
  const receivedKeys = new Set<string>();
  const sentIndex = new Map<string, SentRecord>();
  const conns = new Set<Conn>();
  const timers = new Set<NodeJS.Timeout>();
  let closing = false;
  let connSeq = 0;
  let tagSeq = 0;
  const tag = (): string => `peer-${++tagSeq}`;
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const media = new MediaServer();
  media.onUpload = () => changed('upload');
  await media.start();

  // ---------- transport ----------
  const send = (conn: Conn, node: BinaryNode): void => {
    if (conn.stage !== 'open' || conn.ws.readyState !== conn.ws.OPEN) return;
    const bytes = encodeBinaryNode(node);
    conn.ws.send(frame(conn.noise.encrypt(bytes)));
  };
  const closeConn = (conn: Conn, hard = false): void => {
    if (conn.ws.readyState === conn.ws.CLOSED) return;
    if (hard) conn.ws.terminate();
    else conn.ws.close();
  };
  const serverIq = (conn: Conn, node: BinaryNode, timeoutMs: number): Promise<BinaryNode> =>
    new Promise((resolve, reject) => {
      const id = node.attrs.id ?? tag();
      node.attrs.id = id;
      const t = setTimeout(() => {
        timers.delete(t);
        conn.serverIqs.delete(id);
        reject(new Error(`client did not answer iq ${id} within ${timeoutMs}ms`));
      }, timeoutMs);
      timers.add(t);
      conn.serverIqs.set(id, (reply) => {
        clearTimeout(t);
        timers.delete(t);
        resolve(reply);
      });
      send(conn, node);
    });
  const streamError = (conn: Conn, node: BinaryNode): void => {
    send(conn, node);
    closeConn(conn);
  };

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', () => resolve());
    wss.once('error', reject);
  });
  const port = (wss.address() as AddressInfo).port;

  wss.on('connection', (ws) => {
    const conn: Conn = {
      id: ++connSeq,
      ws,
      noise: new ServerNoise(),
      reader: new FrameReader(),
      stage: 'hello',
      queue: Promise.resolve(),
      refs: [],
      silenced: false,
      offlineSent: false,
      serverIqs: new Map(),
    };
    conns.add(conn);
    stats.connectionsOpened++;
    stats.currentConnections++;
    changed('connection');
    events.emit('connection', conn.id);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (conn.silenced || conn.stage === 'closed') return;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      try {
        for (const f of conn.reader.push(buf)) onFrame(conn, f);
      } catch (err) {
        log(`conn ${conn.id}: protocol error ${(err as Error).message}`);
        closeConn(conn, true);
      }
    });
    ws.on('close', () => {
      const wasLogin = !!conn.device && conn.stage === 'open';
      conn.stage = 'closed';
      conns.delete(conn);
      stats.currentConnections--;
      if (wasLogin) stats.currentLogins--;
      changed('close');
      events.emit('closed', conn.id);
    });
    ws.on('error', (err) => log(`conn ${conn.id}: ws error ${err.message}`));
  });

  const onFrame = (conn: Conn, f: Buffer): void => {
    if (conn.stage === 'hello') {
      const hello = proto.HandshakeMessage.decode(f).clientHello;
      const clientEph = hello?.ephemeral ? Buffer.from(hello.ephemeral) : undefined;
      if (!clientEph || clientEph.length !== 32) throw new Error('missing client ephemeral');
      const n = conn.noise;
      n.authenticate(clientEph);
      n.authenticate(n.ephemeral.public);
      n.mixIntoKey(Curve.sharedKey(n.ephemeral.private, clientEph));
      const staticCt = n.encrypt(serverStatic.public);
      n.mixIntoKey(Curve.sharedKey(serverStatic.private, clientEph));
      const certCt = n.encrypt(certChain);
      const out = proto.HandshakeMessage.encode({
        serverHello: { ephemeral: n.ephemeral.public, static: staticCt, payload: certCt },
      }).finish();
      conn.ws.send(frame(out));
      conn.stage = 'finish';
      return;
    }
    if (conn.stage === 'finish') {
      const finish = proto.HandshakeMessage.decode(f).clientFinish;
      if (!finish?.static || !finish.payload) throw new Error('missing clientFinish');
      const n = conn.noise;
      const clientStatic = n.decrypt(finish.static);
      n.mixIntoKey(Curve.sharedKey(n.ephemeral.private, clientStatic));
      const payload = proto.ClientPayload.decode(n.decrypt(finish.payload));
      n.finish();
      conn.clientStatic = clientStatic;
      conn.stage = 'open';
      stats.handshakes++;
      onClientPayload(conn, payload);
      return;
    }
    if (conn.stage === 'open') {
      const plain = conn.noise.decrypt(f);
      conn.queue = conn.queue
        .then(async () => {
          const node = await decodeBinaryNode(plain);
          if (conn.silenced) return;
          await onNode(conn, node);
        })
        .catch((err) => log(`conn ${conn.id}: error handling node: ${(err as Error).stack}`));
    }
  };

  // ---------- login / registration ----------
  const onClientPayload = (conn: Conn, payload: proto.ClientPayload): void => {
    const pairing = payload.devicePairingData;
    if (pairing) {
      const regId = pairing.eRegid ? Buffer.from(pairing.eRegid).readUInt32BE(0) : 0;
      conn.registration = {
        identityKey: Buffer.from(pairing.eIdent ?? []),
        registrationId: regId,
      };
      conn.refs = Array.from({ length: 6 }, () => randomBytes(16).toString('base64url'));
      log(`conn ${conn.id}: registration attempt, sending pair-device`);
      send(conn, {
        tag: 'iq',
        attrs: { from: S_WHATSAPP_NET, type: 'set', id: tag(), xmlns: 'md' },
        content: [
          {
            tag: 'pair-device',
            attrs: {},
            content: conn.refs.map((r) => ({ tag: 'ref', attrs: {}, content: Buffer.from(r, 'utf8') })),
          },
        ],
      });
      changed('registration');
      return;
    }
    const user = payload.username !== null && payload.username !== undefined ? String(payload.username) : '';
    const deviceId = payload.device ?? 0;
    const dev = devices.get(`${user}:${deviceId}`);
    const fail = (code: number): void => {
      stats.loginFailures++;
      log(`conn ${conn.id}: login of ${user}:${deviceId} failed (${code})`);
      streamError(conn, { tag: 'failure', attrs: { reason: String(code), location: 'peer' } });
      changed('login-failure');
    };
    if (loginFailures && loginFailures.times > 0) {
      loginFailures.times--;
      fail(loginFailures.code);
      return;
    }
    if (!dev || dev.removed || !conn.clientStatic || !dev.noiseKey.equals(conn.clientStatic)) {
      fail(401);
      return;
    }
    // a newer login of the same device replaces the older connection
    for (const other of conns) {
      if (other !== conn && other.device === dev && other.stage === 'open') {
        streamError(other, {
          tag: 'stream:error',
          attrs: {},
          content: [{ tag: 'conflict', attrs: { type: 'replaced' } }],
        });
      }
    }
    conn.device = dev;
    stats.logins++;
    stats.currentLogins++;
    stats.maxLogins = Math.max(stats.maxLogins, stats.currentLogins);
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

  // ---------- stanza handling ----------
  const onNode = async (conn: Conn, node: BinaryNode): Promise<void> => {
    switch (node.tag) {
      case 'iq':
        return onIq(conn, node);
      case 'message':
        return onMessage(conn, node);
      default:
        // presence, ib (unified_session), ack (for our receipts/notifications), receipt: nothing to do
        return;
    }
  };

  const result = (iq: BinaryNode, content?: BinaryNode[]): BinaryNode => ({
    tag: 'iq',
    attrs: { from: S_WHATSAPP_NET, type: 'result', id: iq.attrs.id ?? '' },
    ...(content ? { content } : {}),
  });

  const onIq = async (conn: Conn, iq: BinaryNode): Promise<void> => {
    const { type = '', xmlns = '', id = '' } = iq.attrs;
    if (type === 'result' || type === 'error') {
      const handler = conn.serverIqs.get(id);
      conn.serverIqs.delete(id);
      handler?.(iq);
      return;
    }
    const first = children(iq)[0];
    iqLog.push({ xmlns, type, child: first?.tag ?? '', at: Date.now() });
    events.emit('iq', { xmlns, type, child: first?.tag ?? '' });
    switch (xmlns) {
      case 'encrypt':
        return onEncryptIq(conn, iq, first);
      case 'usync':
        send(conn, usyncResult(conn, iq));
        return;
      case 'passive':
        send(conn, result(iq));
        if (first?.tag === 'active' && !conn.offlineSent && conn.device) {
          conn.offlineSent = true;
          send(conn, { tag: 'ib', attrs: { from: S_WHATSAPP_NET }, content: [{ tag: 'offline', attrs: { count: '0' } }] });
        }
        return;
      case 'privacy':
        if (type === 'get') {
          send(
            conn,
            result(iq, [
              {
                tag: 'privacy',
                attrs: {},
                content: ['readreceipts', 'last', 'online', 'profile', 'status', 'groupadd', 'calladd', 'messages'].map((name) => ({
                  tag: 'category',
                  attrs: { name, value: name === 'readreceipts' ? 'all' : name === 'online' ? 'all' : 'contacts' },
                })),
              },
            ]),
          );
        } else {
          send(conn, result(iq));
        }
        return;
      case 'abt':
        send(conn, result(iq, [{ tag: 'props', attrs: { protocol: '1', hash: 'peer' }, content: [] }]));
        return;
      case 'blocklist':
        send(conn, result(iq, [{ tag: 'list', attrs: {}, content: [] }]));
        return;
      case 'w:m':
        if (first?.tag === 'media_conn') {
          send(
            conn,
            result(iq, [
              {
                tag: 'media_conn',
                attrs: { auth: randomBytes(16).toString('base64'), ttl: '300', auth_ttl: '3600', max_buckets: '12' },
                content: [{ tag: 'host', attrs: { hostname: media.host, maxContentLengthBytes: '104857600' } }],
              },
            ]),
          );
          return;
        }
        send(conn, result(iq));
        return;
      case 'md':
        return onMdIq(conn, iq, first);
      default:
        // w:p ping, w:stats, w:profile:picture, status, ... : a plain result
        send(conn, result(iq));
    }
  };

  const onEncryptIq = (conn: Conn, iq: BinaryNode, first: BinaryNode | undefined): void => {
    if (first?.tag === 'count') {
      const count = options.claimPreKeysOnServer ?? conn.device?.uploadedPreKeys ?? 0;
      send(conn, result(iq, [{ tag: 'count', attrs: { value: String(count) } }]));
      return;
    }
    if (first?.tag === 'digest') {
      send(conn, result(iq, [{ tag: 'digest', attrs: {}, content: [] }]));
      return;
    }
    if (first?.tag === 'key') {
      const users = getBinaryNodeChildren(first, 'user').map((u) => {
        const jid = u.attrs.jid ?? '';
        const acc = accountOf(jid);
        const dev = jidDecode(jid)?.device ?? 0;
        if (acc && acc.onWhatsApp && dev === 0) return acc.keys.bundleNode(jid);
        return {
          tag: 'user',
          attrs: { jid },
          content: [{ tag: 'error', attrs: { code: '404', text: 'item-not-found' } }],
        };
      });
      send(conn, result(iq, [{ tag: 'list', attrs: {}, content: users }]));
      return;
    }
    if (iq.attrs.type === 'set') {
      const list = getBinaryNodeChild(iq, 'list');
      if (list && conn.device) {
        conn.device.uploadedPreKeys += getBinaryNodeChildren(list, 'key').length;
      }
    }
    send(conn, result(iq));
  };

  const usyncResult = (conn: Conn, iq: BinaryNode): BinaryNode => {
    const usync = getBinaryNodeChild(iq, 'usync');
    const protocols = children(getBinaryNodeChild(usync, 'query')).map((p) => p.tag);
    const seen = new Set<string>();
    const users: BinaryNode[] = [];
    for (const user of getBinaryNodeChildren(getBinaryNodeChild(usync, 'list'), 'user')) {
      const phone = toBuf(getBinaryNodeChild(user, 'contact')?.content)?.toString('utf8');
      const jid = user.attrs.jid;
      const acc = accountOf(jid ?? phone);
      const exists = !!acc?.onWhatsApp;
      const resultJid = jid ? jid : acc ? acc.jid : `${digitsOnly(phone ?? '')}@${S_WHATSAPP_NET}`;
      if (seen.has(resultJid)) continue;
      seen.add(resultJid);
      const content: BinaryNode[] = [];
      for (const p of protocols) {
        if (p === 'contact') {
          content.push({ tag: 'contact', attrs: { type: exists ? 'in' : 'out' } });
        } else if (p === 'devices') {
          const deviceList: BinaryNode[] = [];
          if (exists && acc) {
            deviceList.push({ tag: 'device', attrs: { id: '0' } });
            if (acc === self && conn.device && conn.device.device !== 0) {
              deviceList.push({ tag: 'device', attrs: { id: String(conn.device.device), 'key-index': '1' } });
            }
          }
          content.push({ tag: 'devices', attrs: {}, content: [{ tag: 'device-list', attrs: {}, content: deviceList }] });
        } else if (p === 'lid') {
          if (exists && acc) content.push({ tag: 'lid', attrs: { val: acc.lid } });
        }
      }
      users.push({ tag: 'user', attrs: { jid: resultJid }, content });
    }
    return result(iq, [
      {
        tag: 'usync',
        attrs: {
          sid: usync?.attrs.sid ?? tag(),
          index: '0',
          last: 'true',
          mode: usync?.attrs.mode ?? 'query',
          context: usync?.attrs.context ?? 'interactive',
        },
        content: [
          { tag: 'result', attrs: {}, content: protocols.map((p) => ({ tag: p, attrs: {} })) },
          { tag: 'list', attrs: {}, content: users },
        ],
      },
    ]);
  };

  const onMdIq = (conn: Conn, iq: BinaryNode, first: BinaryNode | undefined): void => {
    if (first?.tag === 'link_code_companion_reg') {
      const stage = first.attrs.stage;
      if (stage === 'companion_hello') {
        const ref = randomBytes(20);
        conn.codeRequest = {
          ref,
          phoneJid: first.attrs.jid ?? '',
          wrappedCompanionEphemeral: childBuf(first, 'link_code_pairing_wrapped_companion_ephemeral_pub') ?? Buffer.alloc(0),
          at: Date.now(),
        };
        send(
          conn,
          result(iq, [
            {
              tag: 'link_code_companion_reg',
              attrs: {},
              content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: ref }],
            },
          ]),
        );
        changed('code-request');
        return;
      }
      if (stage === 'companion_finish') {
        send(conn, result(iq));
        conn.onCompanionFinish?.(first);
        return;
      }
    }
    if (first?.tag === 'remove-companion-device') {
      const jid = first.attrs.jid;
      const dev = [...devices.values()].find((d) => d.jid === jid);
      if (dev) dev.removed = true;
      send(conn, result(iq));
      changed('unlink');
      return;
    }
    send(conn, result(iq));
  };

  // ---------- messages ----------
  const extract = (m: proto.IMessage): Pick<ReceivedMessage, 'kind' | 'text' | 'caption' | 'fileName' | 'mimetype'> => {
    if (m.conversation) return { kind: 'text', text: m.conversation };
    if (m.extendedTextMessage?.text) return { kind: 'text', text: m.extendedTextMessage.text };
    if (m.imageMessage) {
      return {
        kind: 'image',
        ...(m.imageMessage.caption ? { caption: m.imageMessage.caption } : {}),
        ...(m.imageMessage.mimetype ? { mimetype: m.imageMessage.mimetype } : {}),
      };
    }
    const doc = m.documentMessage ?? m.documentWithCaptionMessage?.message?.documentMessage;
    if (doc) {
      return {
        kind: 'document',
        ...(doc.caption ? { caption: doc.caption } : {}),
        ...(doc.fileName ? { fileName: doc.fileName } : {}),
        ...(doc.mimetype ? { mimetype: doc.mimetype } : {}),
      };
    }
    return { kind: 'other' };
  };

  const ackMessage = (conn: Conn, id: string, to: string, error?: string): void => {
    send(conn, {
      tag: 'ack',
      attrs: { class: 'message', id, from: to, t: nowS(), ...(error ? { error } : {}) },
    });
  };

  const receiptNode = (id: string, to: string, kind: ReceiptKind): BinaryNode => {
    const acc = accountOf(to);
    const from = acc ? acc.jid : to;
    const attrs: Record<string, string> = { from, id, t: nowS() };
    if (acc === self) attrs.recipient = self.jid;
    if (kind === 'read') attrs.type = 'read';
    return { tag: 'receipt', attrs };
  };

  const onMessage = async (conn: Conn, stanza: BinaryNode): Promise<void> => {
    const handledAt = performance.now();
    const id = stanza.attrs.id ?? '';
    const to = stanza.attrs.to ?? '';
    const sender = conn.device;
    if (!sender) return;
    const isPeerCategory = stanza.attrs.category === 'peer';
    const destAcc = accountOf(to);
    const senderDec = jidDecode(sender.jid);
    const senderName = senderDec?.user ?? 'unknown';
    const senderDevice = senderDec?.device ?? 0;

    // decrypt every copy addressed to a device the peer hosts (device 0 of known accounts)
    const copies: { jid: string; acc: Account; type: string; ct: Buffer }[] = [];
    for (const toNode of getBinaryNodeChildren(getBinaryNodeChild(stanza, 'participants'), 'to')) {
      const enc = getBinaryNodeChild(toNode, 'enc');
      const jid = toNode.attrs.jid ?? '';
      const acc = accountOf(jid);
      const ct = toBuf(enc?.content);
      if (acc && (jidDecode(jid)?.device ?? 0) === 0 && enc && ct) {
        copies.push({ jid, acc, type: enc.attrs.type ?? '', ct });
      }
    }
    const directEnc = getBinaryNodeChild(stanza, 'enc');
    const directCt = toBuf(directEnc?.content);
    if (directEnc && directCt && destAcc) copies.push({ jid: to, acc: destAcc, type: directEnc.attrs.type ?? '', ct: directCt });

    let chosen: proto.IMessage | undefined;
    let decryptError: string | undefined;
    const decryptedFor: string[] = [];
    for (const c of copies) {
      try {
        const plain = await c.acc.keys.decrypt(senderName, senderDevice, c.type, c.ct);
        let msg: proto.IMessage = proto.Message.decode(unpadRandomMax16(plain));
        if (msg.deviceSentMessage?.message) msg = msg.deviceSentMessage.message;
        decryptedFor.push(c.jid);
        if (c.acc === destAcc && !chosen) chosen = msg;
      } catch (err) {
        if (c.acc === destAcc) decryptError = (err as Error).message;
        log(`conn ${conn.id}: could not decrypt copy for ${c.jid}: ${(err as Error).message}`);
      }
    }

    const failCode = failAckFor.get(destAcc?.jid ?? to) ?? (destAcc?.onWhatsApp ? undefined : '479');
    const isProtocol = !!chosen?.protocolMessage || isPeerCategory;
    const rec: ReceivedMessage | undefined = isProtocol
      ? undefined
      : {
          to,
          id,
          from: sender.jid,
          ...(chosen ? extract(chosen) : { kind: 'other' as const }),
          ...(chosen ? { message: chosen } : {}),
          ...(decryptError ? { decryptError } : !chosen ? { decryptError: 'no copy for the destination' } : {}),
          decryptedFor,
          acked: false,
          at: Date.now(),
          handledAt,
        };

    if (rec && chosen && (rec.kind === 'image' || rec.kind === 'document')) {
      const mm =
        rec.kind === 'image'
          ? chosen.imageMessage
          : (chosen.documentMessage ?? chosen.documentWithCaptionMessage?.message?.documentMessage);
      try {
        const upload = media.find(mm?.fileEncSha256);
        if (!upload) throw new Error('media not found on the peer media host');
        if (!mm?.mediaKey) throw new Error('message carries no mediaKey');
        const bytes = await decryptMedia(upload.body, mm.mediaKey, rec.kind as MediaType, mm.fileSha256);
        rec.bytes = bytes;
        rec.bytesLength = bytes.length;
      } catch (err) {
        rec.mediaError = (err as Error).message;
      }
    }

    if (rec && receivedKeys.has(`${to}|${id}`)) {
      stats.duplicates++;
      sentIndex.set(id, { conn, to });
      changed('duplicate');
    } else if (rec) {
      if (failCode) rec.ackError = failCode;
      receivedKeys.add(`${to}|${id}`);
      received.push(rec);
      sentIndex.set(id, { conn, to });
      events.emit('message', rec);
      changed('message');
    }
    if (ackDropping) return;
    const finish = (): void => {
      ackMessage(conn, id, to, isProtocol ? undefined : failCode);
      if (rec) {
        rec.acked = true;
        rec.ackedAt = performance.now();
      }
      changed('ack');
      if (isProtocol || failCode || (!autoDeliver && !autoRead)) return;
      const receipts = (): void => {
        if (autoDeliver) send(conn, receiptNode(id, to, 'delivery'));
        if (autoRead) send(conn, receiptNode(id, to, 'read'));
      };
      if (receiptDelayMs > 0) later(receiptDelayMs, receipts);
      else receipts();
    };
    if (ackDelayMs > 0) later(ackDelayMs, finish);
    else finish();
  };

  // ---------- pairing ----------
  const completePairing = async (
    conn: Conn,
    advSecret: Buffer,
    companionIdentity: Buffer,
    pairedBy: 'qr' | 'code',
    timeoutMs: number,
  ): Promise<LinkedDevice> => {
    const deviceId = nextDeviceId++;
    const keyIndex = nextKeyIndex++;
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
      registrationId: conn.registration?.registrationId ?? 0,
      platform,
      pairedBy,
      removed: false,
      uploadedPreKeys: 0,
    };
    devices.set(`${self.phone}:${deviceId}`, dev);
    stats.pairings++;
    log(`conn ${conn.id}: paired ${jid} by ${pairedBy}; asking the client to restart (515)`);
    streamError(conn, { tag: 'stream:error', attrs: { code: '515' } });
    changed('paired');
    events.emit('paired', jid);
    return dev;
  };

  const findRegistering = (pred: (c: Conn) => boolean): Conn | undefined =>
    [...conns].reverse().find((c) => c.stage === 'open' && !!c.registration && !c.device && pred(c));

  const pairWithQr = async (qr: string, opts: { timeoutMs?: number } = {}): Promise<LinkedDevice> => {
    const data = qr.includes('#') ? qr.slice(qr.indexOf('#') + 1) : qr;
    const [ref, noiseB64, identityB64, advB64] = data.split(',');
    if (!ref || !noiseB64 || !identityB64 || !advB64) throw new Error(`not a pairing QR: ${qr}`);
    const noiseKey = Buffer.from(noiseB64, 'base64');
    const conn = findRegistering((c) => c.refs.includes(ref) && !!c.clientStatic?.equals(noiseKey));
    if (!conn) throw new Error('no connected client is showing this QR (unknown ref or noise key)');
    const identity = Buffer.from(identityB64, 'base64');
    if (conn.registration && !conn.registration.identityKey.equals(identity)) {
      throw new Error('QR identity key does not match the registration payload');
    }
    return completePairing(conn, Buffer.from(advB64, 'base64'), identity, 'qr', opts.timeoutMs ?? 5000);
  };

  const pairWithCode = async (code: string, opts: { timeoutMs?: number } = {}): Promise<LinkedDevice> => {
    const timeoutMs = opts.timeoutMs ?? 10000;
    const conn = findRegistering((c) => !!c.codeRequest);
    if (!conn || !conn.codeRequest) throw new Error('no connected client has requested a pairing code');
    const req = conn.codeRequest;
    if (accountOf(req.phoneJid) !== self) {
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

    const finishNode = new Promise<BinaryNode>((resolve, reject) => {
      const t = setTimeout(() => {
        timers.delete(t);
        conn.onCompanionFinish = undefined;
        reject(new Error(`client did not send companion_finish within ${timeoutMs}ms`));
      }, timeoutMs);
      timers.add(t);
      conn.onCompanionFinish = (n) => {
        clearTimeout(t);
        timers.delete(t);
        conn.onCompanionFinish = undefined;
        resolve(n);
      };
    });
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
    return completePairing(conn, advSecret, companionIdentity, 'code', timeoutMs);
  };

  // ---------- control ----------
  const disconnect = async (reason: DisconnectReasonInput, opts: { deviceJid?: string } = {}): Promise<void> => {
    const targets = [...conns].filter((c) => c.stage === 'open' && (!opts.deviceJid || c.device?.jid === opts.deviceJid));
    for (const c of targets) {
      switch (reason) {
        case 515:
          streamError(c, { tag: 'stream:error', attrs: { code: '515' } });
          break;
        case 440:
          streamError(c, { tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] });
          break;
        case 401:
          if (c.device) c.device.removed = true;
          streamError(c, {
            tag: 'stream:error',
            attrs: { code: '401' },
            content: [{ tag: 'conflict', attrs: { type: 'device_removed' } }],
          });
          break;
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

  const waitFor = <T>(predicate: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        let v: T | undefined | null | false;
        try {
          v = predicate();
        } catch (err) {
          cleanup();
          reject(err as Error);
          return true;
        }
        if (v !== undefined && v !== null && v !== false) {
          cleanup();
          resolve(v);
          return true;
        }
        return false;
      };
      const onChange = (): void => {
        check();
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`waitFor timed out after ${timeoutMs}ms`));
      }, timeoutMs);
      // also poll: state the predicate reads may change outside the peer (e.g. client events)
      const poll = setInterval(onChange, 25);
      const cleanup = (): void => {
        clearTimeout(t);
        clearInterval(poll);
        events.off('change', onChange);
      };
      events.on('change', onChange);
      check();
    });

  const sendReceipt = async (msgId: string, kind: ReceiptKind): Promise<void> => {
    const rec = sentIndex.get(msgId);
    if (!rec) throw new Error(`unknown message id ${msgId}`);
    let conn: Conn | undefined = rec.conn.stage === 'open' ? rec.conn : undefined;
    if (!conn) {
      const devJid = rec.conn.device?.jid;
      conn = [...conns].find((c) => c.stage === 'open' && c.device?.jid === devJid);
    }
    if (!conn) throw new Error(`the device that sent ${msgId} is not connected`);
    send(conn, receiptNode(msgId, rec.to, kind));
  };

  const asContact = (acc: Account): Contact => ({ phone: acc.phone, jid: acc.jid, lid: acc.lid, onWhatsApp: acc.onWhatsApp });

  const peer: WhatsAppPeer = {
    url: `ws://127.0.0.1:${port}/ws/chat`,
    rootPublicKey: Buffer.from(ROOT_KEY.public),
    rootPublicKeyBase64: Buffer.from(ROOT_KEY.public).toString('base64'),
    preloadPath: PRELOAD_PATH,
    caCertPath: CA_CERT_PATH,
    mediaHost: media.host,
    selfPhone: self.phone,
    selfJid: self.jid,
    selfLid: self.lid,
    childEnv(existingNodeOptions = '') {
      return {
        WA_PEER_ROOT_PUBLIC_KEY: Buffer.from(ROOT_KEY.public).toString('base64'),
        NODE_OPTIONS: `${existingNodeOptions} --import ${PRELOAD_PATH}`.trim(),
        NODE_EXTRA_CA_CERTS: CA_CERT_PATH,
      };
    },
    trustInProcess() {
      WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(ROOT_KEY.public);
    },
    addContact(phone, opts = {}) {
      return asContact(makeAccount(phone, opts.onWhatsApp ?? true));
    },
    contact(phoneOrJid) {
      const acc = accountOf(phoneOrJid);
      return acc ? asContact(acc) : undefined;
    },
    failAcks(jid, errorCode) {
      const acc = accountOf(jid);
      failAckFor.set(acc ? acc.jid : jid, String(errorCode));
    },
    clearFailAcks(jid) {
      if (!jid) failAckFor.clear();
      else failAckFor.delete(accountOf(jid)?.jid ?? jid);
    },
    setAckDelay(ms) {
      ackDelayMs = Math.max(0, ms);
    },
    setReceiptDelay(ms) {
      receiptDelayMs = Math.max(0, ms);
    },
    dropAcks(on) {
      ackDropping = on;
    },
    setAutoReceipts(o) {
      if (o.delivery !== undefined) autoDeliver = o.delivery;
      if (o.read !== undefined) autoRead = o.read;
    },
    sendReceipt,
    failNextLogin(code, times = 1) {
      loginFailures = { code, times };
    },
    disconnect,
    received,
    waitFor,
    waitForMessage(predicate, timeoutMs = 5000) {
      return waitFor(() => received.find(predicate), timeoutMs);
    },
    pairWithQr,
    pairWithCode,
    get pendingCodeRequests() {
      return [...conns].filter((c) => c.stage === 'open' && !!c.codeRequest).length;
    },
    get devices() {
      return [...devices.values()];
    },
    unlinkDevice(jid) {
      const dev = [...devices.values()].find((d) => d.jid === jid);
      if (dev) dev.removed = true;
    },
    stats,
    iqLog,
    events,
    async close() {
      if (closing) return;
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const c of conns) c.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await media.close();
      events.removeAllListeners();
    },
  };
  return peer;
}
