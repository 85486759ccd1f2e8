import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { formatFloat, shortestFloat32, tableToJson, formatTable } from './format.js';
import { makeTable } from './io.js';

function small(): arrow.Table {
  return makeTable(
    {
      id: { type: 'int32', values: [1, 22, -3] },
      label: { type: 'utf8', nullable: true, values: ['cat', null, 'a rather long label that will be truncated somewhere'] },
      snr: { type: 'float64', values: [0.1, -12.3456789, 1234567.89] },
      gain: { type: 'float32', values: [0.5, NaN, -Infinity] },
      ok: { type: 'bool', values: [true, false, true] },
      features: { type: 'fixedSizeList', values: new Float32Array([0.12, -0.5, 1.2, 3, 1, 2, 3, 4, 1e-7, 0, 0, 0]), size: 4 },
    },
    { 'conno.stage': 'featurize' },
  );
}

describe('formatTable', () => {
  it('prints a small table exactly', () => {
    expect(formatTable(small())).toBe(
      [
        '   id  label                                            snr     gain  ok     features',
        'int32  utf8                                         float64  float32  bool   fixed_size_list<float32>[4]',
        '─────  ────────────────────────────────────────  ──────────  ───────  ─────  ─────────────────────────────',
        '    1  cat                                              0.1      0.5  true   [0.12, -0.5, 1.2, … 4 values]',
        '   22  null                                        -12.3457      NaN  false  [1, 2, 3, … 4 values]',
        '   -3  a rather long label that will be trunca…  1.23457e+6     -inf  true   [1e-7, 0, 0, … 4 values]',
        '3 rows × 6 columns',
        'metadata:',
        '  conno.stage: featurize',
        'field metadata:',
        '  [features] conno.shape: [4]',
      ].join('\n'),
    );
  });

  it('says how many rows it shows when head cuts the table', () => {
    const out = formatTable(small(), { head: 1 }).split('\n');
    expect(out.slice(3, 5)).toEqual([
      '    1  cat        0.1      0.5  true  [0.12, -0.5, 1.2, … 4 values]',
      '3 rows × 6 columns (showing first 1)',
    ]);
    expect(formatTable(small(), { head: 0 }).split('\n')[3]).toBe('3 rows × 6 columns (showing first 0)');
    expect(formatTable(small(), { head: 99 })).toContain('3 rows × 6 columns\n');
  });

  it('shows long vectors as a preview with the total count', () => {
    const values = new Float32Array(2 * 8192); // [2 rows * 8192]
    values.set([0.12, -0.5, 1.2, 7]);
    const t = makeTable({ features: { type: 'fixedSizeList', values, shape: [64, 128] } });
    const lines = formatTable(t).split('\n');
    expect(lines[3]).toBe('[0.12, -0.5, 1.2, … 8192 values]');
    expect(lines[4]).toBe('[0, 0, 0, … 8192 values]');
    expect(lines).toContain('  [features] conno.shape: [64,128]');
  });

  it('fits maxWidth by narrowing strings and dropping list elements, never cutting numbers', () => {
    const lines = formatTable(small(), { maxWidth: 60 }).split('\n');
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(60);
    expect(lines.slice(0, 6)).toEqual([
      '   id  label          snr    gain  ok     features',
      'int32  utf8       float64  float…  bool   fixed_size_list<f…',
      '─────  ──────  ──────────  ──────  ─────  ──────────────────',
      '    1  cat            0.1     0.5  true   [0.12, … 4 values]',
      '   22  null      -12.3457     NaN  false  [1, 2, … 4 values]',
      '   -3  a rat…  1.23457e+6    -inf  true   [1e-7, … 4 values]',
    ]);
    // Too narrow even at the floors: lines are cut and marked.
    const tiny = formatTable(small(), { maxWidth: 30 }).split('\n');
    expect(tiny[3]).toBe('    1  cat            0.1    …');
    for (const line of tiny) expect([...line].length).toBeLessThanOrEqual(30);
  });

  it('truncates long metadata values and escapes control characters', () => {
    const t = makeTable(
      { 'a\nb': { type: 'utf8', values: ['tab\there'] } },
      { params: 'x'.repeat(500) },
    );
    const lines = formatTable(t, { maxWidth: 40 }).split('\n');
    expect(lines[0]).toBe('a\\nb');
    expect(lines[3]).toBe('tab\\there');
    expect(lines).toContain(`  params: ${'x'.repeat(29)}…`);
  });

  it('handles a table with no columns', () => {
    expect(formatTable(makeTable({}))).toBe('0 rows × 0 columns');
  });

  it('formats types beyond makeTable readably', () => {
    const t = arrow.tableFromArrays({
      big: [1n, 2n ** 60n],
      list: arrow.vectorFromArray([[1, 2], []], new arrow.List(new arrow.Field('item', new arrow.Float64()))),
      s: ['u', 'v'],
    });
    expect(formatTable(t)).toBe(
      [
        '                big  list           s',
        '              int64  list<float64>  dictionary<utf8, int32>',
        '───────────────────  ─────────────  ───────────────────────',
        '                  1  [1, 2]         u',
        '1152921504606846976  []             v',
        '2 rows × 3 columns',
      ].join('\n'),
    );
  });
});

