/**
 * Configuration from the environment (or `Values` in local.settings.json, which the Functions host
 * turns into environment variables). Parsed once with zod; a bad value stops the process with the
 * variable's name rather than misbehaving later.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseDurationMs } from './duration.js';
import { parseCountry, type CountryCode } from './country-code.js';
import { parseRateLimit, type RateLimitSpec } from './rate-limit-spec.js';

/** The folder holding package.json, whether this runs compiled (dist/shared) or from source (shared). */
export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(tablePort: number, host = '127.0.0.1'): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `TableEndpoint=http://${host}:${tablePort}/${AZURITE_ACCOUNT};`
  );
}

/** WHATSAPP_SEND_BUDGET when unset: a conservative pace for a personal number (tune per use). */
export const DEFAULT_SEND_BUDGET = '60 per minute, 1000 per day';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const duration = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const ms = parseDurationMs(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be milliseconds or a duration like 30s, 15m, 24h' });
        return z.NEVER;
      }
      return ms;
    });
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const envSchema = z.object({
  AZURITE_TABLE_PORT: port(10002),
  WHATSAPP_TABLES_CONNECTION: optionalText,
  FUNCTIONS_PORT: port(7071),
  WHATSAPP_SIDECAR_PORT: port(7072),
  WHATSAPP_SIDECAR_HOST: z.string().default('127.0.0.1'),
  WHATSAPP_SIDECAR_URL: optionalText,
  WHATSAPP_SIDECAR_TOKEN: optionalText,
  WHATSAPP_ATTACHMENT_ROOTS: optionalText,
  WHATSAPP_API_KEY_PEPPER: optionalText,
  WHATSAPP_SESSION_SECRET: optionalText,
  WHATSAPP_ADMIN_PASSWORD: optionalText,
  WHATSAPP_ADMIN_HOST: optionalText,
  WHATSAPP_ADMIN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  WHATSAPP_RATE_LIMIT: z
    .string()
    .optional()
    .transform((v, ctx): RateLimitSpec => {
      const spec = parseRateLimit(v === undefined || v.trim() === '' ? '30 per minute' : v);
      if (!spec) {
        ctx.addIssue({ code: 'custom', message: 'must look like "30 per minute" (second|minute|hour|day)' });
        return z.NEVER;
      }
      return spec;
    }),
  WHATSAPP_WAIT_TIMEOUT_MS: duration(30_000),
  WHATSAPP_SEND_INTERVAL_MS: duration(1_000),
  // Global send budget of the paired number (anti-ban): comma-separated limits, each a sliding
  // window; "off" disables it. Sends over budget wait in the queue (sidecar/send-budget.ts).
  WHATSAPP_SEND_BUDGET: z
    .string()
    .optional()
    .transform((v, ctx): RateLimitSpec[] => {
      const text = v === undefined || v.trim() === '' ? DEFAULT_SEND_BUDGET : v;
      if (/^\s*(off|none|unlimited)\s*$/i.test(text)) return [];
      const specs = text.split(',').map((part) => parseRateLimit(part));
      if (specs.some((s) => s === undefined || s.limit > 100_000)) {
        ctx.addIssue({ code: 'custom', message: 'must look like "60 per minute, 1000 per day" (each at most 100000), or "off"' });
        return z.NEVER;
      }
      return specs as RateLimitSpec[];
    }),
  WHATSAPP_QUEUE_TTL: duration(24 * 3_600_000),
  // How long finished notifications stay readable (status route, getMessage) before their time
  // partitions are removed.
  WHATSAPP_HISTORY: duration(30 * 86_400_000),
  WHATSAPP_OFFLINE_POLICY: z.enum(['queue', 'reject']).default('queue'),
  // A number not possible as written but valid nationally in this country gets its code (contract v1.1).
  WHATSAPP_DEFAULT_COUNTRY: z
    .string()
    .optional()
    .transform((v, ctx): CountryCode | undefined => {
      if (v === undefined || v.trim() === '') return undefined;
      const country = parseCountry(v);
      if (country === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a two-letter country code such as IN, GB or US' });
        return z.NEVER;
      }
      return country;
    }),
  WHATSAPP_MAX_IMAGE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
  WHATSAPP_MAX_DOCUMENT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(100 * 1024 * 1024),
  WHATSAPP_WS_URL: optionalText,
  // This sidecar's stable identity (queue leases, session lease): a restart with the same id
  // resumes its own unfinished sends at once. Must differ between sidecars running side by side.
  WHATSAPP_SIDECAR_ID: optionalText,
  WHATSAPP_SESSION_LEASE: duration(30_000),
  // How long an onWhatsApp answer is trusted: a number that has WhatsApp, one that has not; 0 = ask every time.
  WHATSAPP_EXISTS_CACHE_TTL: duration(86_400_000),
  WHATSAPP_MISSING_CACHE_TTL: duration(3_600_000),
  WHATSAPP_WEB_VERSION_URL: z.string().url().default('https://web.whatsapp.com/sw.js'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  tablesConnection: string;
  functionsPort: number;
  sidecarPort: number;
  sidecarHost: string;
  sidecarUrl: string;
  sidecarToken: string | undefined;
  attachmentRoots: string[];
  apiKeyPepper: string | undefined;
  sessionSecret: string | undefined;
  adminPassword: string | undefined;
  /** Where the admin page and admin API listen; the function socket stays on sidecarHost. */
  adminHost: string;
  adminPort: number;
  rateLimit: RateLimitSpec;
  waitTimeoutMs: number;
  sendIntervalMs: number;
  /** WHATSAPP_SEND_BUDGET; empty when "off". */
  sendBudget: RateLimitSpec[];
  queueTtlMs: number;
  /** WHATSAPP_HISTORY: finished notifications are removed this long after they finished. */
  historyMs: number;
  offlinePolicy: 'queue' | 'reject';
  /** WHATSAPP_DEFAULT_COUNTRY; unset by default. */
  defaultCountry: CountryCode | undefined;
  maxImageBytes: number;
  maxDocumentBytes: number;
  whatsappWsUrl: string | undefined;
  /** WHATSAPP_SIDECAR_ID, default the host name. */
  sidecarId: string;
  sessionLeaseMs: number;
  /** WHATSAPP_EXISTS_CACHE_TTL / WHATSAPP_MISSING_CACHE_TTL: how long onWhatsApp answers are remembered. */
  existsCacheTtlMs: number;
  missingCacheTtlMs: number;
  /** Where the current WhatsApp Web version is read after a 405 (WHATSAPP_WEB_VERSION_URL). */
  whatsappVersionUrl: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${issue.path.join('.')} ${issue.message}`);
  }
  const e = parsed.data;
  const roots = (e.WHATSAPP_ATTACHMENT_ROOTS ?? path.join(PROJECT_ROOT, 'db', 'attachments'))
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  return {
    tablesConnection: e.WHATSAPP_TABLES_CONNECTION ?? azuriteConnectionString(e.AZURITE_TABLE_PORT),
    functionsPort: e.FUNCTIONS_PORT,
    sidecarPort: e.WHATSAPP_SIDECAR_PORT,
    sidecarHost: e.WHATSAPP_SIDECAR_HOST,
    sidecarUrl: e.WHATSAPP_SIDECAR_URL ?? `ws://127.0.0.1:${e.WHATSAPP_SIDECAR_PORT}/ws`,
    sidecarToken: e.WHATSAPP_SIDECAR_TOKEN,
    attachmentRoots: roots,
    apiKeyPepper: e.WHATSAPP_API_KEY_PEPPER,
    sessionSecret: e.WHATSAPP_SESSION_SECRET,
    adminPassword: e.WHATSAPP_ADMIN_PASSWORD,
    adminHost: e.WHATSAPP_ADMIN_HOST ?? '127.0.0.1',
    // Same host: one listener serves both. Another host: its own port, next to the sidecar's.
    adminPort:
      e.WHATSAPP_ADMIN_PORT ??
      ((e.WHATSAPP_ADMIN_HOST ?? '127.0.0.1') === e.WHATSAPP_SIDECAR_HOST || e.WHATSAPP_SIDECAR_PORT === 0
        ? e.WHATSAPP_SIDECAR_PORT
        : e.WHATSAPP_SIDECAR_PORT + 1),
    rateLimit: e.WHATSAPP_RATE_LIMIT,
    waitTimeoutMs: e.WHATSAPP_WAIT_TIMEOUT_MS,
    sendIntervalMs: e.WHATSAPP_SEND_INTERVAL_MS,
    sendBudget: e.WHATSAPP_SEND_BUDGET,
    queueTtlMs: e.WHATSAPP_QUEUE_TTL,
    historyMs: e.WHATSAPP_HISTORY,
    offlinePolicy: e.WHATSAPP_OFFLINE_POLICY,
    defaultCountry: e.WHATSAPP_DEFAULT_COUNTRY,
    maxImageBytes: e.WHATSAPP_MAX_IMAGE_BYTES,
    maxDocumentBytes: e.WHATSAPP_MAX_DOCUMENT_BYTES,
    whatsappWsUrl: e.WHATSAPP_WS_URL,
    sidecarId: e.WHATSAPP_SIDECAR_ID ?? os.hostname(),
    sessionLeaseMs: e.WHATSAPP_SESSION_LEASE,
    existsCacheTtlMs: e.WHATSAPP_EXISTS_CACHE_TTL,
    missingCacheTtlMs: e.WHATSAPP_MISSING_CACHE_TTL,
    whatsappVersionUrl: e.WHATSAPP_WEB_VERSION_URL,
    logLevel: e.LOG_LEVEL,
  };
}

/** Secrets a process cannot run without; named so the operator knows what to set. */
export function requireSetting<K extends keyof Config>(config: Config, key: K, envName: string): NonNullable<Config[K]> {
  const value = config[key];
  if (value === undefined || value === null || value === '') throw new ConfigError(`${envName} must be set`);
  return value as NonNullable<Config[K]>;
}
