/**
 * `conno verify`: rebuild the targets and everything they need from scratch, without the
 * run-cache, in a scratch copy of their inputs, and compare every output hash (and every
 * fingerprint) with conno.lock. A lock that does not match the committed inputs, or results
 * that do not come out the same, fail the check.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Project } from './project.js';
import { reproduce } from './repro.js';
import type { Executor } from '../pipeline/schema.js';
import type { Reporter } from '../exec/reporter.js';
import { removePath, tmpName } from '../util/fsx.js';

export interface Mismatch {
  id: string;
  /** Output name, or `fingerprint` when the recorded inputs differ from the current ones. */
  output: string;
  expected: string;
  got: string;
}

export interface VerifyResult {
  checked: string[];
  mismatches: Mismatch[];
  failed: { id: string; error: string }[];
}

export async function verify(project: Project, opts: { targets: string[]; jobs: number; gpus: string[]; reporter: Reporter; keepScratch?: boolean; executor?: Executor }): Promise<VerifyResult> {
  const ids = project.withUpstream(project.selectTargets(opts.targets));
  const scratch = tmpName(path.join(project.cacheDir, 'tmp'), 'verify');
  await fsp.mkdir(scratch, { recursive: true });
  try {
    await copyInputs(project, ids, scratch);
    const summary = await reproduce(project, {
      targets: opts.targets,
      jobs: opts.jobs,
      force: true,
      forceUpstream: true,
      downstream: false,
      keepGoing: true,
      gpus: opts.gpus,
      reporter: opts.reporter,
      useRunCache: false,
      record: false,
      workRoot: scratch,
      // The scratch copy lies in the project's cache folder, which cluster nodes share.
      executor: opts.executor,
    });
    const mismatches: Mismatch[] = [];
    const failed: { id: string; error: string }[] = [];
    for (const id of ids) {
      const r = summary.results.get(id);
      const locked = project.lock.stages[id];
      if (!r || r.kind === 'skipped' || r.kind === 'cancelled') continue;
      if (r.kind === 'failed') {
        failed.push({ id, error: r.error });
        continue;
      }
      const got = r.entry;
      if (!locked) {
        mismatches.push({ id, output: '(whole stage)', expected: 'an entry in conno.lock', got: 'none (run conno repro and commit conno.lock)' });
        continue;
      }
      if (locked.fingerprint !== got.fingerprint) {
        mismatches.push({ id, output: 'fingerprint', expected: locked.fingerprint, got: got.fingerprint });
      }
      const names = [...new Set([...Object.keys(locked.outs ?? {}), ...Object.keys(got.outs)])].sort();
      for (const name of names) {
        const want = locked.outs?.[name]?.hash ?? '(none)';
        const have = got.outs[name]?.hash ?? '(none)';
        if (want !== have) mismatches.push({ id, output: name, expected: want, got: have });
      }
    }
    for (const id of ids) {
      const r = summary.results.get(id);
      if (r?.kind === 'skipped') failed.push({ id, error: 'not run: an upstream stage failed' });
    }
    return { checked: ids, mismatches, failed };
  } finally {
    if (!opts.keepScratch) await removePath(scratch);
  }
}

/**
 * Copy what the selected instances read from the project (deps that no stage writes, and
 * params files) into the scratch folder; everything else is rebuilt there.
 */
async function copyInputs(project: Project, ids: string[], scratch: string): Promise<void> {
  const written = new Set<string>();
  for (const inst of project.pipeline.instances.values()) for (const o of inst.outs) written.add(o);
  const isWritten = (p: string) => [...written].some((o) => p === o || p.startsWith(o + '/'));
  const toCopy = new Set<string>(project.pipeline.params.files);
  for (const id of ids) for (const d of project.pipeline.instances.get(id)!.deps) if (!path.isAbsolute(d) && !isWritten(d)) toCopy.add(d);
  for (const rel of [...toCopy].sort()) {
    const src = project.abs(rel);
    const dest = path.join(scratch, ...rel.split('/'));
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.cp(src, dest, { recursive: true, preserveTimestamps: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
