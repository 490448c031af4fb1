/**
 * Azure Table storage access for every table the service uses. Tables are created on first use,
 * once per process, so a fresh Azurite (or storage account) needs no set-up step.
 */
import { TableClient, TableServiceClient, type TableEntityResult } from '@azure/data-tables';

export const TABLE_NAMES = {
  apiKeys: 'WhatsappApiKeys',
  linkedUsers: 'WhatsappLinkedUsers',
  queue: 'WhatsappNotificationQueue',
  session: 'WhatsappSession',
  idempotency: 'WhatsappIdempotency',
  attachments: 'WhatsappAttachments',
} as const;

export type TableName = keyof typeof TABLE_NAMES;

export interface TableStore {
  client(name: TableName): TableClient;
  /** Creates every table once; later calls share the first attempt (or retry after a failure). */
  ensureTables(): Promise<void>;
}

// Few, quick retries: when storage is down the caller should learn it in about a second (and answer
// 503), not after the SDK's default minute of back-off.
const RETRY = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 500 };

export function createTableStore(connectionString: string): TableStore {
  const insecure = /DefaultEndpointsProtocol=http;|TableEndpoint=http:/i.test(connectionString);
  const options = { allowInsecureConnection: insecure, retryOptions: RETRY };
  const clients = new Map<TableName, TableClient>();
  let ensuring: Promise<void> | undefined;

  const client = (name: TableName): TableClient => {
    let c = clients.get(name);
    if (!c) {
      c = TableClient.fromConnectionString(connectionString, TABLE_NAMES[name], options);
      clients.set(name, c);
    }
    return c;
  };

  const ensureTables = (): Promise<void> => {
    ensuring ??= (async () => {
      const service = TableServiceClient.fromConnectionString(connectionString, options);
      await Promise.all(Object.values(TABLE_NAMES).map((t) => service.createTable(t)));
    })().catch((error: unknown) => {
      ensuring = undefined;
      throw error;
    });
    return ensuring;
  };

  return { client, ensureTables };
}

/** The HTTP status of a storage error, if it has one. */
export function storageStatus(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const status = (error as { statusCode: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

export const isNotFound = (error: unknown): boolean => storageStatus(error) === 404;
export const isConflict = (error: unknown): boolean => storageStatus(error) === 409;
export const isPreconditionFailed = (error: unknown): boolean => storageStatus(error) === 412;

/** Row keys may not hold `/ \ # ?` or control characters; percent-encoding removes all of them. */
export const encodeKey = (value: string): string => encodeURIComponent(value);
export const decodeKey = (value: string): string => decodeURIComponent(value);

export async function getEntityOrUndefined<T extends object>(
  client: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await client.getEntity<T>(partitionKey, rowKey);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
