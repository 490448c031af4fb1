/**
 * Only the memory soak of `npm run bench` (figure 4), on its own bench stack, with a count small
 * enough to iterate on in a couple of minutes:
 *
 *   npm run build && npx tsx bench/memory-soak.ts [sends=3000] [--rounds=1] [--snapshots]
 *
 * Prints RSS idle, after the soak, and after a forced GC, with what V8 reported after the GC
 * (heapUsed: live JS objects; each heap space as used/committed; external/arrayBuffers: Buffers;
 * the rest of RSS is code, stacks and memory V8 or malloc holds without using it). --snapshots writes a heap snapshot after the idle
 * GC and after the soak's GC into test-output/heap-snapshots/ (compare them in Chrome DevTools,
 * "Comparison" view); a snapshot costs RSS itself, so read the numbers from a run without it.
 * BENCH_SIDECAR_ENV='{"MALLOC_ARENA_MAX":"2"}' passes extra environment to the services.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startBenchStack, type SidecarMemoryUsage } from './bench-stack.js';
import { runLoad } from './http-load.js';
import { ROOT, memoryOf } from './processes.js';
import { round, sleep, until } from './stats.js';

console.info = console.debug = () => undefined; // the peer's Signal library prints whole sessions
const MESSAGE = 'Order placed: BUY RELIANCE x 10 @ MARKET';
const args = process.argv.slice(2);
const sends = Number(args.find((a) => /^\d+$/.test(a)) ?? 3_000);
const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 1);
const snapshotDir = args.includes('--snapshots') ? path.join(ROOT, 'test-output', 'heap-snapshots') : undefined;
if (snapshotDir) mkdirSync(snapshotDir, { recursive: true });
const started = Date.now();
const log = (line: string) => console.log(`[soak ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
const mib = (bytes: number) => round(bytes / 1024 / 1024);
const usage = (u: SidecarMemoryUsage) =>
  `rss ${mib(u.rss)}, heapUsed ${mib(u.heapUsed)}, heapTotal ${mib(u.heapTotal)} (${Object.entries(u.spaces)
    .filter(([, v]) => v > 512 * 1024)
    .map(([k, v]) => `${k.replace('_space', '')} ${mib(u.spacesUsed[k] ?? 0)}/${mib(v)}`)
    .join(', ')}), external ${mib(u.external)} (arrayBuffers ${mib(u.arrayBuffers)}), rest ${mib(u.rss - u.heapTotal - u.external)} MiB`;
const inMiB = (u: SidecarMemoryUsage) => ({
  ...Object.fromEntries(Object.entries(u).flatMap(([k, v]) => (typeof v === 'number' ? [[k, mib(v)]] : []))),
  spaces: Object.fromEntries(Object.entries(u.spaces).map(([k, v]) => [k, mib(v)])),
  spacesUsed: Object.fromEntries(Object.entries(u.spacesUsed).map(([k, v]) => [k, mib(v)])),
});

/**
 * Resident MiB by kind of mapping (/proc/<pid>/smaps): brk heap (malloc's main arena), malloc's
 * other arenas (a writable mapping followed by its reserve, 64 MiB together), other anonymous
 * memory (V8's heap pages, code, stacks), files and shared libraries.
 */
function residentByMapping(pid: number): Record<string, number> {
  const maps: { start: number; end: number; perms: string; name: string; rssKb: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) maps.push({ start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, name: head[4]!.trim(), rssKb: 0 });
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && maps.length > 0) maps.at(-1)!.rssKb = Number(rss[1]);
  }
  const out: Record<string, number> = {};
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    const arena =
      m.name === '' && next?.name === '' && next.perms.startsWith('---') && next.start === m.end && next.end - m.start === 64 * 1024 * 1024;
    const kind =
      m.name === ''
        ? arena
          ? 'malloc arenas'
          : 'anonymous'
        : m.name.startsWith('[')
          ? m.name
          : m.name.includes('.so')
            ? 'shared libraries'
            : 'files';
    if (m.rssKb > 0) out[kind] = round((out[kind] ?? 0) + m.rssKb / 1024);
  });
  return out;
}

