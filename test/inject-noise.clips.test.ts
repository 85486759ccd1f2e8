/** Extra columns of a clip table (inject-noise's) round-trip through writeClips/readClips and takeRows. */
import { expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readClips, takeRows, writeClips, type ClipSet } from '../src/lab/audio/clips.js';

it('round-trips extra columns (nullable float32, bool, utf8, int32, fixedSizeList) and picks rows', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-clips-'));
  try {
    const clip = (id: string, label: number) => ({ clipId: id, split: 'train', label, speaker: null, fold: null, source: id, sampleRate: 8000, audio: Float32Array.of(0.1, -0.2) });
    const set: ClipSet = {
      clips: [clip('a', 0), clip('b', 1), clip('c', 0)],
      classes: ['x', 'y'],
      metadata: { 'conno.dataset': 't' },
      extra: {
        label_orig: { type: 'int32', values: Int32Array.of(1, 1, 0) },
        flipped: { type: 'bool', values: [true, false, false] },
        snr_db: { type: 'float32', values: [10.5, null, -5], nullable: true },
        noise: { type: 'utf8', values: ['white', 'none', 'pink'] },
        target: { type: 'fixedSizeList', values: Float32Array.of(0.9, 0.1, 0.2, 0.8, 0.5, 0.5), shape: [2] },
      },
    };
    const file = path.join(dir, 'c.arrow');
    await writeClips(file, set);
    const back = readClips(file);
    expect(back.clips.map((c) => c.label)).toEqual([0, 1, 0]);
    const e = back.extra!;
    expect(Array.from(e.label_orig!.values as ArrayLike<number>)).toEqual([1, 1, 0]);
    expect(e.flipped!.values).toEqual([true, false, false]);
    expect(e.snr_db!.values).toEqual([10.5, null, -5]);
    expect(e.snr_db!.nullable).toBe(true);
    expect(e.noise!.values).toEqual(['white', 'none', 'pink']);
    expect(Array.from(e.target!.values as Float32Array)).toEqual(Array.from(Float32Array.of(0.9, 0.1, 0.2, 0.8, 0.5, 0.5)));
    const picked = takeRows(e.target!, [2, 2, 0]);
    expect(Array.from(picked.values as Float32Array)).toEqual(Array.from(Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.9, 0.1)));
    expect(takeRows(e.snr_db!, [1, 0]).values).toEqual([null, 10.5]);
    // Writing what was read gives the same bytes.
    const file2 = path.join(dir, 'c2.arrow');
    await writeClips(file2, back);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(file2).equals(readFileSync(file))).toBe(true);
    // A table without extra columns reads without `extra` (existing callers unchanged).
    await writeClips(file2, { ...set, extra: undefined });
    expect(readClips(file2).extra).toBeUndefined();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
