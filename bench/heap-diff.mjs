#!/usr/bin/env node
/**
 * Compares two V8 heap snapshots (bench/memory-soak.ts --snapshots): live objects grouped by
 * type and constructor (or string/code kind), the groups that grew most first, by self size.
 *
 *   node bench/heap-diff.mjs test-output/heap-snapshots/sidecar-1.heapsnapshot test-output/heap-snapshots/sidecar-2.heapsnapshot [rows=30]
 */
import { readFileSync } from 'node:fs';

function groups(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    // strings and code by kind only: their "name" is their content
    const name = type === 'object' || type === 'closure' || type === 'native' ? strings[nodes[i + nameAt]].slice(0, 60) : '';
    const key = `${type} ${name}`.trim();
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + sizeAt];
    out.set(key, g);
  }
  return out;
}

const [before, after, rows = '30'] = process.argv.slice(2);
if (!before || !after) {
  console.error('usage: node bench/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [rows]');
  process.exit(2);
}
const a = groups(before);
const b = groups(after);
const total = (m) => [...m.values()].reduce((s, g) => s + g.bytes, 0);
const mib = (n) => (n / 1024 / 1024).toFixed(2);
console.log(`total self size: ${mib(total(a))} MiB → ${mib(total(b))} MiB`);
const keys = new Set([...a.keys(), ...b.keys()]);
const diff = [...keys]
  .map((k) => {
    const x = a.get(k) ?? { count: 0, bytes: 0 };
    const y = b.get(k) ?? { count: 0, bytes: 0 };
    return { k, count: y.count - x.count, bytes: y.bytes - x.bytes, now: y.bytes };
  })
  .sort((p, q) => q.bytes - p.bytes)
  .slice(0, Number(rows));
for (const d of diff)
  console.log(`${mib(d.bytes).padStart(8)} MiB ${String(d.count).padStart(8)} objects  (now ${mib(d.now)} MiB)  ${d.k}`);
