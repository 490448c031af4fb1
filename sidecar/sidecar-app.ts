/**
 * Wires the sidecar's parts (session, queue worker, function socket, admin API) from configuration
 * and serves them on one HTTP server. Used by sidecar/main.ts and, in-process, by tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiKeyStore } from '../shared/api-keys.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { requireSetting, type Config } from '../shared/config.js';
import { createLinkedUserStore } from '../shared/linked-users.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { createNotificationQueue, newNotificationId } from '../shared/notification-queue.js';
import { createRateLimiter } from '../shared/rate-limiter.js';
import { createTableStore } from '../shared/table-store.js';
import { createAttachmentStore } from '../shared/attachment-store.js';
import { createAdminApi } from './admin-api.js';
import { createAdminEvents } from './admin-events.js';
import { createAdminPage } from './admin-page.js';
import { assertAdminPasswordSafe, createAdminAuth } from './admin-session.js';
import { createDeliveryWorker } from './delivery-worker.js';
import { createHealth } from './health.js';
import { createSidecarMetrics } from './metrics.js';
import { sendJson } from './json-http.js';
import { createNotifySocketServer } from './notify-socket-server.js';
import { createPartContentBuilder } from './part-content.js';
import { createSendBudget } from './send-budget.js';
import { createSentMessageStore } from './sent-message-store.js';
import { createSessionCipher } from './session-cipher.js';
import { loadTableAuthState } from './table-auth-state.js';
import { createSessionLease } from './session-lease.js';
import { createExistsCache } from './whatsapp-exists-cache.js';
import { createWhatsAppSession, fetchWaWebVersion, type WhatsAppSession } from './whatsapp-session.js';

export interface SidecarApp {
  url: string;
  port: number;
  /** Where the admin page is served (the same as `url` unless WHATSAPP_ADMIN_HOST/PORT differ). */
  adminUrl: string;
  session: WhatsAppSession;
  log: Logger;
  stop(): Promise<void>;
}

