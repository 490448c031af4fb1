// `npm run chaos`: the burst-and-break scenarios of test/crash-recovery.test.ts and
// test/storage-outage.test.ts against real processes (Azurite, the sidecar with real Baileys, the
// function host, the loopback WhatsApp peer), with a bigger burst (CHAOS_COUNT, default 400), then a
// table of lost / duplicated counts per scenario (the dropped-socket one is a single wait_for_delivery). Exit code 0 only when every scenario ran and
// printed 0 lost and 0 duplicated.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const report = path.join(root, 'test-output', 'chaos-report.jsonl');
mkdirSync(path.dirname(report), { recursive: true });
rmSync(report, { force: true });

const count = process.env.CHAOS_COUNT ?? '400';
const jest = spawnSync(
  process.execPath,
  [path.join(root, 'scripts', 'test.mjs'), '--runInBand', '--testTimeout=300000', 'test/crash-recovery.test.ts', 'test/storage-outage.test.ts'],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CHAOS_COUNT: count, CHAOS_REPORT: report } },
);

const rows = existsSync(report)
  ? readFileSync(report, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
  : [];
const expected = ['kill -9 sidecar mid-burst', 'kill -9 function host mid-burst', 'Azurite stop/restart mid-burst', 'socket dropped mid wait_for_delivery'];
const pad = (v, n) => String(v).padEnd(n);
console.log(`\nchaos: ${count} fire-and-forget notifications per scenario, counted at the WhatsApp peer\n`);
console.log(
  [pad('scenario', 34), pad('answered', 9), pad('not answered', 22), pad('lost', 5), pad('duplicated', 11), pad('unanswered x2', 14), pad('resends (same id)', 18), 'seconds'].join(' '),
);
let ok = jest.status === 0;
for (const name of expected) {
  const r = rows.find((x) => x.scenario === name);
  if (!r) {
    console.log(`${pad(name, 34)} did not run to the end (see the test output above)`);
    ok = false;
    continue;
  }
  const notAnswered = Object.entries(r.notAnswered).map(([k, v]) => `${k}: ${v}`).join(', ') || '-';
  console.log(
    [pad(name, 34), pad(`${r.answered}/${r.requests}`, 9), pad(notAnswered, 22), pad(r.lost, 5), pad(r.duplicated, 11), pad(r.unansweredSentTwice, 14), pad(r.resends, 18), (r.elapsedMs / 1000).toFixed(1)].join(' '),
  );
  if (r.lost !== 0 || r.duplicated !== 0 || r.unansweredSentTwice !== 0) ok = false;
}
console.log(`\n${ok ? 'OK: nothing answered was lost, nothing was shown twice' : 'FAILED'} (jest exit ${jest.status})`);
process.exit(ok ? 0 : 1);
