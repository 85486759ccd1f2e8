// Turning tables into something a person (or jq) can read: `conno show`.
//
// Output is plain text with no colour and no locale-dependent formatting,
// so it can be asserted on exactly in tests and diffed between runs.

import * as arrow from 'apache-arrow';
import { typeName } from './typename.js';

export { typeName } from './typename.js';

export interface FormatOptions {
  /** Rows to print (default 20). */
  head?: number;
  /** Longest line in characters (default 120); wide columns shrink first, then lines are cut. */
  maxWidth?: number;
  /** Longest cell before truncation with "…" (default 40). */
  maxCellWidth?: number;
}

const DEFAULT_HEAD = 20;
const DEFAULT_MAX_WIDTH = 120;
const DEFAULT_MAX_CELL = 40;
/** Narrowest a column is squeezed to when fitting maxWidth. */
const MIN_COLUMN = 6;
/** List elements shown before "… N values". */
const LIST_PREVIEW = 3;
const GAP = '  ';

/** A list cell keeps its parts so it can drop elements, rather than be cut mid-number, when narrowed. */
interface ListCell {
  items: string[];
  total: number;
}
type Cell = string | ListCell;

interface Column {
  name: string;
  type: string;
  cells: Cell[];
  right: boolean;
}

export function formatTable(table: arrow.Table, options: FormatOptions = {}): string {
  const maxWidth = Math.max(10, options.maxWidth ?? DEFAULT_MAX_WIDTH);
  const maxCell = Math.max(1, Math.min(options.maxCellWidth ?? DEFAULT_MAX_CELL, maxWidth));
  const head = clampHead(options.head ?? DEFAULT_HEAD, table.numRows);
  const fields = table.schema.fields;

  const columns: Column[] = fields.map((field, i) => {
    const vector = table.getChildAt(i);
    const cells: Cell[] = [];
    for (let r = 0; r < head; r++) cells.push(makeCell(vector?.get(r) ?? null, field.type));
    return { name: escapeText(field.name), type: typeName(field.type), cells, right: isNumeric(field.type) };
  });

  const widths = columns.map((c) =>
    Math.min(maxCell, Math.max(len(c.name), len(c.type), ...c.cells.map((cell) => len(cellText(cell, Infinity))))),
  );
  // A cut number is a wrong number, and a vector preview needs one element;
  // strings (and headers) are what gives way.
  const floors = columns.map((c, j) => {
    const need = c.cells.map((cell) => (typeof cell !== 'string' ? len(listText(cell, 1)) : c.right ? len(cell) : 0));
    return Math.min(widths[j]!, Math.max(MIN_COLUMN, ...need));
  });
  shrinkToFit(widths, floors, maxWidth);

  const lines: string[] = [];
  if (columns.length > 0) {
    const line = (text: (c: Column, width: number) => string, right: (c: Column) => boolean) =>
      cut(columns.map((c, j) => pad(text(c, widths[j]!), widths[j]!, right(c))).join(GAP).trimEnd(), maxWidth);
    lines.push(line((c, w) => cut(c.name, w), (c) => c.right));
    lines.push(line((c, w) => cut(c.type, w), (c) => c.right));
    lines.push(line((_, w) => '─'.repeat(w), () => false));
    for (let r = 0; r < head; r++) lines.push(line((c, w) => cellText(c.cells[r] ?? '', w), (c) => c.right));
  }

  const shown = head < table.numRows ? ` (showing first ${head})` : '';
  lines.push(`${plural(table.numRows, 'row')} × ${plural(fields.length, 'column')}${shown}`);

  const schemaMeta = [...table.schema.metadata];
  if (schemaMeta.length > 0) {
    lines.push('metadata:');
    for (const [k, v] of schemaMeta) lines.push(cut(`  ${escapeText(k)}: ${escapeText(v)}`, maxWidth));
  }
  const fieldMeta = fields.flatMap((f) => [...f.metadata].map(([k, v]) => [f.name, k, v] as const));
  if (fieldMeta.length > 0) {
    lines.push('field metadata:');
    for (const [f, k, v] of fieldMeta) {
      lines.push(cut(`  [${escapeText(f)}] ${escapeText(k)}: ${escapeText(v)}`, maxWidth));
    }
  }
  return lines.join('\n');
}

/** `[0.12, -0.5, 1.2, … 8192 values]`, keeping as many leading elements as fit in `width`. */
function cellText(cell: Cell, width: number): string {
  if (typeof cell === 'string') return cut(cell, width);
  for (let k = cell.items.length; k >= 0; k--) {
    const text = listText(cell, k);
    if (len(text) <= width) return text;
  }
  return cut(listText(cell, 0), width);
}

/** The list preview with its first `k` elements. */
function listText({ items, total }: ListCell, k: number): string {
  const parts = items.slice(0, k);
  if (k < total) parts.push(`… ${total} values`);
  return `[${parts.join(', ')}]`;
}

function clampHead(head: number, numRows: number): number {
  return Math.max(0, Math.min(Number.isFinite(head) ? Math.floor(head) : numRows, numRows));
}

