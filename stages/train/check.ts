/**
 * train's checks before anything runs: `init_from` names exactly one upstream instance with a
 * model, trained on features made like this run's; `curriculum.scores` names one upstream
 * instance with scores, and `curriculum.score` is one of them.
 */
import type { StageCheckContext, StageProblem, UpstreamInfo } from '../../src/core/stage/api.js';
import { featureDifferences } from '../features/compat.js';
import type { TrainParams } from '../../src/lab/ml/params.js';
import { SCORE_NAMES } from '../../src/lab/difficulty/scores.js';

const featuresOf = (info: UpstreamInfo | undefined, lookup: (id: string) => UpstreamInfo | undefined): UpstreamInfo[] =>
  (info?.upstream ?? []).map((id) => lookup(id)!).filter((u) => u.outputs.includes('features'));

export function checkTrain(ctx: StageCheckContext<TrainParams>): StageProblem[] {
  return [...checkInput(ctx), ...checkInit(ctx), ...checkCurriculum(ctx)];
}

/** A raw-waveform model takes waveforms; the log-mel models take log-mels (an MLP takes either). */
function checkInput(ctx: StageCheckContext<TrainParams>): StageProblem[] {
  const model = ctx.params.model.name;
  const made = featuresOf(ctx.instance(ctx.id), (id) => ctx.instance(id)).map((u) => u.uses);
  if (made.length !== 1 || made[0] === undefined) return [];
  const wave = made[0] === 'waveform';
  if (model === 'wavecnn' && !wave) return [{ path: ['model', 'name'], message: `wavecnn takes waveforms (uses: waveform, or a clip table), not the output of ${made[0]}` }];
  if (wave && model !== 'wavecnn' && model !== 'mlp') return [{ path: ['model', 'name'], message: `${model} takes log-mel features; the upstream waveform table is for model: { name: wavecnn }` }];
  return [];
}

function checkCurriculum(ctx: StageCheckContext<TrainParams>): StageProblem[] {
  const c = ctx.params.curriculum;
  if (c === null) return [];
  if (c.order !== 'none' && ctx.params.two_stage?.method === 'prune') return [{ path: ['curriculum'], message: 'curriculum and two_stage prune both choose the samples an epoch trains on: use one of them' }];
  if (c.scores === null) return [];
  const found = ctx.upstream.filter((u) => u.outputs.includes('scores') && (u.id === c.scores || u.id.startsWith(`${c.scores}@`)));
  if (found.length !== 1) {
    const any = ctx.upstream.filter((u) => u.outputs.includes('scores')).map((u) => `'${u.id}'`);
    const message =
      found.length === 0
        ? `curriculum.scores: no upstream instance of '${c.scores}' with a scores output; add it to needs (upstream with scores: ${any.join(', ') || 'none'})`
        : `curriculum.scores: '${c.scores}' matches ${found.length} instances (${found.map((u) => u.id).join(', ')}): pair them on matrix keys in needs, or name one instance`;
    return [{ path: ['curriculum', 'scores'], message }];
  }
  const up = found[0]!;
  if (up.uses !== 'score-difficulty' || c.score === null) return []; // a command's scores: its columns are known when it has run
  const listed = up.with?.['scores'];
  const scores: readonly string[] = Array.isArray(listed) ? listed.map(String) : SCORE_NAMES;
  if (scores.includes(c.score)) return [];
  return [{ path: ['curriculum', 'score'], message: `curriculum.score: '${c.score}' is not a score ${up.id} computes (its scores: ${scores.join(', ')})` }];
}

function checkInit(ctx: StageCheckContext<TrainParams>): StageProblem[] {
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
