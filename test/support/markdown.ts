/** Reading report.md in tests. */
import { expect } from 'vitest';

/** The rows of the markdown table that follows `caption`, as cells. */
export function mdTable(md: string, caption: string): string[][] {
  const lines = md.split('\n');
  const at = lines.indexOf(caption);
  expect(at, caption).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (let i = at + 4; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(lines[i]!.slice(2, -2).split(' | '));
  return rows;
}
