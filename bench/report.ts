/**
 * The bench's output: a table on stdout, bench/results.json, the full write-up in
 * docs/benchmarks.md (every figure, floors, Table requests per path) and a short summary in
 * bench/README-section.md for the README.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REQUEST_KINDS } from '../test/support/storage-request-counter.js';
import { ROOT } from './processes.js';
import type { Figure, RequestPath } from './figures.js';

export interface Report {
  machine: {
    cpus: number;
    cpuModel: string;
    memGiB: number;
    platform: string;
    node: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  figures: Figure[];
  notes: string[];
  requestPaths: RequestPath[];
  seconds: number;
  loadSeconds: number;
}

/** Requests per notification (or idle minute) on each path, by kind, then the most frequent shapes. */
function requestTables(paths: RequestPath[], md: boolean): string {
  const kinds = REQUEST_KINDS.filter((k) => paths.some((p) => p.perKind[k] > 0));
  const head = ['path', 'per', 'total', ...kinds, 'Azurite ms'];
  const rows = paths.map((p) => [
    p.path,
    p.per,
    String(Math.round(kinds.reduce((s, k) => s + p.perKind[k], 0) * 100) / 100),
    ...kinds.map((k) => String(p.perKind[k])),
    String(p.storageMsPer),
  ]);
  const shapes = paths.flatMap((p) => [
    md
      ? `\n**${p.path}** (${p.count} ${p.per}${p.count === 1 ? '' : 's'}, ${p.seconds} s), requests per ${p.per} by shape:\n`
      : `\n${p.path}: per ${p.per}`,
    ...p.shapes
      .slice(0, 15)
      .map(([shape, n]) =>
        md
          ? `- ${Math.round((n / p.count) * 100) / 100} × \`${shape}\``
          : `  ${String(Math.round((n / p.count) * 100) / 100).padStart(7)}  ${shape}`,
      ),
  ]);
  if (md) {
    const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    return [line(head), line(head.map(() => '---')), ...rows.map(line), ...shapes].join('\n');
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ...shapes].join('\n');
}

const verdict = (f: Figure) => (f.pass === undefined ? '' : f.pass ? 'pass' : 'MISS');
const show = (v: number, display: string | undefined, unit: string) => `${display ?? v} ${unit}`;

function table(figures: Figure[], md: boolean): string {
  const head = ['bench', 'figure', 'value', 'floor (same run)', 'ratio', 'target', ''];
  const rows = figures.map((f) => [
    f.bench,
    f.name,
    show(f.value, f.display, f.unit),
    f.floor ? `${show(f.floor.value, f.floor.display, f.floor.unit)} — ${f.floor.name}` : '',
    f.ratio === undefined ? '' : String(f.ratio),
    f.target ?? '',
    verdict(f),
  ]);
  if (md) {
    const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fit = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const line = (cells: string[]) => cells.map((c, i) => fit(c, widths[i]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function writeReport(unsorted: Report): void {
  // in the issue's order (1…6); the run measures them in another order to share one stack
  const figures = [...unsorted.figures].sort((a, b) => parseInt(a.bench, 10) - parseInt(b.bench, 10));
  const report = { ...unsorted, figures };
  const { machine } = report;
  const when = new Date().toISOString();
  writeFileSync(
    path.join(ROOT, 'bench', 'results.json'),
    `${JSON.stringify({ generatedAt: when, command: 'npm run bench', ...report }, null, 2)}\n`,
  );
  console.log(
    `\nwa-notify bench — ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.platform}, Node ${machine.node} (${report.seconds} s)\n`,
  );
  console.log(table(report.figures, false));
  if (report.requestPaths.length > 0)
    console.log(`\nAzure Table requests per path (counted at a proxy in front of Azurite):\n${requestTables(report.requestPaths, false)}`);
  if (report.notes.length > 0) console.log(`\nnotes:\n${report.notes.map((n) => `- ${n}`).join('\n')}`);
  const misses = report.figures.filter((f) => f.pass === false).length;
  console.log(
    `\n${report.figures.filter((f) => f.pass === true).length} targets met, ${misses} missed; written to bench/results.json, docs/benchmarks.md and bench/README-section.md`,
  );

  const passed = report.figures.filter((f) => f.pass === true).length;
  const intro = [
    `Latest run: \`npm run bench\` on ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB RAM, ${machine.platform}, Node ${machine.node}`,
    `(${when.slice(0, 10)}; the whole run took ${report.seconds} s). Every process is real and on 127.0.0.1: Azurite, the sidecar`,
    '(real Baileys) and the function local host each in their own process, WhatsApp played by the loopback peer',
    '(test/whatsapp-peer). Each figure stands next to a floor measured in the same run: a bare Node HTTP server',
    'answering the same body, Azurite inserting the same rows in batched entity-group transactions, Baileys alone',
    `sending to its own loopback peer, bare \`node\`. Throughput runs are ${report.loadSeconds} s of autocannon per row; pacing and`,
    'the send budget are off (`WHATSAPP_SEND_INTERVAL_MS=0`, `WHATSAPP_SEND_BUDGET=off`) and the per-key limit raised, so the',
    'service itself is measured. "WhatsApp open" is the normal 200 path while the sidecar also sends what it accepts;',
    '"paused" is the deferred path (200 with `deferred: true`, `POST /whatsapp/api/disconnect`), where only the durable write is left.',
  ];
  const full = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (bench/report.ts) on each run; do not edit by hand.',
    '',
    ...intro,
    '',
    'Benches 7 and 8 run on their own stack with a counting proxy between the services and Azurite: every Azure Table',
    'request is classified as a point read, a query with a PartitionKey condition (`pk-query`), a query without one',
    '(`query-no-pk`: on Azure a scan of every partition, paged and billed per 1,000 entities, so its cost grows with',
    'history), an entity-group transaction (`batch`), an insert, an update/upsert or a delete. Counts are per notification',
    '(amortised over the phase, receipts included) or per idle minute, and do not depend on the machine. Bench 8 seeds',
    'finished rows straight into Azurite (bench/seed-history.ts) and repeats the idle minute and a notification.',
    '',
    table(report.figures, true),
    '',
    ...(report.requestPaths.length > 0 ? ['## Azure Table requests per path', '', requestTables(report.requestPaths, true), ''] : []),
    ...(report.notes.length > 0 ? ['## Notes', '', ...report.notes.map((n) => `- ${n}`), ''] : []),
    'Per-run details (CPU per request, request shapes, latencies): `bench/results.json`.',
    '',
  ].join('\n');
  writeFileSync(path.join(ROOT, 'docs', 'benchmarks.md'), full);

  const section = [
    '## Benchmarks',
    '',
    ...intro,
    '',
    `${passed} of ${passed + misses} targets met in that run. Every figure with its floor and ratio, and the Azure Table`,
    'requests per notification on each path, are in [docs/benchmarks.md](docs/benchmarks.md).',
    '',
  ].join('\n');
  writeFileSync(path.join(ROOT, 'bench', 'README-section.md'), section);
}
