import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as arrow from 'apache-arrow';
import ts from 'typescript';
import { tableToJson } from './format.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RECORD_BATCH_ROWS,
  SHAPE_METADATA_KEY,
  fixedSizeListView,
  flatFloat32,
  isArrowFile,
  makeTable,
  readTableFile,
  tableToFileBytes,
  writeTableFile,
  writeTableFileSync,
  type ColumnSpec,
} from './io.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conno-arrow-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Deterministic pseudo-random floats (LCG), so fixtures need no stored data. */
function floats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n); // [n]
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A table using every makeTable column type, with nulls where allowed: rows start..start+n of one infinite sequence. */
function everyType(n: number, size = 4, start = 0): arrow.Table {
  const gen = <T,>(f: (i: number) => T) => Array.from({ length: n }, (_, k) => f(k + start));
  return makeTable(
    {
      id: { type: 'int32', values: Int32Array.from(gen((i) => i * 7 - 3)) },
      count: { type: 'int32', nullable: true, values: gen((i) => (i % 5 === 0 ? null : i)) },
      gain: { type: 'float32', values: gen((i) => i / 3) },
      score: { type: 'float64', nullable: true, values: gen((i) => (i % 7 === 3 ? null : Math.sqrt(i) - 10)) },
      label: {
        type: 'utf8',
        nullable: true,
        values: gen((i) => (i % 11 === 4 ? null : `clip-${i}-${'é'.repeat(i % 3)}`)),
        metadata: { role: 'label' },
      },
      noisy: { type: 'bool', nullable: true, values: gen((i) => (i % 13 === 0 ? null : i % 3 === 0)) },
      features: { type: 'fixedSizeList', values: floats((n + start) * size, 42).subarray(start * size), size },
    },
    { 'conno.stage': 'featurize', 'conno.version': '1' },
  );
}

