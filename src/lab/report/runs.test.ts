import { describe, expect, it } from 'vitest';
import { buildStudy } from './sections.js';
import { ReportParamsSchema } from './params.js';
import type { ReportData, Run } from './data.js';

const run = (seed: number, early: boolean, bestEpoch: number): Run => ({
  id: `train@seed=${seed}`,
  item: { seed },
  fingerprint: `f${seed}`.padEnd(16, '0'),
  params: { seed, epochs: 10, lr: seed === 3 ? 0.01 : 0.1, early_stopping: early ? { patience: 3, monitor: 'dev_acc' } : null },
  splits: [],
  curves: Array.from({ length: 10 }, (_, epoch) => ({ epoch, train_acc: 0.5, train_acc_orig: 0.5, flipped_acc_noisy: NaN, dev_acc: 0.5 })),
  bestEpoch,
});

function runsTable(runs: Run[]) {
  const data: ReportData = { runs, scores: [], summary: [], correlations: [], evaluations: [] };
  const study = buildStudy(data, ReportParamsSchema.parse({}), new Uint8Array(256 * 4));
  return study.sections.find((s) => s.id === 'runs')!.tables[0]!.table;
}

describe('the runs table', () => {
  it('shows a matrix key once, even where a param mirrors it (seed: ${item.seed})', () => {
    const t = runsTable([run(1, false, 9), run(2, false, 9), run(3, false, 9)]);
    expect(t.columns.filter((c) => c === 'seed')).toHaveLength(1);
    expect(t.columns).toContain('lr'); // a param that really varies stays
    expect(t.columns).not.toContain('param seed');
  });

  it('hides a nested param that mirrors a matrix key of another name (curriculum.order: ${item.order})', () => {
    const runs = ['none', 'easy_first'].map((order, i) => {
      const r = run(i + 1, false, 9);
      r.item = { ...r.item, order };
      r.params = { ...r.params, curriculum: { order, pacing: 'linear' } };
      return r;
    });
    const t = runsTable(runs);
    expect(t.columns).toContain('order');
    expect(t.columns).not.toContain('curriculum.order');
    expect(t.columns).not.toContain('curriculum.pacing'); // the same in both: shared, not a column
  });

  it('keeps a param that shares a matrix key’s name but not its values, labelled as a param', () => {
    const odd = run(3, false, 9);
    odd.params = { ...odd.params, seed: 7 };
    const t = runsTable([run(1, false, 9), run(2, false, 9), odd]);
    expect(t.columns).toContain('param seed');
  });

  it('names the epoch whose weights the model holds: the best by the monitor with early stopping, else the last', () => {
    const t = runsTable([run(1, true, 4), run(2, false, 9)]);
    const col = t.columns.indexOf('weights of epoch');
    expect(t.rows.map((r) => r[col])).toEqual(['4 (best dev_acc)', '9 (last)']);
  });
});
