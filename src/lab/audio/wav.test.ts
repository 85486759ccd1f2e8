import { describe, expect, it } from 'vitest';
import { decodeWav, WavError } from './wav.js';

type Encoding = { tag: 1 | 3; bits: 8 | 16 | 24 | 32 | 64; extensible?: boolean };

/** A WAV file whose interleaved samples are the raw integers / floats in `frames[frame][channel]`. */
function makeWav(enc: Encoding, rate: number, frames: number[][], extraChunk = false): Uint8Array {
  const channels = frames[0]?.length ?? 1;
  const bps = enc.bits / 8;
  const dataSize = frames.length * channels * bps;
  const fmtSize = enc.extensible ? 40 : 16;
  const extra = extraChunk ? 8 + 3 + 1 : 0; // an odd-sized LIST chunk plus its pad byte
  const buf = new ArrayBuffer(12 + 8 + fmtSize + extra + 8 + dataSize);
  const v = new DataView(buf);
  const str = (at: number, s: string) => [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)));
  str(0, 'RIFF');
  v.setUint32(4, buf.byteLength - 8, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, enc.extensible ? 0xfffe : enc.tag, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * channels * bps, true);
  v.setUint16(32, channels * bps, true);
  v.setUint16(34, enc.bits, true);
  let at = 36;
  if (enc.extensible) {
    v.setUint16(36, 22, true);
    v.setUint16(38, enc.bits, true);
    v.setUint32(40, 0, true);
    v.setUint16(44, enc.tag, true); // sub-format GUID: tag, then the fixed suffix
    at = 36 + 24;
  }
  if (extraChunk) {
    str(at, 'LIST');
    v.setUint32(at + 4, 3, true);
    at += 12;
  }
  str(at, 'data');
  v.setUint32(at + 4, dataSize, true);
  at += 8;
  for (const frame of frames) {
    for (const s of frame) {
      if (enc.tag === 3) {
        if (enc.bits === 32) v.setFloat32(at, s, true);
        else v.setFloat64(at, s, true);
      } else if (enc.bits === 8) v.setUint8(at, s);
      else if (enc.bits === 16) v.setInt16(at, s, true);
      else if (enc.bits === 24) {
        v.setUint8(at, s & 0xff);
        v.setUint8(at + 1, (s >> 8) & 0xff);
        v.setInt8(at + 2, s >> 16);
      } else v.setInt32(at, s, true);
      at += bps;
    }
  }
  return new Uint8Array(buf);
}

const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

