/**
 * A pass-through HTTP proxy in front of Azurite that records every Table request (method, table,
 * keys, $filter), so tests can count requests per path and check that every query names its
 * PartitionKey. Azurite scans for every query, so only the requests themselves can show this.
 */
import http from 'node:http';
import { freePort } from './free-port.js';

export interface TableRequest {
  method: string;
  table: string;
  /** A point operation on one entity (`Table(PartitionKey=…,RowKey=…)`). */
  point: boolean;
  /** The entity path of a point operation, e.g. `WhatsappNotificationQueue(PartitionKey='…',RowKey='…')`. */
  path: string;
  filter: string | undefined;
}

export interface CountingProxy {
  /** For startStack's `storageVia`. */
  via(azuritePort: number): Promise<number>;
  requests(): TableRequest[];
  reset(): void;
  /** Queries (GET over a table, not one entity) whose filter names no PartitionKey equality. */
  unboundedQueries(): TableRequest[];
  close(): void;
}

export function createCountingProxy(): CountingProxy {
  let log: TableRequest[] = [];
  let upstream = 0;
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const path = decodeURIComponent(url.pathname.replace(/^\/devstoreaccount1\//, ''));
    const table = path.replace(/\(.*\)$/, '');
    if (!path.startsWith('$batch') && table !== 'Tables') {
      log.push({
        method: req.method ?? 'GET',
        table,
        point: /\(PartitionKey=/.test(path),
        path,
        filter: url.searchParams.get('$filter') ?? undefined,
      });
    } else if (path.startsWith('$batch')) log.push({ method: 'BATCH', table: '$batch', point: false, path, filter: undefined });
    const up = http.request({ host: '127.0.0.1', port: upstream, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return {
    async via(azuritePort) {
      upstream = azuritePort;
      const port = await freePort();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
      return port;
    },
    requests: () => [...log],
    reset() {
      log = [];
    },
    unboundedQueries: () =>
      log.filter((r) => r.method === 'GET' && !r.point && r.table !== 'Tables' && !/PartitionKey eq '/.test(r.filter ?? '')),
    close() {
      server.close();
      agent.destroy();
    },
  };
}
