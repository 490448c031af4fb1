/**
 * The sidecar's HTTP routes in one table: find-my-way (Fastify's router) matches method and path
 * and decodes path parameters; errors thrown by any handler become JSON answers here, and only
 * here. Unknown paths answer 404, known paths asked with another method 405 with `Allow`.
 *
 * Why not all of Fastify: the sidecar's idle memory is a benchmark target, and Fastify adds about
 * 19 MiB of RSS at idle against about 7 MiB for its router alone (measured on Node 20); the handlers
 * here need routing and one error mapper, not hooks, plugins or serialisers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import createRouter, { type HTTPMethod } from 'find-my-way';
import type { Logger } from '../shared/logger.js';
import { HttpError } from './http-error.js';
import { sendJson } from './json-http.js';

export type RouteParams = Readonly<Record<string, string>>;
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, params: RouteParams) => unknown;
export type Method = 'GET' | 'POST' | 'DELETE';

export interface HttpRouter {
  /** Registers a handler; a GET route answers HEAD too. */
  on(method: Method, path: string, handler: RouteHandler): void;
  /** Serves one request, mapping every thrown error to its JSON answer. */
  handle(req: IncomingMessage, res: ServerResponse): void;
}

const METHODS: readonly Method[] = ['GET', 'POST', 'DELETE'];

export function createHttpRouter(deps: { log: Logger }): HttpRouter {
  const router = createRouter({ ignoreTrailingSlash: true, maxParamLength: 200 });

  const fail = (res: ServerResponse, error: unknown) => {
    if (res.headersSent) {
      res.destroy(); // a stream that already started cannot turn into an error answer
      return;
    }
    if (error instanceof HttpError) {
      const { field, headers } = error.options;
      sendJson(res, error.status, { status: 'error', message: error.message, ...(field ? { field } : {}) }, headers);
      return;
    }
    deps.log.error({ err: error }, 'sidecar request failed');
    sendJson(res, 500, { status: 'error', message: 'Internal error' });
  };

  const allowed = (path: string) => METHODS.filter((m) => router.find(m, path));

  return {
    on(method, path, handler) {
      const methods: HTTPMethod[] = method === 'GET' ? ['GET', 'HEAD'] : [method];
      router.on(methods, path, (req, res, params) => {
        try {
          Promise.resolve(handler(req, res, params as RouteParams)).catch((error: unknown) => fail(res, error));
        } catch (error) {
          fail(res, error);
        }
      });
    },
    handle(req, res) {
      const method = (req.method ?? 'GET').toUpperCase() as HTTPMethod;
      const path = (req.url ?? '/').split('?', 1)[0]!;
      const found = router.find(method, path);
      if (found) {
        found.handler(req, res, found.params, found.store, found.searchParams);
        return;
      }
      const allow = allowed(path);
      if (allow.length > 0) fail(res, new HttpError(405, 'Method not allowed', { headers: { Allow: allow.join(', ') } }));
      else fail(res, new HttpError(404, 'Not found'));
    },
  };
}
