/**
 * End-to-end: the built-in resample stage through the CLI, fed by a project stage module that
 * writes a small clip table at mixed rates.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tempProject, type TempProject, ZOD_MODULE, distModule } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});


const MAKE_CLIPS = `import { z } from ${ZOD_MODULE};
import { writeClips } from ${distModule('src/lab/audio/clips.js')};
const tone = (rate, n, f) => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / rate));
export const stage = {
  version: 1,
  description: 'three tones at 8, 16 and 44.1 kHz',
  params: z.strictObject({}),
  outputs: ['clips'],
  async run(ctx) {
    const spec = [['a', 8000, 4000, 440], ['b', 16000, 8000, 880], ['c', 44100, 22050, 1000]];
    await writeClips(ctx.outPath('clips'), {
      classes: ['low', 'high'],
      metadata: { 'conno.dataset': 'tones' },
      clips: spec.map(([id, rate, n, f], i) => ({ clipId: id, split: i === 2 ? 'test' : 'train', label: i % 2, speaker: null, fold: null, source: id + '.wav', sampleRate: rate, audio: tone(rate, n, f) })),
    });
  },
};
`;

describe('resample stage (e2e)', () => {
  it('resamples a mixed-rate clip table, is up to date on a second repro, verifies, and reports a changed rate', async () => {
    p = tempProject({
      'stages/make-clips.mjs': MAKE_CLIPS,
      'pipeline.yaml': `stages:
  make:
    uses: ./stages/make-clips.mjs
  resample:
    uses: resample
    needs: [make]
    with: { rate: 16000 }
`,
    });
    let r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    r = await p.conno(['show', 'resample', '--json']);
    expect(r.exitCode, r.all).toBe(0);
    const shown = JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> };
    expect(shown.rows.map((row) => [row.clip_id, row.sample_rate, row.split, row.label])).toEqual([
      ['a', 16000, 'train', 0],
      ['b', 16000, 'train', 1],
      ['c', 16000, 'test', 0],
    ]);
    // Lengths: 4000 @ 8k → 8000, 8000 @ 16k untouched, 22050 @ 44.1k → 8000.
    const { readClips } = await import('../src/lab/audio/clips.js');
    const objPath = (await p.conno(['show', 'resample', '--path'])).stdout.trim();
    const set = readClips(objPath);
    expect(set.clips.map((c) => c.audio.length)).toEqual([8000, 8000, 8000]);
    expect(set.classes).toEqual(['low', 'high']);
    expect(set.metadata['conno.dataset']).toBe('tones');
    const b = set.clips[1]!.audio;
    for (let i = 0; i < 8000; i += 997) expect(b[i]).toBe(Math.fround(0.3 * Math.sin((2 * Math.PI * 880 * i) / 16000)));

    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect((await p.conno(['status'])).stdout).toContain('Everything is up to date (2 stage instances).');
    r = await p.conno(['verify']);
    expect(r.exitCode, r.all).toBe(0);

    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('rate: 16000', 'rate: 8000'));
    r = await p.conno(['status']);
    expect(r.stdout).toMatch(/resample:\n\s+with changed: rate 16000 → 8000/);
    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    const set8 = readClips((await p.conno(['show', 'resample', '--path'])).stdout.trim());
    expect(set8.clips.map((c) => [c.sampleRate, c.audio.length])).toEqual([[8000, 4000], [8000, 4000], [8000, 4000]]);
  }, 120_000);
});
