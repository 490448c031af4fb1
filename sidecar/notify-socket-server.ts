/**
 * The sidecar's end of the function ↔ sidecar WebSocket (protocol in shared/sidecar-protocol.ts).
 * The token is checked on the HTTP upgrade, in constant time, so an unauthenticated peer is
 * refused before a single frame is read. Each `send` is written to the durable queue before it is
 * answered `accepted`; reports then stream back to whichever connection asked (or re-attached
 * with `watch`).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Clock } from '../shared/clock.js';
import { bearerToken, secretsEqual } from '../shared/constant-time.js';
import type { Logger } from '../shared/logger.js';
import { NotificationExists, isFinished, type Inserted, type NotificationQueue } from '../shared/notification-queue.js';
import { recipientAddress, resolveSelf, storedNotification } from '../shared/notification-model.js';
import type { RateLimiter } from '../shared/rate-limiter.js';
import {
  CLOSE_CODES,
  PROTOCOL_VERSION,
  SIDECAR_WS_PATH,
  SUBPROTOCOL,
  parseClientMessage,
  type ClientMessage,
  type RoleMessage,
  type ServerMessage,
} from '../shared/sidecar-protocol.js';
import { decodeAttachmentFrame } from '../shared/attachment-frames.js';
import type { AttachmentSlot, AttachmentStore } from '../shared/attachment-store.js';
import { createAttachmentReceiver, type AttachmentReceiver } from './attachment-receiver.js';
import type { DeliveryReport, DeliveryWorker } from './delivery-worker.js';
import { abortHandshake } from './upgrade-refusal.js';
import type { WhatsAppSession } from './whatsapp-session.js';

export interface NotifySocketServer {
  /** Handles an HTTP upgrade; true when the request was for this endpoint. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  clientCount(): number;
  close(): Promise<void>;
}

export interface NotifySocketServerDeps {
  token: string;
  queue: NotificationQueue;
  worker: DeliveryWorker;
  session: WhatsAppSession;
  keyLimiter: RateLimiter;
  clock: Clock;
  log: Logger;
  queueTtlMs: number;
  /** This sidecar's identity and lease length, for rows inserted already claimed. */
  owner: string;
  leaseMs: number;
  attachments: AttachmentStore;
  caps: { image: number; document: number };
  maxInFlight?: number;
  idleTimeoutMs?: number;
  maxFrameBytes?: number;
  /** Holder or standby (session lease), told on connect and on every change. */
  role?: { current(): RoleMessage; onChange(listener: () => void): () => void };
}

interface Watcher {
  ws: WebSocket;
  requestId: string;
  expected: Set<string>;
  seen: Set<string>;
}

