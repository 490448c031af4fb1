/**
 * The function instance's one WebSocket to the sidecar: opened on first use, kept open, reopened
 * with backoff when it drops, authenticated with the sidecar token on the upgrade. Requests are
 * multiplexed by requestId. A request whose socket drops before `accepted` comes back as
 * `unreachable` (the caller then queues it itself; the queue refuses a duplicate id, so a send the
 * sidecar did record is not queued twice). A wait for reports survives a reconnect: the client
 * re-attaches with `watch`.
 *
 * Several sidecars (WHATSAPP_SIDECAR_URL as a comma-separated list, one holder of the WhatsApp
 * session and warm standbys): each sidecar says on connect, and whenever it changes, whether it
 * holds the session (`role` frame). The client keeps its socket to the holder. While none answers
 * as holder it uses a reachable standby, which queues durably and answers `deferred`, and looks for
 * the holder again at most once a second (on the next request, or on a timer while a delivery is
 * awaited). Moving to a new socket re-attaches awaited deliveries there; the old socket is closed
 * once the requests it carries have their answers.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { encodeAttachmentFrame } from '../shared/attachment-frames.js';
import type { AttachmentSlot } from '../shared/attachment-store.js';
import type { Logger } from '../shared/logger.js';
import {
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  parseServerMessage,
  type ClientMessage,
  type ServerMessage,
  type WireNotification,
} from '../shared/sidecar-protocol.js';

type Accepted = Extract<ServerMessage, { type: 'accepted' }>;
type Rejected = Extract<ServerMessage, { type: 'rejected' }>;
export type Report = Extract<ServerMessage, { type: 'report' }>;

export type SubmitResult =
  | { kind: 'accepted'; accepted: Accepted; delivery: DeliveryWatch }
  | { kind: 'rejected'; rejected: Rejected }
  | { kind: 'unreachable'; reason: string };

export interface DeliveryWatch {
  /** Resolves when every recipient reported or the time is up; reports so far either way. */
  wait(timeoutMs: number): Promise<{ reports: Report[]; done: boolean }>;
  /** Stops listening (the sidecar keeps sending regardless). */
  cancel(): void;
}

/** Attachment bytes to stream after the `send` frame (attachment-frames.ts). */
export interface AttachmentUpload {
  slot: AttachmentSlot;
  chunks(): AsyncIterable<Uint8Array>;
}

export interface SidecarClient {
  submit(
    notification: WireNotification,
    options: { rejectIfOffline: boolean; watchDelivery: boolean; attachments?: AttachmentUpload[] },
  ): Promise<SubmitResult>;
  close(): Promise<void>;
}

interface Exchange {
  requestId: string;
  /** The socket that carries this exchange now. */
  ws?: WebSocket;
  id: string;
  onAccepted?: (m: Accepted | Rejected | 'lost') => void;
  reports: Map<string, Report>;
  /** Recipients the sidecar accepted: once each has reported, the wait is over without the `done` frame. */
  expected?: number;
  done: boolean;
  watching: boolean;
  wake?: () => void;
}

type Role = 'holder' | 'standby' | 'unknown';

/** WHATSAPP_SIDECAR_URL: one URL, or several separated by commas. */
export const sidecarUrls = (value: string | readonly string[]): string[] =>
  (typeof value === 'string' ? value.split(',') : [...value]).map((u) => u.trim()).filter((u) => u.length > 0);

