// `npm run chaos`: the burst-and-break scenarios of test/crash-recovery.test.ts and
// test/storage-outage.test.ts against real processes (Azurite, the sidecar with real Baileys, the
// function host, the loopback WhatsApp peer), with a bigger burst (CHAOS_COUNT, default 400), then a
// table of lost / duplicated counts per scenario (the dropped-socket one is a single wait_for_delivery). Exit code 0 only when every scenario ran and
// printed 0 lost and 0 duplicated.
// The standby scenarios (test/standby.test.ts: two sidecars, a 3 s session lease) also print the
// takeover times — from the break to the standby `open`, and to the first message it delivered — and
// the most WhatsApp sockets the peer saw logged in at once; they pass only with at most 1 socket and
// takeover to `open` within the lease + 5 s.
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
  [
    path.join(root, 'scripts', 'test.mjs'),
    '--runInBand',
    '--testTimeout=300000',
    'test/crash-recovery.test.ts',
    'test/storage-outage.test.ts',
    'test/standby.test.ts',
  ],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CHAOS_COUNT: count, CHAOS_REPORT: report } },
);

const rows = existsSync(report)
  ? readFileSync(report, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  : [];
const expected = [
  'kill -9 sidecar mid-burst',
  'kill -9 function host mid-burst',
  'Azurite stop/restart mid-burst',
  'socket dropped mid wait_for_delivery',
  'kill -9 holder, standby takes over',
  'holder cut from storage, standby takes over',
];
const LEASE_MS = 3_000; // WHATSAPP_SESSION_LEASE in test/standby.test.ts
const seconds = (ms) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));
const pad = (v, n) => String(v).padEnd(n);
console.log(`\nchaos: ${count} fire-and-forget notifications per scenario, counted at the WhatsApp peer\n`);
console.log(
  [
    pad('scenario', 44),
    pad('answered', 9),
    pad('not answered', 22),
    pad('lost', 5),
    pad('duplicated', 11),
    pad('unanswered x2', 14),
    pad('resends (same id)', 18),
    pad('seconds', 8),
    pad('max sockets', 12),
    pad('takeover: open', 15),
    'first delivery',
  ].join(' '),
);
let ok = jest.status === 0;
for (const name of expected) {
  const r = rows.find((x) => x.scenario === name);
  if (!r) {
    console.log(`${pad(name, 44)} did not run to the end (see the test output above)`);
    ok = false;
    continue;
  }
  const notAnswered =
    Object.entries(r.notAnswered)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || '-';
  console.log(
    [
      pad(name, 44),
      pad(`${r.answered}/${r.requests}`, 9),
      pad(notAnswered, 22),
      pad(r.lost, 5),
      pad(r.duplicated, 11),
      pad(r.unansweredSentTwice, 14),
      pad(r.resends, 18),
      pad((r.elapsedMs / 1000).toFixed(1), 8),
      pad(r.maxSockets ?? '-', 12),
      pad(r.takeoverOpenMs === undefined ? '-' : `${seconds(r.takeoverOpenMs)} s`, 15),
      r.takeoverFirstDeliveryMs === undefined ? '-' : `${seconds(r.takeoverFirstDeliveryMs)} s`,
    ].join(' '),
  );
  if (r.lost !== 0 || r.duplicated !== 0 || r.unansweredSentTwice !== 0) ok = false;
  if (r.maxSockets !== undefined && r.maxSockets > 1) ok = false;
  if (name.includes('standby') && !(r.takeoverOpenMs <= LEASE_MS + 5_000)) ok = false;
}
console.log(
  `\n${ok ? 'OK: nothing answered was lost, nothing was shown twice, never two WhatsApp sockets, takeover within the lease + 5 s' : 'FAILED'} (jest exit ${jest.status})`,
);
process.exit(ok ? 0 : 1);
