/**
 * A minimal PNG writer (8-bit RGB) for the saliency and spectrogram rasters that the plots show
 * as image marks. The image data are kept in stored (uncompressed) deflate blocks: the bytes then
 * depend on nothing but the pixels, not on the zlib build of the Node that ran the report.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const x of bytes) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A zlib stream of stored deflate blocks (at most 65,535 bytes each). */
function zlibStored(raw: Uint8Array): Uint8Array {
  const MAX = 0xffff;
  const blocks = Math.max(1, Math.ceil(raw.length / MAX));
  const out = new Uint8Array(2 + blocks * 5 + raw.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no preset dictionary; (0x78 << 8 | 0x01) % 31 === 0
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const part = raw.subarray(b * MAX, Math.min(raw.length, (b + 1) * MAX));
    out[at++] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE = 00 (stored)
    out[at++] = part.length & 0xff;
    out[at++] = part.length >>> 8;
    out[at++] = ~part.length & 0xff;
    out[at++] = (~part.length >>> 8) & 0xff;
    out.set(part, at);
    at += part.length;
  }
  new DataView(out.buffer).setUint32(at, adler32(raw));
  return out;
}

/** PNG bytes of an RGB image given row by row from the top ([height, width, 3]). */
export function encodePngRgb(width: number, height: number, rgb: Uint8Array): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`PNG size ${width}×${height} must be positive integers`);
  if (rgb.length !== width * height * 3) throw new Error(`PNG of ${width}×${height} needs ${width * height * 3} bytes, got ${rgb.length}`);
  const raw = new Uint8Array(height * (1 + width * 3)); // each row: filter type 0, then its pixels
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, adaptive filtering, no interlace
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', header),
    chunk('IDAT', zlibStored(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A [rows, cols] matrix (row 0 = lowest mel band) as a PNG data URL through a colour lookup
 * table, min–max normalised; row 0 is drawn at the bottom, as on a spectrogram's axis.
 */
export function heatmapDataUrl(values: Float32Array, rows: number, cols: number, lut: Uint8Array): string {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const steps = lut.length / 3;
  const span = hi > lo ? hi - lo : 1;
  const rgb = new Uint8Array(rows * cols * 3);
  for (let r = 0; r < rows; r++) {
    const y = rows - 1 - r; // image row from the top
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c]!;
      const t = Number.isFinite(v) ? (v - lo) / span : 0;
      const k = Math.min(steps - 1, Math.max(0, Math.round(t * (steps - 1))));
      rgb.set(lut.subarray(k * 3, k * 3 + 3), (y * cols + c) * 3);
    }
  }
  return `data:image/png;base64,${Buffer.from(encodePngRgb(cols, rows, rgb)).toString('base64')}`;
}
