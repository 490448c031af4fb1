/**
 * Quick diagnostic: how many Azure Table requests each notification costs on each path, counted
 * by the classifying proxy (test/support/storage-request-counter.ts) between the services and
 * Azurite. `npm run bench` reports the same per path (bench/storage-bench.ts); this runs in
 * seconds. Run: `npx tsx bench/storage-requests.ts` (after `npm run build`).
 */
import { startStorageRequestCounter, type StorageRequestCounter } from '../test/support/storage-request-counter.js';
import { startBenchStack } from './bench-stack.js';
import { until } from './stats.js';

let counter: StorageRequestCounter | undefined;
const stack = await startBenchStack('storage-requests', {
  storageVia: async (azuritePort) => {
    counter = await startStorageRequestCounter(azuritePort);
    return counter.port;
  },
});
const contact = stack.peer.addContact('919876543210');

const phase = async (name: string, n: number, run: () => Promise<void>) => {
  await new Promise((r) => setTimeout(r, 500)); // let the previous phase's receipts land
  counter!.reset();
  const t = performance.now();
  await run();
  console.log(`\n${name}: ${n} notifications, ${((performance.now() - t) / n).toFixed(1)} ms each; Azure Table requests per notification:`);
  for (const [k, v] of counter!.byShape()) console.log(`${(v / n).toFixed(2).padStart(7)}  ${k}`);
};
const sequential = (n: number, body: (i: number) => Record<string, unknown>) => async () => {
  for (let i = 0; i < n; i++) await stack.notify(body(i));
};

try {
  await sequential(10, (i) => ({ self: true, message: `warm-${i}`, wait_for_delivery: true }))();
  await phase(
    'wait_for_delivery to self',
    50,
    sequential(50, (i) => ({ self: true, message: `self-${i}`, wait_for_delivery: true })),
  );
  await phase(
    'wait_for_delivery to a phone',
    50,
    sequential(50, (i) => ({ phone: contact.phone, message: `phone-${i}`, wait_for_delivery: true })),
  );
  await stack.admin('POST', 'disconnect');
  await stack.waitForState('paused');
  await phase(
    'fire-and-forget while paused (deferred 200)',
    50,
    sequential(50, (i) => ({ self: true, message: `queued-${i}` })),
  );
  await phase('drain of those 50 after connect', 50, async () => {
    await stack.admin('POST', 'connect');
    await until(() => stack.peer.received.filter((m) => m.text?.startsWith('queued-')).length >= 50, 60_000, 'the drain');
  });
} finally {
  await stack.dispose();
  await counter?.close();
}
process.exit(0);
