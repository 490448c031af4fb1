/**
 * The admin JSON API under /whatsapp/api/ (contract, Admin section): session control, linked users,
 * API keys and the queue. Who may call it is decided by `authorize` (Bearer password for scripts;
 * the admin page adds its cookie session), so this module holds no auth logic of its own.
 */
import { z } from 'zod';
import { ApiKeyNameTaken, type ApiKeyStore } from '../shared/api-keys.js';
import type { LinkedUserStore } from '../shared/linked-users.js';
import type { Logger } from '../shared/logger.js';
import type { NotificationQueue, RecipientPatch, RecipientRow } from '../shared/notification-queue.js';
import type { PhoneRules } from '../shared/phone-number.js';
import type { AdminAuthorizer } from './admin-auth.js';
import { HttpError } from './http-error.js';
import type { HttpRouter, RouteHandler } from './http-router.js';
import { readJson, sendJson } from './json-http.js';
import type { WhatsAppSession } from './whatsapp-session.js';
import type { DeliveryWorker } from './delivery-worker.js';

export const ADMIN_API_PREFIX = '/whatsapp/api/';

// Loaded on the first pairing-by-code or user link: the phone rules (libphonenumber-js) cost the
// sidecar about 1.4 MiB of heap it would otherwise hold from its first second.
const phoneNumbers = () => import('../shared/phone-number.js');

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
  /** WHATSAPP_DEFAULT_COUNTRY, read exactly as the notify API reads it. */
  phoneRules?: PhoneRules;
}

const pairBody = z.object({ phone: z.union([z.string(), z.number()]).optional() });
const linkBody = z.object({ username: z.string().min(1).max(64), phone: z.union([z.string(), z.number()]) });
const keyBody = z.object({ name: z.string().trim().min(1).max(64) });

const fieldError = (field: string, message: string) => new HttpError(400, message, { field });
const noPepper = () => new HttpError(503, 'WHATSAPP_API_KEY_PEPPER is not set on the sidecar');

/** Registers the admin API's routes; every one is authorised first (reads as reads, the rest as changes). */
export function adminApiRoutes(router: HttpRouter, deps: AdminApiDeps): void {
  const { session } = deps;
  const route = (method: 'GET' | 'POST' | 'DELETE', path: string, handler: RouteHandler) =>
    router.on(method, `${ADMIN_API_PREFIX}${path}`, (req, res, params) => {
      deps.authorize(req, method !== 'GET');
      return handler(req, res, params);
    });
  const recipientView = (r: RecipientRow) => ({
    id: r.notificationId,
    index: r.index,
    to: r.to,
    state: r.state,
    attempts: r.attempts,
    error: r.error,
    updated_at: new Date(r.updatedAt).toISOString(),
  });

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

  route('GET', 'status', (_req, res) => sendJson(res, 200, session.status()));
  route('POST', 'pair', async (req, res) => {
    const body = pairBody.safeParse(await readJson(req));
    if (!body.success) throw fieldError('phone', 'phone must be a string or an integer');
    let phone: string | undefined;
    if (body.data.phone !== undefined) {
      const { describePhoneProblem, normalisePhone } = await phoneNumbers();
      const parsed = normalisePhone(body.data.phone, deps.phoneRules);
      if (!parsed.ok) throw fieldError('phone', describePhoneProblem('phone', parsed));
      phone = parsed.digits;
    }
    sendJson(res, 200, await session.pair(phone));
  });
  route('POST', 'connect', async (_req, res) => sendJson(res, 200, await session.connect()));
  route('POST', 'disconnect', async (_req, res) => sendJson(res, 200, await session.disconnect()));
  route('POST', 'unlink', async (_req, res) => sendJson(res, 200, await session.unlink()));
  route('POST', 'test-message', async (_req, res) => {
    if (!session.isOpen()) throw new HttpError(409, 'WhatsApp is not connected');
    sendJson(res, 200, { status: 'success', id: await deps.sendTestMessage() });
  });
  route('GET', 'users', async (_req, res) => sendJson(res, 200, { users: await deps.users.list() }));
  route('POST', 'users', async (req, res) => {
    const body = linkBody.safeParse(await readJson(req));
    if (!body.success)
      throw fieldError(String(body.error.issues[0]?.path[0] ?? 'body'), 'username (1–64 characters) and phone are required');
    const { describePhoneProblem, normalisePhone } = await phoneNumbers();
    const phone = normalisePhone(body.data.phone, deps.phoneRules);
    if (!phone.ok) throw fieldError('phone', describePhoneProblem('phone', phone));
    sendJson(res, 200, { status: 'success', user: await deps.users.link(body.data.username, phone.digits) });
  });
  route('DELETE', 'users/:username', async (_req, res, { username }) => {
    if (!username || !(await deps.users.unlink(username))) throw new HttpError(404, 'Username not found');
    sendJson(res, 200, { status: 'success' });
  });
  route('GET', 'keys', async (_req, res) => {
    if (!deps.apiKeys) throw noPepper();
    const keys = (await deps.apiKeys.list()).map(({ hash: _hash, ...rest }) => rest);
    sendJson(res, 200, { keys });
  });
  route('POST', 'keys', async (req, res) => {
    if (!deps.apiKeys) throw noPepper();
    const body = keyBody.safeParse(await readJson(req));
    if (!body.success) throw fieldError('name', 'name must be 1–64 characters');
    try {
      const { key, record } = await deps.apiKeys.create(body.data.name);
      sendJson(res, 200, { status: 'success', key, name: record.name, createdAt: record.createdAt });
    } catch (error) {
      if (error instanceof ApiKeyNameTaken) throw new HttpError(409, error.message, { field: 'name' });
      throw error;
    }
  });
  route('DELETE', 'keys/:name', async (_req, res, { name }) => {
    if (!deps.apiKeys) throw noPepper();
    const count = name ? await deps.apiKeys.revoke(name) : 0;
    if (count === 0) throw new HttpError(404, 'No active key with that name');
    sendJson(res, 200, { status: 'success', revoked: count });
  });
  route('GET', 'queue', async (_req, res) => {
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
  });
  route('POST', 'queue/:id/retry', async (_req, res, { id }) => {
    // Failed or expired recipients go back to the queue, due now; an expired notification gets a new expiry.
    const retryable = (r: RecipientRow) => r.state === 'failed' || r.state === 'expired';
    const n = id ? await deps.queue.get(id) : undefined;
    if (!id || !n) throw new HttpError(404, 'Notification not found');
    if (n.recipients.some((r) => r.state === 'expired') || n.expiresAt <= Date.now()) {
      await deps.queue.extendExpiry(id, Date.now() + (deps.queueTtlMs ?? 24 * 3_600_000));
    }
    const retried = await patchRecipients(id, retryable, () => ({
      state: 'queued',
      nextAttemptAt: Date.now(),
      error: undefined,
      leaseOwner: undefined,
      leaseUntil: undefined,
    }));
    sendJson(res, 200, { status: 'success', id, retried: retried ?? 0 });
  });
  route('POST', 'queue/:id/cancel', async (_req, res, { id }) => {
    const unfinished = (r: RecipientRow) => r.state === 'queued' || r.state === 'sending';
    const cancelled = id
      ? await patchRecipients(id, unfinished, () => ({
          state: 'failed',
          error: 'cancelled by admin',
          leaseOwner: undefined,
          leaseUntil: undefined,
        }))
      : undefined;
    if (cancelled === undefined) throw new HttpError(404, 'Notification not found');
    sendJson(res, 200, { status: 'success', id, cancelled });
  });
}
