/** Option values as the commands need them, with a usage error naming the bad one. */
import os from 'node:os';
import { UsageError } from '../util/errors.js';
import type { CommandContext } from './context.js';

export function intOption(ctx: CommandContext, name: string, dflt: number): number {
  const v = ctx.values[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^[1-9][0-9]*$/.test(v)) throw new UsageError(`--${name} takes a positive whole number, not '${String(v)}'`);
  return Number(v);
}

export const jobsOption = (ctx: CommandContext): number => intOption(ctx, 'jobs', os.availableParallelism());

export function executorOption(ctx: CommandContext): 'local' | 'slurm' | undefined {
  const v = ctx.values['executor'];
  if (v === undefined || v === 'local' || v === 'slurm') return v;
  throw new UsageError(`${ctx.command}: --executor is local or slurm, not '${String(v)}'`);
}

export function choiceOption<T extends string>(ctx: CommandContext, name: string, choices: readonly T[], dflt: T): T {
  const v = ctx.values[name] ?? dflt;
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
  throw new UsageError(`${ctx.command}: --${name} is ${choices.join(', ').replace(/, ([^,]*)$/, ' or $1')}, not '${String(v)}'`);
}

export function noTargets(ctx: CommandContext): void {
  if (ctx.positionals.length) throw new UsageError(`${ctx.command} takes no targets`);
}

export const flag = (ctx: CommandContext, name: string): boolean => ctx.values[name] === true;
export const stringValue = (ctx: CommandContext, name: string): string | undefined => {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
};
