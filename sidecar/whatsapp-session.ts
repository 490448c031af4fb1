/**
 * Owns the one Baileys socket: pairing (QR or code), connecting, the reconnect policy by reason,
 * pausing, unlinking, and sending with confirmation from WhatsApp's server. Everything else in the
 * sidecar sees only this module's small interface, never Baileys itself.
 */
import { EventEmitter } from 'node:events';
import {
  Browsers,
  fetchLatestWaWebVersion,
  generateMessageIDV2,
  jidNormalizedUser,
  makeCacheableSignalKeyStore,
  makeWASocket,
  type AnyMessageContent,
  type ConnectionState,
  type WASocket,
  type WAVersion,
} from '@whiskeysockets/baileys';
import type { Logger } from '../shared/logger.js';
import { createAckWaiter, type AckOutcome } from './ack-waiter.js';
import { backoffDelayMs } from '../shared/backoff.js';
import { describeDisconnect, disconnectAction } from './disconnect-policy.js';
import type { ExistsCache } from './whatsapp-exists-cache.js';
import type { SentMessageStore } from './sent-message-store.js';
import type { TableAuthState } from './table-auth-state.js';

export type SessionState = 'unpaired' | 'pairing' | 'connecting' | 'open' | 'paused' | 'logged_out';

export interface SessionStatus {
  state: SessionState;
  me?: string;
  qr?: string;
  pairing_code?: string;
  last_disconnect?: { code?: number; reason: string; at: string };
  /** Extension: true while another sidecar holds the session lease (this one is a warm standby). */
  standby?: boolean;
  /** Extension, with `standby`: the WHATSAPP_SIDECAR_ID holding the session lease, when known. */
  holder?: string;
}

export type ReceiptStatus = 'delivered' | 'read';

export interface WhatsAppSession {
  status(): SessionStatus;
  /** The paired number's JID without its device suffix, once known. */
  selfJid(): string | undefined;
  isOpen(): boolean;
  /** Connects if a paired session is stored; otherwise stays unpaired. */
  start(): Promise<void>;
  pair(phone?: string): Promise<SessionStatus>;
  connect(): Promise<SessionStatus>;
  disconnect(): Promise<SessionStatus>;
  unlink(): Promise<SessionStatus>;
  /** Sends one message and resolves once WhatsApp's server acknowledged (or refused) it. */
  send(jid: string, content: AnyMessageContent, messageId: string): Promise<AckOutcome>;
  newMessageId(): string;
  /** Whether the number has a WhatsApp account (undefined when the check itself failed). */
  exists(jid: string): Promise<boolean | undefined>;
  onStatus(listener: (status: SessionStatus) => void): () => void;
  onReceipt(listener: (messageId: string, status: ReceiptStatus) => void): () => void;
  stop(): Promise<void>;
}

export interface WhatsAppSessionDeps {
  auth: TableAuthState;
  sentMessages: SentMessageStore;
  log: Logger;
  /** Baileys' own logger: kept at warn, since debug output floods logs and memory (FIELD-NOTES). */
  baileysLog: Logger;
  wsUrl?: string;
  version?: WAVersion;
  fetchVersion?: () => Promise<WAVersion | undefined>;
  ackTimeoutMs?: number;
  makeSocket?: typeof makeWASocket;
  printQr?: (qr: string) => void;
  random?: () => number;
  /** One writer per session (session-lease.ts): no socket is opened without it. */
  lease?: { held(): boolean; valid(): boolean; holder(): string | undefined; onChange(listener: (held: boolean) => void): () => void };
  /** Re-reads the stored creds: another sidecar may have changed them while we waited for the lease. */
  reloadAuth?: () => Promise<void>;
  /** Remembered onWhatsApp answers (whatsapp-exists-cache.ts); without it every check asks WhatsApp. */
  existsCache?: ExistsCache;
}

const WHATSAPP_STATUS = { DELIVERY_ACK: 3, READ: 4, PLAYED: 5 } as const;