const extraEnv = process.env.BENCH_SIDECAR_ENV ? (JSON.parse(process.env.BENCH_SIDECAR_ENV) as NodeJS.ProcessEnv) : {};
const stack = await startBenchStack('memory-soak', { env: extraEnv, heapSnapshotDir: snapshotDir });
try {
  await sleep(2_000);
  const idle = memoryOf(stack.sidecar.pid);
  const idleGc = await stack.gcSidecar();
  const idleAfter = memoryOf(stack.sidecar.pid);
  log(`idle resident by mapping: ${JSON.stringify(residentByMapping(stack.sidecar.pid))}`);
  log(`idle: RSS ${round(idle.rssMiB)} MiB, 1 s after a GC ${round(idleAfter.rssMiB)} MiB; at the GC: ${usage(idleGc)}`);

  let received = 0;
  stack.peer.events.on('message', (m: { text?: string }) => {
    if (m.text?.startsWith(MESSAGE)) received++;
  });
  const body = JSON.stringify({ apikey: stack.apiKey, self: true, message: `${MESSAGE} memory` });
  // More than one round tells warm-up (JIT code, heap sized for the load: the second round adds
  // little) from memory held per send (every round adds the same).
  for (let round_ = 1; round_ <= rounds; round_++) {
    const target = round_ * sends;
    const t0 = performance.now();
    const load = await runLoad({ url: stack.notifyUrl, body, connections: 16, seconds: 300, amount: sends });
    log(
      `round ${round_}: ${load.requests} notifications accepted in ${round((performance.now() - t0) / 1000)} s (${JSON.stringify(load.statusCodes)})`,
    );
    let last = { count: received, at: Date.now() };
    await until(
      () => {
        if (received !== last.count) last = { count: received, at: Date.now() };
        else if (Date.now() - last.at > 30_000) throw new Error(`sends stalled at ${received}`);
        return received >= target;
      },
      600_000,
      `${target} sends`,
      100,
    );
    log(`${received} sends reached the peer in ${round((performance.now() - t0) / 1000)} s`);
    await sleep(2_000);
    const beforeGc = memoryOf(stack.sidecar.pid);
    const after = await stack.gcSidecar();
    const afterRss = memoryOf(stack.sidecar.pid);
    log(
      `after the soak: RSS ${round(beforeGc.rssMiB)} MiB (peak ${round(beforeGc.peakMiB)}), 1 s after a GC ${round(afterRss.rssMiB)} MiB; at the GC: ${usage(after)}`,
    );
    // Does anything come back later without another forced GC (V8's memory reducer, malloc)?
    const settled: Record<string, number> = {};
    let waited = 1; // gcSidecar() waited a second
    for (const at of [5, 10, 20, 30]) {
      await sleep((at - waited) * 1000);
      waited = at;
      settled[at] = round(memoryOf(stack.sidecar.pid).rssMiB);
    }
    log(`RSS without another forced GC, seconds after it: ${JSON.stringify(settled)}`);
    log(`resident by mapping: ${JSON.stringify(residentByMapping(stack.sidecar.pid))}`);
    log(
      `growth over idle after a GC (as npm run bench reads it): RSS ${round((afterRss.rssMiB / idleAfter.rssMiB - 1) * 100)} % (${round(afterRss.rssMiB - idleAfter.rssMiB)} MiB; over idle as is ${round((afterRss.rssMiB / idle.rssMiB - 1) * 100)} %), heapUsed +${mib(after.heapUsed - idleGc.heapUsed)} MiB, external +${mib(after.external - idleGc.external)} MiB`,
    );
    console.log(
      JSON.stringify({
        round: round_,
        sends: received,
        idleRssMiB: round(idle.rssMiB),
        idleRssAfterGcMiB: round(idleAfter.rssMiB),
        idleAtGc: inMiB(idleGc),
        soakRssMiB: round(beforeGc.rssMiB),
        peakRssMiB: round(beforeGc.peakMiB),
        rssAfterGcMiB: round(afterRss.rssMiB),
        rssSettledMiB: settled,
        atGc: inMiB(after),
        env: extraEnv,
      }),
    );
  }
} finally {
  await stack.dispose();
}
