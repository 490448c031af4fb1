/**
 * POST /api/v1/whatsapp/notify. Order matters and follows the contract: size cap, then
 * authentication (before any other validation), then rate limits, then the body's rules, then
 * recipients, then the hand-off to the sidecar (or the durable queue when the sidecar is away).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ApiKeyRecord } from '../shared/api-keys.js';
import type { Clock } from '../shared/clock.js';
import type { LinkedUserStore } from '../shared/linked-users.js';
import type { Logger } from '../shared/logger.js';
import { NotificationExists, newNotificationId, type NotificationQueue } from '../shared/notification-queue.js';
import { storedNotification } from '../shared/notification-model.js';
import { parseNotifyBody, type NotifyRequest } from '../shared/notify-request-schema.js';
import type { CountryCode } from '../shared/country-code.js';
import { maskPhone, phoneToJid } from '../shared/whatsapp-jid.js';
import type { RateLimiter } from '../shared/rate-limiter.js';
import type { WireNotification, WireRecipient } from '../shared/sidecar-protocol.js';
import type { RequestAuthenticator } from './request-auth.js';
import type { AttachmentPreparer, PreparedContent } from './attachment-preparer.js';
import { FRAME_DATA_BYTES } from '../shared/attachment-frames.js';
import { fileChunks } from './file-chunks.js';
import { HttpError, badRequest, conflict, errorResponse, notFound, tooLarge, keyRateLimited, unavailable } from './http-errors.js';
import { deferredResponse, deliveryResponse, queuedResponse } from './notify-response.js';
import { readJsonBody, whyNoKeyInBody, type BodyResult } from './request-body.js';
import type { SidecarClient } from './notify-socket-client.js';
import type { IdempotencyClaim, IdempotencyStore } from './idempotency.js';

export interface NotifyHandlerDeps {
  authenticate: RequestAuthenticator;
  users: LinkedUserStore;
  queue: NotificationQueue;
  sidecar: SidecarClient;
  attachments: AttachmentPreparer;
  keyLimiter: RateLimiter;
  clock: Clock;
  log: Logger;
  settings: { waitTimeoutMs: number; queueTtlMs: number; offlinePolicy: 'queue' | 'reject'; defaultCountry?: CountryCode };
  /** Idempotency-Key support; without it the header and field are accepted and ignored. */
  idempotency?: IdempotencyStore;
}

export type HttpHandlerFn = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

