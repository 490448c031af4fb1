/**
 * Prometheus metrics for the sidecar, served at GET /metrics (text format 0.0.4). Every metric is
 * fed from what already exists: the worker's delivery reports, the session's status events, the
 * function socket server's client count and the durable queue (read at scrape time). The one thing
 * no event tells — how long WhatsApp's server took to acknowledge a send — comes from wrapping the
 * session handed to the worker (`timeAcks`), so neither the worker nor the session knows about
 * metrics.
 *
 * Access: Bearer admin password (`Authorization: Bearer $WHATSAPP_ADMIN_PASSWORD`), always, also
 * from 127.0.0.1: a reverse proxy on the same host makes every outside request look local, so
 * "loopback means trusted" would open the metrics to the internet. Prometheus sends it with
 * `authorization: { credentials_file: … }` (docs/deploy-azure.md).
 */
import type { IncomingMessage } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../shared/clock.js';
import type { DeliveryWorker } from './delivery-worker.js';
import { describeDisconnect } from './disconnect-policy.js';
import type { HttpRouter } from './http-router.js';
import type { WhatsAppSession } from './whatsapp-session.js';

export const METRICS_PATH = '/metrics';

export interface SidecarMetrics {
  registry: Registry;
  /** The session as the worker should see it: each send also observes its time to the server ack. */
  timeAcks(session: WhatsAppSession): WhatsAppSession;
  /** Subscribes to the running parts; returns nothing to undo but `stop`. */
  watch(parts: { session: WhatsAppSession; worker: DeliveryWorker; sockets: { clientCount(): number } }): void;
  /** Registers GET /metrics, for admins only (`requireAdmin` throws its refusal). */
  routes(router: HttpRouter, requireAdmin: (req: IncomingMessage) => void): void;
  stop(): void;
}

export function createSidecarMetrics(deps: { clock: Clock; defaultMetrics?: boolean }): SidecarMetrics {
  const { clock } = deps;
  const registry = new Registry();
  if (deps.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'wa_notify_sidecar_' });
  const unsubscribe: (() => void)[] = [];
  let sockets: { clientCount(): number } | undefined;
  let session: WhatsAppSession | undefined;
  let worker: DeliveryWorker | undefined;

  const sends = new Counter({
    name: 'wa_notify_sends_total',
    help: 'Recipients finished by the delivery worker, by outcome (sent, failed, expired)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['sent', 'failed', 'expired']) sends.inc({ outcome }, 0); // present from the first scrape

  const reconnects = new Counter({
    name: 'wa_notify_reconnects_total',
    help: 'WhatsApp connections closed by the other side (not by pause/unlink), by close code and reason',
    labelNames: ['code', 'reason'] as const,
    registers: [registry],
  });

  const ackLatency = new Histogram({
    name: 'wa_notify_ack_latency_seconds',
    help: 'Time from handing a message to WhatsApp to its server acknowledgement, by result (ok, refused, error)',
    labelNames: ['result'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });

  // Kept for dashboards that chart it: the queue gauges no longer read storage, so it stays 0.
  new Counter({
    name: 'wa_notify_queue_read_errors_total',
    help: 'Scrapes whose queue read failed (the queue gauges then keep their last value)',
    registers: [registry],
  });
  // The worker holds every unfinished recipient in memory: a scrape reads no storage.
  const queueNow = () => {
    const snap = worker?.snapshot();
    const oldest = snap?.oldestCreatedAt;
    return { depth: snap?.unfinished.length ?? 0, oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (clock.now() - oldest) / 1000) };
  };

  new Gauge({
    name: 'wa_notify_queue_depth',
    help: 'Recipients queued or being sent (held in memory by the sidecar that holds the session)',
    registers: [registry],
    collect() {
      this.set(queueNow().depth);
    },
  });
  new Gauge({
    name: 'wa_notify_queue_oldest_age_seconds',
    help: 'Age of the oldest notification with a recipient still queued or being sent (0 when none)',
    registers: [registry],
    collect() {
      this.set(queueNow().oldestAgeSeconds);
    },
  });
  new Gauge({
    name: 'wa_notify_ws_clients',
    help: 'Function instances connected over the sidecar WebSocket',
    registers: [registry],
    collect() {
      this.set(sockets?.clientCount() ?? 0);
    },
  });
  new Gauge({
    name: 'wa_notify_whatsapp_open',
    help: '1 when the WhatsApp connection is open, else 0',
    registers: [registry],
    collect() {
      this.set(session?.isOpen() ? 1 : 0);
    },
  });

  return {
    registry,
    timeAcks(inner) {
      return {
        ...inner,
        async send(jid, content, messageId) {
          const started = clock.now();
          const outcome = await inner.send(jid, content, messageId);
          const result = outcome.ok ? 'ok' : outcome.code ? 'refused' : 'error';
          ackLatency.observe({ result }, Math.max(0, clock.now() - started) / 1000);
          return outcome;
        },
      };
    },
    watch(parts) {
      sockets = parts.sockets;
      session = parts.session;
      worker = parts.worker;
      unsubscribe.push(
        parts.worker.onReport((report) => {
          sends.inc({ outcome: report.outcome === 'failed' && report.error === 'expired' ? 'expired' : report.outcome });
        }),
      );
      // A close the session did not ask for sets a new last_disconnect; count each one once.
      let lastSeen = parts.session.status().last_disconnect?.at;
      unsubscribe.push(
        parts.session.onStatus((status) => {
          const d = status.last_disconnect;
          if (!d || d.at === lastSeen) return;
          lastSeen = d.at;
          reconnects.inc({ code: d.code === undefined ? 'none' : String(d.code), reason: describeDisconnect(d.code) });
        }),
      );
    },
    routes(router, requireAdmin) {
      router.on('GET', METRICS_PATH, async (req, res) => {
        requireAdmin(req);
        const text = await registry.metrics();
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(text);
      });
    },
    stop() {
      for (const off of unsubscribe.splice(0)) off();
    },
  };
}
