// Arrow bitmaps (validity and bool values) are LSB-first: row i lives in
// byte i >> 3, bit i & 7. apache-arrow keeps sliced bitmaps as (buffer,
// bit offset) pairs, and its IPC writer then writes everything from that
// offset to the end of the *original* buffer. These helpers produce exact,
// offset-0 copies so that a batch's bytes depend only on its own rows.

/** Reads bit `i` of an LSB-first bitmap. */
export function getBit(bitmap: Uint8Array, i: number): boolean {
  return ((bitmap[i >> 3] ?? 0) >> (i & 7) & 1) === 1;
}

/**
 * Copies `length` bits from `src` (starting at bit `srcOffset`) into `dst`
 * (starting at bit `dstOffset`). `dst` must already be zeroed where written.
 */
export function copyBits(
  dst: Uint8Array,
  dstOffset: number,
  src: Uint8Array,
  srcOffset: number,
  length: number,
): void {
  let i = 0;
  // Whole bytes when both sides are byte-aligned: the common case, since
  // batch boundaries are multiples of 8 rows.
  if ((srcOffset & 7) === 0 && (dstOffset & 7) === 0) {
    const whole = length >> 3;
    dst.set(src.subarray(srcOffset >> 3, (srcOffset >> 3) + whole), dstOffset >> 3);
    i = whole << 3;
  }
  for (; i < length; i++) {
    if (getBit(src, srcOffset + i)) {
      const j = dstOffset + i;
      dst[j >> 3] = (dst[j >> 3] ?? 0) | (1 << (j & 7));
    }
  }
}

/** Fresh bitmap of `length` bits taken from `src` at `srcOffset`; bits past `length` are 0. */
export function sliceBits(src: Uint8Array, srcOffset: number, length: number): Uint8Array {
  const out = new Uint8Array((length + 7) >> 3);
  copyBits(out, 0, src, srcOffset, length);
  return out;
}

/** Bitmap with the first `length` bits set (an all-valid validity buffer). */
export function onesBits(length: number): Uint8Array {
  const out = new Uint8Array((length + 7) >> 3);
  out.fill(0xff, 0, length >> 3);
  if (length & 7) out[length >> 3] = (1 << (length & 7)) - 1;
  return out;
}

/** Packs booleans into an LSB-first bitmap. */
export function packBits(values: ArrayLike<boolean>): Uint8Array {
  const out = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) {
    if (values[i]) out[i >> 3] = (out[i >> 3] ?? 0) | (1 << (i & 7));
  }
  return out;
}
