/**
 * The admin JSON API under /whatsapp/api/ (contract, Admin section): session control, linked users,
 * API keys and the queue. Who may call it is decided by `authorize` (Bearer password for scripts;
 * the admin page adds its cookie session), so this module holds no auth logic of its own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ApiKeyNameTaken, type ApiKeyStore } from '../shared/api-keys.js';
import type { LinkedUserStore } from '../shared/linked-users.js';
import type { Logger } from '../shared/logger.js';
import type { NotificationQueue, RecipientPatch, RecipientRow } from '../shared/notification-queue.js';
import { normalisePhone } from '../shared/phone-number.js';
import { RequestBodyError, readJson, sendJson } from './json-http.js';
import type { WhatsAppSession } from './whatsapp-session.js';
import type { DeliveryWorker } from './delivery-worker.js';

export const ADMIN_API_PREFIX = '/whatsapp/api/';

export type AdminAuthorizer = (req: IncomingMessage, res: ServerResponse, mutating: boolean) => boolean;

export interface AdminApiDeps {
  session: WhatsAppSession;
  users: LinkedUserStore;
  apiKeys: ApiKeyStore | undefined;
  queue: NotificationQueue;
  worker: DeliveryWorker;
  authorize: AdminAuthorizer;
  log: Logger;
  /** Sends a test message to the paired number; returns the notification id. */
  sendTestMessage: () => Promise<string>;
  /** How long a retried notification may stay queued again (WHATSAPP_QUEUE_TTL); default 24 h. */
  queueTtlMs?: number;
}

const pairBody = z.object({ phone: z.union([z.string(), z.number()]).optional() });
const linkBody = z.object({ username: z.string().min(1).max(64), phone: z.union([z.string(), z.number()]) });
const keyBody = z.object({ name: z.string().trim().min(1).max(64) });

type Handler = (req: IncomingMessage, res: ServerResponse, param: string | undefined) => Promise<void>;

