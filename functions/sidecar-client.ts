/**
 * The function instance's one WebSocket to the sidecar: opened on first use, kept open, reopened
 * with backoff when it drops, authenticated with the sidecar token on the upgrade. Requests are
 * multiplexed by requestId. A request whose socket drops before `accepted` comes back as
 * `unreachable` (the caller then queues it itself; the queue refuses a duplicate id, so a send the
 * sidecar did record is not queued twice). A wait for reports survives a reconnect: the client
 * re-attaches with `watch`.
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
  id: string;
  onAccepted?: (m: Accepted | Rejected | 'lost') => void;
  reports: Map<string, Report>;
  done: boolean;
  watching: boolean;
  wake?: () => void;
}

export function createSidecarClient(deps: {
  url: string;
  token: string;
  log: Logger;
  connectTimeoutMs?: number;
  acceptTimeoutMs?: number;
}): SidecarClient {
  const { url, token, log } = deps;
  const connectTimeoutMs = deps.connectTimeoutMs ?? 2_000;
  const acceptTimeoutMs = deps.acceptTimeoutMs ?? 10_000;
  const exchanges = new Map<string, Exchange>();
  let socket: WebSocket | undefined;
  let connecting: Promise<WebSocket> | undefined;
  let closed = false;
  let backoffMs = 100;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const deliver = (message: ServerMessage) => {
    const ex = exchanges.get(message.requestId);
    if (!ex) return;
    if (message.type === 'accepted' || message.type === 'rejected') {
      ex.onAccepted?.(message);
      ex.onAccepted = undefined;
      if (message.type === 'rejected' || !ex.watching) exchanges.delete(ex.requestId);
    } else if (message.type === 'report') {
      ex.reports.set(message.to, message);
      ex.wake?.();
    } else if (message.type === 'done') {
      ex.done = true;
      ex.wake?.();
    }
  };

  const scheduleReconnect = () => {
    if (closed || reconnectTimer || ![...exchanges.values()].some((e) => e.watching && !e.done)) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      connect().catch(() => scheduleReconnect());
    }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 5_000);
  };

  const onSocketClosed = (ws: WebSocket) => {
    if (socket === ws) socket = undefined;
    for (const ex of exchanges.values()) {
      if (ex.onAccepted) {
        // Did the sidecar record it? Unknown: the caller queues it under the same id to find out.
        const waiter = ex.onAccepted;
        ex.onAccepted = undefined;
        exchanges.delete(ex.requestId);
        waiter('lost');
      }
    }
    scheduleReconnect();
  };

  const connect = (): Promise<WebSocket> => {
    if (socket && socket.readyState === WebSocket.OPEN) return Promise.resolve(socket);
    if (closed) return Promise.reject(new Error('client closed'));
    connecting ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, SUBPROTOCOL, {
        headers: { Authorization: `Bearer ${token}` },
        handshakeTimeout: connectTimeoutMs,
        maxPayload: 1024 * 1024,
        perMessageDeflate: false,
      });
      const fail = (error: Error) => {
        connecting = undefined;
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(error);
      };
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => fail(new Error(`sidecar refused the connection (${res.statusCode})`)));
      ws.once('open', () => {
        connecting = undefined;
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        socket = ws;
        backoffMs = 100;
        ws.on('error', (error) => log.warn({ err: error.message }, 'sidecar socket error'));
        ws.on('close', () => onSocketClosed(ws));
        ws.on('message', (data, isBinary) => {
          if (isBinary) return;
          const parsed = parseServerMessage(data.toString());
          if (!parsed.ok) {
            log.warn({ error: parsed.error }, 'dropped an unreadable frame from the sidecar');
            return;
          }
          deliver(parsed.message);
        });
        // Re-attach to deliveries still being awaited (the socket dropped mid-wait).
        for (const ex of exchanges.values()) {
          if (ex.watching && !ex.done && !ex.onAccepted) write(ws, { v: PROTOCOL_VERSION, type: 'watch', requestId: ex.requestId, id: ex.id });
        }
        resolve(ws);
      });
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
        if (previous) void sendFrame(encodeAttachmentFrame({ requestId, slot: upload.slot, last: false, data: previous })).catch(() => undefined);
        previous = chunk;
        if (inFlight.size >= MAX_FRAMES_IN_FLIGHT) await Promise.race(inFlight);
        if (ws.readyState !== WebSocket.OPEN) return;
      }
      void sendFrame(encodeAttachmentFrame({ requestId, slot: upload.slot, last: true, data: previous ?? new Uint8Array() })).catch(() => undefined);
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
      const ex: Exchange = { requestId, id: notification.id, reports: new Map(), done: false, watching: options.watchDelivery };
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
          streamAttachments(ws, requestId, options.attachments).catch((error: unknown) => log.warn({ err: error }, 'attachment upload to the sidecar failed'));
        }
      });
      if (answer === 'lost' || answer === 'timeout') {
        exchanges.delete(requestId);
        return { kind: 'unreachable', reason: answer === 'lost' ? 'sidecar connection lost' : 'sidecar did not answer in time' };
      }
      if (answer.type === 'rejected') return { kind: 'rejected', rejected: answer };
      return { kind: 'accepted', accepted: answer, delivery: makeWatch(ex) };
    },
    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
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
