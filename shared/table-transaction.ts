/**
 * Entity-group transactions for Table storage, rendered here and sent through the TableClient's own
 * pipeline (its SharedKey signing, retry policy and HTTP agent), in the wire format of
 * `TableClient.submitTransaction` byte for byte (test/table-transaction.test.ts compares the two).
 *
 * Why not `submitTransaction` itself: @azure/data-tables 13.3 builds a new TableClient for every
 * transaction and renders each action by running it through a whole client pipeline of its own (the
 * request is intercepted before the wire). Measured on the 2-core bench machine: 2.2 ms of CPU per
 * two-action transaction against 1.2 ms for a single createEntity. Every notification's insert, its
 * outcome and the Signal key writes are transactions, so that overhead was most of the sidecar's
 * storage CPU.
 *
 * The result and the errors are the SDK's: `subResponses` in the order of the actions (status and
 * ETag, copied out of the response body), and a RestError with the status and error code of the
 * failed sub-request. A sub-request's 500 comes inside a 202, where the pipeline's retry policy does
 * not see it; it is tried again here first (see submitTransaction).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import {
  RestError,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';

export interface TransactionResult {
  status: number;
  subResponses: { status: number; etag?: string }[];
}

const CRLF = '\r\n';
/**
 * Tries of a transaction whose sub-request was answered 500 inside a 202 (see submitTransaction), a
 * few ms apart and growing to at most 40 ms: about a third of a second in all, short beside the
 * caller's own wait. A plain HTTP 500 is not tried again here: the pipeline's retry policy has already.
 */
const TRANSIENT_TRIES = 10;
const TRANSIENT_MAX_WAIT_MS = 40;
const defaultHttpClient = createDefaultHttpClient();

const EDM_TYPES = new Set(['Boolean', 'DateTime', 'Double', 'Guid', 'Int32', 'Int64', 'String', 'Binary']);

/**
 * U+2028 and U+2029 as JSON escapes. JSON.stringify leaves them raw, and Azurite finds a
 * sub-request's body with a regex whose `.` stops at them: a transaction carrying one (a message
 * with a paragraph separator) failed whole with a 500, and with it every notification batched beside
 * it. The escape is the same JSON to Azure Table storage.
 */
const escapeLineSeparators = (json: string) => json.replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));

/** The SDK's entity serialization: primitives as they are, the rest with an `@odata.type`. */
function serializeEntity(entity: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(entity)) {
    const key = name === 'partitionKey' ? 'PartitionKey' : name === 'rowKey' ? 'RowKey' : name;
    let type: string | undefined;
    let serialized: unknown = value;
    if (typeof value === 'object' && value !== null && !(value instanceof Date) && !(value instanceof Uint8Array)) {
      const typed = value as { value?: unknown; type?: unknown };
      if (typed.value === undefined || typed.type === undefined) throw new Error(`Unknown EDM type ${typeof value}`);
      if (!EDM_TYPES.has(String(typed.type))) throw new Error(`Unknown EDM type ${typeof typed.value}`);
      serialized = typed.value;
      type = `Edm.${String(typed.type)}`;
    } else if (typeof value === 'bigint') {
      serialized = value.toString();
      type = 'Edm.Int64';
    } else if (value instanceof Date) {
      type = 'Edm.DateTime';
    } else if (value instanceof Uint8Array) {
      serialized = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      type = 'Edm.Binary';
    } else if (value !== undefined && value !== null && !['boolean', 'string', 'number'].includes(typeof value)) {
      throw new Error(`Unknown EDM type ${typeof value}`);
    }
    out[key] = serialized;
    if (type) out[`${key}@odata.type`] = type;
  }
  return escapeLineSeparators(JSON.stringify(out));
}

