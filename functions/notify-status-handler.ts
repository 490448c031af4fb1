/**
 * GET /api/v1/whatsapp/notify/{id} (contract extension): per-recipient state of one notification,
 * for the API key that sent it only (any other key gets the same 404 as an unknown id).
 */
import type { Logger } from '../shared/logger.js';
import type { NotificationQueue } from '../shared/notification-queue.js';
import { jidToPhone } from '../shared/phone-number.js';
import type { RequestAuthenticator } from './request-auth.js';
import { errorResponse, jsonResponse, notFound } from './http-errors.js';
import type { HttpHandlerFn } from './notify-handler.js';

export function createNotifyStatusHandler(deps: { authenticate: RequestAuthenticator; queue: NotificationQueue; log: Logger }): HttpHandlerFn {
  return async (request) => {
    try {
      // The key comes from X-API-KEY only: a key in the URL would end up in access logs.
      const apiKey = await deps.authenticate(request);
      const id = request.params.id ?? '';
      const notification = await deps.queue.get(id);
      if (!notification || notification.apiKeyHash !== apiKey.hash) throw notFound('Notification not found');
      return jsonResponse(200, {
        status: 'success',
        data: {
          id: notification.id,
          created_at: notification.createdAt,
          recipients: notification.recipients.map((r) => ({
            to: jidToPhone(r.to), // digits, as requests give them (POST answers keep the contract's JIDs)
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
