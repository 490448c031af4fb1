// Preload (NODE_OPTIONS=--import) that CPU-profiles a process whose command line the bench does
// not control (Azurite): `--cpu-prof` is refused in NODE_OPTIONS. Written on exit (Azurite exits
// cleanly on SIGINT) to $PRELOAD_PROFILE_DIR (default test-output/bench-profiles).
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.PRELOAD_PROFILE_DIR || path.resolve('test-output', 'bench-profiles');
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  // the in-process inspector session answers synchronously, so this still runs inside 'exit'
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `azurite.${Date.now()}.cpuprofile`), JSON.stringify(result.profile));
  });
});