const keyPath = (table: string, partitionKey: string, rowKey: string) => {
  const quoted = (key: string) => encodeURIComponent(key.replace(/'/g, "''"));
  return `${encodeURIComponent(table)}(PartitionKey='${quoted(partitionKey)}',RowKey='${quoted(rowKey)}')`;
};

/** One action as the SDK's intercepted sub-request: start line, headers, blank lines, body. */
function subRequest(base: string, table: string, action: TransactionAction, changeset: string): string {
  const [kind, entity] = action;
  const lines = [`--${changeset}`, 'content-type: application/http', 'content-transfer-encoding: binary', ''];
  const url = (path: string) => new URL(`${base}/${path}`).toString();
  const etagOf = (options: { etag?: string } | undefined) => options?.etag ?? '*';
  let body: string | undefined;
  if (kind === 'create') {
    lines.push(
      `POST ${url(encodeURIComponent(table))} HTTP/1.1`,
      'Content-Type: application/json;odata=nometadata',
      'Accept: application/json;odata=minimalmetadata',
      'DataServiceVersion: 3.0',
      'Prefer: return-no-content',
    );
    body = serializeEntity(entity);
  } else if (kind === 'delete') {
    lines.push(
      `DELETE ${url(keyPath(table, entity.partitionKey, entity.rowKey))} HTTP/1.1`,
      'Accept: application/json;odata=minimalmetadata',
      'DataServiceVersion: 3.0',
      'If-Match: *',
    );
  } else {
    const mode = action[2] ?? 'Merge';
    lines.push(
      `${mode === 'Replace' ? 'PUT' : 'PATCH'} ${url(keyPath(table, entity.partitionKey, entity.rowKey))} HTTP/1.1`,
      'Content-Type: application/json',
      'DataServiceVersion: 3.0',
      'Accept: application/json',
    );
    // An update is conditional (on the ETag given, or on existence); an upsert is not.
    if (kind === 'update') lines.push(`If-Match: ${etagOf(action[3] as { etag?: string } | undefined)}`);
    body = serializeEntity(entity);
  }
  lines.push(CRLF);
  if (body !== undefined) lines.push(body);
  return lines.join(CRLF);
}

/** The request as TableTransaction builds it: URL, headers and multipart body. */
function renderTransaction(
  client: Pick<TableClient, 'url' | 'tableName'>,
  actions: TransactionAction[],
): { url: string; headers: Record<string, string>; body: string } {
  const [base, sas] = client.url.split('?');
  const account = base!.replace(/\/$/, '');
  const batch = `batch_${randomUUID()}`;
  const changeset = `changeset_${randomUUID()}`;
  const parts = [`--${batch}${CRLF}content-type: multipart/mixed; boundary=${changeset}${CRLF}${CRLF}`];
  for (const action of actions) parts.push(subRequest(account, client.tableName, action, changeset));
  const body = `${parts.join(CRLF)}${CRLF}--${changeset}--${CRLF}--${batch}--${CRLF}`;
  return {
    url: `${account}/$batch${sas ? `?${sas}` : ''}`,
    headers: {
      accept: 'application/json',
      'x-ms-version': '2019-02-02',
      DataServiceVersion: '3.0;',
      MaxDataServiceVersion: '3.0;NetFx',
      'Content-Type': `multipart/mixed; boundary=${batch}`,
      'Accept-Charset': 'UTF-8',
      Connection: 'Keep-Alive',
    },
    body,
  };
}

function fail(text: string, status: number, response: PipelineResponse): never {
  let parsed: { 'odata.error'?: { code?: string; message?: { value?: string } } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON: the generic message stands
  }
  const error = parsed['odata.error'];
  throw new RestError(error?.message?.value ?? 'Transaction Failed', {
    code: error?.code,
    statusCode: status,
    request: response.request,
    response,
  });
}

/** Parses a transaction's response as the SDK does; throws the failed sub-request's error. */
function parseTransactionResponse(response: PipelineResponse): TransactionResult {
  const raw = response.bodyAsText ?? '';
  if (response.status < 200 || response.status >= 300) fail(raw, response.status, response);
  const parts = raw.split('--changesetresponse_').slice(1, -1);
  const subResponses = parts.map((part) => {
    const status = Number(/HTTP\/1.1 ([0-9]*)/.exec(part)?.[1]);
    if (!Number.isInteger(status)) throw new Error(`Couldn't extract status from sub-response:\n ${part}`);
    const body = /\{(.*)\}/.exec(part);
    if (body) fail(body[0], status, response);
    const etag = /ETag: (.*)/.exec(part)?.[1];
    // Copied: a match is a slice of the whole body, which it would keep alive (docs/memory.md).
    return etag === undefined ? { status } : { status, etag: Buffer.from(etag, 'utf8').toString('utf8') };
  });
  return { status: response.status, subResponses };
}

/** Submits one entity-group transaction (same partition, at most 100 actions) through `client`'s pipeline. */
export async function submitTransaction(
  client: TableClient,
  actions: TransactionAction[],
  options: { httpClient?: HttpClient } = {},
): Promise<TransactionResult> {
  const partitionKey = actions[0]?.[1].partitionKey;
  if (actions.some(([, entity]) => entity.partitionKey !== partitionKey))
    throw new Error('All operations in a transaction must target the same partitionKey');
  const { url, headers, body } = renderTransaction(client, actions);
  for (let attempt = 1; ; attempt++) {
    const request = createPipelineRequest({
      url,
      method: 'POST',
      body,
      headers: createHttpHeaders(headers),
      allowInsecureConnection: url.startsWith('http:'),
    });
    try {
      return parseTransactionResponse(await client.pipeline.sendRequest(options.httpClient ?? defaultHttpClient, request));
    } catch (error) {
      // A failed sub-request arrives inside a 202, so the pipeline's own retry never sees a 500
      // there: a server error is tried again here as the pipeline would try a plain one. A
      // transaction is atomic, so that is safe, and a 409 or 412 on a later try means an earlier one
      // landed.
      const insideAccepted = error instanceof RestError && error.statusCode === 500 && error.response?.status === 202;
      if (!insideAccepted || attempt >= TRANSIENT_TRIES) throw error;
      await sleep(Math.min(attempt * (2 + Math.random() * 8), TRANSIENT_MAX_WAIT_MS));
    }
  }
}
