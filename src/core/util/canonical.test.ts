import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'yaml';
import { canonicalJson, jsonEqual, sortDeep } from './canonical.js';

describe('canonicalJson', () => {
  it('sorts object keys at every depth (also inside arrays) and adds no whitespace', () => {
    const v = { b: 1, a: { d: [{ z: 1, y: 2 }, 3], c: 'x y' }, A: null };
    expect(canonicalJson(v)).toBe('{"A":null,"a":{"c":"x y","d":[{"y":2,"z":1},3]},"b":1}');
  });

  it('does not depend on insertion order', () => {
    const a = { features: { n_mels: 64, hop: 160 }, train: { lr: 0.001 } };
    const b = { train: { lr: 0.001 }, features: { hop: 160, n_mels: 64 } };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"features":{"hop":160,"n_mels":64},"train":{"lr":0.001}}');
  });

  it('keeps array order', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson({ outs: ['b', 'a'] })).not.toBe(canonicalJson({ outs: ['a', 'b'] }));
  });

  it('sorts keys by UTF-16 code unit (upper case before lower, `_` between)', () => {
    expect(canonicalJson({ b: 1, _: 2, B: 3, 'a.b': 4, a: 5 })).toBe('{"B":3,"_":2,"a":5,"a.b":4,"b":1}');
  });

  it('integer-like keys come first in numeric order (JS property order), whatever the insertion order', () => {
    // Not lexicographic ("10" < "9"): JS objects always enumerate array-index keys numerically.
    // Deterministic, which is what fingerprints need.
    expect(canonicalJson({ b: 0, 10: 'ten', 9: 'nine', a: 1 })).toBe('{"9":"nine","10":"ten","a":1,"b":0}');
    expect(canonicalJson({ a: 1, 9: 'nine', b: 0, 10: 'ten' })).toBe('{"9":"nine","10":"ten","a":1,"b":0}');
  });

  it('drops undefined properties; undefined in an array is null', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson({ a: undefined, b: 1 })).toBe(canonicalJson({ b: 1 }));
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
  });

  it('keeps NaN and ±Infinity distinguishable from null and from each other', () => {
    expect(canonicalJson({ x: NaN })).toBe('{"x":"__number:NaN"}');
    expect(canonicalJson([Infinity, -Infinity, null])).toBe('["__number:Infinity","__number:-Infinity",null]');
    expect(jsonEqual({ x: NaN }, { x: null })).toBe(false);
    expect(jsonEqual({ x: Infinity }, { x: -Infinity })).toBe(false);
  });

  it('numbers and strings are distinct; number formatting is JSON’s', () => {
    expect(canonicalJson({ n: 64 })).toBe('{"n":64}');
    expect(canonicalJson({ n: '64' })).toBe('{"n":"64"}');
    expect(canonicalJson([1.0, 0.1, 1e21, 1e-7, -0])).toBe('[1,0.1,1e+21,1e-7,0]');
    expect(canonicalJson([true, false, null, ''])).toBe('[true,false,null,""]');
  });

  it('escapes strings as JSON does and keeps non-ASCII as is', () => {
    expect(canonicalJson({ 'k"ey': 'a\nb\t"c" ✓ é' })).toBe('{"k\\"ey":"a\\nb\\t\\"c\\" ✓ é"}');
  });

  it('top-level scalars', () => {
    expect(canonicalJson(1)).toBe('1');
    expect(canonicalJson('s')).toBe('"s"');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(undefined)).toBe(undefined);
  });

  it('a `__proto__` key (as YAML and JSON.parse produce it) is kept as data', () => {
    const fromYaml = parse('__proto__:\n  lr: 0.1\nb: 2\n') as Record<string, unknown>;
    const fromJson = JSON.parse('{"__proto__":{"lr":0.1},"b":2}') as Record<string, unknown>;
    expect(Object.keys(fromYaml)).toEqual(['__proto__', 'b']);
    expect(canonicalJson(fromYaml)).toBe('{"__proto__":{"lr":0.1},"b":2}');
    expect(canonicalJson(fromJson)).toBe('{"__proto__":{"lr":0.1},"b":2}');
    expect(jsonEqual(fromYaml, { b: 2 })).toBe(false);
  });
});

describe('canonicalJson is JSON.stringify(sortDeep(v))', () => {
  // canonicalJson writes the text directly; sortDeep + JSON.stringify is the definition.
  const key = fc.oneof(
    fc.string(),
    fc.constantFrom('__proto__', 'toString', '0', '9', '10', '01', '00', '4294967294', '4294967295', '99999999999', '-1', '1.5', '1e3', ' 1', 'é'),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('array'), tie('object')),
    leaf: fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined)),
    array: fc.array(tie('value'), { maxLength: 5 }),
    object: fc.dictionary(key, tie('value'), { maxKeys: 8 }),
  }));

  it('on generated JSON-like values (keys like "9", "10", "01", "4294967295", "__proto__"; NaN, -0, undefined)', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(JSON.stringify(sortDeep(v)));
      }),
      { numRuns: 3000 },
    );
  });

  it('on parsed YAML with integer-like and odd keys', () => {
    const doc = parse('b: 1\n10: x\n9: y\n"01": z\n4294967295: big\n4294967294: max\n__proto__: {z: 1, a: [1, {c: 2, b: .nan}]}\n') as unknown;
    expect(canonicalJson(doc)).toBe(JSON.stringify(sortDeep(doc)));
    expect(canonicalJson(doc)).toBe('{"9":"y","10":"x","4294967294":"max","01":"z","4294967295":"big","__proto__":{"a":[1,{"b":"__number:NaN","c":2}],"z":1},"b":1}');
  });
});

describe('sortDeep', () => {
  it('returns new objects with sorted keys and does not touch its input', () => {
    const input = { b: { y: 1, x: 2 }, a: [{ d: 1, c: 2 }] };
    const snapshot = JSON.stringify(input);
    const out = sortDeep(input) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['a', 'b']);
    expect(Object.keys(out.b as object)).toEqual(['x', 'y']);
    expect(Object.keys((out.a as object[])[0]!)).toEqual(['c', 'd']);
    expect(out.b).not.toBe(input.b);
    expect(JSON.stringify(input)).toBe(snapshot);
  });

  it('maps non-finite numbers to tagged strings at any depth', () => {
    expect(sortDeep({ a: [NaN, { b: Infinity }] })).toEqual({ a: ['__number:NaN', { b: '__number:Infinity' }] });
  });
});

describe('jsonEqual', () => {
  it('is deep equality up to key order', () => {
    expect(jsonEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(jsonEqual({ a: {} }, { a: [] })).toBe(false);
    expect(jsonEqual({}, { a: null })).toBe(false);
  });
});
