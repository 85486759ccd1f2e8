/**
 * Positioned diagnostics: every user mistake in pipeline.yaml or a params file is reported as
 * file:line:column with the offending text underlined, all problems at once.
 */
export interface Diagnostic {
  /** Path as the user would type it (relative to the working directory when possible). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Characters to underline on that line (at least 1). */
  length: number;
  message: string;
  /** The text of the line, for the underline. */
  lineText?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column}: error: ${d.message}`;
  if (d.lineText === undefined) return head;
  const num = String(d.line);
  const pad = ' '.repeat(num.length);
  const text = d.lineText.replace(/\t/g, ' ');
  const maxLen = Math.max(1, Math.min(d.length, text.length - d.column + 1));
  const underline = ' '.repeat(Math.max(0, d.column - 1)) + '^'.repeat(maxLen);
  return `${head}\n ${num} | ${text}\n ${pad} | ${underline}`;
}

export function formatDiagnostics(ds: Diagnostic[]): string {
  const sorted = [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const body = sorted.map(formatDiagnostic).join('\n\n');
  const n = ds.length;
  return `${body}\n\n${n} problem${n === 1 ? '' : 's'} found; nothing was run.`;
}
