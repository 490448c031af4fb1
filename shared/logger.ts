/**
 * pino JSON logs with two safety nets: secrets are redacted by path, and any phone-number-like digit
 * run left in a logged string is masked (`91987****210`), so a careless log line cannot leak either.
 */
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';
import { maskPhone } from './phone-number.js';

export type { Logger };

const REDACT = [
  'apikey', '*.apikey', 'apiKey', '*.apiKey', 'key', '*.key',
  'token', '*.token', 'password', '*.password', 'secret', '*.secret', 'pepper', '*.pepper',
  'authorization', '*.authorization', 'cookie', '*.cookie',
  'headers.authorization', 'headers["x-api-key"]', 'headers.cookie',
  'creds', '*.creds', 'session', '*.session',
];

const DIGIT_RUN = /(?<![0-9A-Za-z])\+?\d{7,15}(?![0-9A-Za-z])/g;

export function maskPhonesInText(text: string): string {
  return text.replace(DIGIT_RUN, (run) => maskPhone(run.replace('+', '')));
}

function maskDeep(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskPhonesInText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  if (value instanceof Error) return value;
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
          // Mask the message string too (the formatter sees only the merged object).
          const masked = args.map((a) => (typeof a === 'string' ? maskPhonesInText(a) : a)) as Parameters<typeof method>;
          method.apply(this, masked);
        },
      },
    },
    options.destination,
  );
}