/** Columns makeTable does not build, as apache-arrow's own factories make them. */
function otherTypes(n: number): arrow.Table {
  const gen = <T,>(f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  const listType = new arrow.List(new arrow.Field('item', new arrow.Int32(), true));
  const structType = new arrow.Struct([new arrow.Field('a', new arrow.Float64(), true), new arrow.Field('b', new arrow.Utf8(), true)]);
  return arrow.tableFromArrays({
    big: gen((i) => BigInt(i) * 2n ** 40n),
    list: arrow.vectorFromArray(gen((i) => (i % 6 === 5 ? null : [0, 1, 2].slice(0, i % 4))), listType),
    rec: arrow.vectorFromArray(gen((i) => (i % 8 === 1 ? null : { a: i / 2, b: i % 3 ? `s${i}` : null })), structType),
    dict: gen((i) => ['low', 'mid', 'high'][i % 3]!),
  });
}

/** Row-wise plain values, for comparing tables regardless of chunking. */
function rowsOf(table: arrow.Table): unknown[][] {
  const cols = table.schema.fields.map((_, i) => table.getChildAt(i)!);
  return Array.from({ length: table.numRows }, (_, r) =>
    cols.map((c) => {
      const v = c.get(r);
      return v instanceof arrow.Vector ? Array.from(v.toArray() as Float32Array) : v;
    }),
  );
}

function schemaOf(table: arrow.Table) {
  return {
    metadata: Object.fromEntries(table.schema.metadata),
    fields: table.schema.fields.map((f) => ({
      name: f.name,
      type: String(f.type),
      nullable: f.nullable,
      metadata: Object.fromEntries(f.metadata),
    })),
  };
}

describe('makeTable', () => {
  it('builds every column type in insertion order with the given metadata', () => {
    const t = everyType(3);
    expect(schemaOf(t)).toEqual({
      metadata: { 'conno.stage': 'featurize', 'conno.version': '1' },
      fields: [
        { name: 'id', type: 'Int32', nullable: false, metadata: {} },
        { name: 'count', type: 'Int32', nullable: true, metadata: {} },
        { name: 'gain', type: 'Float32', nullable: false, metadata: {} },
        { name: 'score', type: 'Float64', nullable: true, metadata: {} },
        { name: 'label', type: 'Utf8', nullable: true, metadata: { role: 'label' } },
        { name: 'noisy', type: 'Bool', nullable: true, metadata: {} },
        { name: 'features', type: 'FixedSizeList[4]<Float32>', nullable: false, metadata: { [SHAPE_METADATA_KEY]: '[4]' } },
      ],
    });
    expect(rowsOf(t)[0]).toEqual([-3, null, 0, -10, 'clip-0-', null, Array.from(floats(4, 42))]);
    expect(rowsOf(t)[2]).toEqual([11, 2, Math.fround(2 / 3), Math.sqrt(2) - 10, 'clip-2-éé', false, Array.from(floats(12, 42).subarray(8))]);
  });

  it('wraps typed arrays without copying', () => {
    const ids = new Int32Array([1, 2, 3]);
    const gains = new Float32Array([0.5, 1, 2]);
    const feats = floats(3 * 8, 1);
    const t = makeTable({
      id: { type: 'int32', values: ids },
      gain: { type: 'float32', values: gains },
      f: { type: 'fixedSizeList', values: feats, shape: [2, 4] },
    });
    expect(t.getChild('id')!.data[0]!.values).toBe(ids);
    expect(t.getChild('gain')!.data[0]!.values).toBe(gains);
    expect(t.getChild('f')!.data[0]!.children[0]!.values).toBe(feats);
    expect(t.schema.fields[2]!.metadata.get(SHAPE_METADATA_KEY)).toBe('[2,4]');
    expect(flatFloat32(t, 'f')).toEqual({ values: feats, size: 8, shape: [2, 4] });
    expect(flatFloat32(t, 'f').values).toBe(feats);
  });

  it('keeps integer-like column names in the given order when passed as pairs', () => {
    const t = makeTable([
      ['b', { type: 'int32', values: [1] }],
      ['2', { type: 'int32', values: [2] }],
      ['1', { type: 'int32', values: [3] }],
    ]);
    expect(t.schema.fields.map((f) => f.name)).toEqual(['b', '2', '1']);
  });

  it('rejects inconsistent input', () => {
    expect(() => makeTable({ a: { type: 'int32', values: [1, 2] }, b: { type: 'utf8', values: ['x'] } })).toThrow(
      'column "b" has 1 rows but "a" has 2',
    );
    expect(() => makeTable({ a: { type: 'utf8', values: ['x', null] } })).toThrow('column "a": row 1 is null but the column is not nullable');
    expect(() => makeTable({ a: { type: 'int32', values: [1.5] } })).toThrow('row 0 value 1.5 is not an int32');
    expect(() => makeTable({ a: { type: 'int32', values: [2 ** 31] } })).toThrow('is not an int32');
    expect(() => makeTable({ f: { type: 'fixedSizeList', values: new Float32Array(10), size: 4 } })).toThrow('not a multiple of size 4');
    expect(() => makeTable({ f: { type: 'fixedSizeList', values: new Float32Array(8), size: 4, shape: [2, 3] } })).toThrow(
      'does not match shape',
    );
    expect(() => makeTable({ f: { type: 'fixedSizeList', values: new Float32Array(8) } })).toThrow('needs size or shape');
    expect(() => makeTable([['a', { type: 'bool', values: [true] }], ['a', { type: 'bool', values: [true] }]])).toThrow(
      'duplicate column name "a"',
    );
    const wrong = { type: 'float32', values: new Float64Array(2) } as unknown as ColumnSpec;
    expect(() => makeTable({ x: wrong })).toThrow('expected Float32Array, got Float64Array');
  });
});

describe('writeTableFile / readTableFile', () => {
  it('round-trips every column type, nulls, schema and field metadata', async () => {
    const t = everyType(3000);
    const path = join(dir, 'every.arrow');
    await writeTableFile(path, t);
    const back = readTableFile(path);
    expect(back.numRows).toBe(3000);
    expect(schemaOf(back)).toEqual(schemaOf(t));
    expect(rowsOf(back)).toEqual(rowsOf(t));
  });

  it('splits into record batches of exactly RECORD_BATCH_ROWS rows', () => {
    expect(RECORD_BATCH_ROWS).toBe(1024);
    const bytes = tableToFileBytes(everyType(2500));
    const reader = arrow.RecordBatchReader.from(bytes);
    expect(reader.isFile()).toBe(true);
    expect([...reader].map((b) => b.numRows)).toEqual([1024, 1024, 452]);
    expect(arrow.tableFromIPC(bytes).batches.map((b) => b.numRows)).toEqual([1024, 1024, 452]);
    expect(arrow.tableFromIPC(tableToFileBytes(everyType(1024))).batches.map((b) => b.numRows)).toEqual([1024]);
  });

  it('writes the same bytes however the input is chunked or sliced', () => {
    const whole = everyType(2500);
    const expected = tableToFileBytes(whole);
    // Ragged chunks force batches that straddle chunk boundaries.
    const ragged = new arrow.Table(whole.schema, [
      ...whole.slice(0, 700).batches,
      ...whole.slice(700, 1700).batches,
      ...whole.slice(1700).batches,
    ]);
    expect(ragged.batches.map((b) => b.numRows)).toEqual([700, 1000, 800]);
    expect(sha256(tableToFileBytes(ragged))).toBe(sha256(expected));
    // Reading a file and writing it again changes nothing.
    expect(sha256(tableToFileBytes(arrow.tableFromIPC(expected)))).toBe(sha256(expected));
    // A slice starting off a byte boundary (bitmaps shift by 3 bits) equals the same rows built fresh.
    const sliced = everyType(2503).slice(3);
    const fresh = everyType(2500, 4, 3);
    expect(rowsOf(sliced)).toEqual(rowsOf(fresh));
    expect(sha256(tableToFileBytes(sliced))).toBe(sha256(tableToFileBytes(fresh)));
    // ...and slices straddling chunk boundaries at odd offsets too.
    const oddRagged = new arrow.Table(whole.schema, [...everyType(2503).slice(3, 1001).batches, ...fresh.slice(998).batches]);
    expect(sha256(tableToFileBytes(oddRagged))).toBe(sha256(tableToFileBytes(fresh)));
  });

  it('re-cuts other Arrow types too (int64, list, struct, dictionary) without changing values or bytes', () => {
    const whole = otherTypes(2300);
    const expected = tableToFileBytes(whole);
    const ragged = new arrow.Table(whole.schema, [
      ...whole.slice(0, 333).batches,
      ...whole.slice(333, 1500).batches,
      ...whole.slice(1500).batches,
    ]);
    expect(sha256(tableToFileBytes(ragged))).toBe(sha256(expected));
    const back = arrow.tableFromIPC(expected);
    expect(back.batches.map((b) => b.numRows)).toEqual([1024, 1024, 252]);
    expect(tableToJson(back).rows).toEqual(tableToJson(whole).rows);
    expect(tableToJson(back).rows[5]).toEqual({ big: 5 * 2 ** 40, list: null, rec: { a: 2.5, b: 's5' }, dict: 'high' });
  });

  it('does not depend on metadata insertion order', () => {
    const a = makeTable({ x: { type: 'int32', values: [1], metadata: { b: '2', a: '1' } } }, { z: '1', y: '2' });
    const b = makeTable({ x: { type: 'int32', values: [1], metadata: { a: '1', b: '2' } } }, { y: '2', z: '1' });
    expect(sha256(tableToFileBytes(a))).toBe(sha256(tableToFileBytes(b)));
  });

  it('keeps each batch to its own rows (bitmaps are trimmed, not copied whole)', () => {
    const n = 50_000;
    const t = makeTable({
      flag: { type: 'bool', nullable: true, values: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : i % 2 === 0)) },
    });
    const bytes = tableToFileBytes(t);
    // Two bitmaps of n/8 bytes plus a few hundred bytes of framing per batch; apache-arrow's
    // untrimmed slices would write the rest of both bitmaps into every batch (~300 kB here).
    expect(bytes.length).toBeLessThan((2 * n) / 8 + Math.ceil(n / RECORD_BATCH_ROWS) * 400);
    expect(rowsOf(arrow.tableFromIPC(bytes))).toEqual(rowsOf(t));
  });

  it('writes and reads an empty table, keeping its schema', () => {
    const t = makeTable({ a: { type: 'int32', values: [] }, f: { type: 'fixedSizeList', values: new Float32Array(0), size: 3 } }, { k: 'v' });
    const path = join(dir, 'empty.arrow');
    writeTableFileSync(path, t);
    const back = readTableFile(path);
    expect(back.numRows).toBe(0);
    expect(schemaOf(back)).toEqual(schemaOf(t));
    expect(flatFloat32(back, 'f')).toEqual({ values: new Float32Array(0), size: 3, shape: [3] });
  });

  it('writes atomically, leaving no temp files behind', async () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    await writeTableFile(join(sub, 'a.arrow'), everyType(10));
    writeTableFileSync(join(sub, 'b.arrow'), everyType(10));
    expect(readdirSync(sub).sort()).toEqual(['a.arrow', 'b.arrow']);
    await expect(writeTableFile(join(sub, 'missing-dir', 'c.arrow'), everyType(1))).rejects.toThrow(/ENOENT/);
  });

  it('rejects duplicate column names on write', () => {
    const d = arrow.makeData({ type: new arrow.Int32(), length: 1, data: new Int32Array([1]) });
    const fields = [new arrow.Field('a', new arrow.Int32()), new arrow.Field('a', new arrow.Int32())];
    const batch = new arrow.RecordBatch(
      new arrow.Schema(fields),
      arrow.makeData({ type: new arrow.Struct(fields), length: 1, nullCount: 0, children: [d, d] }),
    );
    const dup = new arrow.Table(batch.schema, [batch]);
    expect(() => tableToFileBytes(dup)).toThrow('duplicate column name "a"');
  });
});

