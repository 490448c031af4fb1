/**
 * A loopback WhatsApp Web protocol peer for tests: the unmodified Baileys client connects to it
 * with `makeWASocket({ waWebSocketUrl: peer.url, ... })` and runs its real protocol against it
 * (Noise handshake, QR / pairing-code linking, login, usync, pre-key bundles, Signal-encrypted
 * 1:1 messages, media upload, acks, receipts, stream errors). See README.md in this folder.
 *
 * This file is the public entry: the options, the `WhatsAppPeer` control API, and the wiring of
 * the modules that each do one part (listed in README.md).
 */
import type { EventEmitter } from 'node:events';
import { Accounts, asContact, type Contact } from './accounts.js';
import { Connections } from './connections.js';
import { createDelivery, type ReceiptKind } from './delivery.js';
import { LinkedDevices, type LinkedDevice } from './devices.js';
import { createDisconnect, type DisconnectReasonInput } from './disconnect.js';
import { createPeerEvents } from './events.js';
import { Faults } from './faults.js';
import { createFrameHandler } from './handshake.js';
import { createLogin } from './login.js';
import { MediaServer } from './media-server.js';
import { createMessageReceiver } from './message-receive.js';
import { createTagSequence } from './nodes.js';
import { createPairingCode } from './pairing-code.js';
import { createPairing } from './pairing.js';
import { createPreKeyIq } from './prekeys.js';
import { ReceivedMessages, type ReceivedMessage } from './received.js';
import { startSocketServer } from './socket-server.js';
import { createStanzaRouter, type IqRecord } from './stanza-router.js';
import { createStats, type PeerStats } from './stats.js';
import { PeerTimers } from './timers.js';
import { CA_CERT_PATH, childEnv, createServerIdentity, PRELOAD_PATH, ROOT_KEY, trustInProcess } from './trust.js';

export type { Contact } from './accounts.js';
export type { ReceiptKind } from './delivery.js';
export type { LinkedDevice } from './devices.js';
export type { DisconnectReasonInput } from './disconnect.js';
export type { ReceivedMessage } from './received.js';
export type { IqRecord } from './stanza-router.js';
export type { PeerStats } from './stats.js';

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
  /** how long the media host takes to answer an upload once it has every byte */
  setUploadDelay(ms: number): void;
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

export async function startWhatsAppPeer(options: WhatsAppPeerOptions = {}): Promise<WhatsAppPeer> {
  const log = options.log ?? (() => undefined);
  const platform = options.platform ?? 'android';
  const { events, changed, waitFor } = createPeerEvents();
  const identity = createServerIdentity();
  const accounts = new Accounts(options.selfPhone ?? '15550001111');
  const self = accounts.self;
  const devices = new LinkedDevices();
  const faults = new Faults(accounts);
  const stats = createStats();
  const connections = new Connections(stats);
  const timers = new PeerTimers();
  const tag = createTagSequence();
  const iqLog: IqRecord[] = [];
  const received = new ReceivedMessages();
  let closing = false;

  const media = new MediaServer();
  media.onUpload = () => changed('upload');
  await media.start();

  const delivery = createDelivery({
    settings: {
      ackDelayMs: options.ackDelayMs ?? 0,
      receiptDelayMs: options.receiptDelayMs ?? 250,
      autoDeliver: options.autoDeliver ?? true,
      autoRead: options.autoRead ?? false,
    },
    accounts,
    faults,
    connections,
    received,
    timers,
    changed,
  });
  const pairing = createPairing({ self, platform, devices, connections, stats, events, changed, timers, tag, log });
  const pairingCode = createPairingCode({ accounts, pairing, connections, changed, timers, tag });
  const onNode = createStanzaRouter({
    accounts,
    devices,
    pairingCode,
    mediaHost: media.host,
    iqLog,
    events,
    changed,
    tag,
    onEncryptIq: createPreKeyIq({ accounts, claimPreKeysOnServer: options.claimPreKeysOnServer }),
    onMessage: createMessageReceiver({ accounts, media, faults, delivery, received, stats, events, changed, log }),
  });
  const onClientPayload = createLogin({ devices, connections, faults, stats, events, changed, log, tag });
  const server = await startSocketServer({
    connections,
    events,
    changed,
    log,
    onFrame: createFrameHandler({ identity, stats, log, onClientPayload, onNode }),
  });

  const peer: WhatsAppPeer = {
    url: `ws://127.0.0.1:${server.port}/ws/chat`,
    rootPublicKey: Buffer.from(ROOT_KEY.public),
    rootPublicKeyBase64: Buffer.from(ROOT_KEY.public).toString('base64'),
    preloadPath: PRELOAD_PATH,
    caCertPath: CA_CERT_PATH,
    mediaHost: media.host,
    selfPhone: self.phone,
    selfJid: self.jid,
    selfLid: self.lid,
    childEnv,
    trustInProcess,
    addContact(phone, opts = {}) {
      return asContact(accounts.add(phone, opts.onWhatsApp ?? true));
    },
    contact(phoneOrJid) {
      const acc = accounts.of(phoneOrJid);
      return acc ? asContact(acc) : undefined;
    },
    failAcks(jid, errorCode) {
      faults.failAcks(jid, errorCode);
    },
    clearFailAcks(jid) {
      faults.clearFailAcks(jid);
    },
    setAckDelay(ms) {
      delivery.settings.ackDelayMs = Math.max(0, ms);
    },
    setReceiptDelay(ms) {
      delivery.settings.receiptDelayMs = Math.max(0, ms);
    },
    setUploadDelay(ms) {
      media.answerDelayMs = Math.max(0, ms);
    },
    dropAcks(on) {
      faults.dropAcks = on;
    },
    setAutoReceipts(o) {
      if (o.delivery !== undefined) delivery.settings.autoDeliver = o.delivery;
      if (o.read !== undefined) delivery.settings.autoRead = o.read;
    },
    sendReceipt: delivery.sendReceipt,
    failNextLogin(code, times = 1) {
      faults.failNextLogin(code, times);
    },
    disconnect: createDisconnect(connections),
    received: received.list,
    waitFor,
    waitForMessage(predicate, timeoutMs = 5000) {
      return waitFor(() => received.list.find(predicate), timeoutMs);
    },
    pairWithQr: pairing.pairWithQr,
    pairWithCode: pairingCode.pairWithCode,
    get pendingCodeRequests() {
      return pairingCode.pendingRequests();
    },
    get devices() {
      return devices.list();
    },
    unlinkDevice(jid) {
      devices.unlink(jid);
    },
    stats,
    iqLog,
    events,
    async close() {
      if (closing) return;
      closing = true;
      timers.clearAll();
      await server.close();
      await media.close();
      events.removeAllListeners();
    },
  };
  return peer;
}
