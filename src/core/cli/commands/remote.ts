import { Project } from '../../engine/project.js';
import { formatBytes } from '../../util/format.js';
import type { CommandContext } from '../context.js';
import { flag, stringValue } from '../options.js';
import { withProjectLock } from '../lock.js';

const noun = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

async function open(ctx: CommandContext) {
  const project = await Project.open({ dir: ctx.dir });
  const { resolveRemote } = await import('../../store/remote.js');
  const remote = resolveRemote(stringValue(ctx, 'remote'), project.pipeline.remotes, project.pipeline.defaultRemote, project.root);
  const ids = project.withUpstream(project.selectTargets(ctx.positionals));
  return { project, remote, ids, sync: await import('../../engine/remote-sync.js') };
}

export async function push(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  return withProjectLock(ctx, { wait: true }, async () => {
    const { project, remote, ids, sync } = await open(ctx);
    const s = await sync.push(project, remote, ids, { allRuns: flag(ctx, 'all-runs') });
    for (const f of s.failed) io.err(`conno: ${f}`);
    if (s.missing.length) io.err(`conno: ${noun(s.missing.length, 'object')} to push ${s.missing.length === 1 ? 'is' : 'are'} not in the local cache (e.g. ${s.missing.slice(0, 3).join(', ')}): run \`conno repro\` or \`conno pull\` first`);
    io.out(`pushed ${noun(s.objects, 'object')} (${formatBytes(s.bytes)}) and ${noun(s.runs, 'run record')} to ${remote.label}; ${s.present} already there.`);
    return s.failed.length || s.missing.length ? 1 : 0;
  });
}

export async function pull(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  return withProjectLock(ctx, { wait: true }, async () => {
    const { project, remote, ids, sync } = await open(ctx);
    const s = await sync.pull(project, remote, ids);
    for (const f of s.failed) io.err(`conno: ${f}`);
    // Put the outputs back into the project where they belong, as repro would.
    const { ensureOutputs } = await import('../../engine/repro.js');
    let restored = 0;
    for (const id of ids) {
      const entry = project.lock.stages[id];
      if (!entry || s.incomplete.includes(id)) continue;
      if ((await ensureOutputs(project, project.pipeline.instances.get(id)!, entry, project.root)) === 'restored') restored++;
    }
    await project.stats.save();
    io.out(`pulled ${noun(s.objects, 'object')} (${formatBytes(s.bytes)}) and ${noun(s.runs, 'run record')} from ${remote.label}; ${s.present} already here; ${noun(restored, 'output')} restored into the project.`);
    if (s.incomplete.length) {
      io.err(`conno: ${remote.label} lacks results of ${noun(s.incomplete.length, 'stage instance')}: ${s.incomplete.slice(0, 5).join(', ')}${s.incomplete.length > 5 ? ', …' : ''} (\`conno repro\` builds them)`);
      return 1;
    }
    return 0;
  });
}
