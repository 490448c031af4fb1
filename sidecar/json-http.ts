/** Small JSON helpers for the sidecar's own HTTP endpoints (admin API, health). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http-error.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** An unreadable or oversized body: a 400/413 naming the field `body`. */
export class RequestBodyError extends HttpError {
  constructor(status: 400 | 413, message: string) {
    super(status, message, { field: 'body' });
    this.name = 'RequestBodyError';
  }
}

/** Reads a small JSON body (admin forms); an empty body reads as `{}`. */
export async function readJson(req: IncomingMessage, maxBytes = 16 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new RequestBodyError(413, 'body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestBodyError(400, 'body must be valid JSON');
  }
}
