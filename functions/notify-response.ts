/** The contract's success and delivery-report bodies for POST /api/v1/whatsapp/notify. */
import type { HttpResponseInit } from '@azure/functions';
import { jsonResponse } from './http-errors.js';
import type { Report } from './notify-socket-client.js';

export function queuedResponse(id: string, queued: number, skipped: number): HttpResponseInit {
  return jsonResponse(200, { status: 'success', message: `Queued for ${queued} recipient(s)`, queued, skipped, id });
}

/**
 * WhatsApp is offline: stored, sent when it reconnects. Always 200 (contract v1.1): OpenAlgo's SDK
 * reads anything but 200 as an error, and its scripts then retry a notification already queued.
 * With wait_for_delivery the answer still comes at once, every recipient listed as pending.
 */
export function deferredResponse(id: string, queued: number, skipped: number, pending?: string[]): HttpResponseInit {
  return jsonResponse(200, {
    status: 'success',
    message: `WhatsApp is offline; queued for ${queued} recipient(s) until it reconnects`,
    queued,
    skipped,
    deferred: true,
    ...(pending ? { data: { sent: [], failed: [], skipped, pending } } : {}),
    id,
  });
}

/**
 * The wait_for_delivery answer: 200 when all were sent, 200 with status error when some failed,
 * 502 when none was sent, 504 with `pending` when time ran out first.
 */
export function deliveryResponse(id: string, recipients: string[], reports: Report[], done: boolean, skipped: number): HttpResponseInit {
  const byTo = new Map(reports.map((r) => [r.to, r]));
  const sent = recipients.filter((to) => byTo.get(to)?.outcome === 'sent');
  const failed = recipients
    .filter((to) => byTo.get(to)?.outcome === 'failed')
    .map((to) => ({ to, error: byTo.get(to)?.error ?? 'failed' }));
  const pending = recipients.filter((to) => !byTo.has(to));
  const total = recipients.length;
  const message = `Sent to ${sent.length} of ${total} recipient(s)`;
  if (!done && pending.length > 0) {
    return jsonResponse(504, {
      status: 'error',
      message: `${message}; timed out waiting for ${pending.length} (sending goes on)`,
      data: { sent, failed, skipped, pending },
      id,
    });
  }
  const status = failed.length === 0 ? 'success' : 'error';
  const http = sent.length === 0 && failed.length > 0 ? 502 : 200;
  return jsonResponse(http, { status, message, data: { sent, failed, skipped }, id });
}