describe('formatFloat', () => {
  it('uses ~6 significant digits and exponents only for very large or small values', () => {
    expect([0, -0, 1, 0.1, 1 / 3, -12.3456789, 123456.7, 1234567.89, 0.0001, 0.00001234567, NaN, Infinity, -Infinity].map((x) => formatFloat(x))).toEqual(
      ['0', '-0', '1', '0.1', '0.333333', '-12.3457', '123457', '1.23457e+6', '0.0001', '1.23457e-5', 'NaN', 'inf', '-inf'],
    );
    expect(formatFloat(Math.fround(0.12), 4)).toBe('0.12');
  });
});

describe('tableToJson', () => {
  it('gives schema, numRows and JSON-safe rows', () => {
    const json = tableToJson(small());
    expect(json.numRows).toBe(3);
    expect(json.schema).toEqual({
      fields: [
        { name: 'id', type: 'int32' },
        { name: 'label', type: 'utf8' },
        { name: 'snr', type: 'float64' },
        { name: 'gain', type: 'float32' },
        { name: 'ok', type: 'bool' },
        { name: 'features', type: 'fixed_size_list<float32>[4]', metadata: { 'conno.shape': '[4]' } },
      ],
      metadata: { 'conno.stage': 'featurize' },
    });
    expect(json.rows).toEqual([
      { id: 1, label: 'cat', snr: 0.1, gain: 0.5, ok: true, features: [0.12, -0.5, 1.2, 3] },
      { id: 22, label: null, snr: -12.3456789, gain: null, ok: false, features: [1, 2, 3, 4] },
      { id: -3, label: 'a rather long label that will be truncated somewhere', snr: 1234567.89, gain: null, ok: true, features: [1e-7, 0, 0, 0] },
    ]);
    // Plain arrays, not typed arrays; and it survives JSON unchanged.
    expect(Array.isArray(json.rows[0]!.features)).toBe(true);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('limits rows with head but reports the full row count', () => {
    const json = tableToJson(small(), { head: 1 });
    expect(json.rows).toHaveLength(1);
    expect(json.numRows).toBe(3);
  });

  it('turns bigints into numbers when exact and strings otherwise; NaN and infinities into null', () => {
    const t = arrow.tableFromArrays({
      i64: [1n, -(2n ** 53n) + 1n, 2n ** 60n],
      f64: new Float64Array([NaN, Infinity, -0.5]),
      st: arrow.vectorFromArray([{ x: 1n }, { x: 2n ** 63n - 1n }, { x: 3n }]),
    });
    const json = tableToJson(t);
    expect(json.rows.map((r) => r.i64)).toEqual([1, -(2 ** 53) + 1, '1152921504606846976']);
    expect(json.rows.map((r) => r.f64)).toEqual([null, null, -0.5]);
    expect(json.rows.map((r) => r.st)).toEqual([{ x: 1 }, { x: '9223372036854775807' }, { x: 3 }]);
    expect(() => JSON.stringify(json)).not.toThrow();
  });

  it('writes float32 in its shortest round-tripping form', () => {
    for (const x of [0.12, 1e-7, 3.4e38, -1.17549435e-38, 16777217, Math.PI]) {
      const f = Math.fround(x);
      const s = shortestFloat32(f);
      expect(Math.fround(s)).toBe(f);
      expect(String(s).replace(/^-|\.|e.*$/g, '').replace(/^0+/, '').length).toBeLessThanOrEqual(9);
    }
    expect(shortestFloat32(Math.fround(0.12))).toBe(0.12);
    expect(shortestFloat32(Math.fround(Math.PI))).toBe(3.1415927);
  });
});
