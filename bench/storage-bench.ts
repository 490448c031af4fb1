/**
 * Bench 7 and 8: every Azure Table request the services make, counted and classified at a proxy
 * between them and Azurite (test/support/storage-request-counter.ts), per notification on each
 * path and per idle minute; then the same with 100,000 finished rows seeded into the queue table.
 * Machine-independent counts: on Azure, a query without a PartitionKey is a paged scan of every
 * partition, billed per page, so its cost grows with history.
 */
import {
  REQUEST_KINDS,
  startStorageRequestCounter,
  type RequestKind,
  type StorageRequestCounter,
} from '../test/support/storage-request-counter.js';
import { startBenchStack, type BenchStack } from './bench-stack.js';
import type { Figure, RequestPath } from './figures.js';
import { seedFinishedHistory } from './seed-history.js';
import { percentile, round, sleep, until } from './stats.js';

const HISTORY_ROWS = Number(process.env.BENCH_HISTORY_ROWS ?? 100_000);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);

/** Requests per unit of a path, all kinds together. */
const total = (p: RequestPath) =>
  round(
    REQUEST_KINDS.reduce((sum, k) => sum + p.perKind[k], 0),
    2,
  );

/** A requests-per-notification figure against its target, with one transaction per notification as the floor. */
function requestsFigure(name: string, path: RequestPath, max: number, floorName: string): Figure {
  const value = total(path);
  return {
    bench: '7. Table requests',
    name,
    value,
    unit: 'req',
    floor: { name: floorName, value: 1, unit: 'req' },
    ratio: value,
    ratioOf: 'requests ÷ 1',
    target: `≤ ${max}`,
    pass: value <= max,
    detail: { perKind: path.perKind, shapes: path.shapes },
  };
}

