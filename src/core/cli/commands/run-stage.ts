import { existsSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

export async function runStage(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length !== 1) throw new UsageError('run-stage takes one JOB.json');
  if (!existsSync(ctx.positionals[0]!)) throw new UsageError(`run-stage: no job file ${ctx.positionals[0]}`);
  const { runJobFile } = await import('../../exec/entry.js');
  const r = await runJobFile(ctx.positionals[0]!);
  if (!r.ok) ctx.io.err(`conno: ${r.error}`);
  return r.ok ? 0 : 1;
}
