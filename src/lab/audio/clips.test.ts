import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readClips, writeClips, type ClipSet } from './clips.js';

describe('clip tables', () => {
  it('round-trip every column, variable-length audio and the class list', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-clips-'));
    try {
      const set: ClipSet = {
        classes: ['zero', 'one'],
        metadata: { 'conno.dataset': 'test' },
        clips: [
          { clipId: 'a', split: 'train', label: 1, speaker: 'theo', fold: null, source: 'x/a.wav', sampleRate: 8000, audio: Float32Array.from([0.5, -0.25, 1]) },
          { clipId: 'b', split: 'test', label: 0, speaker: null, fold: 3, source: 'x/b.wav', sampleRate: 16000, audio: new Float32Array(0) },
          { clipId: 'c', split: 'train', label: 0, speaker: 'jackson', fold: 1, source: 'x/c.wav', sampleRate: 8000, audio: Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) / 2) },
        ],
      };
      const file = path.join(dir, 'clips.arrow');
      await writeClips(file, set);
      const back = readClips(file);
      expect(back.classes).toEqual(['zero', 'one']);
      expect(back.metadata).toEqual({ 'conno.dataset': 'test' });
      expect(back.clips.map(({ audio, ...rest }) => rest)).toEqual(set.clips.map(({ audio, ...rest }) => rest));
      back.clips.forEach((c, i) => expect(Array.from(c.audio)).toEqual(Array.from(set.clips[i]!.audio)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keep every clip intact across record batches (2,500 clips)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-clips-'));
    try {
      const clips = Array.from({ length: 2500 }, (_, i) => ({ clipId: `c${i}`, split: 'train', label: i % 7, speaker: null, fold: null, source: `${i}.wav`, sampleRate: 8000, audio: Float32Array.from({ length: (i % 13) + 1 }, (_, j) => (i * 31 + j) / 1e5) }));
      const file = path.join(dir, 'clips.arrow');
      await writeClips(file, { classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], metadata: {}, clips });
      const back = readClips(file);
      expect(back.clips.length).toBe(2500);
      for (const i of [0, 1023, 1024, 2047, 2048, 2499]) {
        expect(back.clips[i]!.clipId).toBe(`c${i}`);
        expect(Array.from(back.clips[i]!.audio)).toEqual(Array.from(clips[i]!.audio));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
