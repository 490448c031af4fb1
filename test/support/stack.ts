/**
 * The whole service for a test file: a real Azurite, the real sidecar process, and the function
 * app served over real HTTP by the local host (in this process, so tests can start several
 * "function instances"). WhatsApp's side is the loopback peer when one is given.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { azuriteConnectionString, loadConfig } from '../../shared/config.js';
import { createApiKeyStore } from '../../shared/api-keys.js';
import { createLinkedUserStore } from '../../shared/linked-users.js';
import { createLogger } from '../../shared/logger.js';
import { createTableStore, type TableStore } from '../../shared/table-store.js';
import { createFunctionServices, type FunctionServices } from '../../functions/function-services.js';
import { startLocalHost, type LocalHost } from '../../functions/local-host-server.js';
import { functionRoutes } from '../../functions/routes.js';
import { openApiRoute } from '../../shared/openapi.js';
import { startAzurite, type AzuriteHandle } from './azurite.js';
import { freePort } from './free-port.js';
import { sidecarProcess, TEST_OUTPUT, type SidecarProcess } from './sidecar-process.js';

export interface PeerWiring {
  url: string;
  rootPublicKeyBase64: string;
  preloadPath: string;
  extraEnv?: NodeJS.ProcessEnv;
}

export interface FunctionInstance {
  url: string;
  services: FunctionServices;
  close(): Promise<void>;
}

export interface Stack {
  azurite: AzuriteHandle;
  tables: TableStore;
  env: NodeJS.ProcessEnv;
  sidecar: SidecarProcess;
  fn: FunctionInstance;
  apiKey: string;
  adminPassword: string;
  /** Starts another function instance on its own port (scale-out tests). */
  startFunctionInstance(env?: NodeJS.ProcessEnv): Promise<FunctionInstance>;
  notify(body: unknown, options?: { headers?: Record<string, string>; raw?: string | Uint8Array; url?: string }): Promise<HttpResult>;
  admin(method: string, route: string, body?: unknown): Promise<HttpResult>;
  linkUser(username: string, phone: string): Promise<void>;
  dispose(): Promise<void>;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

async function readResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* non-JSON bodies are asserted on through `text` */
  }
  return { status: res.status, headers: res.headers, body, text };
}

export async function startStack(options: {
  name: string;
  peer?: PeerWiring;
  env?: NodeJS.ProcessEnv;
  startSidecar?: boolean;
  persistentAzurite?: boolean;
  /** Settings for the sidecar process only (e.g. its own storage path through a proxy). */
  sidecarEnv?: (azurite: AzuriteHandle) => NodeJS.ProcessEnv | Promise<NodeJS.ProcessEnv>;
  /** Puts something (e.g. a request-counting proxy) between the services and Azurite; returns its port. */
  storageVia?: (azuritePort: number) => Promise<number>;
}): Promise<Stack> {
  const azurite = await startAzurite({ persistent: options.persistentAzurite });
  const storagePort = options.storageVia ? await options.storageVia(azurite.port) : azurite.port;
  const sidecarPort = await freePort();
  const adminPassword = 'test-admin-password-0123456789';
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AZURITE_TABLE_PORT: String(storagePort),
    WHATSAPP_TABLES_CONNECTION: azuriteConnectionString(storagePort),
    WHATSAPP_SIDECAR_PORT: String(sidecarPort),
    WHATSAPP_SIDECAR_URL: `ws://127.0.0.1:${sidecarPort}/ws`,
    WHATSAPP_SIDECAR_TOKEN: 'test-sidecar-token-abcdefghijklmnop',
    WHATSAPP_API_KEY_PEPPER: 'test-pepper-abcdefghijklmnop',
    WHATSAPP_SESSION_SECRET: 'test-session-secret-abcdefghijklmnop',
    WHATSAPP_ADMIN_PASSWORD: adminPassword,
    WHATSAPP_SEND_INTERVAL_MS: '0',
    WHATSAPP_RATE_LIMIT: '100000 per minute',
    WHATSAPP_WAIT_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'info',
    ...(options.peer
      ? {
          WHATSAPP_WS_URL: options.peer.url,
          WA_PEER_ROOT_PUBLIC_KEY: options.peer.rootPublicKeyBase64,
          NODE_OPTIONS: `--import ${options.peer.preloadPath}`,
          ...options.peer.extraEnv,
        }
      : {}),
    ...options.env,
  };
  const tables = createTableStore(azurite.connectionString);
  const pepper = env.WHATSAPP_API_KEY_PEPPER!;
  const { key: apiKey } = await createApiKeyStore(tables, pepper).create('test');

  const sidecarOnly = options.sidecarEnv ? await options.sidecarEnv(azurite) : {};
  // The same env object unless told otherwise: tests change a setting and restart the sidecar.
  const sidecar = sidecarProcess({ env: options.sidecarEnv ? { ...env, ...sidecarOnly } : env, port: sidecarPort, name: options.name });
  if (options.startSidecar !== false) await sidecar.start();

  const logDir = path.join(TEST_OUTPUT, 'logs');
  mkdirSync(logDir, { recursive: true });
  const instances: FunctionInstance[] = [];
  let instanceCount = 0;
  const startFunctionInstance = async (extra: NodeJS.ProcessEnv = {}): Promise<FunctionInstance> => {
    const config = loadConfig({ ...env, ...extra });
    const destination = createWriteStream(path.join(logDir, `${options.name}.functions-${instanceCount++}.log`), { flags: 'a' });
    const log = createLogger({ level: config.logLevel, name: 'functions', destination }); // LOG_LEVEL, as the real host
    const services = createFunctionServices({ config, log });
    const host: LocalHost = await startLocalHost({ routes: functionRoutes(services.handlers), port: 0, log, extra: openApiRoute() });
    const instance: FunctionInstance = {
      url: host.url,
      services,
      async close() {
        await host.close();
        await services.close();
        destination.end();
      },
    };
    instances.push(instance);
    return instance;
  };
  const fn = await startFunctionInstance();

  return {
    azurite,
    tables,
    env,
    sidecar,
    fn,
    apiKey,
    adminPassword,
    startFunctionInstance,
    async notify(body, opts = {}) {
      const res = await fetch(`${opts.url ?? fn.url}/api/v1/whatsapp/notify`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...opts.headers },
        body: opts.raw ?? JSON.stringify(body),
      });
      return readResult(res);
    },
    async admin(method, route, body) {
      const res = await fetch(`${sidecar.url}/whatsapp/api/${route}`, {
        method,
        headers: { Authorization: `Bearer ${adminPassword}`, 'Content-Type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return readResult(res);
    },
    async linkUser(username, phone) {
      await createLinkedUserStore(tables).link(username, phone);
    },
    async dispose() {
      for (const i of instances) await i.close();
      await sidecar.stop();
      await azurite.dispose();
    },
  };
}
