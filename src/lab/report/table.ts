/**
 * One table model for both renderings: the HTML page and report.md show the same cells, so a
 * table is built once and written twice.
 */

export type Cell = string | number | null;

export interface Table {
  columns: string[];
  rows: Cell[][];
  /** Columns aligned right (numbers); by default every column whose cells are all numbers. */
  numeric?: boolean[];
  /** Columns whose numbers are written as they are (counts, epochs, SNRs); the others with 3 decimals. */
  plain?: string[];
}

/** A cell as text: numbers with 3 decimals (or as they are, `plain`), null and NaN as an en dash. */
export function formatCell(c: Cell, plain = false): string {
  if (c === null) return '–';
  if (typeof c === 'string') return c;
  if (Number.isNaN(c)) return '–';
  if (plain || !Number.isFinite(c)) return String(c);
  return c.toFixed(3);
}

function cellTexts(t: Table): string[][] {
  const plain = t.columns.map((c) => t.plain?.includes(c) ?? false);
  return t.rows.map((r) => r.map((c, j) => formatCell(c, plain[j])));
}

function numericColumns(t: Table): boolean[] {
  return t.numeric ?? t.columns.map((_, j) => t.rows.length > 0 && t.rows.every((r) => r[j] === null || typeof r[j] === 'number'));
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function tableToHtml(t: Table): string {
  const num = numericColumns(t);
  const cls = (j: number): string => (num[j] ? ' class="num"' : '');
  const head = t.columns.map((c, j) => `<th${cls(j)}>${escapeHtml(c)}</th>`).join('');
  const body = cellTexts(t).map((r) => `<tr>${r.map((c, j) => `<td${cls(j)}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** GitHub-flavoured markdown; pipes inside cells are escaped. */
export function tableToMarkdown(t: Table): string {
  const num = numericColumns(t);
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(t.columns.map(esc)),
    line(t.columns.map((_, j) => (num[j] ? '---:' : '---'))),
    ...cellTexts(t).map((r) => line(r.map(esc))),
  ].join('\n');
}
