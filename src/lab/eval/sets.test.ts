import { describe, expect, it } from 'vitest';
import { softmaxRows } from '../difficulty/linear.js';
import { classMapping, defaultSplits, groupByClip, meanLogitsByClip, snrOfSplit } from './sets.js';

describe('evaluation sets', () => {
  it('reads the SNR of a noisy copy from its split name', () => {
    expect(snrOfSplit('test@snr=10')).toBe(10);
    expect(snrOfSplit('test@snr=-7.5')).toBe(-7.5);
    expect(snrOfSplit('test')).toBeNaN();
    expect(snrOfSplit('holdout')).toBeNaN();
    expect(snrOfSplit('test@snr=loud')).toBeNaN();
  });

  it('evaluates every split but train and dev: test, its copies from high to low SNR, then the rest by name', () => {
    const splits = ['train', 'test@snr=0', 'holdout', 'test', 'dev', 'test@snr=-10', 'test@snr=20', 'test', 'another'];
    expect(defaultSplits(splits)).toEqual(['test', 'test@snr=20', 'test@snr=0', 'test@snr=-10', 'another', 'holdout']);
    expect(defaultSplits(['train', 'dev'])).toEqual([]);
  });

  it('maps classes by name, or by a class_map that drops what it leaves out', () => {
    const model = ['zero', 'one', 'two'];
    expect(Array.from(classMapping(['two', 'seven', 'zero'], model, null, 'x'))).toEqual([2, -1, 0]);
    expect(Array.from(classMapping(['0', '1', '2', '3'], model, { '0': 'zero', '2': 'two', '3': null }, 'x'))).toEqual([0, -1, 2, -1]);
    expect(() => classMapping(['0', '1'], model, { '9': 'zero' }, 'sets.fsdd.class_map')).toThrow("sets.fsdd.class_map: '9' is not a class of the evaluated table (its classes: 0, 1)");
    expect(() => classMapping(['0', '1'], model, { '1': 'uno' }, 'sets.fsdd.class_map')).toThrow("sets.fsdd.class_map: '1' → 'uno', but 'uno' is not a class of the model (its classes: zero, one, two)");
  });

  it("one prediction per clip: the softmax of the patches' mean logits is their normalised geometric mean", () => {
    const ids = ['a', 'b', 'a', 'a'];
    const logits = [1, 0, -1, 5, 2, 2, 0.5, 3, 0, 0, 0, 1];
    const g = groupByClip(ids);
    expect(Array.from(g.firstRow)).toEqual([0, 1]);
    expect(Array.from(g.count)).toEqual([3, 1]);
    const mean = meanLogitsByClip(g, logits, 3);
    expect(Array.from(mean.subarray(3))).toEqual([5, 2, 2]);
    const clipP = softmaxRows(mean, 2, 3);
    const patchP = softmaxRows(logits, 4, 3);
    const geo = [0, 1, 2].map((c) => Math.cbrt(patchP[0 * 3 + c]! * patchP[2 * 3 + c]! * patchP[3 * 3 + c]!));
    const sum = geo.reduce((a, b) => a + b, 0);
    for (let c = 0; c < 3; c++) expect(clipP[c]).toBeCloseTo(geo[c]! / sum, 12);
  });
});
