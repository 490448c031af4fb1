/**
 * Entry module for the Azure Functions host (package.json `main`). Registers every route of
 * routes.ts with app.http; the services behind them are built on the first request, so the host
 * indexes functions without loading storage or WebSocket code.
 */
import azureFunctions, { type HttpRequest, type InvocationContext } from '@azure/functions';
import type { FunctionServices } from './function-services.js';
import { functionRoutes, type FunctionHandlers } from './routes.js';

let services: Promise<FunctionServices> | undefined;
const lazy =
  (pick: (h: FunctionHandlers) => FunctionHandlers[keyof FunctionHandlers]) => async (request: HttpRequest, context: InvocationContext) => {
    services ??= import('./function-services.js').then((m) => m.createFunctionServices());
    return pick((await services).handlers)(request, context);
  };

const { app } = azureFunctions; // a CommonJS package: named imports fail under ESM

for (const route of functionRoutes({ notify: lazy((h) => h.notify), notifyStatus: lazy((h) => h.notifyStatus) })) {
  app.http(route.name, { route: route.route, methods: route.methods, authLevel: 'anonymous', handler: route.handler });
}
