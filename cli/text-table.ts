/** Plain aligned columns for terminal listings; `-` stands for an empty cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly (string | undefined)[])[]): string {
  const cells = [headers, ...rows.map((r) => headers.map((_, i) => r[i] || '-'))];
  const width = (s: string) => [...s].length;
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => width(r[i]!))));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ')).join('\n');
}

/** `2025-11-23T21:41:05.123Z` → `2025-11-23 21:41:05 UTC`; undefined stays undefined. */
export function formatTimestamp(iso: string | undefined): string | undefined {
  if (!iso) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(iso);
  return match ? `${match[1]} ${match[2]} UTC` : iso;
}