export async function startSidecar(options: { config: Config; clock?: Clock; log?: Logger; printQr?: (qr: string) => void }): Promise<SidecarApp> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger({ level: config.logLevel, name: 'sidecar' });
  const baileysLog = log.child({ component: 'baileys' }, { level: config.logLevel === 'silent' ? 'silent' : 'warn' });
  const tables = createTableStore(config.tablesConnection);
  const cipher = createSessionCipher(requireSetting(config, 'sessionSecret', 'WHATSAPP_SESSION_SECRET'));
  const token = requireSetting(config, 'sidecarToken', 'WHATSAPP_SIDECAR_TOKEN');
  assertAdminPasswordSafe(config);

  const auth = await loadTableAuthState(tables, cipher, { log });
  const lease = createSessionLease({ tables, owner: config.sidecarId, clock, log, leaseMs: config.sessionLeaseMs });
  const session = createWhatsAppSession({
    auth,
    lease,
    reloadAuth: () => auth.reload(),
    existsCache: createExistsCache({ clock, existsTtlMs: config.existsCacheTtlMs, missingTtlMs: config.missingCacheTtlMs }),
    fetchVersion: () => fetchWaWebVersion(config.whatsappVersionUrl),
    sentMessages: createSentMessageStore(),
    log,
    baileysLog,
    wsUrl: config.whatsappWsUrl,
    printQr: options.printQr,
  });
  const queue = createNotificationQueue(tables);
  const attachments = createAttachmentStore(tables);
  const sendBudget = createSendBudget({ limits: config.sendBudget, clock, log });
  const metrics = createSidecarMetrics({ queue, clock, log });
  const worker = createDeliveryWorker({
    queue,
    session: metrics.timeAcks(session), // observes ack latency; the worker sees the same interface
    content: createPartContentBuilder({ open: async (id, slot) => attachments.open(id, slot) }),
    attachments,
    clock,
    log,
    owner: config.sidecarId, // stable: a restart resumes its own unfinished sends at once
    sendIntervalMs: config.sendIntervalMs,
    // Expiry is checked often enough to be timely for short TTLs, at most once a minute.
    expirySweepMs: Math.min(60_000, Math.max(1_000, config.queueTtlMs / 4)),
    beforeSend: () => sendBudget.acquire(),
  });
  const notifySockets = createNotifySocketServer({
    token,
    queue,
    worker,
    session,
    keyLimiter: createRateLimiter(config.rateLimit, clock),
    clock,
    log,
    queueTtlMs: config.queueTtlMs,
    attachments,
    caps: { image: config.maxImageBytes, document: config.maxDocumentBytes },
  });
  metrics.watch({ session, worker, sockets: notifySockets });
  const health = createHealth({ session, tables });
  const apiKeys = config.apiKeyPepper ? createApiKeyStore(tables, config.apiKeyPepper) : undefined;
  const adminAuth = createAdminAuth({ password: config.adminPassword, clock, log });
  const adminApi = createAdminApi({
    session,
    users: createLinkedUserStore(tables),
    apiKeys,
    queue,
    worker,
    log,
    authorize: adminAuth.authorize,
    queueTtlMs: config.queueTtlMs,
    sendTestMessage: async () => {
      const now = new Date(clock.now());
      const id = newNotificationId(now);
      await queue.enqueue({
        id,
        apiKeyHash: 'admin',
        createdAt: now,
        expiresAt: new Date(now.getTime() + config.queueTtlMs),
        skipped: 0,
        waitForDelivery: false,
        recipients: [{ kind: 'self' }],
        content: { message: 'wa-notify test message: the sidecar can send.' },
      });
      worker.kick();
      return id;
    },
  });

  const adminEvents = createAdminEvents({ session, log });
  const adminPage = createAdminPage({ auth: adminAuth, events: adminEvents, session, log });

  const serveAdmin = (req: http.IncomingMessage, res: http.ServerResponse) =>
    adminPage(req, res)
      .then((handled) => handled || adminApi(req, res))
      .then((handled) => {
        if (!handled) sendJson(res, 404, { status: 'error', message: 'Not found' });
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'sidecar request failed');
        sendJson(res, 500, { status: 'error', message: 'Internal error' });
      });

  // Timeouts are enforced by a sweep every connectionsCheckingInterval (Node's default 30 s would
  // let a slow handshake live 40 s); they also cover the /ws upgrade, whose headers are a request.
  const createServer = (withAdmin: boolean) => {
    const server = http.createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
      if (health.handle(req, res)) return; // /healthz, /readyz
      if (!withAdmin) return sendJson(res, 404, { status: 'error', message: 'Not found' });
      if (metrics.handle(req, res, (rq, rs) => adminAuth.authorize(rq, rs, false))) return; // /metrics, admin only
      void serveAdmin(req, res);
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    return server;
  };
  const listen = (server: http.Server, port: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });

  // The function socket listens on WHATSAPP_SIDECAR_HOST (which may face the function app, behind
  // TLS); the admin page stays on WHATSAPP_ADMIN_HOST (loopback by default) — one listener when
  // both are the same address and port.
  const shared = config.adminHost === config.sidecarHost && config.adminPort === config.sidecarPort;
  const server = createServer(shared);
  server.on('upgrade', (req, socket, head) => {
    if (!notifySockets.handleUpgrade(req, socket, head)) {
      socket.on('error', () => undefined);
      socket.resume(); // unread bytes would turn the close into a reset that swallows the 404
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      setTimeout(() => socket.destroy(), 1_000).unref();
    }
  });
  const port = await listen(server, config.sidecarPort, config.sidecarHost);
  const adminServer = shared ? undefined : createServer(true);
  const adminPort = adminServer ? await listen(adminServer, config.adminPort, config.adminHost) : port;
  const closeServer = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });

  await lease.start();
  await session.start();
  worker.start();
  log.info({ port, adminPort, state: session.status().state }, 'sidecar listening');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    adminUrl: `http://${config.adminHost.includes(':') ? `[${config.adminHost}]` : config.adminHost}:${adminPort}`,
    session,
    log,
    async stop() {
      adminEvents.close();
      metrics.stop();
      await notifySockets.close();
      sendBudget.close(); // a send waiting for budget must not hold the shutdown; it stays queued
      await worker.stop();
      await session.stop();
      await lease.stop();
      await closeServer(server);
      if (adminServer) await closeServer(adminServer);
    },
  };
}
