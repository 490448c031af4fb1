/**
 * One safe line for an unexpected error: no stack, no connection string (it holds the account key),
 * and any phone-number-like digits masked.
 */
import { ConfigError } from '../shared/config.js';
import { maskPhonesInText } from '../shared/logger.js';
import { storageStatus } from '../shared/table-store.js';
import { CommandFailed } from './command.js';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function describeError(error: unknown): string {
  if (error instanceof CommandFailed) return maskPhonesInText(error.message);
  if (error instanceof ConfigError) return `configuration: ${error.message}`;
  const code = errorCode(error);
  if (code && UNREACHABLE.has(code)) {
    return (
      `cannot reach table storage (${code}). Is Azurite running (\`npm start\` starts it on AZURITE_TABLE_PORT, ` +
      'default 10002), or is WHATSAPP_TABLES_CONNECTION right?'
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = maskPhonesInText(message.split('\n')[0] ?? '').slice(0, 300);
  const status = storageStatus(error);
  return status === undefined ? firstLine : `table storage answered ${status}${code ? ` ${code}` : ''}: ${firstLine}`;
}