/** Narrows the widest column one character at a time until the row fits or every column is at its floor. */
function shrinkToFit(widths: number[], floors: number[], maxWidth: number): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * Math.max(0, widths.length - 1);
  while (total() > maxWidth) {
    let widest = -1;
    widths.forEach((w, j) => {
      if (w > floors[j]! && (widest < 0 || w > widths[widest]!)) widest = j;
    });
    if (widest < 0) return;
    widths[widest]!--;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Length in code points, so a truncated emoji is not split in half. */
function len(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function cut(s: string, width: number): string {
  if (len(s) <= width) return s;
  return [...s].slice(0, Math.max(0, width - 1)).join('') + '…';
}

function pad(s: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - len(s)));
  return right ? fill + s : s + fill;
}

/** Control characters would break the grid; show them escaped. */
function escapeText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    switch (c) {
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
      default: return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
}

function isNumeric(type: arrow.DataType): boolean {
  return arrow.DataType.isInt(type) || arrow.DataType.isFloat(type) || arrow.DataType.isDecimal(type);
}

/** Shortest of fixed or exponent notation at `digits` significant digits; no trailing zeros. */
export function formatFloat(x: number, digits = 6): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const a = Math.abs(x);
  if (a >= 10 ** digits || a < 1e-4) {
    const [mantissa = '', exponent = ''] = x.toExponential(digits - 1).split('e');
    return `${mantissa.replace(/\.?0+$/, '')}e${exponent}`;
  }
  return String(Number(x.toPrecision(digits)));
}

function makeCell(value: unknown, type: arrow.DataType): Cell {
  if (value instanceof arrow.Vector) {
    const elementType = (type.children?.[0] as arrow.Field | undefined)?.type ?? value.type;
    const items: string[] = [];
    for (let i = 0; i < Math.min(value.length, LIST_PREVIEW); i++) items.push(formatScalar(value.get(i), elementType, 4));
    return { items, total: value.length };
  }
  return formatScalar(value, type, 6);
}

function formatScalar(value: unknown, type: arrow.DataType, digits: number): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return arrow.DataType.isFloat(type) ? formatFloat(value, digits) : String(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return escapeText(value);
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  return escapeText(JSON.stringify(toJsonValue(value)) ?? String(value));
}

export interface TableJson {
  schema: {
    /** `metadata` appears only on fields that have some. */
    fields: { name: string; type: string; metadata?: Record<string, string> }[];
    metadata: Record<string, string>;
  };
  /** The first `head` rows (all by default). */
  rows: Record<string, unknown>[];
  /** Rows in the whole table, not just `rows`. */
  numRows: number;
}

/**
 * A JSON-safe view of `table`: bigints become numbers when exact, else
 * strings; typed arrays and vectors become arrays; NaN and ±Infinity become
 * null (JSON has no spelling for them); float32 values are written in their
 * shortest float32 spelling (0.12, not 0.11999999731779099).
 */
export function tableToJson(table: arrow.Table, options: { head?: number } = {}): TableJson {
  const head = clampHead(options.head ?? Infinity, table.numRows);
  const fields = table.schema.fields;
  const vectors = fields.map((_, i) => table.getChildAt(i));
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < head; r++) {
    const row: Record<string, unknown> = {};
    fields.forEach((f, i) => {
      row[f.name] = toJsonValue(vectors[i]?.get(r) ?? null, f.type);
    });
    rows.push(row);
  }
  return {
    schema: {
      fields: fields.map((f) => ({
        name: f.name,
        type: typeName(f.type),
        ...(f.metadata.size > 0 ? { metadata: Object.fromEntries(f.metadata) } : {}),
      })),
      metadata: Object.fromEntries(table.schema.metadata),
    },
    rows,
    numRows: table.numRows,
  };
}

function isFloat32(type: arrow.DataType | undefined): boolean {
  return type !== undefined && arrow.DataType.isFloat(type) && type.precision === arrow.Precision.SINGLE;
}

/**
 * Shortest decimal that reads back as the same float32. Widening a float32
 * to a double exposes binary noise (0.12f is 0.11999999731779099); this is
 * what a float32-aware printer would show, and Math.fround() recovers the bits.
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let p = 1; p < 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return Number(x.toPrecision(9)); // 9 significant digits always round-trip a float32
}

/** Converts one cell to JSON-safe data; `type` (the cell's Arrow type) refines number output. */
export function toJsonValue(value: unknown, type?: arrow.DataType): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) return null;
      return isFloat32(type) ? shortestFloat32(value) : value;
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value.toString();
    case 'string':
    case 'boolean':
      return value;
    case 'object':
      break;
    default:
      return String(value);
  }
  if (value instanceof arrow.Vector) {
    const elementType = value.type as arrow.DataType;
    return Array.from(value.toArray() as ArrayLike<unknown>, (v) => toJsonValue(v, elementType));
  }
  if (value instanceof Float32Array) return Array.from(value, (v) => toJsonValue(v, new arrow.Float32()));
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    // A typed array of any kind (Int32Array, BigInt64Array, …): its elements by index.
    const view = value as ArrayBufferView & ArrayLike<number | bigint>;
    return Array.from(view, (v) => toJsonValue(v));
  }
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v)]));
  // StructRow and MapRow proxies know how to become plain objects.
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return toJsonValue(withJson.toJSON());
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
}
