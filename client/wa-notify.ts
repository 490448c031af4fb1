/**
 * The typed client for the wa-notify REST API, on Node's built-in fetch. Answers are checked
 * against the same zod schemas the OpenAPI document is generated from; any non-2xx answer (and no
 * answer at all) is a WaNotifyError. Retries follow retry-policy.ts: a notify call is retried only
 * when it carries an idempotency key.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  deferredBodySchema,
  deliveryReportBodySchema,
  errorBodySchema,
  notificationStatusBodySchema,
  queuedBodySchema,
  type DeferredBody,
  type DeliveryReportBody,
  type NotificationStatusBody,
  type QueuedBody,
} from '../shared/notify-response-schema.js';
import { WaNotifyError } from './errors.js';
import { DEFAULT_RETRY, parseRetryAfter, retryDelayMs, type AttemptOutcome, type RetryOptions } from './retry-policy.js';

export const DEFAULT_URL = 'http://127.0.0.1:7071';
const NOTIFY_PATH = '/api/v1/whatsapp/notify';

type PhoneNumber = string | number;

/** Exactly one recipient form, as the contract requires. */
export type Recipient =
  | { self: true; username?: never; phone?: never; phones?: never }
  | { username: string; self?: never; phone?: never; phones?: never }
  | { phone: PhoneNumber; self?: never; username?: never; phones?: never }
  | { phones: readonly PhoneNumber[]; self?: never; username?: never; phone?: never };

export interface SendContent {
  /** Up to 4096 characters; optional when an attachment is given. */
  message?: string;
  /** Absolute path on the server, inside its attachment allowlist. */
  image_path?: string;
  /** Absolute path on the server, inside its attachment allowlist. */
  document_path?: string;
  caption?: string;
  filename?: string;
  /** Wait for WhatsApp's acknowledgement and answer with the delivery report. */
  wait_for_delivery?: boolean;
  /** Makes the call safe to repeat (and lets the client retry it); at most 128 characters. */
  idempotency_key?: string;
}

export type SendRequest = Recipient & SendContent;

export type QueuedResult = QueuedBody & { kind: 'queued' };
export type DeferredResult = DeferredBody & { kind: 'deferred' };
/** 200 only: `status` is `error` when some (not all) recipients failed — check `data.failed`. */
export type DeliveryResult = DeliveryReportBody & { kind: 'delivery' };
export type SendResult = QueuedResult | DeferredResult | DeliveryResult;
export type NotificationStatus = NotificationStatusBody['data'];

export interface WaNotifyOptions {
  /** Base URL of the function app (default WA_NOTIFY_URL, else http://127.0.0.1:7071). */
  url?: string;
  /** API key (default WA_NOTIFY_APIKEY). */
  apiKey?: string;
  /** Per attempt (default 60 s: longer than the server's 30 s wait_for_delivery timeout). */
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
}

interface Answer {
  status: number;
  body: unknown;
  retryAfterSeconds?: number;
}

export class WaNotify {
  readonly url: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #retry: RetryOptions;

  constructor(options: WaNotifyOptions = {}) {
    const url = options.url ?? process.env.WA_NOTIFY_URL ?? DEFAULT_URL;
    const apiKey = options.apiKey ?? process.env.WA_NOTIFY_APIKEY;
    if (!apiKey) throw new TypeError('WaNotify needs an API key: pass { apiKey } or set WA_NOTIFY_APIKEY');
    this.url = url.replace(/\/+$/, '');
    this.#apiKey = apiKey;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** POST /api/v1/whatsapp/notify. Throws WaNotifyError for every non-2xx answer. */
  async send(request: SendRequest): Promise<SendResult> {
    const body = notifyBody(request);
    const key = request.idempotency_key;
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-API-KEY': this.#apiKey };
    if (key !== undefined) headers['Idempotency-Key'] = key;
    const answer = await this.#request(
      `${this.url}${NOTIFY_PATH}`,
      { method: 'POST', headers, body: JSON.stringify(body) },
      key !== undefined,
    );

    if (answer.status === 502 || answer.status === 504) {
      const report = deliveryReportBodySchema.safeParse(answer.body);
      if (report.success) throw new WaNotifyError(report.data.message, { status: answer.status, report: report.data });
    }
    if (answer.status < 200 || answer.status > 299) throw httpError(answer);
    const has = (field: string) => typeof answer.body === 'object' && answer.body !== null && field in answer.body;
    // Deferred is a 200 with `deferred: true` (contract v1.1); with wait_for_delivery it carries `data` too.
    if (has('deferred')) return { ...expectShape(deferredBodySchema, answer), kind: 'deferred' };
    return has('data')
      ? { ...expectShape(deliveryReportBodySchema, answer), kind: 'delivery' }
      : { ...expectShape(queuedBodySchema, answer), kind: 'queued' };
  }