export function createNotifyHandler(deps: NotifyHandlerDeps): HttpHandlerFn {
  const { log, clock, settings } = deps;

  const authenticate = (request: HttpRequest, body: BodyResult): Promise<ApiKeyRecord> => {
    const value = body.kind === 'json' ? body.value : undefined;
    const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
    const fromBody = isObject ? (value as Record<string, unknown>).apikey : undefined;
    return deps.authenticate(
      request,
      typeof fromBody === 'string' ? fromBody : undefined,
      isObject ? undefined : whyNoKeyInBody(request, body),
    );
  };

  /** The `Idempotency-Key` header or the `idempotency_key` field (both: they must agree). */
  const idempotencyKeyOf = (request: HttpRequest, body: NotifyRequest): string | undefined => {
    const header = request.headers.get('idempotency-key') ?? undefined;
    if (header !== undefined && (header.length < 1 || header.length > 128))
      throw badRequest('Idempotency-Key', 'must be 1 to 128 characters');
    if (header !== undefined && body.idempotencyKey !== undefined && header !== body.idempotencyKey) {
      throw badRequest('idempotency_key', 'differs from the Idempotency-Key header');
    }
    return header ?? body.idempotencyKey;
  };

  const resolveRecipients = async (request: NotifyRequest): Promise<WireRecipient[]> => {
    const r = request.recipient;
    if (r.kind === 'self') return [{ kind: 'self' }];
    if (r.kind === 'phones') return r.phones.map((phone) => ({ kind: 'phone', phone }));
    const user = await deps.users.find(r.username);
    if (!user) throw notFound('Username not found or not linked to WhatsApp');
    return [{ kind: 'phone', phone: user.phone }];
  };

  const queueDirectly = async (notification: WireNotification): Promise<void> => {
    try {
      await deps.queue.enqueue(storedNotification(notification, settings.queueTtlMs));
    } catch (error) {
      if (error instanceof NotificationExists) return; // the sidecar wrote it before the link dropped
      log.error({ err: error }, 'could not write the notification to the queue');
      throw unavailable('Storage is unavailable; nothing was queued, retry later');
    }
  };

  return async (request) => {
    try {
      const body = await readJsonBody(request);
      if (body.kind === 'tooLarge') throw tooLarge('Request body is larger than 256 KiB', 'body');
      const apiKey = await authenticate(request, body);
      const limit = deps.keyLimiter.hit(apiKey.hash);
      if (!limit.allowed) throw keyRateLimited(limit);
      if (body.kind === 'invalid') throw badRequest('body', body.message);

      const parsed = parseNotifyBody(body.value, { defaultCountry: settings.defaultCountry });
      if (!parsed.ok) throw badRequest(parsed.field, parsed.message);
      const notifyRequest = parsed.request;
      const id = newNotificationId(clock.now());
      const idempotencyKey = idempotencyKeyOf(request, notifyRequest);
      let claim: Extract<IdempotencyClaim, { kind: 'first' }> | undefined;
      if (idempotencyKey && deps.idempotency) {
        const begun = await deps.idempotency.begin(apiKey.hash, idempotencyKey, id, async (earlierId) => {
          const n = await deps.queue.get(earlierId);
          return n && n.apiKeyHash === apiKey.hash ? queuedResponse(n.id, n.recipients.length, n.skipped) : undefined;
        });
        if (begun.kind === 'replay') return begun.response;
        claim = begun;
      }
      try {
        const recipients = await resolveRecipients(notifyRequest);
        const prepared = await deps.attachments.prepare(notifyRequest);
        let response: HttpResponseInit;
        try {
          response = await forward(id, notifyRequest, apiKey, recipients, prepared);
        } finally {
          await prepared.close();
        }
        await claim?.finish(response);
        return response;
      } catch (error) {
        await claim?.release();
        throw error;
      }
    } catch (error) {
      return errorResponse(error, log);
    }
  };

  async function forward(
    id: string,
    notifyRequest: NotifyRequest,
    apiKey: ApiKeyRecord,
    recipients: WireRecipient[],
    prepared: PreparedContent,
  ): Promise<HttpResponseInit> {
    const now = clock.now();
    const notification: WireNotification = {
      id,
      apiKeyHash: apiKey.hash,
      createdAt: new Date(now).toISOString(),
      skipped: notifyRequest.skipped,
      waitForDelivery: notifyRequest.waitForDelivery,
      recipients,
      content: prepared.content,
    };
    const queued = recipients.length;
    const skipped = notifyRequest.skipped;
    const rejectIfOffline = settings.offlinePolicy === 'reject';

    const result = await deps.sidecar.submit(notification, {
      rejectIfOffline,
      watchDelivery: notifyRequest.waitForDelivery,
      attachments: prepared.attachments.map((a) => ({ slot: a.slot, chunks: () => fileChunks(a.handle, a.size, FRAME_DATA_BYTES) })),
    });
    if (result.kind === 'unreachable') {
      log.warn({ reason: result.reason, id: notification.id }, 'sidecar unreachable');
      if (rejectIfOffline) throw conflict('WhatsApp is offline; nothing was queued');
      await deps.attachments.persist(notification.id, prepared.attachments).catch((error: unknown) => {
        log.error({ err: error }, 'could not store the attachments');
        throw unavailable('Storage is unavailable; nothing was queued, retry later');
      });
      await queueDirectly(notification);
      // No sidecar to name the paired JID: `self` stays `self`, as in the stored notification.
      const pending = recipients.map((r) => (r.kind === 'self' ? 'self' : phoneToJid(r.phone)));
      return deferredResponse(notification.id, queued, skipped, notifyRequest.waitForDelivery ? pending : undefined);
    }
    if (result.kind === 'rejected') {
      const r = result.rejected;
      if (r.status === 503 && !r.retryAfterSeconds) throw unavailable(r.message);
      throw new HttpError(r.status, r.message, undefined, r.retryAfterSeconds ? { 'Retry-After': String(r.retryAfterSeconds) } : {});
    }
    const accepted = result.accepted;
    // Per request, so debug: at info it was a tenth of the host's CPU under load (pino, redaction,
    // masking and a synchronous write for every notification); the sidecar logs each send.
    if (log.isLevelEnabled('debug'))
      log.debug(
        { id: accepted.id, queued, deferred: accepted.deferred, to: accepted.recipients.map((to) => maskPhone(to)) },
        'notification accepted',
      );
    if (accepted.deferred) {
      result.delivery.cancel();
      return deferredResponse(accepted.id, queued, skipped, notifyRequest.waitForDelivery ? accepted.recipients : undefined);
    }
    if (!notifyRequest.waitForDelivery) return queuedResponse(accepted.id, queued, skipped);
    const { reports, done } = await result.delivery.wait(settings.waitTimeoutMs);
    result.delivery.cancel();
    return deliveryResponse(accepted.id, accepted.recipients, reports, done, skipped);
  }
}
