/**
 * xxh64 as conno computes it. Expected values are not taken from conno itself: the short ones
 * are XXH64's published test vectors (seed 0; the 101-byte buffer is the one xxhsum's own sanity
 * check generates), the large-file one was computed with the reference C implementation
 * (python `xxhash` package, `xxhash.xxh64(buf).hexdigest()`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashBytes, hashFile, hashString, hex64, streamHasher } from './xxhash.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-xxhash-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/** xxhsum's sanity buffer: byte i is the top byte of a 32-bit generator squared at each step. */
function sanityBuffer(len: number): Uint8Array {
  const out = new Uint8Array(len);
  let gen = 2654435761;
  for (let i = 0; i < len; i++) {
    out[i] = gen >>> 24;
    gen = Math.imul(gen, gen) >>> 0;
  }
  return out;
}

/** 3 MiB + 12345 bytes: byte i is the top byte of (i * 2654435761) mod 2^32. */
function bigBuffer(): Uint8Array {
  const n = 3 * (1 << 20) + 12345;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.imul(i, 2654435761) >>> 24;
  return out;
}
const BIG_XXH64 = '39534c0fb008551a';
const BIG_FIRST_MIB_XXH64 = 'fc4aa44e4c19d879';
const BIG_FIRST_MIB_PLUS_1_XXH64 = 'b6872cebe32ee1b2';

describe('published XXH64 vectors (seed 0)', () => {
  it.each([
    ['empty input', '', 'ef46db3751d8e999'],
    ['"a"', 'a', 'd24ec4f1a98c6e5b'],
    ['"abc"', 'abc', '44bc2cf5ad770999'],
    ['quick brown fox', 'The quick brown fox jumps over the lazy dog', '0b242d361fda71bc'],
  ])('%s', async (_name, text, expected) => {
    expect(await hashString(text)).toBe(expected);
    expect(await hashBytes(ascii(text))).toBe(expected);
  });

  it('xxhsum sanity buffer: 1 byte and 101 bytes', async () => {
    const buf = sanityBuffer(101);
    expect(Array.from(buf.subarray(0, 4))).toEqual([0x9e, 0xff, 0x1f, 0x4b]);
    expect(await hashBytes(buf.subarray(0, 1))).toBe('4fce394cc88952d8');
    expect(await hashBytes(buf)).toBe('0eab543384f878ad');
  });

  it('hashString hashes UTF-8 bytes', async () => {
    const text = 'héllo, wörld ✓';
    expect(await hashString(text)).toBe('d213ee03a70355c2');
    expect(await hashBytes(new Uint8Array(Buffer.from(text, 'utf8')))).toBe('d213ee03a70355c2');
  });
});

describe('hex64', () => {
  it('pads to 16 lowercase hex digits', () => {
    expect(hex64(0n)).toBe('0000000000000000');
    expect(hex64(0xabcn)).toBe('0000000000000abc');
    expect(hex64(0xffffffffffffffffn)).toBe('ffffffffffffffff');
  });
});

describe('large inputs (several 1 MiB chunks)', () => {
  it('hashBytes over chunk boundaries matches the reference value', async () => {
    const big = bigBuffer();
    expect(await hashBytes(big)).toBe(BIG_XXH64);
    expect(await hashBytes(big.subarray(0, 1 << 20))).toBe(BIG_FIRST_MIB_XXH64);
  });

  it('hashFile streams a >1 MiB file to the same hash and size as hashBytes', async () => {
    const big = bigBuffer();
    const file = path.join(dir, 'big.bin');
    writeFileSync(file, big);
    const res = await hashFile(file);
    expect(res).toEqual({ hash: BIG_XXH64, size: big.length });
    expect(res.hash).toBe(await hashBytes(big));
  });

  it('hashFile of an exact multiple of the chunk size and of an empty file', async () => {
    const mib = bigBuffer().subarray(0, 1 << 20);
    writeFileSync(path.join(dir, 'mib'), mib);
    writeFileSync(path.join(dir, 'empty'), '');
    expect(await hashFile(path.join(dir, 'mib'))).toEqual({ hash: BIG_FIRST_MIB_XXH64, size: 1 << 20 });
    expect(await hashFile(path.join(dir, 'empty'))).toEqual({ hash: 'ef46db3751d8e999', size: 0 });
  });

  it('hashFile on both sides of the 1 MiB chunk size (one read vs streamed)', async () => {
    const big = bigBuffer();
    writeFileSync(path.join(dir, 'mib+1'), big.subarray(0, (1 << 20) + 1));
    writeFileSync(path.join(dir, 'mib-1'), big.subarray(0, (1 << 20) - 1));
    expect(await hashFile(path.join(dir, 'mib+1'))).toEqual({ hash: BIG_FIRST_MIB_PLUS_1_XXH64, size: (1 << 20) + 1 });
    expect(await hashFile(path.join(dir, 'mib-1'))).toEqual({ hash: await hashBytes(big.subarray(0, (1 << 20) - 1)), size: (1 << 20) - 1 });
  });

  it('hashFile of a missing file rejects with ENOENT', async () => {
    await expect(hashFile(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('streamHasher gives the same hash whatever the split of the updates', async () => {
    const big = bigBuffer();
    for (const step of [1 << 20, 4097, 31, (1 << 20) + 1]) {
      const h = await streamHasher();
      for (let off = 0; off < big.length; off += step) h.update(big.subarray(off, off + step));
      expect(h.digest(), `step ${step}`).toBe(BIG_XXH64);
    }
  });

  it('independent hashers do not share state', async () => {
    const a = await streamHasher();
    const b = await streamHasher();
    a.update(ascii('a'));
    b.update(ascii('abc'));
    expect(a.digest()).toBe('d24ec4f1a98c6e5b');
    expect(b.digest()).toBe('44bc2cf5ad770999');
  });
});
