/**
 * The function app's HTTP routes, in one table that both hosts serve: the Azure Functions host
 * (functions/index.ts registers each with app.http) and the local host (functions/local-host.ts).
 * Routes are relative to host.json's routePrefix, `api`.
 */
import type { HttpHandlerFn } from './notify-handler.js';

export type RouteMethod = 'GET' | 'POST';

export interface RouteDefinition {
  name: string;
  route: string;
  methods: RouteMethod[];
  handler: HttpHandlerFn;
}

export const ROUTE_PREFIX = 'api';

export interface FunctionHandlers {
  notify: HttpHandlerFn;
  notifyStatus: HttpHandlerFn;
}

export function functionRoutes(handlers: FunctionHandlers): RouteDefinition[] {
  return [
    { name: 'whatsappNotify', route: 'v1/whatsapp/notify', methods: ['POST'], handler: handlers.notify },
    { name: 'whatsappNotifyStatus', route: 'v1/whatsapp/notify/{id}', methods: ['GET'], handler: handlers.notifyStatus },
  ];
}
