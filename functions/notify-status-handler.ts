/**
 * GET /api/v1/whatsapp/notify/{id} (contract extension): per-recipient state of one notification,
 * for the API key that sent it only (any other key gets the same 404 as an unknown id).
 */
import type { HttpRequest } from '@azure/functions';
import type { Logger } from '../shared/logger.js';
import type { NotificationQueue } from '../shared/notification-queue.js';
import type { ApiKeyAuthenticator } from './api-key-auth.js';
import { errorResponse, jsonResponse, notFound, tooManyRequests, unauthorized } from './http-errors.js';
import type { HttpHandlerFn } from './notify-handler.js';
import type { RateLimiter } from '../shared/rate-limiter.js';
import { clientAddress } from './client-address.js';

export function createNotifyStatusHandler(deps: {
  auth: ApiKeyAuthenticator;
  queue: NotificationQueue;
  failedAuthLimiter: RateLimiter;
  log: Logger;
}): HttpHandlerFn {
  const authenticate = async (request: HttpRequest) => {
    const address = clientAddress(request);
    const blocked = deps.failedAuthLimiter.peek(address);
    if (!blocked.allowed) throw tooManyRequests(blocked.retryAfterSeconds);
    const key = request.headers.get('x-api-key') ?? request.query.get('apikey') ?? '';
    const record = key === '' ? undefined : await deps.auth.authenticate(key);
    if (!record) {
      deps.failedAuthLimiter.hit(address);
      throw unauthorized();
    }
    return record;
  };

  return async (request) => {
    try {
      const apiKey = await authenticate(request);
      const id = request.params.id ?? '';
      const notification = await deps.queue.get(id);
      if (!notification || notification.apiKeyHash !== apiKey.hash) throw notFound('Notification not found');
      return jsonResponse(200, {
        status: 'success',
        data: {
          id: notification.id,
          created_at: notification.createdAt,
          recipients: notification.recipients.map((r) => ({
            to: r.to,
            state: r.state,
            ...(r.error ? { error: r.error } : {}),
            updated_at: r.updatedAt,
          })),
        },
      });
    } catch (error) {
      return errorResponse(error, deps.log);
    }
  };
}
