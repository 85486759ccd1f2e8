/**
 * `conno verify`: rerun stage instances without the run-cache, in a scratch copy of their
 * inputs, and compare every output hash (and every fingerprint) with conno.lock. A lock that does
 * not match the committed inputs, or results that do not come out the same, fail the check.
 *
 * Without targets (or with `upstream`), the targets and everything they need are rebuilt from
 * scratch. With targets, only the targets run: what they need is taken exactly as conno.lock
 * records it (its outputs from the cache by their hashes, else from the remote), after checking
 * that the lock's entries are what the current code, params and inputs make.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Project } from './project.js';
import { reproduce, type InstanceResult } from './repro.js';
import { isAtOrUnder } from './state.js';
import type { Executor } from '../pipeline/schema.js';
import type { Reporter } from '../exec/reporter.js';
import type { Remote } from '../store/remote.js';
import { removePath, tmpName } from '../util/fsx.js';
import { hashText } from '../util/random.js';

export interface Mismatch {
  id: string;
  /** Output name, or `fingerprint` when the recorded inputs differ from the current ones. */
  output: string;
  expected: string;
  got: string;
}

/** One instance's verdict. `input`: an upstream taken from conno.lock (checked, not rerun). */
export interface Checked {
  id: string;
  status: 'ok' | 'mismatch' | 'failed' | 'input' | 'skipped';
  /** How long its rerun took. */
  ms?: number;
  mismatches?: Mismatch[];
  error?: string;
}

export interface VerifyResult {
  /** The instances rerun and compared. */
  checked: string[];
  /** Every instance involved, in dependency order: the rerun ones and the inputs they used. */
  instances: Checked[];
  mismatches: Mismatch[];
  failed: { id: string; error: string }[];
  /** `sample`: the seed the sample was drawn with. */
  sample?: { n: number; seed: number; from: number };
}

export interface VerifyOptions {
  targets: string[];
  jobs: number;
  gpus: string[];
  reporter: Reporter;
  keepScratch?: boolean;
  executor?: Executor;
  /** Rebuild what the targets need too, from scratch (always so without targets). */
  upstream?: boolean;
  /** Verify N instances drawn (seeded) from the targets, or from every instance. */
  sample?: { n: number; seed: number };
  /** Fetch upstream outputs that the cache lacks from this remote (`--pull`). */
  remote?: Remote;
}

/**
 * A seeded sample of n ids: each id ranked by a hash of (id, seed), so the same seed draws the
 * same sample, and adding instances to the pipeline leaves an earlier pick's order alone.
 */
export function sampleIds(ids: string[], n: number, seed: number): string[] {
  return [...ids].sort((a, b) => hashText(a, seed) - hashText(b, seed) || (a < b ? -1 : 1)).slice(0, n);
}

export async function verify(project: Project, opts: VerifyOptions): Promise<VerifyResult> {
  let targets = opts.targets;
  let sample: VerifyResult['sample'];
  if (opts.sample) {
    const pool = project.selectTargets(targets);
    targets = sampleIds(pool, opts.sample.n, opts.sample.seed);
    sample = { ...opts.sample, from: pool.length };
  }
  // `conno verify` alone rebuilds the world; with targets, only the targets run.
  const whole = targets.length === 0 || opts.upstream === true;
  const rerun = whole ? project.withUpstream(project.selectTargets(targets)) : project.selectTargets(targets);
  const involved = project.withUpstream(project.selectTargets(targets));
  const scratch = tmpName(path.join(project.cacheDir, 'tmp'), 'verify');
  await fsp.mkdir(scratch, { recursive: true });
  try {
    await copyInputs(project, involved, scratch);
    const summary = await reproduce(project, {
      targets,
      jobs: opts.jobs,
      force: true,
      forceUpstream: whole,
      lockedUpstream: !whole,
      downstream: false,
      keepGoing: true,
      gpus: opts.gpus,
      reporter: opts.reporter,
      useRunCache: false,
      record: false,
      workRoot: scratch,
      remote: opts.remote,
      // The scratch copy lies in the project's cache folder, which cluster nodes share.
      executor: opts.executor,
    });
    const rerunSet = new Set(rerun);
    const instances = involved.map((id) => judge(project, id, summary.results.get(id), rerunSet.has(id)));
    return {
      checked: rerun,
      instances,
      mismatches: instances.flatMap((c) => c.mismatches ?? []),
      failed: instances.filter((c) => c.status === 'failed' || c.status === 'skipped').map((c) => ({ id: c.id, error: c.error ?? '' })),
      ...(sample ? { sample } : {}),
    };
  } finally {
    if (!opts.keepScratch) await removePath(scratch);
  }
}

/** The verdict on one instance from its result in the rerun. */
function judge(project: Project, id: string, r: InstanceResult | undefined, rerun: boolean): Checked {
  if (!r || r.kind === 'cancelled') return { id, status: 'skipped', error: 'not started (interrupted)' };
  if (r.kind === 'skipped') return { id, status: 'skipped', error: 'not run: an instance it needs failed' };
  if (r.kind === 'failed') return { id, status: 'failed', error: r.error };
  if (!rerun) return { id, status: 'input' };
  const ms = r.kind === 'ran' ? r.ms : undefined;
  const got = r.entry;
  const locked = project.lock.stages[id];
  const mismatches: Mismatch[] = [];
  if (!locked) {
    mismatches.push({ id, output: '(whole stage)', expected: 'an entry in conno.lock', got: 'none (run conno repro and commit conno.lock)' });
  } else {
    if (locked.fingerprint !== got.fingerprint) mismatches.push({ id, output: 'fingerprint', expected: locked.fingerprint, got: got.fingerprint });
    const names = [...new Set([...Object.keys(locked.outs ?? {}), ...Object.keys(got.outs)])].sort();
    for (const name of names) {
      const want = locked.outs?.[name]?.hash ?? '(none)';
      const have = got.outs[name]?.hash ?? '(none)';
      if (want !== have) mismatches.push({ id, output: name, expected: want, got: have });
    }
  }
  return { id, status: mismatches.length ? 'mismatch' : 'ok', ...(ms !== undefined ? { ms } : {}), ...(mismatches.length ? { mismatches } : {}) };
}

/**
 * Copy what the selected instances read from the project (deps that no stage writes, and
 * params files) into the scratch folder; everything else is rebuilt (or taken from the cache) there.
 */
async function copyInputs(project: Project, ids: string[], scratch: string): Promise<void> {
  const written = new Set<string>();
  for (const inst of project.pipeline.instances.values()) for (const o of inst.outs) written.add(o);
  const isWritten = (p: string) => {
    for (const o of written) if (isAtOrUnder(p, o)) return true;
    return false;
  };
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