describe('decodeWav', () => {
  const cases: { name: string; enc: Encoding; raw: number[]; expected: number[] }[] = [
    { name: 'PCM 8-bit', enc: { tag: 1, bits: 8 }, raw: [0, 128, 255, 64], expected: [-1, 0, 127 / 128, -0.5] },
    { name: 'PCM 16-bit', enc: { tag: 1, bits: 16 }, raw: [-32768, 0, 32767, 16384, -1], expected: [-1, 0, 32767 / 32768, 0.5, -1 / 32768] },
    { name: 'PCM 24-bit', enc: { tag: 1, bits: 24 }, raw: [-8388608, 0, 8388607, 4194304, -1], expected: [-1, 0, 8388607 / 8388608, 0.5, -1 / 8388608] },
    { name: 'PCM 32-bit', enc: { tag: 1, bits: 32 }, raw: [-2147483648, 0, 2147483647, 1073741824], expected: [-1, 0, 2147483647 / 2147483648, 0.5] },
    { name: 'float 32-bit', enc: { tag: 3, bits: 32 }, raw: [-1, 0, 0.25, 0.1], expected: [-1, 0, 0.25, 0.1] },
    { name: 'float 64-bit', enc: { tag: 3, bits: 64 }, raw: [-1, 0, 0.25, 0.1], expected: [-1, 0, 0.25, 0.1] },
    { name: 'extensible PCM 16-bit', enc: { tag: 1, bits: 16, extensible: true }, raw: [-32768, 16384], expected: [-1, 0.5] },
    { name: 'extensible PCM 24-bit', enc: { tag: 1, bits: 24, extensible: true }, raw: [4194304, -8388608], expected: [0.5, -1] },
    { name: 'extensible float 32-bit', enc: { tag: 3, bits: 32, extensible: true }, raw: [0.5, -0.125], expected: [0.5, -0.125] },
  ];
  for (const c of cases) {
    it(`decodes ${c.name} mono exactly`, () => {
      const wav = decodeWav(makeWav(c.enc, 22050, c.raw.map((s) => [s])), 'x.wav');
      expect(wav.sampleRate).toBe(22050);
      expect(wav.channels).toBe(1);
      expect(Array.from(wav.samples)).toEqual(f32(c.expected));
    });
  }

  it('mixes any channel count down to mono by averaging', () => {
    const stereo = decodeWav(makeWav({ tag: 1, bits: 16 }, 8000, [[16384, -16384], [32767, 32767], [-32768, 0]]), 's.wav');
    expect(stereo.channels).toBe(2);
    expect(Array.from(stereo.samples)).toEqual(f32([0, 32767 / 32768, -0.5]));
    const six = decodeWav(makeWav({ tag: 3, bits: 32 }, 48000, [[0.5, 0.5, 0.5, -0.5, 0.25, 0.25], [1, 1, 1, 1, 1, 1]]), 'six.wav');
    expect(six.channels).toBe(6);
    expect(Array.from(six.samples)).toEqual(f32([1.5 / 6, 1]));
  });

  it('skips unknown chunks, including odd-sized ones with their pad byte', () => {
    const wav = decodeWav(makeWav({ tag: 1, bits: 16 }, 8000, [[16384], [-16384]], true), 'list.wav');
    expect(Array.from(wav.samples)).toEqual([0.5, -0.5]);
  });

  it('names the file when it is truncated or malformed', () => {
    const good = makeWav({ tag: 1, bits: 16 }, 8000, [[1], [2], [3], [4]]);
    const bad = (bytes: Uint8Array, name: string, pattern: RegExp) => {
      let err: unknown;
      try {
        decodeWav(bytes, name);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WavError);
      expect((err as Error).message).toContain(name);
      expect((err as Error).message).toMatch(pattern);
    };
    bad(good.subarray(0, good.length - 3), 'recordings/cut.wav', /truncated/);
    bad(good.subarray(0, 30), 'header-only.wav', /malformed fmt|truncated/);
    bad(new TextEncoder().encode('not a wav file at all'), 'notes.txt', /not a WAV file/);
    bad(new Uint8Array(4), 'tiny.wav', /too short/);
    const adpcm = good.slice();
    new DataView(adpcm.buffer).setUint16(20, 2, true);
    bad(adpcm, 'adpcm.wav', /unsupported encoding \(format tag 0x2/);
  });

  it('refuses non-finite samples and absurd headers, naming the file', () => {
    const bad = (bytes: Uint8Array, name: string, message: string) => expect(() => decodeWav(bytes, name)).toThrow(`${name}: ${message}`);
    bad(makeWav({ tag: 3, bits: 32 }, 8000, [[0.1], [NaN], [0.2], [NaN]]), 'nan.wav', '2 of 4 samples are not finite numbers (NaN or ±Inf; the first at frame 1)');
    bad(makeWav({ tag: 3, bits: 64 }, 8000, [[Infinity], [0]]), 'inf.wav', '1 of 2 samples are not finite numbers');
    bad(makeWav({ tag: 3, bits: 64 }, 8000, [[1e300], [0]]), 'huge.wav', '1 of 2 samples are not finite numbers'); // past float32's range
    bad(makeWav({ tag: 3, bits: 32 }, 8000, [[0, NaN]]), 'stereo-nan.wav', '1 of 1 samples are not finite'); // one channel poisons the mono mix
    bad(makeWav({ tag: 1, bits: 16 }, 0, [[1]]), 'rate0.wav', 'malformed: sample rate 0');
    bad(makeWav({ tag: 1, bits: 16 }, 2_000_000, [[1]]), 'fast.wav', 'malformed: sample rate 2000000 Hz');
    const noChannels = makeWav({ tag: 1, bits: 16 }, 8000, [[1], [2]]);
    new DataView(noChannels.buffer).setUint16(22, 0, true);
    bad(noChannels, 'mute.wav', 'malformed: 0 channels');
    const longer = makeWav({ tag: 1, bits: 16 }, 8000, [[1], [2]]);
    new DataView(longer.buffer).setUint32(40, 1 << 30, true); // the data chunk claims 1 GiB
    bad(longer, 'liar.wav', 'truncated: the data chunk declares 1073741824 bytes but only 4 follow');
    expect(Array.from(decodeWav(makeWav({ tag: 3, bits: 32 }, 1_000_000, [[0.5]]), 'ok.wav').samples)).toEqual([0.5]);
  });
});
