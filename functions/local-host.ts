/**
 * Runs the function app without Azure Functions Core Tools: `node dist/functions/local-host.js`.
 * Serves functions/routes.ts on FUNCTIONS_PORT (default 7071) at 127.0.0.1.
 */
import { createFunctionServices } from './function-services.js';
import { startLocalHost } from './local-host-server.js';
import { functionRoutes } from './routes.js';
import { loadConfig } from '../shared/config.js';
import { openApiRoute } from '../shared/openapi.js';

const config = loadConfig();
const services = createFunctionServices({ config });
const host = await startLocalHost({
  routes: functionRoutes(services.handlers),
  port: config.functionsPort,
  host: process.env.FUNCTIONS_HOST ?? '127.0.0.1',
  log: services.log,
  extra: openApiRoute(),
});
services.log.info({ url: `${host.url}/api/v1/whatsapp/notify` }, 'function host listening');

const stop = async () => {
  await host.close();
  await services.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