export function createSidecarClient(deps: {
  url: string | readonly string[];
  token: string;
  log: Logger;
  connectTimeoutMs?: number;
  acceptTimeoutMs?: number;
  /** How long to wait for a sidecar's `role` frame before taking it for a holder (older sidecars send none). */
  roleTimeoutMs?: number;
  /** Least time between two searches for the holder while connected to a standby. */
  probeIntervalMs?: number;
}): SidecarClient {
  const { token, log } = deps;
  const urls = sidecarUrls(deps.url);
  if (urls.length === 0) throw new Error('WHATSAPP_SIDECAR_URL lists no sidecar');
  const several = urls.length > 1;
  const connectTimeoutMs = deps.connectTimeoutMs ?? 2_000;
  const acceptTimeoutMs = deps.acceptTimeoutMs ?? 10_000;
  const roleTimeoutMs = deps.roleTimeoutMs ?? 1_000;
  const probeIntervalMs = deps.probeIntervalMs ?? 1_000;
  const exchanges = new Map<string, Exchange>();
  const roles = new WeakMap<WebSocket, Role>();
  const urlOf = new WeakMap<WebSocket, string>();
  const roleWaiters = new WeakMap<WebSocket, () => void>();
  const retiring = new Set<WebSocket>();
  let socket: WebSocket | undefined;
  let connecting: Promise<WebSocket> | undefined;
  let closed = false;
  let backoffMs = 100;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  let lastSearch = 0;
  let preferred = 0; // index in `urls` of the last holder found: tried first

  const isOpen = (ws: WebSocket | undefined): ws is WebSocket => ws !== undefined && ws.readyState === WebSocket.OPEN;
  const roleOf = (ws: WebSocket): Role => roles.get(ws) ?? 'unknown';
  const carriesRequests = (ws: WebSocket) => [...exchanges.values()].some((e) => e.ws === ws && e.onAccepted);

  /** A socket we moved away from: closed once no request on it still waits for its answer. */
  const closeIfIdle = (ws: WebSocket) => {
    if (!retiring.has(ws) || carriesRequests(ws)) return;
    retiring.delete(ws);
    ws.close(1000);
  };
  const retire = (ws: WebSocket) => {
    if (ws === socket) return;
    retiring.add(ws);
    closeIfIdle(ws);
    setTimeout(() => {
      retiring.delete(ws);
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    }, acceptTimeoutMs + 1_000).unref();
  };

  const deliver = (ws: WebSocket, message: ServerMessage) => {
    if (message.type === 'role') {
      const changed = roles.get(ws) !== message.role;
      roles.set(ws, message.role);
      roleWaiters.get(ws)?.();
      if (changed && ws === socket && message.role === 'standby' && several) {
        log.warn({ holder: message.holder }, 'the sidecar in use is a standby now; looking for the holder');
        scheduleProbe(0);
      }
      return;
    }
    const ex = exchanges.get(message.requestId);
    if (!ex) return;
    if (message.type === 'accepted' || message.type === 'rejected') {
      if (message.type === 'accepted') ex.expected = message.queued;
      ex.onAccepted?.(message);
      ex.onAccepted = undefined;
      if (message.type === 'rejected' || !ex.watching) exchanges.delete(ex.requestId);
      closeIfIdle(ws);
    } else if (message.type === 'report') {
      ex.reports.set(message.to, message);
      // The last report ends the wait at once (`done` follows in the next frame; a repeated
      // recipient reports under one address, so then the count falls short and `done` decides).
      if (ex.expected !== undefined && ex.reports.size >= ex.expected) ex.done = true;
      ex.wake?.();
    } else if (message.type === 'done') {
      ex.done = true;
      ex.wake?.();
    }
  };

  const awaitingDelivery = () => [...exchanges.values()].some((e) => e.watching && !e.done);

  // While a delivery is awaited through a standby, look for the holder now and then: reports come
  // only from the sidecar that sends.
  const scheduleProbe = (delayMs = probeIntervalMs) => {
    if (closed || probeTimer || !several) return;
    probeTimer = setTimeout(() => {
      probeTimer = undefined;
      if (!awaitingDelivery() || !isOpen(socket) || roleOf(socket) !== 'standby') return;
      lastSearch = 0;
      connect()
        .catch(() => undefined)
        .finally(() => {
          if (isOpen(socket) && roleOf(socket) === 'standby') scheduleProbe();
        });
    }, delayMs);
    probeTimer.unref();
  };

  const scheduleReconnect = () => {
    if (closed || reconnectTimer || isOpen(socket) || !awaitingDelivery()) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      connect().catch(() => scheduleReconnect());
    }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 5_000);
  };

  const onSocketClosed = (ws: WebSocket) => {
    if (socket === ws) socket = undefined;
    retiring.delete(ws);
    for (const ex of exchanges.values()) {
      if (ex.ws === ws && ex.onAccepted) {
        // Did the sidecar record it? Unknown: the caller queues it under the same id to find out.
        const waiter = ex.onAccepted;
        ex.onAccepted = undefined;
        exchanges.delete(ex.requestId);
        waiter('lost');
      }
    }
    scheduleReconnect();
  };

  /** Opens a socket to one sidecar; resolves once it is open (its role may follow). */
  const open = (url: string): Promise<WebSocket> =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, SUBPROTOCOL, {
        headers: { Authorization: `Bearer ${token}` },
        handshakeTimeout: connectTimeoutMs,
        maxPayload: 1024 * 1024,
        perMessageDeflate: false,
      });
      urlOf.set(ws, url);
      const fail = (error: Error) => {
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(error);
      };
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => fail(new Error(`sidecar refused the connection (${res.statusCode})`)));
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        ws.on('error', (error) => log.warn({ err: error.message }, 'sidecar socket error'));
        ws.on('close', () => onSocketClosed(ws));
        ws.on('message', (data, isBinary) => {
          if (isBinary) return;
          const parsed = parseServerMessage(data.toString());
          if (!parsed.ok) {
            log.warn({ error: parsed.error }, 'dropped an unreadable frame from the sidecar');
            return;
          }
          deliver(ws, parsed.message);
        });
        resolve(ws);
      });
    });

  /** The role a freshly opened sidecar announced, waiting briefly for its first `role` frame. */
  const announcedRole = (ws: WebSocket): Promise<Role> => {
    if (!several || roles.has(ws)) return Promise.resolve(roleOf(ws));
    return new Promise<Role>((resolve) => {
      const timer = setTimeout(() => resolve(roleOf(ws)), roleTimeoutMs);
      roleWaiters.set(ws, () => {
        clearTimeout(timer);
        roleWaiters.delete(ws);
        resolve(roleOf(ws));
      });
    });
  };

  /** Makes `ws` the socket in use: awaited deliveries re-attach there; the previous one retires. */
  const adopt = (ws: WebSocket): WebSocket => {
    const previous = socket;
    socket = ws;
    backoffMs = 100;
    for (const ex of exchanges.values()) {
      if (ex.watching && !ex.done && !ex.onAccepted && ex.ws !== ws) {
        ex.ws = ws;
        write(ws, { v: PROTOCOL_VERSION, type: 'watch', requestId: ex.requestId, id: ex.id });
      }
    }
    if (previous && previous !== ws) retire(previous);
    if (roleOf(ws) === 'standby') scheduleProbe();
    return ws;
  };

  /**
   * Tries the sidecars in turn, the last holder first: the first that answers as holder (or says
   * nothing about its role) is used; failing that, a reachable standby (it queues and answers
   * `deferred`).
   */
  const search = async (): Promise<WebSocket> => {
    lastSearch = Date.now();
    const current = isOpen(socket) ? socket : undefined;
    let fallback: WebSocket | undefined = current;
    let lastError: Error | undefined;
    for (let step = 0; step < urls.length; step++) {
      const index = (preferred + step) % urls.length;
      const url = urls[index]!;
      let ws: WebSocket;
      if (current && urlOf.get(current) === url) {
        ws = current;
      } else {
        try {
          ws = await open(url);
        } catch (error) {
          lastError = error as Error;
          continue;
        }
      }
      if ((await announcedRole(ws)) !== 'standby' && isOpen(ws)) {
        preferred = index;
        if (fallback && fallback !== ws && fallback !== current) fallback.close(1000);
        return adopt(ws);
      }
      if (!fallback || !isOpen(fallback)) fallback = ws;
      else if (ws !== fallback) ws.close(1000);
    }
    if (fallback && isOpen(fallback)) return adopt(fallback);
    throw lastError ?? new Error('no sidecar reachable');
  };

  const connect = (): Promise<WebSocket> => {
    if (closed) return Promise.reject(new Error('client closed'));
    if (isOpen(socket) && (!several || roleOf(socket) !== 'standby' || Date.now() - lastSearch < probeIntervalMs))
      return Promise.resolve(socket);
    connecting ??= search().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  const write = (ws: WebSocket, message: ClientMessage) => ws.send(JSON.stringify(message));

  // At most a few frames queued in the socket at once, so a 100 MiB document streams through a
  // small window instead of being buffered whole.
  const MAX_FRAMES_IN_FLIGHT = 8;
  const streamAttachments = async (ws: WebSocket, requestId: string, uploads: AttachmentUpload[]) => {
    const inFlight = new Set<Promise<void>>();
    const sendFrame = (frame: Buffer) => {
      const sent = new Promise<void>((resolve, reject) => ws.send(frame, (error) => (error ? reject(error) : resolve())));
      const tracked = sent.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      return tracked;
    };
    for (const upload of uploads) {
      let previous: Uint8Array | undefined;
      for await (const chunk of upload.chunks()) {
        if (previous)
          void sendFrame(encodeAttachmentFrame({ requestId, slot: upload.slot, last: false, data: previous })).catch(() => undefined);
        previous = chunk;
        if (inFlight.size >= MAX_FRAMES_IN_FLIGHT) await Promise.race(inFlight);
        if (ws.readyState !== WebSocket.OPEN) return;
      }
      void sendFrame(encodeAttachmentFrame({ requestId, slot: upload.slot, last: true, data: previous ?? new Uint8Array() })).catch(
        () => undefined,
      );
    }
    await Promise.allSettled(inFlight);
  };

  const makeWatch = (ex: Exchange): DeliveryWatch => ({
    async wait(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!ex.done && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          ex.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      ex.wake = undefined;
      return { reports: [...ex.reports.values()], done: ex.done };
    },
    cancel() {
      exchanges.delete(ex.requestId);
    },
  });

  return {
    async submit(notification, options) {
      let ws: WebSocket;
      try {
        ws = await connect();
      } catch (error) {
        return { kind: 'unreachable', reason: (error as Error).message };
      }
      const requestId = randomUUID();
      const ex: Exchange = { requestId, ws, id: notification.id, reports: new Map(), done: false, watching: options.watchDelivery };
      exchanges.set(requestId, ex);
      const answer = await new Promise<Accepted | Rejected | 'lost' | 'timeout'>((resolve) => {
        // The sidecar answers once the bytes are stored too: allow time for them (2 MiB/s at worst).
        const bytes = [notification.content.image, notification.content.document].reduce((n, a) => n + (a?.byteLength ?? 0), 0);
        const timer = setTimeout(() => resolve('timeout'), acceptTimeoutMs + bytes / 2_000);
        ex.onAccepted = (m) => {
          clearTimeout(timer);
          resolve(m);
        };
        write(ws, { v: PROTOCOL_VERSION, type: 'send', requestId, notification, rejectIfOffline: options.rejectIfOffline });
        if (options.attachments?.length) {
          streamAttachments(ws, requestId, options.attachments).catch((error: unknown) =>
            log.warn({ err: error }, 'attachment upload to the sidecar failed'),
          );
        }
      });
      if (answer === 'lost' || answer === 'timeout') {
        exchanges.delete(requestId);
        closeIfIdle(ws);
        return { kind: 'unreachable', reason: answer === 'lost' ? 'sidecar connection lost' : 'sidecar did not answer in time' };
      }
      if (answer.type === 'rejected') return { kind: 'rejected', rejected: answer };
      return { kind: 'accepted', accepted: answer, delivery: makeWatch(ex) };
    },
    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (probeTimer) clearTimeout(probeTimer);
      for (const ws of retiring) ws.terminate();
      retiring.clear();
      const ws = socket;
      socket = undefined;
      if (ws && ws.readyState === WebSocket.OPEN) {
        await new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(1000);
          setTimeout(() => {
            ws.terminate();
            resolve();
          }, 1000).unref();
        });
      }
    },
  };
}
