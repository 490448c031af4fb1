/**
 * A reduced notify bench for working on the notify path (issue 12's latency and throughput
 * targets) without the whole `npm run bench`: one stack, sequential wait_for_delivery to self
 * (added latency = end-to-end minus the peer's ack time), then autocannon fire-and-forget with
 * WhatsApp open and paused, with each process's CPU per 1,000 requests (on a shared machine the
 * CPU shares say more than the rates). Needs `npm run build` first.
 *
 *   npx tsx bench/notify-probe.ts            # latency, open, paused
 *   PROBE=paused,open,paused BENCH_SECONDS=5 npx tsx bench/notify-probe.ts
 *
 * PROBE: the parts, in order (they share the queue's current time partition, which fills up as they
 * go); PROBE_CONNECTIONS (default `16,64`); PROBE_SAMPLES (default 60); PROBE_ENV: JSON of extra
 * environment for the services. BENCH_PROFILE=1 CPU-profiles the sidecar, the function host and
 * Azurite (bench/cpu-profile-preload.mjs) into test-output/bench-profiles/.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startBenchStack, type BenchStack } from './bench-stack.js';
import { runLoad } from './http-load.js';
import { ROOT } from './processes.js';
import { percentile, round } from './stats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SAMPLES = Number(process.env.PROBE_SAMPLES ?? 60);
const CONNECTIONS = (process.env.PROBE_CONNECTIONS ?? '16,64').split(',').map(Number);
const PARTS = (process.env.PROBE ?? 'latency,open,paused').split(',');
const MESSAGE = 'Order placed: BUY RELIANCE x 10 @ MARKET';
console.info = console.debug = () => undefined; // the peer's Signal library is chatty

async function latency(stack: BenchStack): Promise<void> {
  const run = async (tag: string, n: number) => {
    const added: number[] = [];
    const e2e: number[] = [];
    for (const { text, ms } of await stack.sequentialNotify({ self: true, wait_for_delivery: true }, tag, n)) {
      const rec = stack.peer.received.find((m) => m.text === text);
      const ack = rec?.handledAt !== undefined && rec.ackedAt !== undefined ? rec.ackedAt - rec.handledAt : 0;
      e2e.push(ms);
      added.push(ms - ack);
    }
    return { added, e2e };
  };
  await run('warm', 20);
  const { added, e2e } = await run('lat', SAMPLES);
  console.log(
    `wait_for_delivery to self, ${SAMPLES} sequential: end-to-end p50 ${round(percentile(e2e, 50), 2)} ms; added p50 ${round(percentile(added, 50), 2)} / p90 ${round(percentile(added, 90), 2)} / p99 ${round(percentile(added, 99), 2)} ms`,
  );
}

async function load(stack: BenchStack, mode: 'open' | 'paused'): Promise<void> {
  const body = JSON.stringify({ apikey: stack.apiKey, self: true, message: `${MESSAGE} probe` });
  await runLoad({ url: stack.notifyUrl, body, connections: 16, seconds: 2 }); // warm-up
  for (const c of CONNECTIONS) {
    const before = stack.cpu();
    const r = await runLoad({ url: stack.notifyUrl, body, connections: c, seconds: SECONDS });
    const after = stack.cpu();
    const cpu = Object.fromEntries(
      (Object.keys(after) as (keyof typeof after)[]).map((k) => [k, round(((after[k] - before[k]) / Math.max(r.requests, 1)) * 1000, 3)]),
    );
    console.log(
      `${mode} ${c} conn: ${round(r.requestsPerSecond)} req/s, p50 ${r.latencyP50Ms} / p99 ${r.latencyP99Ms} / max ${r.latencyMaxMs} ms, ${JSON.stringify(r.statusCodes)}; CPU s per 1000: ${JSON.stringify(cpu)}`,
    );
  }
}

async function main(): Promise<void> {
  // BENCH_PROFILE=1 profiles Azurite too: it inherits NODE_OPTIONS (the services get their own flags)
  if (process.env.BENCH_PROFILE)
    process.env.NODE_OPTIONS = `--import ${pathToFileURL(path.join(ROOT, 'bench', 'cpu-profile-preload.mjs')).href}`;
  const stack = await startBenchStack('probe', {
    env: process.env.PROBE_ENV ? (JSON.parse(process.env.PROBE_ENV) as NodeJS.ProcessEnv) : {},
  });
  delete process.env.NODE_OPTIONS;
  try {
    // the parts run in the order given (the queue's current time partition fills up as they go)
    for (const part of PARTS) {
      if (part === 'latency') await latency(stack);
      if (part !== 'open' && part !== 'paused') continue;
      const state = (await stack.admin('GET', 'status')).body.state;
      if (part === 'paused' && state !== 'paused') {
        await stack.admin('POST', 'disconnect');
        await stack.waitForState('paused');
      } else if (part === 'open' && state !== 'open') {
        await stack.admin('POST', 'connect');
        await stack.waitForState('open');
      }
      await load(stack, part);
    }
  } finally {
    if (process.env.BENCH_PROFILE) await stack.azurite.stop(); // SIGINT: a clean exit writes Azurite's profile
    await stack.dispose();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('probe failed:', error);
    process.exit(1);
  },
);
