/**
 * Live session status for the admin page as server-sent events (`GET /whatsapp/api/events`): one
 * `status` event on connect and one per change, with the pairing QR already drawn as an SVG data
 * URL, and a comment heartbeat so proxies keep the stream open. The page holds one stream instead
 * of polling; EventSource reconnects by itself after a drop.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../shared/logger.js';
import { HttpError } from './http-error.js';
import type { SessionStatus, WhatsAppSession } from './whatsapp-session.js';

export interface AdminEventsOptions {
  session: WhatsAppSession;
  log: Logger;
  heartbeatMs?: number;
  /** Open streams allowed at once; the page needs one per tab. */
  maxStreams?: number;
}

export interface AdminEvents {
  /** Opens a status stream on this response; throws a 503 HttpError when too many are open. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Ends every open stream (sidecar shutdown). */
  close(): void;
}

export type StatusEvent = SessionStatus & { qr_image?: string };

/**
 * The pairing QR as an SVG (what WhatsApp → Linked devices scans). The QR library is loaded on
 * first use: a paired sidecar, restarted, never needs it (bench 4: idle memory).
 */
export async function renderQrSvg(qr: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(qr, { type: 'svg', errorCorrectionLevel: 'L', margin: 2 });
}

export async function statusEvent(status: SessionStatus): Promise<StatusEvent> {
  if (!status.qr) return status;
  const svg = await renderQrSvg(status.qr);
  return { ...status, qr_image: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
}

export function createAdminEvents(options: AdminEventsOptions): AdminEvents {
  const { session, log } = options;
  const heartbeatMs = options.heartbeatMs ?? 25_000;
  const maxStreams = options.maxStreams ?? 20;
  const streams = new Set<ServerResponse>();

  // Render each status once for all streams, in order (a QR render is async).
  let chain: Promise<void> = Promise.resolve();
  const frame = (status: SessionStatus) => statusEvent(status).then((e) => `event: status\ndata: ${JSON.stringify(e)}\n\n`);
  const offStatus = session.onStatus((status) => {
    const rendered = frame(status);
    chain = chain
      .then(() => rendered)
      .then((text) => {
        for (const res of streams) res.write(text);
      })
      .catch((error: unknown) => log.warn({ err: error }, 'admin events: could not send a status'));
  });

  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, heartbeatMs);
  heartbeat.unref();

  return {
    handle(req, res) {
      if (streams.size >= maxStreams) throw new HttpError(503, 'Too many open event streams', { headers: { 'Retry-After': '10' } });
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      // A long-lived response: no request timeout for this socket.
      req.socket.setTimeout(0);
      streams.add(res);
      res.write('retry: 3000\n\n');
      // Queued behind any change being sent, so a new stream never sees an older status last.
      chain = chain
        .then(() => frame(session.status()))
        .then((text) => {
          if (streams.has(res)) res.write(text);
        })
        .catch((error: unknown) => log.warn({ err: error }, 'admin events: could not send the first status'));
      const done = () => streams.delete(res);
      req.on('close', done);
      res.on('close', done);
    },
    close() {
      clearInterval(heartbeat);
      offStatus();
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
