/**
 * GET /api/v1/whatsapp/notify/{id} (contract extension): per-recipient state of one notification,
 * for the API key that sent it only (any other key gets the same 404 as an unknown id).
 */
import type { Logger } from '../shared/logger.js';
import type { NotificationQueue } from '../shared/notification-queue.js';
import { jidToPhone } from '../shared/whatsapp-jid.js';
import type { RequestAuthenticator } from './request-auth.js';
import { errorResponse, jsonResponse, notFound } from './http-errors.js';
import type { HttpHandlerFn } from './notify-handler.js';

/** `2592000000` → `30d`: the window as an operator would have written it. */
const describeWindow = (ms: number): string => {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
};

export function createNotifyStatusHandler(deps: {
  authenticate: RequestAuthenticator;
  queue: NotificationQueue;
  log: Logger;
  historyMs: number;
}): HttpHandlerFn {
  // Removed history and ids that never existed look the same in storage, so the answer names both.
  const gone = `Notification not found: it never existed, or it is past the history window (finished notifications are kept for ${describeWindow(deps.historyMs)})`;
  return async (request) => {
    try {
      // The key comes from X-API-KEY only: a key in the URL would end up in access logs.
      const apiKey = await deps.authenticate(request);
      const id = request.params.id ?? '';
      const notification = await deps.queue.get(id);
      if (!notification || notification.apiKeyHash !== apiKey.hash) throw notFound(gone);
      return jsonResponse(200, {
        status: 'success',
        data: {
          id: notification.id,
          created_at: new Date(notification.createdAt).toISOString(),
          recipients: notification.recipients.map((r) => ({
            to: jidToPhone(r.to), // digits, as requests give them (POST answers keep the contract's JIDs)
            state: r.state,
            ...(r.error ? { error: r.error } : {}),
            updated_at: new Date(r.updatedAt).toISOString(),
          })),
        },
      });
    } catch (error) {
      return errorResponse(error, deps.log);
    }
  };
}
