// Splitting a table into fixed-size record batches.
//
// The IPC bytes of a table depend on where its batches start and end, so
// the writer re-cuts every table into batches of exactly N rows, whatever
// chunking it arrived with (one chunk from makeTable, 1024-row chunks from a
// file, ragged chunks after Table.concat). Each output column is either an
// exact copy of one input slice ("compact") or a concatenation of several
// ("concat"); both produce offset-0 Data whose bitmaps hold only the
// batch's own rows, which also keeps apache-arrow's writer from dumping
// the tail of a shared bitmap into every batch.

import * as arrow from 'apache-arrow';
import { copyBits, onesBits, sliceBits } from './bits.js';

type AnyData = arrow.Data<arrow.DataType>;

/** Re-cuts `table` into batches of `rowsPerBatch` rows (the last one shorter). */
export function rebatch(
  table: arrow.Table,
  rowsPerBatch: number,
  schema: arrow.Schema = table.schema,
): arrow.RecordBatch[] {
  if (!Number.isInteger(rowsPerBatch) || rowsPerBatch < 1) {
    throw new RangeError(`rowsPerBatch must be a positive integer, got ${rowsPerBatch}`);
  }
  const columns = table.schema.fields.map((_, i) => {
    const col = table.getChildAt(i);
    if (col === null) throw new Error(`table has no column ${i}`);
    return col;
  });
  const structType = new arrow.Struct(schema.fields);
  const batches: arrow.RecordBatch[] = [];
  for (let start = 0; start < table.numRows; start += rowsPerBatch) {
    const end = Math.min(table.numRows, start + rowsPerBatch);
    const children = columns.map((col) => {
      const pieces = col.slice(start, end).data.filter((d) => d.length > 0);
      return pieces.length === 1 ? compactData(pieces[0]!) : concatData(pieces);
    });
    const data = arrow.makeData({ type: structType, length: end - start, nullCount: 0, children });
    batches.push(new arrow.RecordBatch(schema, data));
  }
  return batches;
}

function isFixedWidth(type: arrow.DataType): boolean {
  return (
    arrow.DataType.isInt(type) ||
    arrow.DataType.isFloat(type) ||
    arrow.DataType.isDate(type) ||
    arrow.DataType.isTime(type) ||
    arrow.DataType.isTimestamp(type) ||
    arrow.DataType.isDecimal(type) ||
    arrow.DataType.isInterval(type) ||
    arrow.DataType.isDuration(type) ||
    arrow.DataType.isFixedSizeBinary(type)
  );
}

function isVarBinary(type: arrow.DataType): boolean {
  return (
    arrow.DataType.isUtf8(type) ||
    arrow.DataType.isBinary(type) ||
    arrow.DataType.isLargeUtf8(type) ||
    arrow.DataType.isLargeBinary(type)
  );
}

function validityOf(d: AnyData): Uint8Array | undefined {
  return d.nullCount > 0 ? sliceBits(d.nullBitmap, d.offset, d.length) : undefined;
}

/**
 * A fixed-width column's own values, [length * stride] (apache-arrow has
 * already applied the slice offset to them). Typed as Int32Array for its
 * subarray/set API; it is whichever typed array the column uses.
 */
function flatValues(d: AnyData): Int32Array {
  return (d.values as Int32Array).subarray(0, d.length * d.stride);
}

/**
 * Offset-0 copy of one (possibly sliced) Data: bitmaps re-packed to hold
 * exactly `d.length` bits, nested children cut to the rows they cover.
 * Value buffers are shared, not copied.
 */
export function compactData(d: AnyData): AnyData {
  const { type, length } = d;
  if (arrow.DataType.isNull(type)) return d;
  const nullCount = d.nullCount;
  const validity = validityOf(d);
  if (arrow.DataType.isBool(type)) {
    const values = sliceBits(d.values as Uint8Array, d.offset, length);
    return new arrow.Data(type, 0, length, nullCount, [undefined, values, validity]);
  }
  if (isFixedWidth(type) || arrow.DataType.isDictionary(type)) {
    return new arrow.Data(type, 0, length, nullCount, [undefined, flatValues(d), validity], [], d.dictionary);
  }
  if (isVarBinary(type)) {
    // The writer rebases value offsets and cuts the byte buffer itself.
    return new arrow.Data(type, 0, length, nullCount, [d.valueOffsets, d.values, validity]);
  }
  if (arrow.DataType.isFixedSizeList(type)) {
    const child = exactChild(d.children[0], length * type.listSize);
    return new arrow.Data(type, 0, length, nullCount, [undefined, undefined, validity], [compactData(child)]);
  }
  if (arrow.DataType.isStruct(type)) {
    const children = d.children.map((c) => compactData(exactChild(c, length)));
    return new arrow.Data(type, 0, length, nullCount, [undefined, undefined, validity], children);
  }
  if ((arrow.DataType.isList(type) || arrow.DataType.isMap(type)) && d.valueOffsets instanceof Int32Array) {
    // Lists keep their child unsliced; cut it to [offsets[0], offsets[n]) and rebase.
    const src = d.valueOffsets; // [length + 1]
    const begin = src[0] ?? 0;
    const offsets = new Int32Array(length + 1); // [length + 1], starts at 0
    for (let i = 0; i <= length; i++) offsets[i] = (src[i] ?? begin) - begin;
    const child = d.children[0];
    if (child === undefined) throw new Error(`list column has no child data`);
    const cut = compactData(child.slice(begin, offsets[length] ?? 0));
    return new arrow.Data(type, 0, length, nullCount, [offsets, undefined, validity], [cut]);
  }
  // Unions and other rare types: apache-arrow's own slicing is correct, just not minimal.
  return d;
}

