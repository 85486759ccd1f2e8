/**
 * End-to-end: data (synth) → resample → inject-noise → features through the CLI; the noise
 * columns reach the features table, the run verifies, and a params edit is named.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';
import { readTableFile } from '../src/core/arrow/io.js';
import { readClips } from '../src/lab/audio/clips.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const PIPELINE = `params: [params/study.yaml]
stages:
${synthStage('classes: 4, clips_per_class: 10, seconds: 0.5, sample_rate: 16000, seed: 1, test_fraction: 0.3, dev_fraction: 0')}  resample:
    uses: resample
    needs: [data]
    with: { rate: 8000, quality: fast }
  noise:
    uses: inject-noise
    needs: [resample]
    with:
      seed: 3
      label: { model: symmetric, rate: "\${noise.rate}" }
      smoothing: { eps: 0.1 }
      data: { kind: pink, snr_db: 10, fraction: 0.5, test_copies: { snrs: [20, 0] } }
  features:
    uses: features
    needs: [noise]
    with: { n_fft: 256, win_length: 256, hop_length: 80, n_mels: 32, f_max: 4000, frames: 50 }
`;

describe('inject-noise stage (e2e)', () => {
  it('noises labels and waveforms, carries the columns through features, verifies, and names a changed rate', async () => {
    p = tempProject({ 'params/study.yaml': 'noise:\n  rate: 0.2\n', 'pipeline.yaml': PIPELINE });
    let r = await p.conno(['repro'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);

    const clips = readClips((await p.conno(['show', 'noise', '--path'])).stdout.trim());
    const extra = clips.extra!;
    expect(Object.keys(extra)).toEqual(['label_orig', 'flipped', 'target_eps', 'snr_db', 'noise']);
    const orig = extra.label_orig!.values as ArrayLike<number>;
    const flipped = extra.flipped!.values as boolean[];
    const snr = extra.snr_db!.values as (number | null)[];
    const kind = extra.noise!.values as string[];
    const eps = extra.target_eps!.values as ArrayLike<number>;
    // 28 train + 12 test clips, then two noisy copies of the 12 test clips.
    expect(clips.clips.length).toBe(40 + 24);
    clips.clips.forEach((c, i) => {
      expect(flipped[i]).toBe(c.label !== orig[i]);
      if (!c.split.startsWith('train')) expect(flipped[i]).toBe(false);
      expect(eps[i]).toBeCloseTo(c.split === 'train' ? 0.1 : 0, 6);
      if (kind[i] === 'none') expect(snr[i]).toBeNull();
      else expect(kind[i]).toBe('pink');
    });
    const train = clips.clips.flatMap((c, i) => (c.split === 'train' ? [i] : []));
    expect(train.filter((i) => kind[i] === 'pink').length).toBe(14);
    for (const i of train) if (snr[i] !== null) expect(Math.abs(snr[i]! - 10)).toBeLessThan(0.01);
    const copies = clips.clips.flatMap((c, i) => (c.split === 'test@snr=0' ? [i] : []));
    expect(copies.length).toBe(12);
    for (const i of copies) {
      expect(clips.clips[i]!.clipId).toMatch(/@snr=0$/);
      expect(Math.abs(snr[i]! - 0)).toBeLessThan(0.01);
    }
    const lock = (await import('yaml')).parse(p.read('conno.lock'));
    expect(lock.stages.noise.metrics).toMatchObject({ data_noisy_clips: 14, rows: 64, label_noisy_split_clips: 28 });

    r = await p.conno(['show', 'features', '--head', '3']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('label_orig');
    expect(r.stdout).toContain('flipped');
    const feats = readTableFile((await p.conno(['show', 'features', '--path'])).stdout.trim());
    expect(feats.numRows).toBe(64);
    expect(feats.schema.fields.map((f) => f.name)).toEqual(['clip_id', 'split', 'label', 'speaker', 'fold', 'label_orig', 'flipped', 'target_eps', 'snr_db', 'noise', 'features']);
    expect(Array.from(feats.getChild('flipped')!, (v) => v as boolean)).toEqual(flipped);

    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date (4 stage instances).');
    r = await p.conno(['verify'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);

    p.write('params/study.yaml', 'noise:\n  rate: 0.4\n');
    r = await p.conno(['status']);
    expect(r.stdout).toContain('noise:\n    params changed: noise.rate 0.2 → 0.4');
    expect(r.stdout).toContain('features:\n    upstream stale: noise');
    expect(r.stdout).not.toContain('resample:');
  }, 240_000);

  it('recorded noise from a second upstream table, babble, pure noise, determinism, and a bad matrix', async () => {
    const synth = (seed: number) => `{ dataset: synth, synth: { classes: 3, clips_per_class: 6, seconds: 0.5, sample_rate: 8000, seed: ${seed}, test_fraction: 0, dev_fraction: 0 } }`;
    const stage = (name: string, data: string) => `  ${name}:
    uses: inject-noise
    needs: [data, noise_data]
    with: { seed: 1, label: { model: pair, rate: 0.5 }, data: ${data} }
`;
    p = tempProject({
      'pipeline.yaml': `stages:
  data:
    uses: download
    with: ${synth(1)}
  noise_data:
    uses: download
    with: ${synth(2)}
${stage('rec', '{ kind: recorded, noise_from: noise_data, snr_db: { min: 0, max: 5 } }')}${stage('rec2', '{ kind: recorded, noise_from: noise_data, snr_db: { min: 0, max: 5 } }')}${stage('pure', '{ kind: pure, source: brown, noise_from: noise_data }')}${stage('pure_clip', '{ kind: pure, source: brown, noise_from: noise_data, pure_level: clip }')}  bab:
    uses: inject-noise
    needs: [data]
    with: { data: { kind: babble, babble_n: 3, snr_db: 5 } }
`,
    });
    let r = await p.conno(['repro'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    const clean = readClips((await p.conno(['show', 'data', '--path'])).stdout.trim());
    const rec = readClips((await p.conno(['show', 'rec', '--path'])).stdout.trim());
    const snr = rec.extra!.snr_db!.values as number[];
    expect(snr.every((s) => s >= 0 - 0.01 && s <= 5 + 0.01)).toBe(true);
    expect(rec.extra!.noise!.values).toEqual(new Array(18).fill('recorded'));
    // Pair flip: to the next class.
    rec.clips.forEach((c, i) => expect([clean.clips[i]!.label, (clean.clips[i]!.label + 1) % 3]).toContain(c.label));
    // Same params and seed → identical bytes.
    expect((await p.conno(['show', 'rec', '--path'])).stdout.trim().split('/').pop()).toBe((await p.conno(['show', 'rec2', '--path'])).stdout.trim().split('/').pop());
    // Pure noise: one level for every clip (the mean power of the clips it replaces), so the
    // noise tells nothing of the clip, not even its loudness; pure_level clip keeps each clip's.
    const meanPower = (x: ArrayLike<number>) => Array.from(x).reduce((a, v) => a + v * v, 0) / x.length;
    const level = clean.clips.reduce((a, c) => a + meanPower(c.audio), 0) / clean.clips.length;
    const cleanLevels = clean.clips.map((c) => meanPower(c.audio));
    expect(Math.max(...cleanLevels) / Math.min(...cleanLevels)).toBeGreaterThan(2); // the clips do differ in level
    const pure = readClips((await p.conno(['show', 'pure', '--path'])).stdout.trim());
    const pureClip = readClips((await p.conno(['show', 'pure_clip', '--path'])).stdout.trim());
    pure.clips.forEach((c, i) => {
      expect(meanPower(c.audio) / level).toBeCloseTo(1, 4);
      expect(meanPower(pureClip.clips[i]!.audio) / cleanLevels[i]!).toBeCloseTo(1, 4);
      expect(pure.extra!.label_orig!.values[i]).toBe(clean.clips[i]!.label);
      expect(pure.extra!.snr_db!.values[i]).toBeNull();
      expect(pure.extra!.noise!.values[i]).toBe('pure');
    });

    const bab = readClips((await p.conno(['show', 'bab', '--path'])).stdout.trim());
    for (const s of bab.extra!.snr_db!.values as number[]) expect(Math.abs(s - 5)).toBeLessThan(0.01);
    expect(bab.extra!.noise!.values).toEqual(new Array(18).fill('babble'));

    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('label: { model: pair, rate: 0.5 }, data: { kind: pure', 'label: { model: matrix, matrix: [[0.5, 0.5, 0], [0, 1, 0], [0.2, 0.2, 0.5]] }, data: { kind: pure'));
    r = await p.conno(['status']);
    expect(r.exitCode).toBe(2);
    expect(r.all).toContain('row 2 sums to 0.9, not 1');
    expect(r.all).toMatch(/pipeline\.yaml:\d+:\d+/);
  }, 240_000);
});
