// Building tables from plain column data, deterministically: the schema is
// a pure function of the specs (never of the values), column order is the
// caller's order, and typed arrays are wrapped rather than copied.

import * as arrow from 'apache-arrow';
import { packBits } from './bits.js';

/** Field-metadata key holding a FixedSizeList column's per-row shape, as JSON (e.g. "[64,128]"). */
export const SHAPE_METADATA_KEY = 'conno.shape';

interface SpecBase {
  /** Allow nulls in a plain-array `values`. Default false: a null is then an error. */
  nullable?: boolean;
  /** Field metadata. */
  metadata?: Record<string, string>;
}

export type ColumnSpec =
  | (SpecBase & { type: 'int32'; values: Int32Array | ReadonlyArray<number | null> })
  | (SpecBase & { type: 'float32'; values: Float32Array | ReadonlyArray<number | null> })
  | (SpecBase & { type: 'float64'; values: Float64Array | ReadonlyArray<number | null> })
  | (SpecBase & { type: 'utf8'; values: ReadonlyArray<string | null> })
  | (SpecBase & { type: 'bool'; values: ReadonlyArray<boolean | null> })
  | (SpecBase & {
      /** FixedSizeList<Float32>[size]: one fixed-size vector per row. */
      type: 'fixedSizeList';
      /** Row-major [numRows * size]; wrapped without copying. */
      values: Float32Array;
      /** Per-row length. Defaults to the product of `shape`. */
      size?: number;
      /** Per-row shape, stored as JSON under SHAPE_METADATA_KEY. Defaults to [size]. */
      shape?: readonly number[];
    })
  | (SpecBase & {
      /** List<Float32>: one variable-length vector per row (e.g. a clip's waveform). */
      type: 'listFloat32';
      /** All rows' values concatenated; wrapped without copying. */
      values: Float32Array;
      /** [numRows + 1] start offsets into `values`; offsets[0] = 0, last = values.length. */
      offsets: Int32Array;
    });

/** Column name → spec, or [name, spec] pairs when names look like integers (object keys would reorder). */
export type Columns = Record<string, ColumnSpec> | ReadonlyArray<readonly [string, ColumnSpec]>;

/**
 * Builds a single-batch table. Column order is insertion order. Typed-array
 * values (int32/float32/float64/fixedSizeList) are used zero-copy, so the
 * caller must not mutate them afterwards.
 */
export function makeTable(columns: Columns, metadata: Record<string, string> = {}): arrow.Table {
  const entries: ReadonlyArray<readonly [string, ColumnSpec]> = Array.isArray(columns)
    ? columns
    : Object.entries(columns as Record<string, ColumnSpec>);
  const seen = new Set<string>();
  const fields: arrow.Field[] = [];
  const children: arrow.Data[] = [];
  let numRows: number | undefined;
  let firstName = '';
  // apache-arrow's IPC writer writes a buffer shared by two columns once, and the file then
  // cannot be read back: give every column typed arrays of its own.
  const usedBuffers = new Set<ArrayBufferLike>();
  const own = <T extends ArrayBufferView & { slice(): T }>(v: T): T => {
    if (!usedBuffers.has(v.buffer)) {
      usedBuffers.add(v.buffer);
      return v;
    }
    const copy = v.slice();
    usedBuffers.add(copy.buffer);
    return copy;
  };
  for (const [name, rawSpec] of entries) {
    if (seen.has(name)) throw new Error(`duplicate column name ${JSON.stringify(name)}`);
    seen.add(name);
    let spec = rawSpec;
    if (ArrayBuffer.isView(spec.values)) spec = { ...spec, values: own(spec.values) } as ColumnSpec;
    if (spec.type === 'listFloat32') spec = { ...spec, offsets: own(spec.offsets) };
    const { field, data } = buildColumn(name, spec);
    if (numRows === undefined) {
      numRows = data.length;
      firstName = name;
    } else if (data.length !== numRows) {
      throw new Error(
        `column ${JSON.stringify(name)} has ${data.length} rows but ${JSON.stringify(firstName)} has ${numRows}`,
      );
    }
    fields.push(field);
    children.push(data);
  }
  const schema = new arrow.Schema(fields, toMap(metadata));
  const length = numRows ?? 0;
  const struct = arrow.makeData({ type: new arrow.Struct(fields), length, nullCount: 0, children });
  return new arrow.Table(schema, [new arrow.RecordBatch(schema, struct)]);
}

function toMap(record: Record<string, string> | undefined): Map<string, string> {
  return new Map(Object.entries(record ?? {}));
}

