/**
 * evaluate-ood's checks before anything runs: every instance its parameters name (sets, probe,
 * cka, features) resolves among its upstream instances exactly as `run` will resolve them, and
 * every table it evaluates the model on was made like the table the model was trained on.
 */
import type { StageCheckContext, StageProblem } from '../../src/core/stage/api.js';
import { featureDifferences } from '../features/compat.js';
import { InputRefError, resolveInputs } from './inputs.js';
import type { EvaluateOodParams } from './params.js';

export function checkEvaluateOod(ctx: StageCheckContext<EvaluateOodParams>): StageProblem[] {
  const candidates = ctx.upstream.flatMap((u) => u.outputs.map((output) => ({ from: u.id, output, item: u.item })));
  let r: ReturnType<typeof resolveInputs<(typeof candidates)[number]>>;
  try {
    r = resolveInputs(candidates, ctx.item, ctx.params, ctx.id);
  } catch (err) {
    if (err instanceof InputRefError) return [{ path: err.path, message: err.message }];
    throw err;
  }
  // A run known by its predictions: its rows and labels are checked against its table at run time.
  if (r.model === undefined) return [];
  const problems: StageProblem[] = [];
  // The table the model was trained on: its train instance's own features upstream.
  const model = ctx.instance(r.model.from);
  const trainedOn = (model?.upstream ?? []).map((id) => ctx.instance(id)!).filter((u) => u.outputs.includes('features'));
  const reference = trainedOn.length === 1 ? trainedOn[0]! : ctx.instance(r.features.from)!;
  const compare = (from: string, path: (string | number)[]) => {
    const other = ctx.instance(from);
    if (!other || other.id === reference.id) return;
    const diffs = featureDifferences(other, reference, (id) => ctx.instance(id));
    if (diffs.length) {
      problems.push({
        path,
        message: `'${other.id}' was made otherwise than '${reference.id}', which '${r.model.from}' was trained on: ${diffs.join('; ')} (the model would see inputs unlike any it learned from: make both with the same parameters)`,
      });
    }
  };
  compare(r.features.from, ['features']);
  for (const [name, set] of Object.entries(ctx.params.sets)) compare(r.tables.get(set.from)!.from, ['sets', name, 'from']);
  if (ctx.params.probe !== null) compare(r.tables.get(ctx.params.probe.from)!.from, ['probe', 'from']);
  return problems;
}
