/**
 * train's curriculum input: the difficulty of every train row, from the `scores` output of the
 * score-difficulty stage `curriculum.scores` names (one run of it, one score column, by clip id).
 */
import type { StageInput } from '../../src/core/stage/api.js';
import { InputError } from '../../src/core/util/errors.js';
import type { Curriculum } from '../../src/lab/ml/curriculum.js';

/** The scores input `c.scores` names: its one instance with a `scores` output. */
export function scoresInput(inputs: readonly StageInput[], c: Curriculum): StageInput {
  const from = c.scores!;
  const found = inputs.filter((i) => i.output === 'scores' && (i.from === from || i.from.startsWith(`${from}@`)));
  if (found.length === 1) return found[0]!;
  const any = inputs.filter((i) => i.output === 'scores').map((i) => `'${i.from}'`);
  throw new InputError(
    found.length === 0
      ? `curriculum.scores: no upstream instance of '${from}' with a scores output; add it to needs (upstream with scores: ${any.join(', ') || 'none'})`
      : `curriculum.scores: '${from}' matches ${found.length} instances (${found.map((i) => i.from).join(', ')}): pair them on matrix keys in needs, or name one instance`,
  );
}

/** The run of the scores table `run` names: an exact id, or the only id whose name before '@' it is. */
export function pickRun(runs: readonly string[], run: string, where: string): string {
  const ids = [...new Set(runs)];
  if (ids.includes(run)) return run;
  const named = ids.filter((id) => !run.includes('@') && id.split('@')[0] === run);
  if (named.length === 1) return named[0]!;
  const shown = ids.length > 12 ? [...ids.slice(0, 12), `… ${ids.length - 12} more`] : ids;
  const why = named.length > 1 ? `'${run}' names ${named.length} runs: give one id` : `no run '${run}'`;
  throw new InputError(`curriculum.run: ${why} in ${where} (runs: ${shown.join(', ')})`);
}

/**
 * Each row's difficulty (NaN off the train split) from a scores table's columns. Every train clip
 * needs a finite score: an order with gaps would be no order.
 */
export function difficultyOfRows(
  table: { run: readonly string[]; clip: readonly string[]; columns: readonly string[]; score: (name: string) => ArrayLike<number> | null },
  c: Curriculum,
  clipIds: readonly string[],
  splits: readonly string[],
  where: string,
): { difficulty: Float64Array; run: string } {
  const score = c.score!;
  const values = table.score(score);
  if (values === null) throw new InputError(`curriculum.score: ${where} has no numeric column '${score}' (numeric columns: ${table.columns.join(', ')})`);
  const run = pickRun(table.run, c.run, where);
  const byClip = new Map<string, number>();
  table.run.forEach((r, i) => {
    if (r === run) byClip.set(table.clip[i]!, values[i]!);
  });
  const difficulty = new Float64Array(clipIds.length).fill(NaN);
  const missing: string[] = [];
  const undefinedScore: string[] = [];
  clipIds.forEach((clip, i) => {
    if (splits[i] !== 'train') return;
    const v = byClip.get(clip);
    if (v === undefined) missing.push(clip);
    else if (!Number.isFinite(v)) undefinedScore.push(clip);
    else difficulty[i] = v;
  });
  const train = splits.filter((s) => s === 'train').length;
  if (missing.length > 0) {
    throw new InputError(`curriculum: ${missing.length} of ${train} train rows have no score in run '${run}' of ${where} (e.g. clip ${missing[0]}): score the clips this run trains on`);
  }
  if (undefinedScore.length > 0) {
    throw new InputError(`curriculum: ${score} is not a number for ${undefinedScore.length} of ${train} train rows in run '${run}' of ${where} (e.g. clip ${undefinedScore[0]}): choose a score this run defines`);
  }
  return { difficulty, run };
}