export function createNotifySocketServer(deps: NotifySocketServerDeps): NotifySocketServer {
  const { log, queue, worker, session } = deps;
  // One function instance multiplexes all its HTTP requests over one socket, and going over this
  // closes it (every request on it then falls back to the function's own, slower queue write). 64
  // was exactly the bench's 64 connections; the brake is for a runaway peer, not for load.
  const maxInFlight = deps.maxInFlight ?? 256;
  const idleTimeoutMs = deps.idleTimeoutMs ?? 120_000;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: deps.maxFrameBytes ?? 1024 * 1024,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const watchers = new Map<string, Set<Watcher>>();

  const write = (ws: WebSocket, message: ServerMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };

  const addWatcher = (id: string, w: Watcher) => {
    let set = watchers.get(id);
    if (!set) watchers.set(id, (set = new Set()));
    set.add(w);
  };

  const deliverReport = (r: DeliveryReport) => {
    const set = watchers.get(r.notificationId);
    if (!set) return;
    for (const w of set) {
      // `self` was reported as the paired JID: accept it for a watcher that expected `self`.
      const key = w.expected.has(r.to) ? r.to : w.expected.has('self') ? 'self' : r.to;
      write(w.ws, {
        v: PROTOCOL_VERSION,
        type: 'report',
        requestId: w.requestId,
        id: r.notificationId,
        to: r.to,
        outcome: r.outcome,
        ...(r.error ? { error: r.error } : {}),
      });
      w.seen.add(key);
      if ([...w.expected].every((e) => w.seen.has(e))) {
        write(w.ws, { v: PROTOCOL_VERSION, type: 'done', requestId: w.requestId, id: r.notificationId });
        set.delete(w);
      }
    }
    if (set.size === 0) watchers.delete(r.notificationId);
  };
  const offReport = worker.onReport(deliverReport);
  const offRole = deps.role?.onChange(() => {
    for (const ws of wss.clients) write(ws, deps.role!.current());
  });

  const handleSend = async (ws: WebSocket, receiver: AttachmentReceiver, m: Extract<ClientMessage, { type: 'send' }>) => {
    const n = m.notification;
    // Registered before the first await: the attachment frames follow this frame immediately.
    const declared: Partial<Record<AttachmentSlot, number>> = {};
    if (n.content.image) declared.image = n.content.image.byteLength;
    if (n.content.document) declared.document = n.content.document.byteLength;
    const totalBytes = (declared.image ?? 0) + (declared.document ?? 0);
    const upload = Object.keys(declared).length > 0 ? receiver.expect(m.requestId, n.id, declared, 30_000 + totalBytes / 2_000) : undefined;
    const reject = (status: 409 | 413 | 429 | 503 | 400, message: string, retryAfterSeconds?: number) => {
      upload?.discard();
      write(ws, {
        v: PROTOCOL_VERSION,
        type: 'rejected',
        requestId: m.requestId,
        status,
        message,
        ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
      });
    };
    if ((declared.image ?? 0) > deps.caps.image) return reject(413, 'image_path is larger than the configured limit');
    if ((declared.document ?? 0) > deps.caps.document) return reject(413, 'document_path is larger than the configured limit');
    const limit = deps.keyLimiter.hit(n.apiKeyHash);
    if (!limit.allowed)
      return reject(
        429,
        `Too many requests for this API key (${limit.rate}, WHATSAPP_RATE_LIMIT); retry in ${limit.retryAfterSeconds} s`,
        limit.retryAfterSeconds,
      );
    const open = session.isOpen();
    if (!open && m.rejectIfOffline) return reject(409, 'WhatsApp is offline; nothing was queued');
    if (upload) {
      try {
        await upload.done;
      } catch (error) {
        log.warn({ err: (error as Error).message, id: n.id }, 'attachment upload failed');
        return reject(503, 'Attachment upload failed; nothing was queued, retry later');
      }
    }
    const stored = storedNotification(n, deps.queueTtlMs);
    let inserted: Inserted | undefined;
    try {
      // While WhatsApp is open the rows are written already leased to this sidecar: the insert is the claim.
      inserted = await queue.enqueue(stored, {
        ...(open ? { claim: { owner: deps.owner, leaseUntil: deps.clock.now() + deps.leaseMs } } : {}),
        owner: worker.owns(),
      });
    } catch (error) {
      if (!(error instanceof NotificationExists)) {
        log.error({ err: error }, 'could not write a notification to the queue');
        return reject(503, 'Storage is unavailable; nothing was queued, retry later');
      }
    }
    const self = session.selfJid();
    const recipients = n.recipients.map((r) => resolveSelf(recipientAddress(r), self));
    if (n.waitForDelivery && open) {
      addWatcher(n.id, { ws, requestId: m.requestId, expected: new Set(recipients), seen: new Set() });
    }
    write(ws, {
      v: PROTOCOL_VERSION,
      type: 'accepted',
      requestId: m.requestId,
      id: n.id,
      queued: recipients.length,
      deferred: !open,
      recipients,
    });
    if (inserted) {
      const { recipients: _wire, ...header } = stored;
      worker.accepted({ ...header, recipientCount: inserted.rows.length, recipients: inserted.rows }, inserted.openEtag);
    }
  };

  const handleWatch = async (ws: WebSocket, m: Extract<ClientMessage, { type: 'watch' }>) => {
    const n = await queue.get(m.id);
    if (!n) return;
    const self = session.selfJid();
    const addressOf = (to: string) => resolveSelf(to, self);
    const w: Watcher = { ws, requestId: m.requestId, expected: new Set(n.recipients.map((r) => addressOf(r.to))), seen: new Set() };
    addWatcher(n.id, w);
    for (const r of n.recipients) {
      if (!isFinished(r.state)) continue;
      const outcome = r.state === 'failed' || r.state === 'expired' ? 'failed' : 'sent';
      deliverReport({ notificationId: n.id, to: addressOf(r.to), outcome, ...(r.error ? { error: r.error } : {}) });
    }
  };

  wss.on('connection', (ws: WebSocket) => {
    if (deps.role) write(ws, deps.role.current());
    let inFlight = 0;
    const receiver = createAttachmentReceiver(deps.attachments, { pause: () => ws.pause(), resume: () => ws.resume() });
    let idleTimer = setTimeout(() => ws.close(CLOSE_CODES.idle, 'idle'), idleTimeoutMs);
    const touch = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => ws.close(CLOSE_CODES.idle, 'idle'), idleTimeoutMs);
    };
    ws.on('pong', touch);
    const pinger = setInterval(() => ws.ping(), Math.max(1_000, idleTimeoutMs / 3));
    ws.on('message', (data, isBinary) => {
      touch();
      if (isBinary) {
        const frame = decodeAttachmentFrame(data as Buffer);
        if (frame) receiver.onFrame(frame);
        else ws.close(CLOSE_CODES.protocolError, 'unreadable attachment frame');
        return;
      }
      const parsed = parseClientMessage(data.toString());
      if (!parsed.ok) {
        log.warn({ error: parsed.error }, 'dropped an unreadable frame from a function');
        ws.close(CLOSE_CODES.protocolError, 'unreadable frame');
        return;
      }
      if (inFlight >= maxInFlight) {
        ws.close(CLOSE_CODES.tooManyInFlight, 'too many requests in flight');
        return;
      }
      inFlight++;
      const m = parsed.message;
      const work = m.type === 'send' ? handleSend(ws, receiver, m) : handleWatch(ws, m);
      work
        .catch((error: unknown) => log.error({ err: error }, 'failed to handle a frame'))
        .finally(() => {
          inFlight--;
        });
    });
    ws.on('close', () => {
      receiver.abortAll('connection closed');
      clearTimeout(idleTimer);
      clearInterval(pinger);
      for (const [id, set] of watchers) {
        for (const w of set) if (w.ws === ws) set.delete(w);
        if (set.size === 0) watchers.delete(id);
      }
    });
    ws.on('error', (error) => log.warn({ err: error.message }, 'function socket error'));
  });

  return {
    handleUpgrade(request, socket, head) {
      const url = new URL(request.url ?? '/', 'http://sidecar');
      if (url.pathname !== SIDECAR_WS_PATH) return false;
      const token = bearerToken(request.headers.authorization);
      if (!token || !secretsEqual(token, deps.token)) {
        log.warn({ remote: request.socket.remoteAddress }, 'refused a sidecar connection without a valid token');
        abortHandshake(socket, 401);
        return true;
      }
      const offered = String(request.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      if (!offered.includes(SUBPROTOCOL)) {
        abortHandshake(socket, 400);
        return true;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
      return true;
    },
    clientCount: () => wss.clients.size,
    async close() {
      offReport();
      offRole?.();
      for (const ws of wss.clients) ws.close(CLOSE_CODES.goingAway, 'sidecar stopping');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
