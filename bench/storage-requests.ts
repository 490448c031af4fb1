/**
 * Diagnostic (not part of `npm run bench`): how many Azure Table requests each notification costs
 * on each path, counted by a pass-through HTTP proxy between the services and Azurite. Machine
 * independent, so it explains the latency and drain figures. Run: `npx tsx bench/storage-requests.ts`
 * (after `npm run build`).
 */
import http from 'node:http';
import { freePort } from '../test/support/free-port.js';
import { startBenchStack } from './bench-stack.js';
import { until } from './stats.js';

const counts = new Map<string, number>();
let upstream = 0;
const agent = new http.Agent({ keepAlive: true });
const proxy = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const filter = url.searchParams.get('$filter');
  const table = url.pathname.replace(/^\/devstoreaccount1\//, '').replace(/\(.*\)$/, '(…)');
  // ids and times vary per request: fold them so requests group by shape
  const shape = filter?.replace(/q\d{12}(-[0-9a-f]{16})?/g, '<id>').replace(/\b\d{10,}L?\b/g, '<n>');
  const kind = `${req.method} ${table}${shape ? ` $filter=${shape.slice(0, 90)}` : ''}`;
  counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const up = http.request({ host: '127.0.0.1', port: upstream, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
const port = await freePort();
await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', () => resolve()));
const stack = await startBenchStack('storage-requests', {
  storageVia: async (azuritePort) => {
    upstream = azuritePort;
    return port;
  },
});
const contact = stack.peer.addContact('919876543210');

const phase = async (name: string, n: number, run: () => Promise<void>) => {
  await new Promise((r) => setTimeout(r, 500)); // let the previous phase's receipts land
  counts.clear();
  const t = performance.now();
  await run();
  console.log(`\n${name}: ${n} notifications, ${((performance.now() - t) / n).toFixed(1)} ms each; Azure Table requests per notification:`);
  for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${(v / n).toFixed(2).padStart(7)}  ${k}`);
};
const sequential = (n: number, body: (i: number) => Record<string, unknown>) => async () => {
  for (let i = 0; i < n; i++) await stack.notify(body(i));
};

try {
  await sequential(10, (i) => ({ self: true, message: `warm-${i}`, wait_for_delivery: true }))();
  await phase('wait_for_delivery to self', 50, sequential(50, (i) => ({ self: true, message: `self-${i}`, wait_for_delivery: true })));
  await phase('wait_for_delivery to a phone', 50, sequential(50, (i) => ({ phone: contact.phone, message: `phone-${i}`, wait_for_delivery: true })));
  await stack.admin('POST', 'disconnect');
  await stack.waitForState('paused');
  await phase('fire-and-forget while paused (deferred 200)', 50, sequential(50, (i) => ({ self: true, message: `queued-${i}` })));
  await phase('drain of those 50 after connect', 50, async () => {
    await stack.admin('POST', 'connect');
    await until(() => stack.peer.received.filter((m) => m.text?.startsWith('queued-')).length >= 50, 60_000, 'the drain');
  });
} finally {
  await stack.dispose();
  proxy.close();
}
process.exit(0);
