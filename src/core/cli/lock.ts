/**
 * The commands that change the cache (repro, verify, push, pull, gc) hold the project lock while
 * they run: one place takes it, says whom it waits for, and releases it.
 */
import { Project } from '../engine/project.js';
import type { CommandContext } from './context.js';

export async function withProjectLock<T>(ctx: CommandContext, opts: { wait: boolean; cacheDir?: string }, fn: () => Promise<T>): Promise<T> {
  const { acquireProjectLock } = await import('../exec/projectlock.js');
  const release = await acquireProjectLock(opts.cacheDir ?? Project.locate({ dir: ctx.dir }).cacheDir, {
    wait: opts.wait,
    command: ['conno', ...ctx.argv].join(' '),
    onWait: (h) => ctx.io.err(`waiting for another conno on this project to finish${h ? ` (pid ${h.pid}, \`${h.command}\`)` : ''}…`),
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}
