import { describe, expect, it } from 'vitest';
import type { StageInput } from '../../src/core/stage/api.js';
import { EvaluateOodParamsSchema } from './params.js';
import { itemsAgree, resolveInputs } from './inputs.js';

const input = (from: string, output: string, item: StageInput['item'] = {}): StageInput => ({ from, output, path: `/cache/${from}/${output}`, hash: 'h', item });
const params = (w: unknown) => EvaluateOodParamsSchema.parse(w);

/** Two noise levels of train and features, plus another dataset's features (no matrix). */
const upstream = [
  ...[0, 0.2].flatMap((noise) => [
    input(`features@noise=${noise}`, 'features', { noise }),
    input(`train@noise=${noise}`, 'model', { noise }),
    input(`train@noise=${noise}`, 'predictions', { noise }),
  ]),
  input('fsdd_features', 'features'),
];

describe('evaluate-ood inputs', () => {
  it('pairs on shared matrix keys only', () => {
    expect(itemsAgree({ noise: 0.2, seed: 1 }, { noise: '0.2' })).toBe(true);
    expect(itemsAgree({ noise: 0.2 }, { noise: 0 })).toBe(false);
    expect(itemsAgree({}, { noise: 0 })).toBe(true);
  });

  it('finds the paired model, its predictions and its features; sets, probe and CKA partners by name', () => {
    const p = params({ sets: { fsdd: { from: 'fsdd_features' } }, probe: { from: 'fsdd_features' }, cka: { with: 'train@noise=0' } });
    const r = resolveInputs(upstream, { noise: 0.2 }, p, 'evaluate@noise=0.2');
    expect(r.model.from).toBe('train@noise=0.2');
    expect(r.predictions?.from).toBe('train@noise=0.2');
    expect(r.features.from).toBe('features@noise=0.2');
    expect([...r.tables.keys()]).toEqual(['fsdd_features']);
    expect(r.ckaModels.map((m) => m.from)).toEqual(['train@noise=0']);
    // A run compared with itself is still the model it evaluates.
    expect(resolveInputs(upstream, { noise: 0 }, p, 'evaluate@noise=0').model.from).toBe('train@noise=0');
  });

  it('a stage name in `from` pairs by matrix keys', () => {
    const p = params({ sets: { again: { from: 'features', split: 'test' } }, features: 'features@noise=0.2' });
    expect(resolveInputs(upstream, { noise: 0.2 }, p, 'e').tables.get('features')?.from).toBe('features@noise=0.2');
  });

  it('says what is missing or ambiguous', () => {
    expect(() => resolveInputs(upstream, {}, params({}), 'evaluate')).toThrow(/evaluate evaluates exactly one model.*found 'train@noise=0', 'train@noise=0.2'.*matrix keys/s);
    expect(() => resolveInputs(upstream, { noise: 0 }, params({ cka: { with: 'train@noise=0.4' } }), 'e')).toThrow(/cka.with: 'train@noise=0.4' is not an upstream train instance/);
    expect(() => resolveInputs(upstream, { noise: 0 }, params({ probe: { from: 'esc_features' } }), 'e')).toThrow(
      /probe.from: 'esc_features' is not an upstream stage instance with that output \(list it in needs\); available: 'features@noise=0', 'features@noise=0.2', 'fsdd_features'/,
    );
    // Without naming fsdd_features anywhere, the model's own table is ambiguous.
    expect(() => resolveInputs(upstream, { noise: 0 }, params({}), 'e')).toThrow(/found 'features@noise=0', 'fsdd_features'.*`features: <instance>`/s);
  });

  it('params: defaults need nothing, mistakes are rejected', () => {
    const p = params({});
    expect(p.splits).toBe('auto');
    expect(p.saliency).toEqual({ clips: 4, split: 'test', method: 'occlusion', patch: [4, 5], stride: null });
    expect(EvaluateOodParamsSchema.safeParse({ saliency: { patch: [0, 5] } }).success).toBe(false);
    expect(EvaluateOodParamsSchema.safeParse({ sets: { fsdd: { from: 'x', clas_map: {} } } }).success).toBe(false);
    expect(EvaluateOodParamsSchema.safeParse({ splits: [] }).success).toBe(false);
  });
});
