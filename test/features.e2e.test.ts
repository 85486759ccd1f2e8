/**
 * End-to-end: the built-in features stage through the CLI, on a temp project whose clip table
 * comes from a project stage module (tones and noise at 16 kHz, train and test splits).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempProject, type TempProject, ZOD_MODULE, distModule } from './helpers.js';
import { readTableFile, flatFloat32 } from '../src/core/arrow/io.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});


const MAKE_CLIPS = `import { z } from ${ZOD_MODULE};
import { writeClips } from ${distModule('src/lab/audio/clips.js')};
export const stage = {
  version: 1,
  description: 'six tones with a little deterministic noise, 16 kHz',
  params: z.strictObject({}),
  outputs: ['clips'],
  async run(ctx) {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
    const clips = [];
    for (let i = 0; i < 6; i++) {
      const n = 4000 + 1500 * i; // 0.25 … 0.72 s
      const f = 300 + 200 * i;
      const audio = Float32Array.from({ length: n }, (_, t) => 0.5 * Math.sin((2 * Math.PI * f * t) / 16000) + 0.01 * rand());
      clips.push({ clipId: 'c' + i, split: i < 4 ? 'train' : 'test', label: i % 2, speaker: i % 3 === 0 ? null : 's' + (i % 3), fold: null, source: 'synth', sampleRate: 16000, audio });
    }
    await writeClips(ctx.outPath('clips'), { clips, classes: ['low', 'high'], metadata: { 'conno.dataset': 'tones' } });
  },
};
`;

const PIPELINE = `params: [params/study.yaml]
stages:
  make:
    uses: ./stages/make-clips.mjs
  features:
    uses: features
    needs: [make]
    with: { n_mels: "\${features.n_mels}", frames: 40, normalize: true }
`;

describe('features stage', () => {
  it('computes log-mel tables, is reproducible, and names a changed n_mels', async () => {
    p = tempProject({ 'params/study.yaml': 'features:\n  n_mels: 64\n', 'stages/make-clips.mjs': MAKE_CLIPS, 'pipeline.yaml': PIPELINE });
    let r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Done: 2 ran');

    // A built-in stage's first declared output is what `show STAGE` prints.
    r = await p.conno(['show', 'features', '--head', '2']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('clip_id');
    expect(r.stdout).toContain('c0');
    expect(r.stdout).toContain('6 rows');

    const file = (await p.conno(['show', 'features:features', '--path'])).stdout.trim();
    const table = readTableFile(file);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['clip_id', 'split', 'label', 'speaker', 'fold', 'features']);
    const { values, shape } = flatFloat32(table, 'features');
    expect(shape).toEqual([64, 40]);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(JSON.parse(table.schema.metadata.get('conno.classes')!)).toEqual(['low', 'high']);
    expect(table.schema.metadata.get('conno.dataset')).toBe('tones');
    expect(JSON.parse(table.schema.metadata.get('conno.features')!)).toMatchObject({ n_mels: 64, frames: 40, sample_rate: 16000, normalize: true });
    const stats = readTableFile((await p.conno(['show', 'features:stats', '--path'])).stdout.trim());
    expect(stats.numRows).toBe(64);
    expect(JSON.parse(stats.schema.metadata.get('conno.stats')!)).toMatchObject({ split: 'train', clips: 4 });

    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Done: 0 ran, 0 restored, 2 up to date.');
    r = await p.conno(['verify']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Verified: all 2 stage instances reproduce conno.lock bit for bit.');

    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.features.params).toEqual({ 'features.n_mels': 64 });
    p.write('params/study.yaml', 'features:\n  n_mels: 40\n');
    r = await p.conno(['status']);
    expect(r.stdout).toContain('features:\n    params changed: features.n_mels 64 → 40\n');
    // The `with` value that interpolates it is not reported a second time.
    expect(r.stdout).not.toContain('with changed');
    expect(r.stdout).not.toContain('make:');
  }, 120_000);

  it('refuses clips of different sample rates, naming the clip and suggesting resample', async () => {
    p = tempProject({
      'params/study.yaml': 'features:\n  n_mels: 64\n',
      'stages/make-clips.mjs': MAKE_CLIPS.replace("sampleRate: 16000", "sampleRate: i === 3 ? 22050 : 16000"),
      'pipeline.yaml': PIPELINE,
    });
    const r = await p.conno(['repro']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain("'c3' is 22050 Hz but 'c0' is 16000 Hz");
    expect(r.all).toContain('resample');
  }, 60_000);
});
