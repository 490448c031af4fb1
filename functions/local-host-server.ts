/**
 * A small stand-in for the Azure Functions host, for machines without Core Tools: it serves the
 * same route table (routes.ts) with the same handlers, turning Node's HTTP requests into the
 * @azure/functions HttpRequest the handlers expect. It adds no behaviour of its own beyond
 * transport: the body is read only up to one byte past the handler's cap (the handler then answers
 * 413), and X-Forwarded-For is set from the socket unless a proxy on this host sent it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import { clientAddressOf } from '../shared/forwarded-address.js';
import type { Logger } from '../shared/logger.js';
import { MAX_BODY_BYTES } from './request-body.js';
import { ROUTE_PREFIX, methodNotAllowed, routeNotFound, type RouteDefinition } from './routes.js';

interface CompiledRoute {
  definition: RouteDefinition;
  pattern: RegExp;
  params: string[];
}

function compile(definition: RouteDefinition): CompiledRoute {
  const params: string[] = [];
  const source = definition.route
    .split('/')
    .map((segment) => {
      const m = /^\{(\w+)\}$/.exec(segment);
      if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      params.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { definition, pattern: new RegExp(`^/${ROUTE_PREFIX}/${source}/?$`, 'i'), params };
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<{ bytes: Buffer; truncated: boolean; aborted?: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      const room = limit + 1 - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size > limit) return { bytes: Buffer.concat(chunks), truncated: true };
    }
  } catch {
    // The client stopped before the body it announced was complete: its fault, not ours (400).
    return { bytes: Buffer.alloc(0), truncated: false, aborted: true };
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

export interface LocalHost {
  url: string;
  port: number;
  close(): Promise<void>;
}

export type ExtraRoute = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export async function startLocalHost(options: {
  routes: RouteDefinition[];
  port: number;
  host?: string;
  log: Logger;
  /** Non-function routes the local host also serves (e.g. the OpenAPI document); true when handled. */
  extra?: ExtraRoute;
  /** Time a client has to send a whole request (slow-loris brake); default 30 s. */
  requestTimeoutMs?: number;
}): Promise<LocalHost> {
  const compiled = options.routes.map(compile);
  const { HttpRequest, InvocationContext } = azureFunctions; // a CommonJS package: named imports fail under ESM
  const { log } = options;

  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const server = http.createServer(
    { requestTimeout, headersTimeout: Math.min(requestTimeout, 15_000), connectionsCheckingInterval: Math.min(requestTimeout / 2, 1_000) },
    async (req, res) => {
      try {
        // Real clients send `//api/v1/...` (OpenAlgo's SDK with a host ending in `/`). Runs of slashes
        // collapse to one before routing; a leading `//` would otherwise read as a host name in new URL().
        req.url = collapseSlashes(req.url ?? '/');
        const url = new URL(req.url, `http://${req.headers.host ?? '127.0.0.1'}`);
        if (options.extra?.(req, res)) return;
        const method = (req.method ?? 'GET').toUpperCase();
        let match: { route: CompiledRoute; values: RegExpExecArray } | undefined;
        const allow = new Set<string>();
        for (const route of compiled) {
          const values = route.pattern.exec(url.pathname);
          if (!values) continue;
          for (const m of route.definition.allow ?? route.definition.methods) allow.add(m);
          if ((route.definition.methods as string[]).includes(method)) {
            match = { route, values };
            break;
          }
        }
        if (!match) {
          send(res, allow.size > 0 ? methodNotAllowed(method, [...allow]) : routeNotFound());
          return;
        }
        const remote = req.socket.remoteAddress ?? 'unknown'; // read before the body: stopping early detaches the socket
        // A declared length over the cap is not read at all: the handler sees the header and answers 413.
        const declaredTooLarge = Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES;
        const { bytes, truncated, aborted } = declaredTooLarge
          ? { bytes: Buffer.alloc(0), truncated: true }
          : await readBody(req, MAX_BODY_BYTES);
        if (aborted) {
          res.setHeader('Connection', 'close');
          send(res, { status: 400, jsonBody: { status: 'error', message: 'body ended before it was complete', field: 'body' } });
          return;
        }
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        // What Azure's front end does: X-Forwarded-For ends with the client's address. Behind a proxy on
        // this host that is the address the proxy saw; otherwise the socket's, so a remote client
        // cannot forge one. (Without this, every client behind a tunnel shared one failed-auth brake.)
        headers['x-forwarded-for'] = clientAddressOf(remote, headers['x-forwarded-for']);
        if (!declaredTooLarge) delete headers['content-length']; // the handler measures the bytes it is given
        const params: Record<string, string> = {};
        match.route.params.forEach((name, i) => {
          params[name] = decodeURIComponent(match!.values[i + 1]!);
        });
        const request = new HttpRequest({
          method,
          url: url.toString(),
          headers,
          query: Object.fromEntries(url.searchParams),
          params,
          ...(bytes.length > 0 ? { body: { bytes } } : {}),
        });
        const context = new InvocationContext({ functionName: match.route.definition.name, logHandler: () => undefined });
        const response = await match.route.definition.handler(request, context);
        if (truncated) res.setHeader('Connection', 'close');
        send(res, response);
      } catch (error) {
        log.error({ err: error }, 'local host failed to serve a request');
        send(res, { status: 500, jsonBody: { status: 'error', message: 'Internal error' } });
      }
    },
  );
  server.keepAliveTimeout = 65_000;
  // Malformed HTTP (bad framing, lying lengths, timeouts) still gets the contract's JSON error.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const [status, message] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request timed out']
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request headers too large']
          : [400, 'Malformed HTTP request'];
    const answering = (socket as typeof socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ status: 'error', message, ...(status === 400 ? { field: 'body' } : {}) });
    const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    socket.end(head + body, () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `//api//v1/x?q=a//b` → `/api/v1/x?q=a//b`: the path only, never the query (nor an absolute-form target). */
export function collapseSlashes(target: string): string {
  if (!target.startsWith('/')) return target;
  const q = target.indexOf('?');
  const pathPart = q === -1 ? target : target.slice(0, q);
  return pathPart.replace(/\/{2,}/g, '/') + (q === -1 ? '' : target.slice(q));
}

function send(res: http.ServerResponse, response: HttpResponseInit): void {
  if (res.headersSent) return;
  const headers = new Headers(response.headers as ConstructorParameters<typeof Headers>[0]);
  let body: string | Uint8Array | undefined;
  if (response.jsonBody !== undefined) {
    body = JSON.stringify(response.jsonBody);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json; charset=utf-8');
  } else if (typeof response.body === 'string' || response.body instanceof Uint8Array) {
    body = response.body;
  }
  res.statusCode = response.status ?? 200;
  headers.forEach((value, name) => res.setHeader(name, value));
  res.end(body);
}
