/** score-difficulty's check before anything runs: `teacher` names an upstream instance with embeddings. */
import type { StageCheckContext, StageProblem } from '../../src/core/stage/api.js';
import type { ScoreDifficultyParams } from './params.js';

export function checkScoreDifficulty(ctx: StageCheckContext<ScoreDifficultyParams>): StageProblem[] {
  const teacher = ctx.params.teacher;
  if (teacher === null) return [];
  if (ctx.upstream.some((u) => u.id === teacher && u.outputs.includes('embeddings'))) return [];
  const have = ctx.upstream.filter((u) => u.outputs.includes('embeddings')).map((u) => u.id);
  const near = have.find((id) => id.startsWith(`${teacher}@`) || id.replace(/@.*$/, '') === teacher);
  return [
    {
      path: ['teacher'],
      message: `teacher: '${teacher}' is not an upstream instance with embeddings; ${ctx.instance(teacher) ? 'add it to needs' : 'name a train instance in needs'} (upstream with embeddings: ${have.join(', ') || 'none'})${near ? `; did you mean '${near}'?` : ''}`,
    },
  ];
}