describe('non-Arrow input', () => {
  it('names the file when it is not an Arrow IPC file', () => {
    const csv = join(dir, 'data.csv');
    writeFileSync(csv, 'a,b\n1,2\n');
    expect(isArrowFile(csv)).toBe(false);
    expect(() => readTableFile(csv)).toThrow(`${csv} is not an Arrow IPC file`);

    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, '');
    expect(isArrowFile(empty)).toBe(false);
    expect(() => readTableFile(empty)).toThrow(`${empty} is not an Arrow IPC file`);

    // The IPC *stream* format has no magic; we only exchange files.
    const stream = join(dir, 'stream.arrows');
    writeFileSync(stream, arrow.tableToIPC(everyType(3), 'stream'));
    expect(isArrowFile(stream)).toBe(false);
    expect(() => readTableFile(stream)).toThrow(`${stream} is not an Arrow IPC file`);
  });

  it('names the file when it is truncated', () => {
    const bytes = tableToFileBytes(everyType(100));
    const cut = join(dir, 'cut.arrow');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 50));
    expect(isArrowFile(cut)).toBe(true);
    expect(() => readTableFile(cut)).toThrow(`${cut} is not an Arrow IPC file (truncated`);
  });

  it('names the file when the footer is garbage', () => {
    const bytes = tableToFileBytes(everyType(100)).slice();
    bytes.fill(0xee, bytes.length - 40, bytes.length - 10);
    const bad = join(dir, 'bad.arrow');
    writeFileSync(bad, bytes);
    expect(() => readTableFile(bad)).toThrow(`${bad}: cannot read Arrow IPC file`);
  });

  it('isArrowFile is false for missing paths and directories', () => {
    expect(isArrowFile(join(dir, 'nope.arrow'))).toBe(false);
    expect(isArrowFile(dir)).toBe(false);
    const ok = join(dir, 'ok.arrow');
    writeTableFileSync(ok, everyType(2));
    expect(isArrowFile(ok)).toBe(true);
  });
});

