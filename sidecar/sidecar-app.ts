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
import { storedNotification } from '../shared/notification-model.js';
import { createRateLimiter } from '../shared/rate-limiter.js';
import { createTableStore } from '../shared/table-store.js';
import { PROTOCOL_VERSION } from '../shared/sidecar-protocol.js';
import { createAttachmentStore } from '../shared/attachment-store.js';
import { adminApiRoutes, type AdminApiDeps } from './admin-api.js';
import { createBaileysLogger } from './baileys-logger.js';
import { createAdminEvents } from './admin-events.js';
import { assertAdminPasswordSafe, createAdminAuth } from './admin-auth.js';
import { adminPageRoutes } from './admin-page.js';
import { createDeliveryWorker } from './delivery-worker.js';
import { createHealth } from './health.js';
import { createSidecarMetrics } from './metrics.js';
import { createHttpRouter } from './http-router.js';
import { createNotifySocketServer } from './notify-socket-server.js';
import { createPartContentBuilder } from './part-content.js';
import { createSendBudget } from './send-budget.js';
import { createSentMessageStore } from './sent-message-store.js';
import { createQueuedMessageLookup } from './queued-message-lookup.js';
import { createHistorySweeper } from './history-sweeper.js';
import { createSessionCipher } from './session-cipher.js';
import { loadTableAuthState } from './table-auth-state.js';
import { createSessionLease } from './session-lease.js';
import { abortHandshake } from './upgrade-refusal.js';
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

export async function startSidecar(options: {
  config: Config;
  clock?: Clock;
  log?: Logger;
  printQr?: (qr: string) => void;
}): Promise<SidecarApp> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger({ level: config.logLevel, name: 'sidecar' });
  const baileysLog = createBaileysLogger(log.child({ component: 'baileys' }, { level: config.logLevel === 'silent' ? 'silent' : 'warn' }));
  const tables = createTableStore(config.tablesConnection);
  const cipher = createSessionCipher(requireSetting(config, 'sessionSecret', 'WHATSAPP_SESSION_SECRET'));
  const token = requireSetting(config, 'sidecarToken', 'WHATSAPP_SIDECAR_TOKEN');
  assertAdminPasswordSafe(config);

  const lease = createSessionLease({ tables, owner: config.sidecarId, clock, log, leaseMs: config.sessionLeaseMs });
  // Key writes that have not landed when the lease goes are dropped: the next holder owns the keys.
  const auth = await loadTableAuthState(tables, cipher, { log, canWrite: () => lease.held() });
  const queue = createNotificationQueue(tables);
  const session = createWhatsAppSession({
    auth,
    lease,
    reloadAuth: () => auth.reload(),
    existsCache: createExistsCache({ clock, existsTtlMs: config.existsCacheTtlMs, missingTtlMs: config.missingCacheTtlMs }),
    fetchVersion: () => fetchWaWebVersion(config.whatsappVersionUrl),
    sentMessages: createSentMessageStore({ lookup: createQueuedMessageLookup({ queue, log }) }),
    log,
    baileysLog,
    wsUrl: config.whatsappWsUrl,
    printQr: options.printQr,
  });
  const attachments = createAttachmentStore(tables);
  const sendBudget = createSendBudget({ limits: config.sendBudget, clock, log });
  const metrics = createSidecarMetrics({ clock });
  const QUEUE_LEASE_MS = 120_000;
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
    beforeSend: async () => {
      // While key writes do not get through, every send would move the ratchet on where no next
      // holder can see it: wait for the keys (or, the lease gone, send nothing; the next holder will).
      if (auth.writesLagging()) await auth.flushed();
      await sendBudget.acquire();
    },
    keysDurable: () => auth.flushed(),
    lease, // the session lease is the one that matters: its holder owns every unfinished row
    // A finished partition leaves the open index 2 min after its minute (writers' clock skew), sooner with a short history.
    retireAfterMs: Math.min(120_000, config.historyMs),
    historySweep: createHistorySweeper({ queue, tables, clock, log, historyMs: config.historyMs }),
    historySweepMs: Math.min(600_000, Math.max(1_000, config.historyMs / 4)),
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
    owner: config.sidecarId,
    leaseMs: QUEUE_LEASE_MS,
    attachments,
    caps: { image: config.maxImageBytes, document: config.maxDocumentBytes },
    role: {
      current: () => {
        const holder = lease.holder();
        return {
          v: PROTOCOL_VERSION,
          type: 'role',
          role: lease.held() ? 'holder' : 'standby',
          sidecar: config.sidecarId,
          ...(holder ? { holder } : {}),
        };
      },
      onChange: (listener) => lease.onChange(() => listener()),
    },
  });
  metrics.watch({ session, worker, sockets: notifySockets });
  const health = createHealth({ session, tables });
  const apiKeys = config.apiKeyPepper ? createApiKeyStore(tables, config.apiKeyPepper) : undefined;
  const adminAuth = createAdminAuth({ password: config.adminPassword, clock, log });
  const adminApi: AdminApiDeps = {
    session,
    users: createLinkedUserStore(tables),
    apiKeys,
    queue,
    worker,
    log,
    authorize: adminAuth.authorize,
    queueTtlMs: config.queueTtlMs,
    phoneRules: { defaultCountry: config.defaultCountry },
    sendTestMessage: async () => {
      const now = clock.now();
      const id = newNotificationId(now);
      const stored = storedNotification(
        {
          id,
          apiKeyHash: 'admin',
          createdAt: new Date(now).toISOString(),
          skipped: 0,
          waitForDelivery: false,
          recipients: [{ kind: 'self' }],
          content: { message: 'wa-notify test message: the sidecar can send.' },
        },
        config.queueTtlMs,
      );
      const inserted = await queue.enqueue(stored, { owner: worker.owns() });
      const { recipients: _wire, ...header } = stored;
      worker.accepted({ ...header, recipientCount: inserted.rows.length, recipients: inserted.rows }, inserted.openEtag);
      return id;
    },
  };
  const adminEvents = createAdminEvents({ session, log });

  // The route table: health on every listener; the admin page, its API and metrics only where the
  // admin listens (see below).
  const routerFor = (withAdmin: boolean) => {
    const router = createHttpRouter({ log });
    health.routes(router); // /healthz, /readyz
    if (withAdmin) {
      metrics.routes(router, (req) => adminAuth.authorize(req, false)); // /metrics, admin only
      adminPageRoutes(router, { auth: adminAuth, events: adminEvents, session, log });
      adminApiRoutes(router, adminApi);
    }
    return router;
  };

  // Timeouts are enforced by a sweep every connectionsCheckingInterval (Node's default 30 s would
  // let a slow handshake live 40 s); they also cover the /ws upgrade, whose headers are a request.
  const createServer = (withAdmin: boolean) => {
    const router = routerFor(withAdmin);
    const server = http.createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => router.handle(req, res));
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
    if (!notifySockets.handleUpgrade(req, socket, head)) abortHandshake(socket, 404);
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
      // The next holder must find the ratchets where this one left them.
      await auth.flushed().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'Signal keys not all stored at stop'));
      await lease.stop();
      await closeServer(server);
      if (adminServer) await closeServer(adminServer);
    },
  };
}
