/**
 * Owns the one Baileys socket: pairing (QR or code), connecting, pausing, unlinking, and sending with
 * confirmation from WhatsApp's server. When to connect, reconnect or stop is decided by the lifecycle
 * (session-lifecycle.ts, pure); this module runs its effects (the socket, the reconnect timer, the
 * stored creds) and feeds their outcomes back. Everything else in the sidecar sees only this
 * module's small interface, never Baileys itself.
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
import { initialLifecycle, showsStandby, transition, type Effect, type LifecycleEvent, type SessionStatus } from './session-lifecycle.js';
import type { ExistsCache } from './whatsapp-exists-cache.js';
import type { SentMessageStore } from './sent-message-store.js';
import type { TableAuthState } from './table-auth-state.js';

/**
 * How long a media upload may go without a byte either way. Without it Baileys' upload takes the
 * socket timeout of Node's default HTTPS agent, 5 s: a media host slower than that to answer a
 * finished upload (a large document) failed the send with "Upload timeout", every time.
 */
const MEDIA_UPLOAD_IDLE_MS = 60_000;

export type { SessionState, SessionStatus } from './session-lifecycle.js';

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
  // The lifecycle (phase, status shown, retry counters, version) is one value, changed only by
  // session-lifecycle.ts's transition; the socket, its generation and the timer are the I/O it drives.
  let life = initialLifecycle(auth.isPaired(), deps.version);
  let sock: WASocket | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let generation = 0;
  let offLease: (() => void) | undefined;

  // Standby and holder are read from the lease at every look, so they are never stale. A holder's
  // status is unchanged from a lone sidecar's.
  const view = (): SessionStatus => {
    const { standby: _s, holder: _h, ...rest } = life.status;
    if (!showsStandby(life.phase)) return rest;
    const holder = deps.lease?.holder();
    return { ...rest, standby: true, ...(holder ? { holder } : {}) };
  };
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

  /** Steps the lifecycle, runs its effects, then announces a changed status. Resolves when the effects' I/O is done. */
  const dispatch = (event: LifecycleEvent): Promise<unknown> => {
    const before = life.status;
    const me = selfJid();
    const holder = deps.lease?.holder();
    const step = transition(life, event, {
      paired: auth.isPaired(),
      ...(me ? { me } : {}),
      leaseHeld: deps.lease ? deps.lease.held() : true,
      ...(holder !== undefined ? { holder } : {}),
      at: new Date().toISOString(),
      ...(deps.random ? { random: deps.random } : {}),
    });
    life = step.state;
    const pending = step.effects.map(run);
    if (life.status !== before) events.emit('status', view());
    return Promise.all(pending);
  };

  const run = (effect: Effect): Promise<unknown> | undefined => {
    switch (effect.type) {
      case 'open-socket':
        openSocket();
        return;
      case 'close-socket':
        closeSocket(effect.reason);
        return;
      case 'schedule-reconnect':
        if (reconnectTimer) clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(() => {
          reconnectTimer = undefined;
          void dispatch({ type: 'timer' });
        }, effect.delayMs);
        return;
      case 'cancel-reconnect':
        if (reconnectTimer) clearTimeout(reconnectTimer);
        reconnectTimer = undefined;
        return;
      case 'fetch-version':
        return (deps.fetchVersion ?? defaultFetchVersion)()
          .catch(() => undefined)
          .then((version) => dispatch({ type: 'version-fetched', ...(version ? { version } : {}) }));
      case 'wipe-auth':
        return auth
          .wipe()
          .catch((e: unknown) => log.error({ err: e }, 'could not wipe the logged-out session'))
          .then(() => dispatch({ type: 'wiped' }));
      case 'unlink':
        return (async () => {
          const s = sock;
          if (effect.logout && s) await s.logout().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'logout request failed'));
          closeSocket('unlinked');
          await auth.wipe(); // a failure reaches unlink()'s caller
          await dispatch({ type: 'wiped' });
        })();
      case 'reload-auth':
        return (deps.reloadAuth ?? (async () => undefined))()
          .catch((e: unknown) => log.error({ err: e }, 'could not reload the stored session'))
          .then(() => dispatch({ type: 'reloaded' }));
      case 'request-pairing-code': {
        const s = sock;
        if (!s) return;
        const mine = generation;
        return s
          .requestPairingCode(effect.phone)
          .then((code) => (mine === generation ? dispatch({ type: 'pairing-code', code }) : undefined))
          .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'pairing code request failed'));
      }
      case 'print-qr':
        deps.printQr?.(effect.qr);
        return;
      case 'log':
        if (effect.fields) log[effect.level](effect.fields, effect.message);
        else log[effect.level](effect.message);
        return;
    }
  };

  const openSocket = () => {
    closeSocket('reconnecting');
    const mine = ++generation;
    const s = makeSocket({
      // The key store already holds every key in memory (table-auth-state.ts), but Baileys asks for
      // many keys per send and this cache answers repeats without hashing each id into a row key
      // again: measured ~20 ms per send slower without it. It holds the same objects, not copies.
      auth: { creds: auth.state.creds, keys: makeCacheableSignalKeyStore(auth.state.keys, deps.baileysLog) },
      logger: deps.baileysLog,
      browser: Browsers.ubuntu('wa-notify'),
      ...(deps.wsUrl ? { waWebSocketUrl: deps.wsUrl } : {}),
      ...(life.version ? { version: life.version } : {}),
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
      if (update.qr) void dispatch({ type: 'qr', qr: update.qr });
      if (update.connection === 'open') void dispatch({ type: 'opened' });
      else if (update.connection === 'close') void dispatch({ type: 'closed', code: closeCode(update) });
    });
  };

  return {
    status: view,
    selfJid,
    isOpen: () => life.phase.kind === 'open' && sock !== undefined,
    async start() {
      offLease ??= deps.lease?.onChange((held) => void dispatch({ type: 'lease', held }));
      await dispatch({ type: 'start' });
    },
    async pair(phone) {
      if (auth.isPaired()) return { ...life.status };
      void dispatch({ type: 'pair', ...(phone ? { phone } : {}) });
      if (!phone || life.phase.kind !== 'pairing') return { ...life.status };
      // The code arrives once the socket is up; wait for it briefly so the answer can carry it.
      return new Promise<SessionStatus>((resolve) => {
        const timer = setTimeout(() => {
          off();
          resolve({ ...life.status });
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
      void dispatch({ type: 'connect' });
      return { ...life.status };
    },
    async disconnect() {
      void dispatch({ type: 'disconnect' });
      return { ...life.status };
    },
    async unlink() {
      const done = dispatch({ type: 'unlink' });
      if (life.phase.kind !== 'unlinking') return view(); // refused: a standby, or already unlinking
      await done;
      return { ...life.status };
    },
    async send(jid, content, messageId) {
      const s = sock;
      if (!s || life.status.state !== 'open') return { ok: false, error: 'WhatsApp is not connected' };
      // Fencing: the lease's own clock check (with its margin), not only the last change event.
      if (deps.lease && !deps.lease.valid()) return { ok: false, error: 'the session lease is not held' };
      const ack = acks.expect(messageId);
      try {
        const sent = await s.sendMessage(jid, content, { messageId, mediaUploadTimeoutMs: MEDIA_UPLOAD_IDLE_MS });
        if (sent?.message) deps.sentMessages.remember(messageId, sent.message);
      } catch (error) {
        ack.cancel();
        return { ok: false, error: `send failed: ${(error as Error).message}` };
      }
      return ack.armed(deps.ackTimeoutMs ?? 30_000);
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
      offLease?.();
      await dispatch({ type: 'stop' });
    },
  };
}

/** The status code WhatsApp closed the connection with (Baileys puts it on a Boom error). */
function closeCode(update: Partial<ConnectionState>): number | undefined {
  const error = update.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined;
  return error?.output?.statusCode;
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