describe('FixedSizeList<Float32> access', () => {
  it('concatenates across batches and views single rows without copying', () => {
    const n = 2500;
    const size = 16;
    const src = floats(n * size, 7);
    const path = join(dir, 'feat.arrow');
    writeTableFileSync(path, makeTable({ f: { type: 'fixedSizeList', values: src, shape: [4, 4] }, i: { type: 'int32', values: new Int32Array(n) } }));
    const t = readTableFile(path);
    expect(t.batches.length).toBe(3);
    const flat = flatFloat32(t, 'f');
    expect(flat.size).toBe(16);
    expect(flat.shape).toEqual([4, 4]);
    expect(flat.values).toEqual(src);

    for (const row of [0, 1023, 1024, 2499]) {
      const view = fixedSizeListView(t, 'f', row);
      expect(view).toEqual(src.subarray(row * size, (row + 1) * size));
      // Same memory as the batch read from the file.
      const batch = t.batches[Math.floor(row / RECORD_BATCH_ROWS)]!;
      expect(view.buffer).toBe(batch.getChild('f')!.data[0]!.children[0]!.values.buffer);
    }
    expect(() => fixedSizeListView(t, 'f', n)).toThrow(RangeError);
    expect(() => flatFloat32(t, 'i')).toThrow('column "i" is Int32, not FixedSizeList<Float32>');
    expect(() => flatFloat32(t, 'zzz')).toThrow('table has no column "zzz"');
  });

  it('is zero-copy for a single-batch file', () => {
    const src = floats(100 * 3, 3);
    const path = join(dir, 'one.arrow');
    writeTableFileSync(path, makeTable({ f: { type: 'fixedSizeList', values: src, size: 3 } }));
    const t = readTableFile(path);
    const flat = flatFloat32(t, 'f');
    expect(flat.values).toEqual(src);
    expect(flat.values.buffer).toBe(t.batches[0]!.getChild('f')!.data[0]!.children[0]!.values.buffer);
  });
});

