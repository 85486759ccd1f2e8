/** Numbers as people read them in conno's output. */

/** A byte count in B, KiB, MiB, GiB or TiB (one decimal above bytes). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A table of text cells as aligned plain text (two spaces between columns, numbers right-aligned),
 * GitHub Markdown (`|` escaped) or CSV (RFC 4180 quoting).
 */
export function formatRows(columns: readonly string[], rows: readonly (readonly string[])[], as: 'text' | 'md' | 'csv'): string {
  if (as === 'csv') {
    const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    return [columns, ...rows].map((r) => r.map(q).join(',')).join('\n');
  }
  const isNumber = (s: string) => /^[-−+]?\d/.test(s);
  const right = columns.map((_, j) => rows.length > 0 && rows.every((r) => r[j] === '' || isNumber(r[j]!)));
  if (as === 'md') {
    const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
    return [`| ${columns.map(esc).join(' | ')} |`, `| ${columns.map((_, j) => (right[j] ? '---:' : '---')).join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
  }
  const width = columns.map((c, j) => Math.max(c.length, ...rows.map((r) => r[j]!.length)));
  const line = (r: readonly string[]) => r.map((s, j) => (right[j] ? s.padStart(width[j]!) : s.padEnd(width[j]!))).join('  ').trimEnd();
  return [line(columns), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
