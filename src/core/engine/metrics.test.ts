/**
 * conno metrics from a constructed conno.lock: the instance table, target filters, and the seed
 * aggregates against values worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import { aggregate, flatMetrics, meanPm, metricRows } from './metrics.js';
import type { LockFile, LockEntry } from '../store/lockfile.js';
import { formatRows } from '../util/format.js';

const entry = (item: Record<string, string | number>, metrics?: Record<string, unknown>): LockEntry =>
  ({ kind: 'builtin', fingerprint: 'f', params: {}, env: {}, deps: {}, outs: {}, item, ...(metrics ? { metrics } : {}) }) as unknown as LockEntry; // cast: only the fields metrics reads

const lock: LockFile = {
  version: 1,
  stages: {
    data: entry({}),
    'train@noise=0,seed=1': entry({ noise: 0, seed: 1 }, { acc: 0.8, epochs: 10, note: 'a' }),
    'train@noise=0,seed=2': entry({ noise: 0, seed: 2 }, { acc: 0.9, epochs: 10 }),
    'train@noise=0,seed=3': entry({ noise: 0, seed: 3 }, { acc: 0.7, epochs: 10 }),
    'train@noise=0.4,seed=1': entry({ noise: 0.4, seed: 1 }, { acc: 0.5, epochs: 10 }),
    'train@noise=0.4,seed=2': entry({ noise: 0.4, seed: 2 }, { acc: 0.6, epochs: 10, extra: [1, 2] }),
  },
};

describe('conno metrics', () => {
  it('lists the instances with metrics, filtered like repro targets', () => {
    expect(metricRows(lock).map((r) => r.id)).toEqual(['train@noise=0,seed=1', 'train@noise=0,seed=2', 'train@noise=0,seed=3', 'train@noise=0.4,seed=1', 'train@noise=0.4,seed=2']);
    expect(metricRows(lock, ['train@seed=2']).map((r) => r.id)).toEqual(['train@noise=0,seed=2', 'train@noise=0.4,seed=2']);
    expect(() => metricRows(lock, ['train@seed=9'])).toThrow("no instance of 'train' matches 'train@seed=9'");
    expect(() => metricRows(lock, ['trian'])).toThrow("no instance of 'trian' in conno.lock (stages: data, train)");
  });

  it('aggregates over a key: mean, sample std, n and the t-based 95% CI, by hand', () => {
    const [zero, four] = aggregate(metricRows(lock), 'seed');
    expect(zero!.item).toEqual({ noise: 0 });
    expect(zero!.ids).toHaveLength(3);
    const acc = zero!.metrics['acc']!;
    // mean 0.8; std = sqrt(((0)² + 0.1² + 0.1²)/2) = 0.1; half-width = t(0.975, 2)·0.1/√3 = 4.302653·0.057735 = 0.248414
    expect(acc.n).toBe(3);
    expect(acc.mean).toBeCloseTo(0.8, 12);
    expect(acc.std).toBeCloseTo(0.1, 12);
    expect(acc.ci95![0]).toBeCloseTo(0.8 - 0.248414, 5);
    expect(acc.ci95![1]).toBeCloseTo(0.8 + 0.248414, 5);
    // n = 2: mean 0.55, std 0.070711, half-width t(0.975, 1)·0.070711/√2 = 12.706205·0.05 = 0.635310
    expect(four!.metrics['acc']!.ci95![1] - 0.55).toBeCloseTo(0.63531, 5);
    expect(four!.metrics['epochs']!.std).toBe(0); // equal values: no spread, CI of zero width
    expect(Object.keys(zero!.metrics)).toEqual(['acc', 'epochs']); // text metrics have no mean
    expect(meanPm(acc)).toBe('0.8000 ± 0.2484');
  });

  it('names the keys there are when the aggregated one is not among them', () => {
    expect(() => aggregate(metricRows(lock), 'fold')).toThrow("--aggregate fold: no instance has the matrix key 'fold' (keys: noise, seed)");
  });

  it('flattens a command stage’s metrics files: one file gives its keys, several file:key; nested keys dotted', () => {
    expect(flatMetrics({ 'out/m-0-1.json': { acc: 0.9, per: { a: 1 } } }, 'cmd')).toEqual({ acc: 0.9, 'per.a': 1 });
    expect(flatMetrics({ 'a.json': { acc: 1 }, 'b.yaml': { acc: 2 } }, 'cmd')).toEqual({ 'a.json:acc': 1, 'b.yaml:acc': 2 });
    expect(flatMetrics({ test_acc: 0.5, dev_speakers: ['x'] }, 'builtin')).toEqual({ test_acc: 0.5, dev_speakers: ['x'] });
  });

  it('formats tables as text, Markdown and CSV', () => {
    const rows = [['a|b', '1.5'], ['c, "d"', '-2']];
    expect(formatRows(['name', 'value'], rows, 'text')).toBe('name    value\n------  -----\na|b       1.5\nc, "d"     -2');
    expect(formatRows(['name', 'value'], rows, 'md')).toBe('| name | value |\n| --- | ---: |\n| a\\|b | 1.5 |\n| c, "d" | -2 |');
    expect(formatRows(['name', 'value'], rows, 'csv')).toBe('name,value\na|b,1.5\n"c, ""d""",-2');
  });
});
