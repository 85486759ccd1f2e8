/** A small RFC 4180 CSV reader (quoted fields, doubled quotes, CRLF) for dataset metadata. */

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += ch;
  }
  row.push(field);
  if (row.length > 1 || row[0] !== '') rows.push(row);
  return rows;
}

/** Rows as objects keyed by the header row; `file` names the CSV in errors. */
export function parseCsvRecords(text: string, file: string, required: readonly string[]): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new Error(`${file}: empty CSV`);
  const names = header.map((h) => h.trim());
  const missing = required.filter((r) => !names.includes(r));
  if (missing.length) throw new Error(`${file}: missing column(s) ${missing.join(', ')} (header: ${names.join(',')})`);
  return rows.map((cells, n) => {
    if (cells.length !== names.length) throw new Error(`${file}:${n + 2}: ${cells.length} fields, expected ${names.length}`);
    const rec: Record<string, string> = {};
    names.forEach((name, k) => (rec[name] = cells[k]!));
    return rec;
  });
}
