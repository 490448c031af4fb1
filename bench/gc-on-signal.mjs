// Preloaded into the bench's sidecar (with --expose-gc): SIGUSR2 runs a full garbage collection, so
// the memory bench reads RSS after a GC without any hook in the sidecar itself. After the GC it
// writes process.memoryUsage() to BENCH_MEMORY_REPORT (when set), so the bench can tell live JS
// objects (heapUsed) from memory the process holds but does not use (RSS minus what V8 and
// Buffers account for). With BENCH_HEAP_SNAPSHOT_DIR set it also writes a heap snapshot there
// (bench/memory-soak.ts; the snapshot itself costs RSS, so the main bench never sets it).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';

let snapshots = 0;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const usage = {
    ...process.memoryUsage(),
    // committed size of each V8 heap space (new, old, code, large objects…), and what of it is used, bytes
    spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size])),
    spacesUsed: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size])),
  };
  const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
  if (dir) v8.writeHeapSnapshot(path.join(dir, `sidecar-${++snapshots}.heapsnapshot`));
  // written last: the bench waits for this file, so the snapshot is complete when it appears
  const report = process.env.BENCH_MEMORY_REPORT;
  if (report) writeFileSync(report, JSON.stringify(usage));
});
