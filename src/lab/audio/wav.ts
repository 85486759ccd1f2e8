/**
 * WAV (RIFF/WAVE) decoding straight into a mono Float32Array.
 *
 * Supported: PCM integer 8 (unsigned), 16, 24 and 32 bit; IEEE float 32 and 64 bit; the same
 * inside WAVE_FORMAT_EXTENSIBLE. Any channel count is mixed down to mono by averaging.
 * Integers are scaled by 2^(bits-1) (8-bit: offset 128 first), so int16 -32768 → -1 exactly.
 *
 * A file that ends before its `data` chunk does, whose header is malformed or absurd (0 channels,
 * a sample rate of 0 or over 1 MHz), or whose samples are not finite (NaN, ±Inf) is an error that
 * names the file: a half-decoded or poisoned clip must never pass for a whole one.
 */
import { InputError } from '../../core/util/errors.js';

export interface DecodedWav {
  sampleRate: number;
  /** Channels in the file (the samples are already mixed down to mono). */
  channels: number;
  bitsPerSample: number;
  format: 'pcm' | 'float';
  /** Mono samples, one per frame. */
  samples: Float32Array;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** The highest sample rate accepted; a header claiming more is damaged (or hostile). */
const MAX_RATE = 1_000_000;

export class WavError extends InputError {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

function fourcc(view: DataView, at: number): string {
  return String.fromCharCode(view.getUint8(at), view.getUint8(at + 1), view.getUint8(at + 2), view.getUint8(at + 3));
}

/** Decode `bytes` (the whole file); `name` is used in error messages. */
export function decodeWav(bytes: Uint8Array, name: string): DecodedWav {
  const fail = (reason: string): never => {
    throw new WavError(name, reason);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 12) fail(`not a WAV file (${bytes.byteLength} bytes, too short for a RIFF header)`);
  if (fourcc(view, 0) !== 'RIFF' || fourcc(view, 8) !== 'WAVE') fail('not a WAV file (no RIFF/WAVE header)');

  let fmt: { tag: number; channels: number; rate: number; blockAlign: number; bits: number } | undefined;
  let data: { offset: number; size: number } | undefined;
  for (let at = 12; at + 8 <= bytes.byteLength; ) {
    const id = fourcc(view, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.byteLength) fail(`malformed fmt chunk (${size} bytes)`);
      let tag = view.getUint16(body, true);
      const bits = view.getUint16(body + 14, true);
      if (tag === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40) fail(`malformed WAVE_FORMAT_EXTENSIBLE fmt chunk (${size} bytes, expected 40)`);
        // The sub-format GUID starts with the plain format tag.
        tag = view.getUint16(body + 24, true);
      }
      fmt = { tag, channels: view.getUint16(body + 2, true), rate: view.getUint32(body + 4, true), blockAlign: view.getUint16(body + 12, true), bits };
    } else if (id === 'data') {
      const available = bytes.byteLength - body;
      if (size > available) fail(`truncated: the data chunk declares ${size} bytes but only ${available} follow`);
      data = { offset: body, size };
      break;
    }
    at = body + size + (size & 1); // Chunks are padded to even sizes.
  }
  if (!fmt) return fail('malformed: no fmt chunk before the data');
  if (!data) return fail('truncated or malformed: no data chunk');
  const { tag, channels, rate, bits } = fmt;
  if (channels < 1) fail('malformed: 0 channels');
  if (rate < 1) fail('malformed: sample rate 0');
  if (rate > MAX_RATE) fail(`malformed: sample rate ${rate} Hz (more than ${MAX_RATE / 1e6} MHz is no audio conno reads)`);
  let format: 'pcm' | 'float';
  if (tag === WAVE_FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32)) format = 'pcm';
  else if (tag === WAVE_FORMAT_IEEE_FLOAT && (bits === 32 || bits === 64)) format = 'float';
  else return fail(`unsupported encoding (format tag 0x${tag.toString(16)}, ${bits} bits)`);
  const bytesPerSample = bits / 8;
  const blockAlign = bytesPerSample * channels;
  if (fmt.blockAlign !== blockAlign) fail(`malformed: block align ${fmt.blockAlign}, expected ${blockAlign} for ${channels} × ${bits} bits`);
  if (data.size % blockAlign !== 0) fail(`truncated: the data chunk (${data.size} bytes) is not a whole number of ${blockAlign}-byte frames`);
  const frames = data.size / blockAlign;
  const samples = decodeFrames(view, data.offset, frames, channels, bits, format);
  // NaN or ±Inf (float files; float64 values past float32's range) would poison every stage after.
  if (format === 'float') {
    let bad = 0;
    let first = -1;
    for (let i = 0; i < samples.length; i++) {
      if (!Number.isFinite(samples[i]!)) {
        bad++;
        if (first < 0) first = i;
      }
    }
    if (bad > 0) fail(`${bad} of ${samples.length} samples are not finite numbers (NaN or ±Inf; the first at frame ${first})`);
  }
  return { sampleRate: rate, channels, bitsPerSample: bits, format, samples };
}

/** Interleaved frames → mono float32 ([frames]). */
function decodeFrames(view: DataView, offset: number, frames: number, channels: number, bits: number, format: 'pcm' | 'float'): Float32Array {
  const out = new Float32Array(frames);
  const step = bits / 8;
  const read = sampleReader(view, bits, format);
  if (channels === 1) {
    for (let i = 0, p = offset; i < frames; i++, p += step) out[i] = read(p);
    return out;
  }
  const inv = 1 / channels;
  for (let i = 0, p = offset; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++, p += step) sum += read(p);
    out[i] = sum * inv;
  }
  return out;
}

function sampleReader(view: DataView, bits: number, format: 'pcm' | 'float'): (at: number) => number {
  if (format === 'float') return bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  switch (bits) {
    case 8:
      return (at) => (view.getUint8(at) - 128) / 128;
    case 16:
      return (at) => view.getInt16(at, true) / 32768;
    case 24:
      return (at) => ((view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608);
    default:
      return (at) => view.getInt32(at, true) / 2147483648;
  }
}