export function createWhatsAppSession(deps: WhatsAppSessionDeps): WhatsAppSession {
  const { auth, log } = deps;
  const makeSocket = deps.makeSocket ?? makeWASocket;
  const acks = createAckWaiter();
  const events = new EventEmitter();
  events.setMaxListeners(100);
  let status: SessionStatus = { state: auth.isPaired() ? 'connecting' : 'unpaired' };
  let sock: WASocket | undefined;
  let wanted: 'run' | 'pause' | 'stop' = 'run';
  let pairingPhone: string | undefined;
  let attempt = 0;
  let versionRefreshes = 0;
  let version = deps.version;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let generation = 0;
  let waitingForLease = false;
  let otherHolderSeen = false;
  let offLease: (() => void) | undefined;

  // Standby and holder are read from the lease at every look, so they are never stale. A holder's
  // status is unchanged from a lone sidecar's.
  const view = (): SessionStatus => {
    const { standby: _s, holder: _h, ...rest } = status;
    if (!waitingForLease) return rest;
    const holder = deps.lease?.holder();
    return { ...rest, standby: true, ...(holder ? { holder } : {}) };
  };
  const setStatus = (next: SessionStatus) => {
    status = next;
    events.emit('status', view());
  };
  const patchStatus = (patch: Partial<SessionStatus>) => setStatus({ ...status, ...patch });
  const selfJid = () =>
    sock?.user?.id ? jidNormalizedUser(sock.user.id) : auth.state.creds.me?.id ? jidNormalizedUser(auth.state.creds.me.id) : undefined;

  const closeSocket = (reason: string) => {
    generation++; // events from the old socket are ignored from here on
    const old = sock;
    sock = undefined;
    acks.failAll(reason);
    if (old) {
      old.ev.removeAllListeners('connection.update');
      try {
        old.end(undefined);
      } catch {
        /* already closed */
      }
    }
  };

  const scheduleReconnect = (delayMs: number) => {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (wanted === 'run') openSocket();
    }, delayMs);
  };

  const onClose = async (update: Partial<ConnectionState>) => {
    const error = update.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined;
    const code = error?.output?.statusCode;
    closeSocket('connection closed before the server acknowledged');
    if (wanted !== 'run') return;
    const action = disconnectAction(code);
    const lastDisconnect = { code, reason: describeDisconnect(code), at: new Date().toISOString() };
    log.warn({ code, action: action.kind }, 'WhatsApp connection closed');
    const paired = auth.isPaired();
    switch (action.kind) {
      case 'reconnect-now':
        setStatus({ state: paired ? 'connecting' : 'pairing', last_disconnect: lastDisconnect });
        openSocket();
        return;
      case 'logged-out':
        await auth.wipe().catch((e: unknown) => log.error({ err: e }, 'could not wipe the logged-out session'));
        setStatus({ state: 'logged_out', last_disconnect: lastDisconnect });
        return;
      case 'stop':
        wanted = 'pause';
        setStatus({
          state: 'paused',
          ...(selfJid() ? { me: selfJid() } : {}),
          last_disconnect: { ...lastDisconnect, reason: action.reason },
        });
        return;
      case 'refresh-version': {
        versionRefreshes++;
        if (versionRefreshes > 3) {
          wanted = 'pause';
          setStatus({
            state: 'paused',
            last_disconnect: { ...lastDisconnect, reason: 'WhatsApp Web version still refused after refreshing it' },
          });
          return;
        }
        const fresh = await (deps.fetchVersion ?? defaultFetchVersion)().catch(() => undefined);
        if (fresh) version = fresh;
        setStatus({ state: paired ? 'connecting' : 'unpaired', last_disconnect: lastDisconnect });
        scheduleReconnect(backoffDelayMs(versionRefreshes - 1, deps.random));
        return;
      }
      case 'reconnect-backoff': {
        if (!paired && !pairingPhone && status.state !== 'pairing') {
          setStatus({ state: 'unpaired', last_disconnect: lastDisconnect });
          return;
        }
        if (!paired) {
          // A QR that nobody scanned expired: go back to unpaired rather than cycling QRs forever.
          pairingPhone = undefined;
          setStatus({ state: 'unpaired', last_disconnect: lastDisconnect });
          return;
        }
        setStatus({ state: 'connecting', ...(selfJid() ? { me: selfJid() } : {}), last_disconnect: lastDisconnect });
        scheduleReconnect(backoffDelayMs(attempt++, deps.random));
        return;
      }
    }
  };

  const holdForLease = () => {
    closeSocket('another sidecar holds the session');
    waitingForLease = true;
    const holder = deps.lease?.holder();
    if (holder !== undefined) otherHolderSeen = true;
    const me = selfJid();
    setStatus({
      state: 'paused',
      ...(me ? { me } : {}),
      last_disconnect: { reason: `another sidecar holds the session${holder ? ` (${holder})` : ''}`, at: new Date().toISOString() },
    });
  };

  const onLeaseChange = (held: boolean) => {
    if (!held) {
      if (wanted === 'run') {
        log.warn('lost the session lease; closing the WhatsApp connection');
        holdForLease();
      } else closeSocket('session lease lost');
      return;
    }
    if (!waitingForLease || wanted !== 'run') return;
    waitingForLease = false;
    // Another sidecar may have changed the stored creds meanwhile; if nobody else held the lease
    // (a storage outage outlived it), ours in memory are the newest and must not be replaced.
    const reload = otherHolderSeen && deps.reloadAuth ? deps.reloadAuth : async () => undefined;
    otherHolderSeen = false;
    reload()
      .catch((e: unknown) => log.error({ err: e }, 'could not reload the stored session'))
      .finally(() => {
        if (wanted !== 'run' || sock) return;
        if (auth.isPaired()) openSocket();
        else setStatus({ state: 'unpaired' });
      });
  };

  const openSocket = () => {
    if (deps.lease && !deps.lease.held()) return holdForLease();
    waitingForLease = false;
    closeSocket('reconnecting');
    const mine = ++generation;
    const paired = auth.isPaired();
    const s = makeSocket({
      // The key store already holds every key in memory (table-auth-state.ts), but Baileys asks for
      // many keys per send and this cache answers repeats without hashing each id into a row key
      // again: measured ~20 ms per send slower without it. It holds the same objects, not copies.
      auth: { creds: auth.state.creds, keys: makeCacheableSignalKeyStore(auth.state.keys, deps.baileysLog) },
      logger: deps.baileysLog,
      browser: Browsers.ubuntu('wa-notify'),
      ...(deps.wsUrl ? { waWebSocketUrl: deps.wsUrl } : {}),
      ...(version ? { version } : {}),
      markOnlineOnConnect: false,
      syncFullHistory: false,
      shouldSyncHistoryMessage: () => false,
      generateHighQualityLinkPreview: false,
      getMessage: async (key) => (key.id ? deps.sentMessages.get(key.id) : undefined),
    });
    sock = s;
    s.ev.on('creds.update', () => {
      auth.saveCreds().catch((e: unknown) => log.error({ err: e }, 'could not save WhatsApp credentials'));
    });
    s.ws.on('CB:ack,class:message', (node: { attrs: Record<string, string> }) => {
      if (mine === generation && node.attrs.id) acks.acked(node.attrs.id, node.attrs.error);
    });
    s.ev.on('messages.update', (updates) => {
      for (const { key, update } of updates) {
        // Not filtered on fromMe: receipts for messages to the own number arrive with fromMe false.
        // Unknown ids are ignored downstream (only ids we sent are tracked).
        if (!key.id || typeof update.status !== 'number') continue;
        if (update.status === WHATSAPP_STATUS.DELIVERY_ACK) events.emit('receipt', key.id, 'delivered');
        else if (update.status >= WHATSAPP_STATUS.READ) events.emit('receipt', key.id, 'read');
      }
    });
    s.ev.on('connection.update', (update) => {
      if (mine !== generation) return;
      if (update.qr) {
        if (pairingPhone) {
          const phone = pairingPhone;
          s.requestPairingCode(phone)
            .then((code) => patchStatus({ state: 'pairing', pairing_code: code, qr: undefined }))
            .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'pairing code request failed'));
          pairingPhone = undefined;
        } else if (!status.pairing_code) {
          deps.printQr?.(update.qr);
          patchStatus({ state: 'pairing', qr: update.qr });
        }
      }
      if (update.connection === 'open') {
        attempt = 0;
        versionRefreshes = 0;
        const me = selfJid();
        setStatus({ state: 'open', ...(me ? { me } : {}), ...(status.last_disconnect ? { last_disconnect: status.last_disconnect } : {}) });
        log.info('WhatsApp connection open');
      } else if (update.connection === 'close') {
        void onClose(update);
      }
    });
    if (status.state !== 'pairing')
      setStatus({
        ...(paired ? { state: 'connecting' } : { state: 'pairing' }),
        ...(status.last_disconnect ? { last_disconnect: status.last_disconnect } : {}),
      });
  };

  return {
    status: view,
    selfJid,
    isOpen: () => status.state === 'open' && sock !== undefined,
    async start() {
      offLease ??= deps.lease?.onChange(onLeaseChange);
      // A standby waits for the lease even when unpaired: the holder may pair meanwhile, and the
      // creds are re-read when the lease comes.
      if (deps.lease && !deps.lease.held()) {
        wanted = 'run';
        holdForLease();
      } else if (auth.isPaired()) {
        wanted = 'run';
        openSocket();
      } else setStatus({ state: status.state === 'logged_out' ? 'logged_out' : 'unpaired' });
    },
    async pair(phone) {
      if (auth.isPaired()) return { ...status };
      wanted = 'run';
      pairingPhone = phone;
      setStatus({ state: 'pairing' });
      openSocket();
      if (!phone) return { ...status };
      // The code arrives once the socket is up; wait for it briefly so the answer can carry it.
      return new Promise<SessionStatus>((resolve) => {
        const timer = setTimeout(() => {
          off();
          resolve({ ...status });
        }, 15_000);
        const off = this.onStatus((s) => {
          if (s.pairing_code) {
            clearTimeout(timer);
            off();
            resolve(s);
          }
        });
      });
    },
    async connect() {
      if (!auth.isPaired()) return { ...status };
      wanted = 'run';
      attempt = 0;
      versionRefreshes = 0;
      if (!sock) openSocket();
      return { ...status };
    },
    async disconnect() {
      wanted = 'pause';
      if (reconnectTimer) clearTimeout(reconnectTimer);
      closeSocket('paused');
      const me = selfJid();
      setStatus({ state: auth.isPaired() ? 'paused' : 'unpaired', ...(me ? { me } : {}) });
      return { ...status };
    },
    async unlink() {
      // A standby must not wipe the creds the holder is using: unlink on the holder's page.
      if (deps.lease && !deps.lease.held()) return view();
      wanted = 'pause';
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const s = sock;
      if (s && status.state === 'open')
        await s.logout().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'logout request failed'));
      closeSocket('unlinked');
      await auth.wipe();
      setStatus({ state: 'logged_out' });
      return { ...status };
    },
    async send(jid, content, messageId) {
      const s = sock;
      if (!s || status.state !== 'open') return { ok: false, error: 'WhatsApp is not connected' };
      // Fencing: the lease's own clock check (with its margin), not only the last change event.
      if (deps.lease && !deps.lease.valid()) return { ok: false, error: 'the session lease is not held' };
      const ack = acks.expect(messageId, deps.ackTimeoutMs ?? 30_000);
      try {
        const sent = await s.sendMessage(jid, content, { messageId });
        if (sent?.message) deps.sentMessages.remember(messageId, sent.message);
      } catch (error) {
        acks.cancel(messageId);
        return { ok: false, error: `send failed: ${(error as Error).message}` };
      }
      return ack;
    },
    newMessageId: () => generateMessageIDV2(sock?.user?.id),
    async exists(jid) {
      const known = deps.existsCache?.get(jid);
      if (known !== undefined) return known;
      const s = sock;
      if (!s) return undefined;
      try {
        const [result] = (await s.onWhatsApp(jid)) ?? [];
        const exists = Boolean(result?.exists);
        deps.existsCache?.remember(jid, exists);
        return exists;
      } catch (error) {
        log.warn({ err: (error as Error).message }, 'onWhatsApp check failed');
        return undefined;
      }
    },
    onStatus(listener) {
      events.on('status', listener);
      return () => events.off('status', listener);
    },
    onReceipt(listener) {
      events.on('receipt', listener);
      return () => events.off('receipt', listener);
    },
    async stop() {
      wanted = 'stop';
      offLease?.();
      if (reconnectTimer) clearTimeout(reconnectTimer);
      closeSocket('sidecar stopping');
    },
  };
}

async function defaultFetchVersion(): Promise<WAVersion | undefined> {
  const result = await fetchLatestWaWebVersion({ signal: AbortSignal.timeout(3_000) });
  return result.version;
}

/**
 * The current WhatsApp Web version, read from the service worker script the way Baileys'
 * `fetchLatestWaWebVersion` does, but from a configurable address and bounded in time (offline it
 * fails fast instead of holding the reconnect).
 */
export async function fetchWaWebVersion(url: string, timeoutMs = 3_000): Promise<WAVersion | undefined> {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: {
      'sec-fetch-site': 'none',
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    },
  });
  if (!res.ok) return undefined;
  const match = /\\?"client_revision\\?":\s*(\d+)/.exec(await res.text());
  return match?.[1] ? [2, 3000, Number(match[1])] : undefined;
}
