/**
 * The function app's HTTP routes, in one table that both hosts serve: the Azure Functions host
 * (functions/index.ts registers each with app.http) and the local host (functions/local-host.ts).
 * Routes are relative to host.json's routePrefix, `api`.
 */
import type { HttpResponseInit } from '@azure/functions';
import type { HttpHandlerFn } from './notify-handler.js';

export type RouteMethod = 'GET' | 'POST';

export interface RouteDefinition {
  name: string;
  route: string;
  methods: RouteMethod[];
  /** The methods the route really serves, when `methods` also lists some only to answer 405. */
  allow?: RouteMethod[];
  handler: HttpHandlerFn;
}

export const ROUTE_PREFIX = 'api';

/** Named in 404 answers, so a mistyped URL says where the API is. */
export const API_ROUTES_TEXT = 'POST /api/v1/whatsapp/notify (send) and GET /api/v1/whatsapp/notify/{id} (status)';

const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit => ({
  status,
  body: JSON.stringify(body),
  headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
});

export function methodNotAllowed(method: string, allow: readonly string[]): HttpResponseInit {
  const message =
    allow.length === 1 && allow[0] === 'POST'
      ? `${method} is not allowed here: POST a JSON object (apikey, a recipient and message) to this URL`
      : `${method} is not allowed here; use ${allow.join(' or ')}`;
  return json(405, { status: 'error', message }, { Allow: allow.join(', ') });
}

export function routeNotFound(): HttpResponseInit {
  return json(404, { status: 'error', message: `Not found. The API has ${API_ROUTES_TEXT}` });
}

// A browser opening the notify URL gets a 405 that says what to do, from either host: the Functions
// host answers 404 for a method no function registered, so GET is registered and answered here.
const notifyWrongMethod: HttpHandlerFn = async (request) => methodNotAllowed(request.method, ['POST']);

export interface FunctionHandlers {
  notify: HttpHandlerFn;
  notifyStatus: HttpHandlerFn;
}

export function functionRoutes(handlers: FunctionHandlers): RouteDefinition[] {
  return [
    { name: 'whatsappNotify', route: 'v1/whatsapp/notify', methods: ['POST'], handler: handlers.notify },
    { name: 'whatsappNotifyWrongMethod', route: 'v1/whatsapp/notify', methods: ['GET'], allow: ['POST'], handler: notifyWrongMethod },
    { name: 'whatsappNotifyStatus', route: 'v1/whatsapp/notify/{id}', methods: ['GET'], handler: handlers.notifyStatus },
  ];
}