// --- Determinism across processes -------------------------------------------

/** JSON-able description of the golden table; NaN-free so JSON carries it exactly. */
function goldenSpec(): { columns: Record<string, { type: string; values: unknown[]; [k: string]: unknown }>; metadata: Record<string, string> } {
  const n = 2100;
  return {
    columns: {
      id: { type: 'int32', values: Array.from({ length: n }, (_, i) => i) },
      label: { type: 'utf8', nullable: true, values: Array.from({ length: n }, (_, i) => (i % 9 === 0 ? null : `c${i % 17}`)) },
      ok: { type: 'bool', values: Array.from({ length: n }, (_, i) => i % 4 === 1) },
      snr: { type: 'float64', values: Array.from({ length: n }, (_, i) => i / 8 - 40) },
      gain: { type: 'float32', nullable: true, values: Array.from({ length: n }, (_, i) => (i % 10 === 0 ? null : 1 / (i + 1))) },
      features: { type: 'fixedSizeList', shape: [2, 3], values: Array.from(floats(n * 6, 99)) },
    },
    metadata: { 'conno.stage': 'golden', note: 'ünïcödé' },
  };
}

function fromSpec(spec: ReturnType<typeof goldenSpec>): arrow.Table {
  const columns = Object.fromEntries(
    Object.entries(spec.columns).map(([k, c]) => [k, c.type === 'fixedSizeList' ? { ...c, values: new Float32Array(c.values as number[]) } : c]),
  ) as unknown as Record<string, ColumnSpec>;
  return makeTable(columns, spec.metadata);
}

/**
 * SHA-256 of tableToFileBytes(fromSpec(goldenSpec())). If this changes, the
 * on-disk format changed (batching, metadata order, apache-arrow's writer)
 * and every cached stage output would be re-hashed: make that deliberate.
 */
const GOLDEN_SHA256 = 'f01b3251daf3506ea3d00b7024b86e9cd669440cc9307143052b2ebc3e382848';

