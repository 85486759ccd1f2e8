import { describe, expect, it } from 'vitest';
import { dict, own, toDict } from './dict.js';

describe('dict', () => {
  it('keeps `__proto__` as a key and finds nothing of Object.prototype', () => {
    const d = dict<number>();
    d['__proto__'] = 1;
    d['constructor'] = 2;
    expect(Object.keys(d)).toEqual(['__proto__', 'constructor']);
    expect(dict<number>()['toString']).toBeUndefined();
    const plain: Record<string, number> = {};
    plain['__proto__'] = 1; // what dict() is for: on a plain object the key is lost
    expect(Object.keys(plain)).toEqual([]);
  });

  it('toDict copies own keys, `__proto__` included; own() ignores inherited ones', () => {
    const parsed = JSON.parse('{"__proto__": {"a": 1}, "b": 2}') as Record<string, unknown>;
    const d = toDict(parsed);
    expect(Object.keys(d)).toEqual(['__proto__', 'b']);
    expect(d['__proto__']).toEqual({ a: 1 });
    expect(Object.getPrototypeOf(d)).toBeNull();
    expect(own(parsed, 'constructor')).toBeUndefined();
    expect(own(parsed, 'b')).toBe(2);
    expect(own(undefined, 'b')).toBeUndefined();
    expect(Object.keys(toDict(undefined))).toEqual([]);
  });
});
