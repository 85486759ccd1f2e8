// Reading and writing tables as Arrow IPC *files* (Feather v2).
//
// Every stage output is content-addressed, so writing must be a pure
// function of the table: same table → same bytes, in any process. The IPC
// bytes depend on how rows are split into record batches, so the writer
// re-cuts every table into RECORD_BATCH_ROWS-row batches and sorts metadata
// keys; with apache-arrow's writer that leaves nothing else to vary.

import { closeSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as arrow from 'apache-arrow';
import { rebatch } from './rebatch.js';
import { SHAPE_METADATA_KEY } from './build.js';

export { makeTable, SHAPE_METADATA_KEY } from './build.js';
export type { ColumnSpec, Columns } from './build.js';

/**
 * Rows per record batch in every file we write. Part of the on-disk format:
 * changing it changes the bytes (and so the content hash) of every output.
 */
export const RECORD_BATCH_ROWS = 1024;

const MAGIC = new TextEncoder().encode('ARROW1');

/**
 * Serialises `table` as an Arrow IPC file: batches of exactly
 * RECORD_BATCH_ROWS rows (the last one shorter; none for an empty table),
 * schema and field metadata kept with keys sorted, bitmaps trimmed to
 * their batch. Throws on duplicate column names, which Arrow allows but
 * apache-arrow's RecordBatch cannot keep apart.
 */
export function tableToFileBytes(table: arrow.Table): Uint8Array {
  const names = new Set<string>();
  for (const f of table.schema.fields) {
    if (names.has(f.name)) throw new Error(`duplicate column name ${JSON.stringify(f.name)}`);
    names.add(f.name);
  }
  const schema = canonicalSchema(table.schema);
  const batches = rebatch(table, RECORD_BATCH_ROWS, schema);
  return arrow.tableToIPC(new arrow.Table(schema, batches), 'file');
}

/** Metadata maps keep insertion order; sort them so that order never reaches the bytes. */
function canonicalSchema(schema: arrow.Schema): arrow.Schema {
  const fields = schema.fields.map((f) => f.clone({ metadata: sortedMap(f.metadata) }));
  return new arrow.Schema(fields, sortedMap(schema.metadata));
}

function sortedMap(m: Map<string, string>): Map<string, string> {
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Writes `table` to `path` atomically (temp file in the same directory, then
 * rename), so a crash never leaves a truncated file under the final name.
 */
export async function writeTableFile(path: string, table: arrow.Table): Promise<void> {
  const bytes = tableToFileBytes(table);
  const tmp = tempName(path);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Synchronous writeTableFile. */
export function writeTableFileSync(path: string, table: arrow.Table): void {
  const bytes = tableToFileBytes(table);
  const tmp = tempName(path);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function tempName(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function startsWithMagic(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

function endsWithMagic(bytes: Uint8Array): boolean {
  const at = bytes.length - MAGIC.length;
  return at >= 0 && MAGIC.every((b, i) => bytes[at + i] === b);
}

/** True when `path` starts with the `ARROW1` magic. False if it is missing or a directory. */
export function isArrowFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR')) return false;
    throw err;
  }
  try {
    const head = new Uint8Array(MAGIC.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === head.length && startsWithMagic(head);
  } catch (err) {
    if (isErrno(err, 'EISDIR')) return false;
    throw err;
  } finally {
    closeSync(fd);
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/**
 * Reads an Arrow IPC file. Column data are views into the file's bytes
 * (zero-copy). Errors always name `path`; a file that is not an Arrow IPC
 * file (stream format, CSV, truncated) fails with "<path> is not an Arrow IPC file".
 */
export function readTableFile(path: string): arrow.Table {
  let bytes: Uint8Array = readFileSync(path);
  if (!startsWithMagic(bytes)) throw new Error(`${path} is not an Arrow IPC file`);
  if (!endsWithMagic(bytes) || bytes.length < 2 * MAGIC.length + 2) {
    throw new Error(`${path} is not an Arrow IPC file (truncated: no trailing ARROW1 magic)`);
  }
  // Small reads can come from Node's shared buffer pool at any byte offset;
  // typed-array views over the body need 8-byte alignment.
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  try {
    return arrow.tableFromIPC(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const hint = /compression/i.test(why) ? ' (write it uncompressed, e.g. feather compression="uncompressed")' : '';
    throw new Error(`${path}: cannot read Arrow IPC file: ${why}${hint}`, { cause: err });
  }
}

/** Zero-copy access to a FixedSizeList<Float32> column. */
export interface FlatFloat32 {
  /** Row-major [numRows * size]. */
  values: Float32Array;
  /** Floats per row (the list size). */
  size: number;
  /** Per-row shape from field metadata (SHAPE_METADATA_KEY), else [size]. */
  shape: number[];
}

/**
 * The whole FixedSizeList<Float32> column `column` as one flat Float32Array.
 * Zero-copy when the table has a single batch; with several batches (any
 * file over RECORD_BATCH_ROWS rows) the batches are concatenated into a new
 * array, since their bytes are not adjacent in the file. Rows that are null
 * read as whatever the writer stored (zeros for every writer we know).
 */
export function flatFloat32(table: arrow.Table, column: string): FlatFloat32 {
  const { vector, size, shape } = float32ListColumn(table, column);
  const chunks = vector.data.map((d) => {
    const child = d.children[0];
    if (child === undefined) throw new Error(`column ${JSON.stringify(column)} has no child data`);
    const all = child.values as Float32Array;
    // Hand back the caller's own array when it is exactly this column (makeTable's input).
    return all.length === d.length * size ? all : all.subarray(0, d.length * size); // [d.length * size]
  });
  if (chunks.length === 1) return { values: chunks[0]!, size, shape };
  const values = new Float32Array(table.numRows * size); // [numRows * size]
  let at = 0;
  for (const c of chunks) {
    values.set(c, at);
    at += c.length;
  }
  return { values, size, shape };
}

/** Row `row` of a FixedSizeList<Float32> column as a zero-copy Float32Array [size]. */
export function fixedSizeListView(table: arrow.Table, column: string, row: number): Float32Array {
  const { vector, size } = float32ListColumn(table, column);
  if (!Number.isInteger(row) || row < 0 || row >= vector.length) {
    throw new RangeError(`row ${row} out of range for ${vector.length} rows`);
  }
  const cell = vector.get(row) as arrow.Vector<arrow.Float32> | null;
  const data = cell?.data[0];
  if (data === undefined) throw new Error(`column ${JSON.stringify(column)} row ${row} is null`);
  return data.values.subarray(0, size);
}

function float32ListColumn(
  table: arrow.Table,
  column: string,
): { vector: arrow.Vector<arrow.FixedSizeList<arrow.Float32>>; size: number; shape: number[] } {
  const field = table.schema.fields.find((f) => f.name === column);
  const vector = table.getChild(column);
  if (field === undefined || vector === null) throw new Error(`table has no column ${JSON.stringify(column)}`);
  const { type } = field;
  if (!arrow.DataType.isFixedSizeList(type) || !isFloat32(type.valueType)) {
    throw new Error(`column ${JSON.stringify(column)} is ${String(type)}, not FixedSizeList<Float32>`);
  }
  const size = type.listSize;
  return { vector: vector as arrow.Vector<arrow.FixedSizeList<arrow.Float32>>, size, shape: shapeOf(field, size) };
}

function isFloat32(type: arrow.DataType): boolean {
  return arrow.DataType.isFloat(type) && type.precision === arrow.Precision.SINGLE;
}

function shapeOf(field: arrow.Field, size: number): number[] {
  const raw = field.metadata.get(SHAPE_METADATA_KEY);
  if (raw === undefined) return [size];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (Array.isArray(parsed) && parsed.every((n) => Number.isInteger(n) && n > 0)) {
      const dims = parsed as number[];
      if (dims.reduce((a, b) => a * b, 1) === size) return dims;
    }
  } catch {
    // fall through: a foreign or damaged shape is no reason to refuse the data
  }
  return [size];
}