describe('deterministic bytes', () => {
  it('are identical across two writes', async () => {
    const a = join(dir, 'g1.arrow');
    const b = join(dir, 'g2.arrow');
    await writeTableFile(a, fromSpec(goldenSpec()));
    await writeTableFile(b, fromSpec(goldenSpec()));
    expect(sha256(readFileSync(a))).toBe(sha256(readFileSync(b)));
  });

  it('match the golden hash', () => {
    expect(sha256(tableToFileBytes(fromSpec(goldenSpec())))).toBe(GOLDEN_SHA256);
  });

  it('are identical when written by a separate node process', () => {
    // Compile src/core/arrow to plain JS in a temp dir (node 20 cannot run .ts) and
    // let a fresh `node` build and write the same table from the same spec.
    const work = mkdtempSync(join(tmpdir(), 'conno-arrow-proc-'));
    try {
      writeFileSync(join(work, 'package.json'), '{"type":"module"}');
      symlinkSync(join(repoRoot, 'node_modules'), join(work, 'node_modules'), 'dir');
      mkdirSync(join(work, 'arrow'));
      for (const file of readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
        const out = ts.transpileModule(readFileSync(join(here, file), 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
        });
        writeFileSync(join(work, 'arrow', file.replace(/\.ts$/, '.js')), out.outputText);
      }
      writeFileSync(
        join(work, 'child.js'),
        [
          "import { readFileSync, writeFileSync } from 'node:fs';",
          "import { makeTable, writeTableFileSync } from './arrow/io.js';",
          'const [specPath, outPath] = process.argv.slice(2);',
          "const spec = JSON.parse(readFileSync(specPath, 'utf8'));",
          "for (const c of Object.values(spec.columns)) if (c.type === 'fixedSizeList') c.values = new Float32Array(c.values);",
          'writeTableFileSync(outPath, makeTable(spec.columns, spec.metadata));',
        ].join('\n'),
      );
      writeFileSync(join(work, 'spec.json'), JSON.stringify(goldenSpec()));
      execFileSync(process.execPath, [join(work, 'child.js'), join(work, 'spec.json'), join(work, 'out.arrow')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const theirs = readFileSync(join(work, 'out.arrow'));
      expect(sha256(theirs)).toBe(sha256(tableToFileBytes(fromSpec(goldenSpec()))));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

// --- Interop with pyarrow (optional) -----------------------------------------

const python = process.env.CONNO_PYTHON ?? 'python3';
const pyarrowProbe = spawnSync(python, ['-c', 'import pyarrow; print(pyarrow.__version__)'], { encoding: 'utf8' });
const pyarrowVersion = pyarrowProbe.status === 0 ? pyarrowProbe.stdout.trim() : null;
if (pyarrowVersion === null) {
  console.log(`[arrow] skipping pyarrow interop tests: \`${python} -c "import pyarrow"\` failed (set CONNO_PYTHON to a python with pyarrow)`);
}

describe.skipIf(pyarrowVersion === null)(`pyarrow interop (pyarrow ${pyarrowVersion ?? 'missing'})`, () => {
  const runPython = (code: string, ...args: string[]) => {
    const r = spawnSync(python, ['-c', code, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
    return r.stdout;
  };

  it('pyarrow.feather.read_table reads our file with the same values, schema and batches', () => {
    const t = everyType(2500, 3);
    const path = join(dir, 'for-pyarrow.arrow');
    writeTableFileSync(path, t);
    const out = runPython(
      [
        'import json, sys, math',
        'import pyarrow.feather as feather, pyarrow.ipc as ipc',
        't = feather.read_table(sys.argv[1])',
        'f = ipc.open_file(sys.argv[1])',
        'batches = [f.get_batch(i).num_rows for i in range(f.num_record_batches)]',
        'f.read_all().validate(full=True)',
        'meta = lambda m: {k.decode(): v.decode() for k, v in (m or {}).items()}',
        'print(json.dumps({',
        '  "types": [str(x.type) for x in t.schema],',
        '  "nullable": [x.nullable for x in t.schema],',
        '  "field_meta": [meta(x.metadata) for x in t.schema],',
        '  "meta": meta(t.schema.metadata),',
        '  "batches": batches,',
        '  "columns": t.to_pydict(),',
        '}))',
      ].join('\n'),
      path,
    );
    const py = JSON.parse(out) as {
      types: string[];
      nullable: boolean[];
      field_meta: Record<string, string>[];
      meta: Record<string, string>;
      batches: number[];
      columns: Record<string, unknown[]>;
    };
    expect(py.types).toEqual(['int32', 'int32', 'float', 'double', 'string', 'bool', 'fixed_size_list<item: float not null>[3]']);
    expect(py.nullable).toEqual(t.schema.fields.map((f) => f.nullable));
    expect(py.field_meta).toEqual(t.schema.fields.map((f) => Object.fromEntries(f.metadata)));
    expect(py.meta).toEqual(Object.fromEntries(t.schema.metadata));
    expect(py.batches).toEqual([1024, 1024, 452]);
    const names = t.schema.fields.map((f) => f.name);
    const ours = rowsOf(t);
    names.forEach((name, j) => {
      expect(py.columns[name], name).toEqual(ours.map((row) => row[j]));
    });
  });

  it('pyarrow validates and reads re-cut nested and dictionary columns', () => {
    const t = otherTypes(2300);
    const ragged = new arrow.Table(t.schema, [...t.slice(0, 333).batches, ...t.slice(333).batches]);
    const path = join(dir, 'other-for-pyarrow.arrow');
    writeTableFileSync(path, ragged);
    const out = runPython(
      [
        'import json, sys, pyarrow.ipc as ipc',
        't = ipc.open_file(sys.argv[1]).read_all()',
        't.validate(full=True)',
        'print(json.dumps({k: [str(x) if isinstance(x, int) and abs(x) > 2**53 else x for x in v] for k, v in t.to_pydict().items()}))',
      ].join('\n'),
      path,
    );
    const py = JSON.parse(out) as Record<string, unknown[]>;
    const ours = tableToJson(t).rows;
    for (const name of ['big', 'list', 'rec', 'dict']) {
      expect(py[name], name).toEqual(ours.map((r) => r[name]));
    }
  });

  it('readTableFile reads what pyarrow writes, and names the file when it is compressed', () => {
    const plain = join(dir, 'from-pyarrow.arrow');
    const lz4 = join(dir, 'from-pyarrow-lz4.arrow');
    runPython(
      [
        'import sys, pyarrow as pa, pyarrow.feather as feather',
        't = pa.table({"x": pa.array([1, None, 3], pa.int32()), "s": ["a", "b", None],',
        '  "v": pa.array([[1, 2], [3, 4], [5, 6]], pa.list_(pa.float32(), 2))},',
        '  metadata={"k": "v"})',
        'feather.write_feather(t, sys.argv[1], compression="uncompressed")',
        'feather.write_feather(t, sys.argv[2], compression="lz4")',
      ].join('\n'),
      plain,
      lz4,
    );
    const t = readTableFile(plain);
    expect(rowsOf(t)).toEqual([
      [1, 'a', [1, 2]],
      [null, 'b', [3, 4]],
      [3, null, [5, 6]],
    ]);
    expect(t.schema.metadata.get('k')).toBe('v');
    expect(flatFloat32(t, 'v').values).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    expect(() => readTableFile(lz4)).toThrow(`${lz4}: cannot read Arrow IPC file`);
  });
});

describe('columns sharing one typed array', () => {
  it('are written so that the file reads back (each column gets its own buffer)', () => {
    const a = Int32Array.from({ length: 3000 }, (_, i) => i % 7);
    const f = Float32Array.from({ length: 3000 }, (_, i) => i / 3);
    const t = makeTable({ x: { type: 'int32', values: a }, y: { type: 'int32', values: a }, u: { type: 'float32', values: f }, v: { type: 'float32', values: f.subarray(0, 3000) } });
    const back = arrow.tableFromIPC(tableToFileBytes(t));
    expect(back.numRows).toBe(3000);
    expect(back.getChild('y')!.get(2999)).toBe(2999 % 7);
    expect(back.getChild('v')!.get(2999)).toBeCloseTo(2999 / 3, 3);
    // The first use stays zero-copy.
    expect(t.getChild('x')!.data[0]!.values).toBe(a);
  });
});