export async function benchStorageRequests(log: (line: string) => void, figures: Figure[], notes: string[]): Promise<RequestPath[]> {
  let counter: StorageRequestCounter | undefined;
  const stack: BenchStack = await startBenchStack('storage', {
    storageVia: async (azuritePort) => {
      counter = await startStorageRequestCounter(azuritePort);
      return counter.port;
    },
  });
  const c = counter!;
  const paths: RequestPath[] = [];
  try {
    const contact = stack.peer.addContact('919876543210');
    const received = (prefix: string) => stack.peer.received.filter((m) => m.text?.startsWith(prefix)).length;

    /** Counts one phase; `per` units (notifications, or minutes) divide the counts. */
    const phase = async (name: string, per: string, units: (seconds: number) => number, run: () => Promise<void>): Promise<RequestPath> => {
      await sleep(1_500); // the previous phase's receipts land outside this one
      c.reset();
      const t0 = performance.now();
      await run();
      await sleep(1_500); // this phase's receipts (and their bookkeeping) land inside it
      const seconds = (performance.now() - t0) / 1000;
      const count = units(seconds);
      const kinds = c.byKind();
      const perKind = Object.fromEntries(REQUEST_KINDS.map((k) => [k, round(kinds[k] / count, 2)])) as Record<RequestKind, number>;
      const p: RequestPath = {
        path: name,
        per,
        count: round(count, 2),
        seconds: round(seconds, 1),
        perKind,
        storageMsPer: round(c.storageMs() / count, 2),
        shapes: c.byShape(),
      };
      const total = round(c.requests.length / count, 2);
      log(
        `  ${name}: ${total} Table requests per ${per} (${REQUEST_KINDS.filter((k) => kinds[k] > 0)
          .map((k) => `${k} ${perKind[k]}`)
          .join(', ')}); Azurite busy ${p.storageMsPer} ms per ${per}`,
      );
      for (const [shape, n] of p.shapes.slice(0, 12))
        log(
          `      ${round(n / count, 2)
            .toString()
            .padStart(6)}  ${shape}`,
        );
      paths.push(p);
      return p;
    };
    const waitSends = async (prefix: string, n: number, tag: string) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const res = await stack.notify({ phone: contact.phone, message: `${prefix}${i}`, wait_for_delivery: true });
        times.push(performance.now() - t);
        if (res.status !== 200) throw new Error(`${tag}: wait_for_delivery answered ${res.status}: ${JSON.stringify(res.body)}`);
      }
      return times;
    };

    log('Table requests per path (a counting proxy in front of Azurite; WhatsApp open unless said)');
    await waitSends('warm-', 10, 'warm-up');
    for (let i = 0; i < 5; i++) await stack.notify({ self: true, message: `warm-self-${i}`, wait_for_delivery: true });

    const idle = await phase(
      'idle',
      'idle minute',
      (s) => s / 60,
      () => sleep(IDLE_SECONDS * 1_000),
    );
    let emptyTimes: number[] = [];
    const wait = await phase(
      'wait_for_delivery to a phone, sequential',
      'notification',
      () => 30,
      async () => {
        emptyTimes = await waitSends('wfd-', 30, 'wait_for_delivery');
      },
    );
    /** 64 notifications to the contact, 16 in flight; each answer must pass `ok`. */
    const notifyConcurrently = async (prefix: string, ok: (res: Awaited<ReturnType<typeof stack.notify>>) => boolean) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < 64) {
            const i = next++;
            const res = await stack.notify({ phone: contact.phone, message: `${prefix}${i}` });
            if (!ok(res)) throw new Error(`${prefix} notify answered ${res.status}`);
          }
        }),
      );
    };
    const fire = await phase(
      'fire-and-forget to a phone, 16 in flight',
      'notification',
      () => 64,
      async () => {
        await notifyConcurrently('ff-', (res) => res.status === 200);
        await until(() => received('ff-') >= 64, 60_000, '64 fire-and-forget sends', 20);
      },
    );
    await stack.admin('POST', 'disconnect');
    await stack.waitForState('paused');
    const paused = await phase(
      'accepted while paused (deferred), 16 in flight',
      'notification',
      () => 64,
      async () => {
        await notifyConcurrently('paused-', (res) => res.status === 200 && res.body.deferred === true);
      },
    );
    const drain = await phase(
      'drain of those 64 after connect (reconnect included)',
      'notification',
      () => 64,
      async () => {
        await stack.admin('POST', 'connect');
        await until(() => received('paused-') >= 64, 60_000, 'the drain of 64', 20);
      },
    );

    const perNotification = [wait, fire, paused, drain];
    figures.push(
      requestsFigure(
        'fire-and-forget, 16 in flight: requests per notification (amortised, receipts included)',
        fire,
        2,
        'one entity-group transaction per notification (the batched-insert floor’s write)',
      ),
      requestsFigure(
        'wait_for_delivery to a phone: requests per notification (receipts included)',
        wait,
        3,
        'one entity-group transaction per notification',
      ),
      {
        bench: '7. Table requests',
        name: 'accept while paused (deferred) + drain after connect: requests per notification',
        value: round(total(paused) + total(drain), 2),
        display: `${total(paused)} + ${total(drain)}`,
        unit: 'req',
        floor: { name: 'one entity-group transaction per notification', value: 1, unit: 'req' },
        ratio: round(total(paused) + total(drain), 2),
        ratioOf: 'requests ÷ 1',
        detail: { accept: paused.perKind, drain: drain.perKind },
      },
    );
    const pkLessPerNotification = Math.max(...perNotification.map((p) => p.perKind['query-no-pk']));
    figures.push({
      bench: '7. Table requests',
      name: 'queries without a PartitionKey per notification (worst path above)',
      value: pkLessPerNotification,
      unit: 'req',
      floor: { name: 'none needed', value: 0, unit: 'req' },
      target: '0',
      pass: pkLessPerNotification === 0,
      detail: Object.fromEntries(perNotification.map((p) => [p.path, p.perKind['query-no-pk']])),
    });
    const leasePerMinute = round(
      idle.shapes.filter(([s]) => s.includes('WhatsappSession(lease)')).reduce((n, [, v]) => n + v, 0) / idle.count,
      2,
    );
    figures.push(
      {
        bench: '7. Table requests',
        name: `idle: requests per minute (${IDLE_SECONDS} s window)`,
        value: total(idle),
        unit: 'req/min',
        floor: { name: 'the session lease’s own renewals in the same window', value: leasePerMinute, unit: 'req/min' },
        ratio: leasePerMinute > 0 ? round(total(idle) / leasePerMinute, 2) : undefined,
        ratioOf: 'idle requests ÷ lease renewals',
        detail: { perKind: idle.perKind, shapes: idle.shapes },
      },
      {
        bench: '7. Table requests',
        name: 'idle: queries without a PartitionKey per minute',
        value: idle.perKind['query-no-pk'],
        unit: 'req/min',
        floor: { name: 'none needed', value: 0, unit: 'req/min' },
        target: '0',
        pass: idle.perKind['query-no-pk'] === 0,
      },
    );

    // ---------- 8. the same with 100,000 finished rows ----------
    log(`seeding ${HISTORY_ROWS.toLocaleString('en')} finished rows straight into Azurite (batched, not through the proxy)`);
    const seeded = await seedFinishedHistory(stack.azurite.connectionString, {
      rows: HISTORY_ROWS,
      now: Date.now(),
      to: contact.jid,
      concurrency: 4,
    });
    log(
      `  ${seeded.rows.toLocaleString('en')} rows in ${seeded.partitions} partitions, ${round(seeded.seconds, 1)} s (${round(seeded.rows / seeded.seconds)} rows/s)`,
    );
    const idleFull = await phase(
      `idle with ${HISTORY_ROWS.toLocaleString('en')} finished rows`,
      'idle minute',
      (s) => s / 60,
      () => sleep(IDLE_SECONDS * 1_000),
    );
    let fullTimes: number[] = [];
    const waitFull = await phase(
      `wait_for_delivery to a phone with ${HISTORY_ROWS.toLocaleString('en')} finished rows`,
      'notification',
      () => 10,
      async () => {
        fullTimes = await waitSends('wfd-full-', 10, 'wait_for_delivery with history');
      },
    );
    figures.push(
      {
        bench: '8. 100,000 finished rows',
        name: 'idle pass: Azurite time per idle minute (requests/min)',
        value: idleFull.storageMsPer,
        display: `${idleFull.storageMsPer} (${total(idleFull)} req)`,
        unit: 'ms',
        floor: {
          name: 'the same with the table (nearly) empty',
          value: idle.storageMsPer,
          display: `${idle.storageMsPer} (${total(idle)} req)`,
          unit: 'ms',
        },
        ratio: idle.storageMsPer > 0 ? round(idleFull.storageMsPer / idle.storageMsPer, 2) : undefined,
        ratioOf: 'with history ÷ without',
        target: 'no growth with history (PK-less 0)',
        pass: idleFull.perKind['query-no-pk'] === 0,
        detail: { perKind: idleFull.perKind, shapes: idleFull.shapes, seeded },
      },
      {
        bench: '8. 100,000 finished rows',
        name: 'one wait_for_delivery notification: end-to-end p50 (requests)',
        value: round(percentile(fullTimes, 50), 2),
        display: `${round(percentile(fullTimes, 50), 2)} (${total(waitFull)} req)`,
        unit: 'ms',
        floor: {
          name: 'the same before seeding',
          value: round(percentile(emptyTimes, 50), 2),
          display: `${round(percentile(emptyTimes, 50), 2)} (${total(wait)} req)`,
          unit: 'ms',
        },
        ratio: round(percentile(fullTimes, 50) / percentile(emptyTimes, 50), 2),
        ratioOf: 'p50 with history ÷ without',
        target: 'no growth with history (PK-less 0)',
        pass: waitFull.perKind['query-no-pk'] === 0,
        detail: {
          perKind: waitFull.perKind,
          shapes: waitFull.shapes,
          storageMsPerNotification: waitFull.storageMsPer,
          withoutHistoryStorageMs: wait.storageMsPer,
        },
      },
    );
  } catch (error) {
    notes.push(`storage request bench failed: ${(error as Error).message}`);
    log(`storage request bench failed: ${(error as Error).message}`);
  } finally {
    await stack.dispose();
    await c.close();
  }
  return paths;
}
