/**
 * Wires the sidecar's parts (session, queue worker, function socket, admin API) from configuration
 * and serves them on one HTTP server. Used by sidecar/main.ts and, in-process, by tests.
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
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
import { isBearerAuthorized, refuseAdmin } from './admin-bearer-auth.js';
import { createDeliveryWorker } from './delivery-worker.js';
import { sendJson } from './json-http.js';
import { createNotifySocketServer } from './notify-socket-server.js';
import { createPartContentBuilder } from './part-content.js';
import { createSentMessageStore } from './sent-message-store.js';
import { createSessionCipher } from './session-cipher.js';
import { loadTableAuthState } from './table-auth-state.js';
import { createWhatsAppSession, type WhatsAppSession } from './whatsapp-session.js';

export interface SidecarApp {
  url: string;
  port: number;
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

  const auth = await loadTableAuthState(tables, cipher);
  const session = createWhatsAppSession({
    auth,
    sentMessages: createSentMessageStore(),
    log,
    baileysLog,
    wsUrl: config.whatsappWsUrl,
    printQr: options.printQr,
  });
  const queue = createNotificationQueue(tables);
  const attachments = createAttachmentStore(tables);
  const worker = createDeliveryWorker({
    queue,
    session,
    content: createPartContentBuilder({ open: async (id, slot) => attachments.open(id, slot) }),
    attachments,
    clock,
    log,
    owner: `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    sendIntervalMs: config.sendIntervalMs,
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
  const apiKeys = config.apiKeyPepper ? createApiKeyStore(tables, config.apiKeyPepper) : undefined;
  const adminApi = createAdminApi({
    session,
    users: createLinkedUserStore(tables),
    apiKeys,
    queue,
    worker,
    log,
    authorize: (req, res) => {
      if (isBearerAuthorized(req, config.adminPassword)) return true;
      refuseAdmin(res, config.adminPassword);
      return false;
    },
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

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sidecar');
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    adminApi(req, res)
      .then((handled) => {
        if (!handled) sendJson(res, 404, { status: 'error', message: 'Not found' });
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'sidecar request failed');
        sendJson(res, 500, { status: 'error', message: 'Internal error' });
      });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('upgrade', (req, socket, head) => {
    if (!notifySockets.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.sidecarPort, config.sidecarHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  await session.start();
  worker.start();
  log.info({ port, state: session.status().state }, 'sidecar listening');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    session,
    log,
    async stop() {
      await notifySockets.close();
      await worker.stop();
      await session.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