export function createAdminApi(deps: AdminApiDeps) {
  const { session } = deps;

  const fieldError = (res: ServerResponse, field: string, message: string) => sendJson(res, 400, { status: 'error', field, message });
  const recipientView = (r: RecipientRow) => ({ id: r.notificationId, index: r.index, to: r.to, state: r.state, attempts: r.attempts, error: r.error, updated_at: new Date(r.updatedAt).toISOString() });

  /** Applies `patch` to each recipient of notification `id` that `pick` selects; ETag races re-read the row (bounded). */
  const patchRecipients = async (id: string, pick: (r: RecipientRow) => boolean, patch: () => RecipientPatch) => {
    const n = await deps.queue.get(id);
    if (!n) return undefined;
    let changed = 0;
    for (const first of n.recipients) {
      let row: RecipientRow | undefined = first;
      for (let attempt = 0; row && pick(row) && attempt < 3; attempt++) {
        if (await deps.queue.update(row, patch())) {
          changed++;
          break;
        }
        row = await deps.queue.recipient(id, first.index);
      }
    }
    // The worker owns the rows in memory: it adopts what storage now holds.
    if (changed > 0) await deps.worker.refresh(id);
    return changed;
  };

  const routes: Record<string, Handler> = {
    'GET status': async (_req, res) => sendJson(res, 200, session.status()),
    'POST pair': async (req, res) => {
      const body = pairBody.safeParse(await readJson(req));
      if (!body.success) return fieldError(res, 'phone', 'phone must be a string or an integer');
      let phone: string | undefined;
      if (body.data.phone !== undefined) {
        const parsed = normalisePhone(body.data.phone);
        if (!parsed.ok) return fieldError(res, 'phone', `phone ${parsed.reason}`);
        phone = parsed.digits;
      }
      sendJson(res, 200, await session.pair(phone));
    },
    'POST connect': async (_req, res) => sendJson(res, 200, await session.connect()),
    'POST disconnect': async (_req, res) => sendJson(res, 200, await session.disconnect()),
    'POST unlink': async (_req, res) => sendJson(res, 200, await session.unlink()),
    'POST test-message': async (_req, res) => {
      if (!session.isOpen()) return sendJson(res, 409, { status: 'error', message: 'WhatsApp is not connected' });
      sendJson(res, 200, { status: 'success', id: await deps.sendTestMessage() });
    },
    'GET users': async (_req, res) => sendJson(res, 200, { users: await deps.users.list() }),
    'POST users': async (req, res) => {
      const body = linkBody.safeParse(await readJson(req));
      if (!body.success) return fieldError(res, String(body.error.issues[0]?.path[0] ?? 'body'), 'username (1–64 characters) and phone are required');
      const phone = normalisePhone(body.data.phone);
      if (!phone.ok) return fieldError(res, 'phone', `phone ${phone.reason}`);
      sendJson(res, 200, { status: 'success', user: await deps.users.link(body.data.username, phone.digits) });
    },
    'DELETE users': async (_req, res, username) => {
      if (!username) return fieldError(res, 'username', 'username is required');
      const removed = await deps.users.unlink(username);
      sendJson(res, removed ? 200 : 404, removed ? { status: 'success' } : { status: 'error', message: 'Username not found' });
    },
    'GET keys': async (_req, res) => {
      if (!deps.apiKeys) return sendJson(res, 503, { status: 'error', message: 'WHATSAPP_API_KEY_PEPPER is not set on the sidecar' });
      const keys = (await deps.apiKeys.list()).map(({ hash: _hash, ...rest }) => rest);
      sendJson(res, 200, { keys });
    },
    'POST keys': async (req, res) => {
      if (!deps.apiKeys) return sendJson(res, 503, { status: 'error', message: 'WHATSAPP_API_KEY_PEPPER is not set on the sidecar' });
      const body = keyBody.safeParse(await readJson(req));
      if (!body.success) return fieldError(res, 'name', 'name must be 1–64 characters');
      try {
        const { key, record } = await deps.apiKeys.create(body.data.name);
        sendJson(res, 200, { status: 'success', key, name: record.name, createdAt: record.createdAt });
      } catch (error) {
        if (error instanceof ApiKeyNameTaken) return sendJson(res, 409, { status: 'error', field: 'name', message: error.message });
        throw error;
      }
    },
    'DELETE keys': async (_req, res, name) => {
      if (!deps.apiKeys) return sendJson(res, 503, { status: 'error', message: 'WHATSAPP_API_KEY_PEPPER is not set on the sidecar' });
      const count = name ? await deps.apiKeys.revoke(name) : 0;
      sendJson(res, count > 0 ? 200 : 404, count > 0 ? { status: 'success', revoked: count } : { status: 'error', message: 'No active key with that name' });
    },
    'GET queue': async (_req, res) => {
      // From the worker's memory (it owns every unfinished row while it holds the session): no table scan.
      const snap = deps.worker.snapshot();
      const rows = snap.unfinished;
      const oldest = rows.reduce((min, r) => Math.min(min, r.updatedAt), Number.POSITIVE_INFINITY);
      sendJson(res, 200, {
        depth: rows.length,
        oldest_age_seconds: Number.isFinite(oldest) ? Math.round((Date.now() - oldest) / 1000) : 0,
        recipients: rows.slice(0, 100).map(recipientView),
        recent: snap.recent.slice(0, 50).map(recipientView),
      });
    },
    'POST queue/*/retry': async (_req, res, id) => {
      // Failed or expired recipients go back to the queue, due now; an expired notification gets a new expiry.
      const retryable = (r: RecipientRow) => r.state === 'failed' || r.state === 'expired';
      const n = id ? await deps.queue.get(id) : undefined;
      if (!id || !n) return sendJson(res, 404, { status: 'error', message: 'Notification not found' });
      if (n.recipients.some((r) => r.state === 'expired') || n.expiresAt <= Date.now()) {
        await deps.queue.extendExpiry(id, Date.now() + (deps.queueTtlMs ?? 24 * 3_600_000));
      }
      const retried = await patchRecipients(id, retryable, () => ({ state: 'queued', nextAttemptAt: Date.now(), error: undefined, leaseOwner: undefined, leaseUntil: undefined }));
      sendJson(res, 200, { status: 'success', id, retried: retried ?? 0 });
    },
    'POST queue/*/cancel': async (_req, res, id) => {
      const unfinished = (r: RecipientRow) => r.state === 'queued' || r.state === 'sending';
      const cancelled = id ? await patchRecipients(id, unfinished, () => ({ state: 'failed', error: 'cancelled by admin', leaseOwner: undefined, leaseUntil: undefined })) : undefined;
      if (cancelled === undefined) return sendJson(res, 404, { status: 'error', message: 'Notification not found' });
      sendJson(res, 200, { status: 'success', id, cancelled });
    },
  };

  /** Handles /whatsapp/api/* requests; false when the path is not ours. */
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://sidecar');
    if (!url.pathname.startsWith(ADMIN_API_PREFIX)) return false;
    const [name, param, ...rest] = url.pathname.slice(ADMIN_API_PREFIX.length).split('/');
    const method = (req.method ?? 'GET').toUpperCase();
    // `name/param` or `name/param/action` (routes keyed `METHOD name/*/action`).
    const handler = rest.length === 0 ? routes[`${method} ${name}`] : rest.length === 1 && param ? routes[`${method} ${name}/*/${rest[0]}`] : undefined;
    if (!handler) {
      sendJson(res, 404, { status: 'error', message: 'Not found' });
      return true;
    }
    if (!deps.authorize(req, res, method !== 'GET')) return true;
    try {
      await handler(req, res, param ? decodeURIComponent(param) : undefined);
    } catch (error) {
      if (error instanceof RequestBodyError) sendJson(res, error.status, { status: 'error', field: 'body', message: error.message });
      else {
        deps.log.error({ err: error }, 'admin API request failed');
        sendJson(res, 500, { status: 'error', message: 'Internal error' });
      }
    }
    return true;
  };
}
