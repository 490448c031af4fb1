/**
 * Builds the function app's real dependencies from configuration, once per instance. Kept out of
 * the entry module so a cold start imports only what the first request needs.
 */
import { loadConfig, requireSetting, type Config } from '../shared/config.js';
import { createApiKeyStore } from '../shared/api-keys.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { createLinkedUserStore } from '../shared/linked-users.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { createNotificationQueue } from '../shared/notification-queue.js';
import { parseRateLimit } from '../shared/rate-limit-spec.js';
import { createRateLimiter } from '../shared/rate-limiter.js';
import { createTableStore } from '../shared/table-store.js';
import { createApiKeyAuthenticator } from './api-key-auth.js';
import { createRequestAuthenticator } from './request-auth.js';
import { createAttachmentAllowlist, type AttachmentAllowlist } from './attachment-allowlist.js';
import { createAttachmentPreparer } from './attachment-preparer.js';
import { createAttachmentStore } from '../shared/attachment-store.js';
import { createIdempotencyStore } from './idempotency.js';
import { createNotifyHandler } from './notify-handler.js';
import { createNotifyStatusHandler } from './notify-status-handler.js';
import type { FunctionHandlers } from './routes.js';
import { createSidecarClient, type SidecarClient } from './notify-socket-client.js';

/** Failed authentications per client address before 429 (a brute-force brake, per instance). */
const FAILED_AUTH_LIMIT = parseRateLimit('20 per minute')!;

export interface FunctionServices {
  handlers: FunctionHandlers;
  sidecar: SidecarClient;
  log: Logger;
  close(): Promise<void>;
}

export function createFunctionServices(options: { config?: Config; clock?: Clock; log?: Logger } = {}): FunctionServices {
  const config = options.config ?? loadConfig();
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger({ level: config.logLevel, name: 'functions' });
  const tables = createTableStore(config.tablesConnection);
  const pepper = requireSetting(config, 'apiKeyPepper', 'WHATSAPP_API_KEY_PEPPER');
  const auth = createApiKeyAuthenticator({ store: createApiKeyStore(tables, pepper), pepper, clock, log });
  const queue = createNotificationQueue(tables);
  const sidecar = createSidecarClient({
    url: config.sidecarUrl,
    token: requireSetting(config, 'sidecarToken', 'WHATSAPP_SIDECAR_TOKEN'),
    log,
  });
  const failedAuthLimiter = createRateLimiter(FAILED_AUTH_LIMIT, clock);
  // Roots are resolved (and the default one created) once, at start; a bad root fails the
  // attachment requests with a logged configuration error rather than the whole app.
  const allowlist: Promise<AttachmentAllowlist> = createAttachmentAllowlist({ roots: config.attachmentRoots, log });
  allowlist.catch((error: unknown) => log.error({ err: error }, 'WHATSAPP_ATTACHMENT_ROOTS is unusable'));
  const attachments = createAttachmentPreparer({
    allowlist: () => allowlist,
    store: createAttachmentStore(tables),
    caps: { image: config.maxImageBytes, document: config.maxDocumentBytes },
  });
  const authenticate = createRequestAuthenticator({ auth, failedAuthLimiter });
  const notify = createNotifyHandler({
    authenticate,
    users: createLinkedUserStore(tables),
    queue,
    sidecar,
    attachments,
    keyLimiter: createRateLimiter(config.rateLimit, clock),
    clock,
    log,
    settings: {
      waitTimeoutMs: config.waitTimeoutMs,
      queueTtlMs: config.queueTtlMs,
      offlinePolicy: config.offlinePolicy,
      defaultCountry: config.defaultCountry,
    },
    // A claim unanswered for longer than any request can take belongs to an instance that died.
    idempotency: createIdempotencyStore({ tables, clock, log, staleAfterMs: config.waitTimeoutMs + 60_000 }),
  });
  const notifyStatus = createNotifyStatusHandler({ authenticate, queue, log, historyMs: config.historyMs });
  return { handlers: { notify, notifyStatus }, sidecar, log, close: () => sidecar.close() };
}