function buildColumn(name: string, spec: ColumnSpec): { field: arrow.Field; data: arrow.Data } {
  const nullable = spec.nullable ?? false;
  const fieldMeta = toMap(spec.metadata);
  const where = `column ${JSON.stringify(name)}`;
  switch (spec.type) {
    case 'int32': {
      const type = new arrow.Int32();
      const { values, validity, nullCount } = numeric(spec.values, (n) => new Int32Array(n), nullable, where, (v, i) => {
        if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw new Error(`${where}: row ${i} value ${v} is not an int32`);
        }
      });
      const data = arrow.makeData({ type, length: values.length, nullCount, data: values, nullBitmap: validity });
      return { field: new arrow.Field(name, type, nullable, fieldMeta), data };
    }
    case 'float32': {
      const type = new arrow.Float32();
      const { values, validity, nullCount } = numeric(spec.values, (n) => new Float32Array(n), nullable, where);
      const data = arrow.makeData({ type, length: values.length, nullCount, data: values, nullBitmap: validity });
      return { field: new arrow.Field(name, type, nullable, fieldMeta), data };
    }
    case 'float64': {
      const type = new arrow.Float64();
      const { values, validity, nullCount } = numeric(spec.values, (n) => new Float64Array(n), nullable, where);
      const data = arrow.makeData({ type, length: values.length, nullCount, data: values, nullBitmap: validity });
      return { field: new arrow.Field(name, type, nullable, fieldMeta), data };
    }
    case 'utf8': {
      const type = new arrow.Utf8();
      const { validity, nullCount } = nulls(spec.values, nullable, where);
      const encoder = new TextEncoder();
      const encoded = spec.values.map((s) => encoder.encode(s ?? ''));
      const offsets = new Int32Array(encoded.length + 1); // [numRows + 1] byte offsets
      let total = 0;
      encoded.forEach((bytes, i) => {
        total += bytes.length;
        if (total > 0x7fffffff) throw new Error(`${where}: more than 2 GiB of string data`);
        offsets[i + 1] = total;
      });
      const bytes = new Uint8Array(total); // [total] concatenated UTF-8
      encoded.forEach((b, i) => bytes.set(b, offsets[i] ?? 0));
      const data = arrow.makeData({
        type,
        length: encoded.length,
        nullCount,
        nullBitmap: validity,
        valueOffsets: offsets,
        data: bytes,
      });
      return { field: new arrow.Field(name, type, nullable, fieldMeta), data };
    }
    case 'bool': {
      const type = new arrow.Bool();
      const { validity, nullCount } = nulls(spec.values, nullable, where);
      const values = packBits(spec.values.map((v) => v === true));
      const data = arrow.makeData({ type, length: spec.values.length, nullCount, nullBitmap: validity, data: values });
      return { field: new arrow.Field(name, type, nullable, fieldMeta), data };
    }
    case 'fixedSizeList': {
      const shape = spec.shape ?? (spec.size !== undefined ? [spec.size] : undefined);
      if (shape === undefined) throw new Error(`${where}: fixedSizeList needs size or shape`);
      if (!shape.every((n) => Number.isInteger(n) && n > 0)) {
        throw new Error(`${where}: shape ${JSON.stringify(shape)} must be positive integers`);
      }
      const size = shape.reduce((a, b) => a * b, 1);
      if (spec.size !== undefined && spec.size !== size) {
        throw new Error(`${where}: size ${spec.size} does not match shape ${JSON.stringify(shape)}`);
      }
      if (spec.values.length % size !== 0) {
        throw new Error(`${where}: ${spec.values.length} values is not a multiple of size ${size}`);
      }
      const length = spec.values.length / size;
      // Elements are never null; whole rows may not be null either (no bitmap is built).
      const itemType = new arrow.Float32();
      const type = new arrow.FixedSizeList(size, new arrow.Field('item', itemType, false));
      const child = arrow.makeData({ type: itemType, length: spec.values.length, nullCount: 0, data: spec.values });
      const data = arrow.makeData({ type, length, nullCount: 0, child });
      const meta = new Map(fieldMeta);
      meta.set(SHAPE_METADATA_KEY, JSON.stringify(shape));
      return { field: new arrow.Field(name, type, nullable, meta), data };
    }
    case 'listFloat32': {
      const { offsets, values } = spec;
      if (offsets.length < 1 || offsets[0] !== 0 || offsets[offsets.length - 1] !== values.length) {
        throw new Error(`${where}: offsets must start at 0 and end at values.length (${values.length})`);
      }
      for (let i = 1; i < offsets.length; i++) {
        if (offsets[i]! < offsets[i - 1]!) throw new Error(`${where}: offsets decrease at row ${i - 1}`);
      }
      const itemType = new arrow.Float32();
      const type = new arrow.List(new arrow.Field('item', itemType, false));
      const child = arrow.makeData({ type: itemType, length: values.length, nullCount: 0, data: values });
      const data = arrow.makeData({ type, length: offsets.length - 1, nullCount: 0, valueOffsets: offsets, child });
      return { field: new arrow.Field(name, type, nullable, fieldMeta), data };
    }
  }
}

type NumericArray = Int32Array | Float32Array | Float64Array;

function numeric<A extends NumericArray>(
  input: A | ReadonlyArray<number | null>,
  alloc: (n: number) => A,
  nullable: boolean,
  where: string,
  check?: (v: number, i: number) => void,
): { values: A; validity: Uint8Array | undefined; nullCount: number } {
  if (ArrayBuffer.isView(input)) {
    // A typed array of the wrong kind would be reinterpreted, not converted.
    const expected = alloc(0).constructor;
    if (input.constructor !== expected) {
      throw new Error(`${where}: expected ${expected.name}, got ${input.constructor.name}`);
    }
    return { values: input, validity: undefined, nullCount: 0 };
  }
  const list = input as ReadonlyArray<number | null>;
  const { validity, nullCount } = nulls(list, nullable, where);
  const values = alloc(list.length);
  list.forEach((v, i) => {
    if (v === null || v === undefined) return; // slot stays 0
    check?.(v, i);
    values[i] = v;
  });
  return { values, validity, nullCount };
}

/** Validity bitmap for a plain array; undefined when there are no nulls. */
function nulls(
  values: ReadonlyArray<unknown>,
  nullable: boolean,
  where: string,
): { validity: Uint8Array | undefined; nullCount: number } {
  let nullCount = 0;
  values.forEach((v, i) => {
    if (v === null || v === undefined) {
      if (!nullable) throw new Error(`${where}: row ${i} is null but the column is not nullable`);
      nullCount++;
    }
  });
  if (nullCount === 0) return { validity: undefined, nullCount: 0 };
  return { validity: packBits(values.map((v) => v !== null && v !== undefined)), nullCount };
}
