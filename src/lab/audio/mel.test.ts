/**
 * conno's log-mel / MFCC against torchaudio 0.13 on real FSDD clips. The reference values come
 * from scripts/fixtures/features_fixture.py (torchaudio computed in float64); conno's FFT is
 * float32, as torchaudio's ordinary path is.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRealFft } from './fft.js';
import { LogMelExtractor, dctOrtho, frameCount, hzToMel, melFilterbank, melToHz } from './mel.js';
import { FeatureParamsSchema, melConfig } from '../../../stages/features/params.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/audio/features-torchaudio.json');

interface Fixture {
  sample_rate: number;
  clips: { id: string; samples_int16: string }[];
  sets: {
    name: string;
    params: Record<string, unknown>;
    outputs: { clip: string; shape: [number, number]; values: string; torch_float32_max_abs_diff: number }[];
  }[];
}

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;

function decode<T>(b64: string, make: (buf: ArrayBuffer) => T): T {
  const bytes = Buffer.from(b64, 'base64');
  return make(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

const clips = new Map(
  fixture.clips.map((c) => {
    const pcm = decode(c.samples_int16, (b) => new Int16Array(b));
    return [c.id, Float32Array.from(pcm, (v) => v / 32768)] as const;
  }),
);

/**
 * Tolerances: 1e-3 dB for dB outputs; for natural-log outputs the same ratio, 1e-3 dB =
 * 1e-3 · ln(10) / 10 ≈ 2.3e-4 in ln units. MFCCs are sums over the bands of those values
 * (the ortho DCT keeps the norm), so their bound is the same per coefficient.
 */
const DB_TOL = 1e-3;
const LN_TOL = (1e-3 * Math.LN10) / 10;

const extractors: LogMelExtractor[] = [];
afterAll(() => extractors.forEach((e) => e.dispose()));

describe('log-mel and MFCC match torchaudio on FSDD clips', () => {
  for (const set of fixture.sets) {
    const isDb = set.params.scale === 'db';
    const tol = isDb ? DB_TOL : LN_TOL;
    const unit = isDb ? 'dB' : 'ln units';
    it(`${set.name}: max abs error ≤ ${tol.toExponential(1)} ${unit}`, async () => {
      const params = FeatureParamsSchema.parse(set.params);
      const ex = await LogMelExtractor.create(melConfig(params, fixture.sample_rate));
      extractors.push(ex);
      let worst = 0;
      for (const out of set.outputs) {
        const audio = clips.get(out.clip)!;
        const ref = decode(out.values, (b) => new Float64Array(b)); // [bands, frames]
        const [bands, frames] = out.shape;
        const got = ex.compute(audio);
        expect([ex.bands, got.frames]).toEqual([bands, frames]);
        expect(frameCount(audio.length, ex.config)).toBe(frames);
        const cols = frames + 1;
        for (let b = 0; b < bands; b++) {
          for (let t = 0; t < frames; t++) worst = Math.max(worst, Math.abs(got.values[b * cols + t]! - ref[b * frames + t]!));
        }
      }
      console.log(
        `${set.name}: conno vs torchaudio (float64) max abs error ${worst.toExponential(2)} ${unit}; ` +
          `torchaudio float32 vs float64: ${Math.max(...set.outputs.map((o) => o.torch_float32_max_abs_diff)).toExponential(2)}`,
      );
      expect(worst).toBeLessThanOrEqual(tol);
    });
  }
});

describe('building blocks', () => {
  it('the real FFT matches a direct DFT (ordered layout, unnormalised)', async () => {
    const n = 64;
    const fft = await createRealFft(n);
    try {
      const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.7) + 0.3 * Math.cos(i * 2.1) + (i % 5) * 0.1);
      fft.input.set(x);
      fft.forward();
      const out = fft.output;
      const dft = (k: number) => {
        let re = 0;
        let im = 0;
        for (let t = 0; t < n; t++) {
          re += x[t]! * Math.cos((2 * Math.PI * k * t) / n);
          im -= x[t]! * Math.sin((2 * Math.PI * k * t) / n);
        }
        return [re, im] as const;
      };
      expect(out[0]).toBeCloseTo(dft(0)[0], 4);
      expect(out[1]).toBeCloseTo(dft(n / 2)[0], 4);
      for (let k = 1; k < n / 2; k++) {
        expect(out[2 * k]).toBeCloseTo(dft(k)[0], 4);
        expect(out[2 * k + 1]).toBeCloseTo(dft(k)[1], 4);
      }
      expect(fft.backend).toMatch(/^pffft-wasm-0\.4\.2-/);
    } finally {
      fft.dispose();
    }
    await expect(createRealFft(48)).rejects.toThrow(/power of two/);
  });

  it('mel scales invert, filterbanks have the slaney area, the DCT is orthonormal', () => {
    for (const scale of ['htk', 'slaney'] as const) {
      for (const hz of [0, 50, 999, 1000, 1001, 4000, 8000]) expect(melToHz(hzToMel(hz, scale), scale)).toBeCloseTo(hz, 6);
    }
    // With area normalisation each triangle integrates to ~1 over Hz (fine frequency grid).
    const fb = melFilterbank(4097, 0, 8000, 40, 16000, 'slaney', 'slaney');
    const dense = fb.dense();
    const df = 8000 / 4096;
    for (let m = 0; m < 40; m++) {
      let area = 0;
      for (let k = 0; k < 4097; k++) area += dense[k * 40 + m]! * df;
      expect(area).toBeCloseTo(1, 2);
    }
    const d = dctOrtho(13, 40);
    for (let a = 0; a < 13; a++) {
      for (let b = 0; b < 13; b++) {
        let dot = 0;
        for (let m = 0; m < 40; m++) dot += d[a * 40 + m]! * d[b * 40 + m]!;
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 10);
      }
    }
  });

  it('pads silence as an all-zero frame, handles clips shorter than the reflect padding, and is deterministic', async () => {
    const params = FeatureParamsSchema.parse({ n_fft: 256, win_length: 200, hop_length: 80, n_mels: 40, f_max: 4000 });
    const ex = await LogMelExtractor.create(melConfig(params, 8000));
    extractors.push(ex);
    const tiny = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const a = ex.compute(tiny);
    expect(a.frames).toBe(frameCount(50, ex.config));
    expect(a.frames).toBe(2); // zero-extended to 129 samples, then 1 + floor(129 / 80)
    const cols = a.frames + 1;
    for (let m = 0; m < 40; m++) expect(a.values[m * cols + a.frames]).toBeCloseTo(Math.log(1e-6), 6);
    const first = Float32Array.from(ex.compute(clips.get('0_george_0')!).values);
    const again = ex.compute(clips.get('0_george_0')!).values;
    expect(Buffer.from(again.buffer, again.byteOffset, again.byteLength).equals(Buffer.from(first.buffer))).toBe(true);
  });

  it('refuses f_max above the Nyquist frequency, naming it', async () => {
    const params = FeatureParamsSchema.parse({});
    await expect(LogMelExtractor.create(melConfig(params, 8000))).rejects.toThrow(/f_max 8000 Hz is above the Nyquist frequency 4000 Hz/);
  });
});
