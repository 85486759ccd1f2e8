/**
 * train's checks before anything runs: `init_from` names exactly one upstream instance with a
 * model, trained on features made like this run's.
 */
import type { StageCheckContext, StageProblem, UpstreamInfo } from '../../src/core/stage/api.js';
import { featureDifferences } from '../features/compat.js';
import type { TrainParams } from '../../src/lab/ml/params.js';

const featuresOf = (info: UpstreamInfo | undefined, lookup: (id: string) => UpstreamInfo | undefined): UpstreamInfo[] =>
  (info?.upstream ?? []).map((id) => lookup(id)!).filter((u) => u.outputs.includes('features'));

export function checkTrain(ctx: StageCheckContext<TrainParams>): StageProblem[] {
  const from = ctx.params.init_from;
  if (from === null) return [];
  // As `run` resolves it: an instance id, or a stage whose instances (paired by `needs`) give one.
  const models = ctx.upstream.filter((u) => u.outputs.includes('model') && (u.id === from || u.id.startsWith(`${from}@`)));
  const withModels = ctx.upstream.filter((u) => u.outputs.includes('model')).map((u) => `'${u.id}'`);
  if (models.length === 0) {
    return [{ path: ['init_from'], message: `init_from: no upstream instance of '${from}' with a model output; add it to needs (upstream with a model: ${withModels.join(', ') || 'none'})` }];
  }
  if (models.length > 1) {
    return [{ path: ['init_from'], message: `init_from: '${from}' matches ${models.length} instances (${models.map((m) => m.id).join(', ')}): pair them on matrix keys in needs, or name one instance` }];
  }
  const lookup = (id: string) => ctx.instance(id);
  const mine = featuresOf(ctx.instance(ctx.id), lookup);
  const theirs = featuresOf(models[0], lookup);
  if (mine.length === 1 && theirs.length === 1) {
    const diffs = featureDifferences(mine[0]!, theirs[0]!, lookup);
    if (diffs.length) {
      return [{ path: ['init_from'], message: `init_from: '${models[0]!.id}' was trained on features made otherwise than this run's: ${diffs.join('; ')}` }];
    }
  }
  return [];
}
