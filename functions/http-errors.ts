/**
 * Every failure the HTTP API can answer, as a typed exception, and the one place that turns them (or
 * anything unexpected) into the contract's JSON error body. No stack trace or internal path ever
 * reaches a client: unexpected errors are logged and answered with a generic 500.
 */
import type { HttpResponseInit } from '@azure/functions';
import type { Logger } from '../shared/logger.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields of the JSON error body (e.g. a static `hint`). */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (field: string, message: string) => new HttpError(400, message, field);

/**
 * The same for every refused path (so nothing about the server's files leaks), with a static hint
 * on what an accepted path looks like.
 */
export const ATTACHMENT_HINT =
  'Give the absolute path of a regular file inside one of the folders listed in WHATSAPP_ATTACHMENT_ROOTS on the server running the function app';
export const attachmentNotAllowed = (field: 'image_path' | 'document_path') =>
  new HttpError(400, `${field} is not allowed`, field, {}, { hint: ATTACHMENT_HINT });
/** `why` says why no key was read when the body could not carry one (contract v1.1). */
export const unauthorized = (why?: string) =>
  new HttpError(401, why === undefined ? 'Invalid or missing API key' : `Invalid or missing API key (${why})`);
export const notFound = (message: string) => new HttpError(404, message);
export const conflict = (message: string) => new HttpError(409, message);
export const tooLarge = (message: string, field?: string) => new HttpError(413, message, field);
/** A 429 that names the limit hit and its rate, e.g. `Too many requests for this API key (30 per minute, WHATSAPP_RATE_LIMIT); retry in 12 s`. */
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new HttpError(429, message, undefined, { 'Retry-After': String(retryAfterSeconds) });
export const keyRateLimited = (d: { rate: string; retryAfterSeconds: number }) =>
  tooManyRequests(
    `Too many requests for this API key (${d.rate}, WHATSAPP_RATE_LIMIT); retry in ${d.retryAfterSeconds} s`,
    d.retryAfterSeconds,
  );
export const addressRateLimited = (d: { rate: string; retryAfterSeconds: number }) =>
  tooManyRequests(`Too many failed API key attempts from this address (${d.rate}); retry in ${d.retryAfterSeconds} s`, d.retryAfterSeconds);
export const unavailable = (message: string) => new HttpError(503, message, undefined, { 'Retry-After': '5' });

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  };
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'REQUEST_SEND_ERROR',
]);

/**
 * Table storage unreachable or failing on its side (Azure SDK `RestError` without a status, 5xx or
 * 408, or a socket error): the request may be retried, so it is a 503, not a 500.
 */
export function isStorageUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'string' && NETWORK_ERROR_CODES.has(e.code)) return true;
  if (e.name !== 'RestError') return false;
  return typeof e.statusCode !== 'number' || e.statusCode >= 500 || e.statusCode === 408;
}

export function errorResponse(error: unknown, log: Logger): HttpResponseInit {
  if (error instanceof HttpError) {
    const body: Record<string, string> = { status: 'error', message: error.message };
    if (error.field !== undefined) body.field = error.field;
    Object.assign(body, error.details);
    return jsonResponse(error.status, body, error.headers);
  }
  if (isStorageUnavailable(error)) {
    log.warn({ err: (error as Error).message }, 'storage is unavailable');
    return jsonResponse(503, { status: 'error', message: 'Storage is unavailable; retry later' }, { 'Retry-After': '5' });
  }
  log.error({ err: error }, 'unexpected error while handling a request');
  return jsonResponse(500, { status: 'error', message: 'Internal error' });
}