  /** GET /api/v1/whatsapp/notify/{id}: per-recipient state. A read, so it is retried without a key. */
  async status(id: string): Promise<NotificationStatus> {
    const answer = await this.#request(
      `${this.url}${NOTIFY_PATH}/${encodeURIComponent(id)}`,
      { method: 'GET', headers: { 'X-API-KEY': this.#apiKey } },
      true,
    );
    if (answer.status !== 200) throw httpError(answer);
    return expectShape(notificationStatusBodySchema, answer).data;
  }

  async #request(url: string, init: RequestInit, retryable: boolean): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      let outcome: AttemptOutcome;
      let answer: Answer | undefined;
      let failure: WaNotifyError | undefined;
      try {
        answer = await this.#once(url, init);
        outcome = {
          kind: 'http',
          status: answer.status,
          ...(answer.retryAfterSeconds !== undefined ? { retryAfterSeconds: answer.retryAfterSeconds } : {}),
        };
      } catch (error) {
        failure = networkError(error, this.url, this.#timeoutMs);
        outcome = { kind: 'network' };
      }
      const delay = retryable ? retryDelayMs(outcome, attempt, this.#retry) : undefined;
      if (delay === undefined) {
        if (failure) throw failure;
        return answer!;
      }
      await sleep(delay);
    }
  }

  async #once(url: string, init: RequestInit): Promise<Answer> {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined; // a proxy's HTML error page, say: reported by status alone
    }
    const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'));
    return { status: res.status, body, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
  }
}

/** Only the contract's fields, so a stray property on the caller's object never reaches the server. */
function notifyBody(request: SendRequest): Record<string, unknown> {
  const fields = [
    'self',
    'username',
    'phone',
    'phones',
    'message',
    'image_path',
    'document_path',
    'caption',
    'filename',
    'wait_for_delivery',
    'idempotency_key',
  ] as const;
  const body: Record<string, unknown> = {};
  for (const name of fields) {
    const value = (request as Partial<Record<(typeof fields)[number], unknown>>)[name];
    if (value !== undefined) body[name] = value;
  }
  return body;
}

function expectShape<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }, answer: Answer): T {
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) throw new WaNotifyError(`Unexpected answer body for HTTP ${answer.status}`, { status: answer.status });
  return parsed.data;
}

function httpError(answer: Answer): WaNotifyError {
  const parsed = errorBodySchema.safeParse(answer.body);
  const message = parsed.success ? parsed.data.message : `HTTP ${answer.status}`;
  return new WaNotifyError(message, {
    status: answer.status,
    ...(parsed.success && parsed.data.field !== undefined ? { field: parsed.data.field } : {}),
    ...(answer.retryAfterSeconds !== undefined ? { retryAfterSeconds: answer.retryAfterSeconds } : {}),
  });
}

function networkError(error: unknown, url: string, timeoutMs: number): WaNotifyError {
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new WaNotifyError(`No answer from ${url} within ${timeoutMs} ms`, { status: 0, cause: error });
  }
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
  const reason = code ?? (cause instanceof Error ? cause.message : undefined);
  return new WaNotifyError(`Could not reach ${url}${reason ? ` (${reason})` : ''}`, { status: 0, cause: error });
}