function exactChild(child: AnyData | undefined, length: number): AnyData {
  if (child === undefined) throw new Error('nested column has no child data');
  return child.length === length ? child : child.slice(0, length);
}

/** Joins several Data pieces of one column into a single offset-0 Data. */
export function concatData(pieces: AnyData[]): AnyData {
  const first = pieces[0];
  if (first === undefined) throw new Error('concatData needs at least one piece');
  if (pieces.length === 1) return compactData(first);
  const { type } = first;
  const length = pieces.reduce((n, p) => n + p.length, 0);
  const nullCount = pieces.reduce((n, p) => n + p.nullCount, 0);
  const validity = nullCount > 0 ? concatBits(pieces, (p) => (p.nullCount > 0 ? p.nullBitmap : null)) : undefined;
  const sameDictionary = pieces.every((p) => p.dictionary === first.dictionary);

  if (isFixedWidth(type) || (arrow.DataType.isDictionary(type) && sameDictionary)) {
    const parts = pieces.map(flatValues);
    const Ctor = parts[0]!.constructor as Int32ArrayConstructor;
    const values = new Ctor(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      values.set(p, at);
      at += p.length;
    }
    return new arrow.Data(type, 0, length, nullCount, [undefined, values, validity], [], first.dictionary);
  }
  if (arrow.DataType.isBool(type)) {
    const values = concatBits(pieces, (p) => p.values as Uint8Array);
    return new arrow.Data(type, 0, length, nullCount, [undefined, values, validity]);
  }
  if (isVarBinary(type)) {
    const { offsets, begins, ends } = concatOffsets(pieces, arrow.DataType.isLargeUtf8(type) || arrow.DataType.isLargeBinary(type));
    const values = new Uint8Array(Number(offsets[length] ?? 0)); // [total bytes]
    let at = 0;
    pieces.forEach((p, k) => {
      values.set((p.values as Uint8Array).subarray(begins[k]!, ends[k]!), at);
      at += ends[k]! - begins[k]!;
    });
    return new arrow.Data(type, 0, length, nullCount, [offsets, values, validity]);
  }
  if (arrow.DataType.isList(type) || arrow.DataType.isMap(type)) {
    const { offsets, begins, ends } = concatOffsets(pieces, false);
    const child = concatData(
      pieces.map((p, k) => {
        const c = p.children[0];
        if (c === undefined) throw new Error('list column has no child data');
        return c.slice(begins[k]!, ends[k]! - begins[k]!);
      }),
    );
    return new arrow.Data(type, 0, length, nullCount, [offsets, undefined, validity], [child]);
  }
  if (arrow.DataType.isNull(type)) {
    return arrow.makeData({ type, length });
  }
  if (arrow.DataType.isFixedSizeList(type)) {
    const size = type.listSize;
    const child = concatData(pieces.map((p) => exactChild(p.children[0], p.length * size)));
    return new arrow.Data(type, 0, length, nullCount, [undefined, undefined, validity], [child]);
  }
  if (arrow.DataType.isStruct(type)) {
    const children = type.children.map((_, i) => concatData(pieces.map((p) => exactChild(p.children[i], p.length))));
    return new arrow.Data(type, 0, length, nullCount, [undefined, undefined, validity], children);
  }
  return rebuild(type, pieces);
}

/**
 * Joins the value offsets of variable-length pieces, rebased to start at 0.
 * Returns them with each piece's [begin, end) range in its own child/bytes.
 * Shapes: offsets [totalRows + 1]; begins, ends [pieces.length].
 */
function concatOffsets(
  pieces: AnyData[],
  large: boolean,
): { offsets: Int32Array | BigInt64Array; begins: number[]; ends: number[] } {
  const length = pieces.reduce((n, p) => n + p.length, 0);
  const out: number[] = new Array<number>(length + 1);
  const begins: number[] = [];
  const ends: number[] = [];
  let row = 0;
  let base = 0;
  for (const p of pieces) {
    const src = p.valueOffsets as ArrayLike<number | bigint>; // [p.length + 1]
    const begin = Number(src[0] ?? 0);
    for (let i = 0; i < p.length; i++) out[row + i] = base + Number(src[i] ?? 0) - begin;
    const end = Number(src[p.length] ?? begin);
    begins.push(begin);
    ends.push(end);
    row += p.length;
    base += end - begin;
  }
  out[length] = base;
  if (!large && base > 0x7fffffff) throw new RangeError('concatenated column exceeds 2^31 - 1 values');
  const offsets = large ? BigInt64Array.from(out, (x) => BigInt(x)) : Int32Array.from(out);
  return { offsets, begins, ends };
}

/** Concatenates per-piece bitmaps; a piece whose bitmap is null counts as all ones. */
function concatBits(pieces: AnyData[], bitmapOf: (p: AnyData) => Uint8Array | null): Uint8Array {
  const length = pieces.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array((length + 7) >> 3);
  let at = 0;
  for (const p of pieces) {
    const bits = bitmapOf(p);
    if (bits === null) copyBits(out, at, onesBits(p.length), 0, p.length);
    else copyBits(out, at, bits, p.offset, p.length);
    at += p.length;
  }
  return out;
}

/**
 * Slow path for what has no hand-written concat (unions; dictionary columns
 * whose chunks carry different dictionaries): re-append every value through
 * a builder.
 */
function rebuild(type: arrow.DataType, pieces: AnyData[]): AnyData {
  const builder = arrow.makeBuilder({ type, nullValues: [null, undefined] });
  for (const p of pieces) {
    for (const v of new arrow.Vector([p])) builder.append(plain(v));
  }
  return compactData(builder.finish().flush());
}

/** Builders take JS arrays, not Vectors, for nested values. */
function plain(v: unknown): unknown {
  return v instanceof arrow.Vector ? Array.from(v, plain) : v;
}
