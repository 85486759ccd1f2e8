import { describe, expect, it } from 'vitest';
import { selectClips, type DevOptions } from './clipset.js';
import type { ClipEntry, ClipIndex } from './datasets.js';

/** 6 speakers × 4 classes × 5 takes, FSDD-style ids; speaker 'sam' is in the test split. */
function index(): ClipIndex {
  const entries: ClipEntry[] = [];
  for (const speaker of ['ann', 'bob', 'cid', 'dee', 'eve', 'sam']) {
    for (const c of ['zero', 'one', 'two', 'three']) {
      for (let t = 0; t < 5; t++) {
        const clipId = `${c}_${speaker}_${t}`;
        entries.push({ file: `/x/${clipId}.wav`, source: `${clipId}.wav`, clipId, className: c, split: speaker === 'sam' ? 'test' : 'train', speaker, fold: null });
      }
    }
  }
  return { entries, classes: ['zero', 'one', 'two', 'three'] };
}
const dev = (o: Partial<DevOptions>): DevOptions => ({ by: 'clip', fraction: 0.2, seed: 0, ...o });
const splitOf = (entries: ClipEntry[]) => new Map(entries.map((e) => [e.clipId, e.split]));

describe('dev split', () => {
  it('by clip: the fraction of each class of train, seeded, the same whatever the file order', () => {
    const a = selectClips(index(), { dev: dev({}) });
    const shuffled = index();
    shuffled.entries.reverse();
    expect(splitOf(selectClips(shuffled, { dev: dev({}) }))).toEqual(splitOf(a));
    for (const c of ['zero', 'one', 'two', 'three']) {
      expect(a.filter((e) => e.className === c && e.split === 'dev')).toHaveLength(5); // round(0.2 × 25)
      expect(a.filter((e) => e.className === c && e.split === 'test')).toHaveLength(5); // test untouched
    }
    const other = selectClips(index(), { dev: dev({ seed: 1 }) });
    expect(splitOf(other)).not.toEqual(splitOf(a));
  });

  it('by speaker: whole speakers, none in both train and dev', () => {
    const a = selectClips(index(), { dev: dev({ by: 'speaker', fraction: 0.4 }) });
    const devSpeakers = new Set(a.filter((e) => e.split === 'dev').map((e) => e.speaker));
    const trainSpeakers = new Set(a.filter((e) => e.split === 'train').map((e) => e.speaker));
    expect(devSpeakers.size).toBe(2); // round(0.4 × 5)
    for (const s of devSpeakers) expect(trainSpeakers.has(s)).toBe(false);
    expect(devSpeakers.has('sam')).toBe(false); // test speakers stay in test
  });

  it('named speakers, after a holdout; mistakes are named', () => {
    const a = selectClips(index(), { holdout: { speakers: ['ann'] }, dev: dev({ speakers: ['bob'] }) });
    expect(new Set(a.filter((e) => e.split === 'dev').map((e) => e.speaker))).toEqual(new Set(['bob']));
    expect(a.filter((e) => e.speaker === 'ann').every((e) => e.split === 'holdout')).toBe(true);
    expect(() => selectClips(index(), { holdout: { speakers: ['ann'] }, dev: dev({ speakers: ['ann'] }) })).toThrow('dev.speakers: ann is not a speaker of the train split');
    const withDev = index();
    withDev.entries[0] = { ...withDev.entries[0]!, split: 'dev' };
    expect(() => selectClips(withDev, { dev: dev({}) })).toThrow("the dataset has a 'dev' split of its own already");
  });
});
