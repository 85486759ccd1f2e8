import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { resolvedPath } from './tree.js';

describe('resolvedPath', () => {
  it('is path.resolve, for every path made of awkward segments', () => {
    const segments = ['a', '.', '..', '', '...', '.b', 'b.', '..c', 'é', ' '];
    let n = 0;
    // Every sequence of up to four segments, absolute and relative.
    const walk = (parts: string[]) => {
      for (const prefix of ['/', '']) {
        const p = prefix + parts.join('/');
        expect(resolvedPath(p), JSON.stringify(p)).toBe(path.resolve(p));
        n++;
      }
      if (parts.length < 4) for (const s of segments) walk([...parts, s]);
    };
    walk([]);
    expect(n).toBeGreaterThan(20_000);
    for (const p of ['/', '//', '/a/', '/a//b', '/a/./b', '/a/../b', '/a/.', '/a/..', '/a/...', '/a/.b/c']) expect(resolvedPath(p)).toBe(path.resolve(p));
  });
});
