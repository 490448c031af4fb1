/**
 * pino JSON logs with two safety nets: secrets are redacted by path, and any phone-number-like digit
 * run left in a logged string is masked (`91987****210`), so a careless log line cannot leak either.
 */
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';
import { maskPhone } from './whatsapp-jid.js';

export type { Logger };

const REDACT = [
  'apikey',
  '*.apikey',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'pepper',
  '*.pepper',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'creds',
  '*.creds',
  'session',
  '*.session',
  // A logged request (`{ req }`) or the config object must not leak either.
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.cookie',
  'sidecarToken',
  '*.sidecarToken',
  'adminPassword',
  '*.adminPassword',
  'apiKeyPepper',
  '*.apiKeyPepper',
  'sessionSecret',
  '*.sessionSecret',
];

const DIGIT_RUN = /(?<![0-9A-Za-z])\+?\d{7,15}(?![0-9A-Za-z])/g;

export function maskPhonesInText(text: string): string {
  return text.replace(DIGIT_RUN, (run) => maskPhone(run.replace('+', '')));
}

function maskDeep(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskPhonesInText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  // Errors get a masked copy (same class, so pino still names its type): an error text quoting a
  // JID must not carry the number into the log. The caller's error is left untouched.
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Error;
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(value))) {
      // Read through the original (V8 may define `stack` as an accessor bound to it).
      const own = 'value' in d ? d.value : (Reflect.get(value, k) as unknown);
      Object.defineProperty(copy, k, {
        configurable: true,
        writable: true,
        enumerable: d.enumerable ?? false,
        value: maskDeep(own, depth + 1),
      });
    }
    return copy;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, depth + 1);
  return out;
}

export function createLogger(options: { level?: LevelWithSilent; name?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { log: (obj) => maskDeep(obj, 0) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          // log.error(err): pino would take the message from the error unmasked; pass it as { err }.
          const [first, ...rest] = args as unknown[];
          const normal = first instanceof Error ? [{ err: first }, ...(rest.length > 0 ? rest : [first.message])] : args;
          // Mask the message string too (the formatter sees only the merged object).
          const masked = normal.map((a) => (typeof a === 'string' ? maskPhonesInText(a) : a)) as Parameters<typeof method>;
          method.apply(this, masked);
        },
      },
    },
    options.destination,
  );
}
