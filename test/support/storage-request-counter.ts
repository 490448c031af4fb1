/**
 * A pass-through HTTP proxy in front of Azurite that classifies every Table request the services
 * make: point read, query with a PartitionKey condition, query without one (a scan of every
 * partition on Azure), entity-group batch, insert, update/upsert, delete, table admin. Used by tests
 * (what a path must not do) and by the bench (requests per notification, per idle minute).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type RequestKind = 'point-read' | 'pk-query' | 'query-no-pk' | 'batch' | 'insert' | 'update' | 'delete' | 'table';

export interface CountedRequest {
  kind: RequestKind;
  table: string;
  /** The partition named by the URL or the filter (for a batch: the first operation's). */
  partition?: string;
  /** The request with ids and times folded, to group requests by shape. */
  shape: string;
  /** Milliseconds from the request's arrival to the end of Azurite's answer (set once answered). */
  ms?: number;
}

export interface StorageRequestCounter {
  port: number;
  /** Every request since the last reset, in arrival order. */
  readonly requests: readonly CountedRequest[];
  reset(): void;
  /** Requests per kind since the last reset (optionally only those matching `where`). */
  byKind(where?: (r: CountedRequest) => boolean): Record<RequestKind, number>;
  /** Requests grouped by `kind table shape`, most frequent first. */
  byShape(): [string, number][];
  /** Total milliseconds Azurite spent answering the requests since the last reset (answered ones). */
  storageMs(): number;
  close(): Promise<void>;
}

export const REQUEST_KINDS: readonly RequestKind[] = [
  'point-read',
  'pk-query',
  'query-no-pk',
  'batch',
  'insert',
  'update',
  'delete',
  'table',
];

const POINT = /^\/[^/]+\/([^/(]+)\(PartitionKey='((?:[^']|'')*)',RowKey='(?:[^']|'')*'\)$/;
const COLLECTION = /^\/[^/]+\/([^/(]+)(?:\(\))?$/;

/** Ids and times vary per request: fold them so requests group by shape. */
const fold = (text: string) =>
  text
    .replace(/q\d{8,12}(-[0-9a-f]{16})?(~\d+)?/g, '<id>')
    .replace(/[0-9a-f]{64}/g, '<hash>')
    .replace(/\b\d{10,}L?\b/g, '<n>')
    .replace(/datetime'[^']*'/g, "datetime'<t>'");

export function classifyRequest(method: string, rawUrl: string, batchBody?: string): CountedRequest {
  const url = new URL(rawUrl, 'http://proxy');
  const pathname = decodeURIComponent(url.pathname);
  if (/\/\$batch$/.test(pathname)) {
    // The first operation line names the table and, for updates and deletes, the partition.
    const line = /^(POST|PUT|MERGE|PATCH|DELETE) https?:\/\/[^\s]*?\/([^/\s(]+)(\(PartitionKey='((?:[^']|'')*)'[^\s]*)?\s/m.exec(
      batchBody ?? '',
    );
    const inserted = /"PartitionKey"\s*:\s*"([^"]*)"/.exec(batchBody ?? '');
    const partition = line?.[4] ? decodeURIComponent(line[4]) : inserted?.[1];
    const table = line?.[2] ?? '?';
    return { kind: 'batch', table, ...(partition !== undefined ? { partition } : {}), shape: `batch ${table}` };
  }
  if (/\/Tables(\(.*\))?$/.test(pathname)) return { kind: 'table', table: 'Tables', shape: `${method} Tables` };
  const point = POINT.exec(pathname);
  if (point) {
    const table = point[1]!;
    const partition = point[2]!.replace(/''/g, "'");
    const kind: RequestKind = method === 'GET' ? 'point-read' : method === 'DELETE' ? 'delete' : 'update';
    return { kind, table, partition, shape: `${kind} ${table}(${fold(partition)})` };
  }
  const collection = COLLECTION.exec(pathname);
  const table = collection?.[1] ?? pathname;
  if (method === 'POST') return { kind: 'insert', table, shape: `insert ${table}` };
  const filter = url.searchParams.get('$filter') ?? '';
  const pk = /PartitionKey\s+eq\s+'((?:[^']|'')*)'/.exec(filter);
  const bounded = pk !== null || /PartitionKey\s+(ge|gt|le|lt)\s/.test(filter);
  return {
    kind: bounded ? 'pk-query' : 'query-no-pk',
    table,
    ...(pk ? { partition: pk[1]!.replace(/''/g, "'") } : {}),
    shape: `${bounded ? 'pk-query' : 'query-no-pk'} ${table}${filter ? ` $filter=${fold(filter).slice(0, 100)}` : ''}`,
  };
}

export async function startStorageRequestCounter(upstreamPort: number): Promise<StorageRequestCounter> {
  let requests: CountedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const t0 = performance.now();
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rawUrl = req.url ?? '/';
      const counted = classifyRequest(req.method ?? 'GET', rawUrl, rawUrl.includes('$batch') ? body.toString('utf8') : undefined);
      requests.push(counted);
      const up = http.request(
        { host: '127.0.0.1', port: upstreamPort, path: rawUrl, method: req.method, headers: req.headers, agent },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.on('end', () => (counted.ms = performance.now() - t0));
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  const count = (list: CountedRequest[]) => {
    const out = Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
    for (const r of list) out[r.kind]++;
    return out;
  };
  return {
    port: (proxy.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    reset() {
      requests = [];
    },
    byKind: (where) => count(where ? requests.filter(where) : requests),
    byShape() {
      const shapes = new Map<string, number>();
      for (const r of requests) shapes.set(r.shape, (shapes.get(r.shape) ?? 0) + 1);
      return [...shapes].sort((a, b) => b[1] - a[1]);
    },
    storageMs: () => requests.reduce((sum, r) => sum + (r.ms ?? 0), 0),
    async close() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      agent.destroy();
    },
  };
}
