/**
 * `conno repro`: bring the selected instances up to date. Each instance, once its upstream is
 * done, is either up to date (fingerprint and outputs match conno.lock), restored (its
 * fingerprint is in the run-cache), or run in its own process. Lock entries are written as
 * instances finish, so an interrupted run keeps what it finished.
 */
import path from 'node:path';
import type { Project } from './project.js';
import type { StageInstance } from '../pipeline/model.js';
import { checkStageCode, computeInstance, describeDepChange, entryFromRun, explainChange, EXTERNAL, type Computed } from './state.js';
import { writeLock, type HashInfo, type LockEntry } from '../store/lockfile.js';
import { schedule, type Outcome } from '../exec/scheduler.js';
import type { JobResult, StageJob } from '../exec/job.js';
import { logTail, type Executor } from '../exec/executor.js';
import { LocalExecutor } from '../exec/local.js';
import type { Reporter } from '../exec/reporter.js';
import { hashPath } from '../hash/tree.js';
import { CorruptObjectError } from '../store/store.js';
import type { ObjectHash } from '../hash/types.js';
import { jsonEqual } from '../util/canonical.js';
import type { Executor as Where } from '../pipeline/schema.js';
import { SlurmExecutor } from '../exec/slurm.js';
import { formatUserError, UserError } from '../util/errors.js';
import { writeProblem } from '../util/fsx.js';
import { formatDiagnostic } from '../util/diagnostics.js';
import { YamlFile } from '../pipeline/yamlfile.js';
import { TransferError, type Remote } from '../store/remote.js';
import { emptySummary, fetchEntry, fetchRun } from './remote-sync.js';

/** From how many local command stages in a run conno starts them through a spawner process. */
const SPAWNER_FROM = 8;

export interface ReproOptions {
  targets: string[];
  jobs: number;
  force: boolean;
  downstream: boolean;
  keepGoing: boolean;
  gpus: string[];
  reporter: Reporter;
  /** With force: rerun what the targets need too (`verify` rebuilds everything). */
  forceUpstream?: boolean;
  /** Look outputs up in the run-cache (off for `verify`). */
  useRunCache?: boolean;
  /** Record runs in the run-cache and conno.lock (off for `verify`). */
  record?: boolean;
  /** Where command stages run (a scratch copy for `verify`); default: the project folder. */
  workRoot?: string;
  /**
   * Where stale instances run: `slurm` sends every stage not pinned to `executor: local` to
   * Slurm, `local` keeps all here; unset, each stage's own `executor` (default local).
   */
  executor?: Where;
  /** `--pull`: fetch an instance's results from this remote before building it. */
  remote?: Remote;
  /**
   * Take what the forced targets need exactly as conno.lock records it (its outputs from the
   * cache, else from `remote`), never running it: verifying a target, not its whole upstream.
   */
  lockedUpstream?: boolean;
  /** Slurm jobs out at once (queued or running); default no limit. */
  slurmJobs?: number;
  signal?: AbortSignal;
}

/** Where one instance runs under the run's executor choice. */
export function executorFor(inst: StageInstance, runExecutor: Where | undefined): Where {
  if (runExecutor === 'local') return 'local';
  if (runExecutor === 'slurm') return inst.executor === 'local' ? 'local' : 'slurm';
  return inst.executor ?? 'local';
}

export type InstanceResult =
  | { kind: 'fresh'; entry: LockEntry; computed: Computed }
  | { kind: 'restored'; entry: LockEntry; computed: Computed }
  | { kind: 'ran'; entry: LockEntry; computed: Computed; ms: number }
  | { kind: 'failed'; error: string; computed?: Computed }
  | { kind: 'skipped' }
  | { kind: 'cancelled' };

export interface ReproSummary {
  selected: string[];
  results: Map<string, InstanceResult>;
  ok: boolean;
}

export async function reproduce(project: Project, opts: ReproOptions): Promise<ReproSummary> {
  const useRunCache = opts.useRunCache ?? true;
  const record = opts.record ?? true;
  const workRoot = opts.workRoot ?? project.root;
  let selected = project.selectTargets(opts.targets);
  if (opts.downstream) selected = project.withDownstream(selected);
  // --force reruns the targets (and, with --downstream, what depends on them); what they need is
  // only brought up to date.
  selected = opts.force && opts.forceUpstream ? project.withUpstream(selected) : selected;
  const forced = new Set(opts.force ? selected : []);
  selected = project.withUpstream(selected);

  await checkStageCode(project, selected);
  const lock = project.lock;
  const current = new Map<string, LockEntry>();
  for (const [id, e] of Object.entries(lock.stages)) current.set(id, e);
  const results = new Map<string, InstanceResult>();

  // Lock writes are serialised and throttled: rewriting a 10,000-entry lock after every instance
  // would cost more than the instances. The gap between writes grows with how long a write takes
  // (at most ~10% of the time goes to the lock); the run-cache has every finished run meanwhile.
  let lockDirty = false;
  let writing = false;
  let lockWrite: Promise<void> = Promise.resolve();
  let nextWriteAt = 0;
  const flushLock = (force = false): Promise<void> => {
    if (!record || !lockDirty) return lockWrite;
    if (!force && (writing || Date.now() < nextWriteAt)) return lockWrite;
    lockDirty = false;
    writing = true;
    lockWrite = lockWrite.then(async () => {
      const started = Date.now();
      try {
        await writeLock(project.lockFile, lock);
      } finally {
        const took = Date.now() - started;
        nextWriteAt = Date.now() + Math.max(1000, 10 * took);
        writing = false;
      }
    });
    return lockWrite;
  };
  /** The lock keeps what each code hash covers, so that `status` can name changed files. */
  const noteCode = (c: Computed) => {
    if (!record || !c.code || lock.code?.[c.code.hash]) return;
    (lock.code ??= {})[c.code.hash] = c.code.detail;
    lockDirty = true;
  };
  const setEntry = (id: string, entry: LockEntry, c: Computed) => {
    current.set(id, entry);
    if (!record) return;
    lock.stages[id] = entry;
    noteCode(c);
    lockDirty = true;
    void flushLock();
  };

  const entryOf = (id: string) => current.get(id);
  const pipeline = project.pipeline;
  // Many command stages: once one runs, the rest start through a spawner process (exec/spawner.ts).
  const localCommands = selected.filter((id) => {
    const inst = pipeline.instances.get(id)!;
    return inst.kind === 'cmd' && executorFor(inst, opts.executor) === 'local';
  }).length;
  const local = new LocalExecutor({ spawner: localCommands >= SPAWNER_FROM });
  let slurm: SlurmExecutor | undefined;
  const executorOf = (inst: StageInstance): Executor =>
    executorFor(inst, opts.executor) === 'slurm' ? (slurm ??= new SlurmExecutor({ jobDir: path.join(project.cacheDir, 'tmp', 'slurm'), info: (m) => opts.reporter.info(m) })) : local;

  /** An upstream instance as conno.lock records it, its outputs at hand (lockedUpstream). */
  const useLocked = async (id: string, inst: StageInstance): Promise<boolean> => {
    const entry = lock.stages[id];
    if (!entry) return fail(id, 'not in conno.lock, so there is nothing recorded to verify against: run `conno repro` (or verify with --upstream)');
    let have = await ensureOutputs(project, inst, entry, workRoot);
    if (have === 'unavailable' && opts.remote) {
      const got = emptySummary();
      if (await fetchEntry(project, opts.remote, entry, got).catch(() => false)) have = await ensureOutputs(project, inst, entry, workRoot);
    }
    if (have === 'unavailable') {
      const outs = Object.entries(entry.outs).map(([o, h]) => `${o} ${h.hash}`).join(', ');
      return fail(id, `its recorded outputs (${outs}) are not in the cache${opts.remote ? ' nor the remote' : ''}: \`conno pull ${id}\` fetches them from a remote, or \`conno verify --upstream\` rebuilds them`);
    }
    // What conno.lock recorded must be what the current code, params and inputs make: a lock
    // left stale by an edit would otherwise lend its old results to the target.
    let computed: Computed;
    try {
      computed = await computeInstance(project, inst, entryOf, workRoot);
    } catch (err) {
      return fail(id, `cannot hash its inputs: ${(err as Error).message}`);
    }
    if (computed.missing.length) return fail(id, `missing input${computed.missing.length > 1 ? 's' : ''}: ${computed.missing.join(', ')}`, computed);
    if (computed.fingerprint !== entry.fingerprint) {
      const why = await explainChange(project, entry, computed, (k, a, b) => describeDepChange(project, k, a, b));
      return fail(id, `conno.lock's entry was not made from the current code, params and inputs (${why.join('; ') || 'fingerprint differs'}): run \`conno repro\` and commit conno.lock`, computed);
    }
    current.set(id, entry);
    results.set(id, { kind: 'fresh', entry, computed });
    opts.reporter.event({ type: 'fresh', id });
    return true;
  };

  const runOne = async (id: string, gpus: string[]): Promise<boolean> => {
    const inst = pipeline.instances.get(id)!;
    if (opts.lockedUpstream && !forced.has(id)) return useLocked(id, inst);
    let computed: Computed;
    try {
      computed = await computeInstance(project, inst, entryOf, workRoot);
    } catch (err) {
      return fail(id, `cannot hash its inputs: ${(err as Error).message}`);
    }
    if (computed.missing.length) {
      const unwritten = computed.missing.filter((m) => !inst.upstream.some((u) => m.startsWith(`${u.id}:`)));
      return fail(id, `missing input${computed.missing.length > 1 ? 's' : ''}: ${computed.missing.join(', ')}${unwritten.length ? ' (no stage writes it: create it, or add the stage that makes it)' : ''}`, computed);
    }
    if (!forced.has(id)) {
      // First what conno.lock says this instance was built from; only if that is not it (or its
      // outputs are gone), the run-cache: one file read per instance that actually changed.
      const inLock = lock.stages[id];
      const candidates = async function* (): AsyncGenerator<{ entry: LockEntry; fromRunCache: boolean }> {
        if (inLock?.fingerprint === computed.fingerprint) yield { entry: inLock, fromRunCache: false };
        if (!useRunCache) return;
        const rec = await project.runs.get(computed.fingerprint);
        if (rec) yield { entry: rec.entry, fromRunCache: rec.entry.fingerprint !== inLock?.fingerprint || inLock === undefined };
      };
      for await (const cand of candidates()) {
        const restored = await ensureOutputs(project, inst, cand.entry, workRoot);
        if (restored === 'unavailable') continue;
        // The lock keeps this run's input hashes (a restored entry may have been made elsewhere).
        const entry = { ...cand.entry, deps: computed.deps };
        const changed = restored === 'restored' || cand.fromRunCache;
        if (changed || !jsonEqual(lock.stages[id], entry)) setEntry(id, entry, computed);
        else {
          current.set(id, entry);
          noteCode(computed);
          void flushLock();
        }
        results.set(id, changed ? { kind: 'restored', entry, computed } : { kind: 'fresh', entry, computed });
        opts.reporter.event({ type: changed ? 'restored' : 'fresh', id });
        return true;
      }
      // `--pull`: what this exact computation produced elsewhere, if the remote has it.
      if (opts.remote) {
        try {
          const recorded = inLock?.fingerprint === computed.fingerprint ? inLock : await fetchRun(project, opts.remote, computed.fingerprint);
          const got = emptySummary();
          const fetched = recorded !== undefined && (await fetchEntry(project, opts.remote, recorded, got));
          if (got.failed.length) opts.reporter.info(`${id}: ${got.failed[0]}; building it here`);
          if (recorded && fetched && (await ensureOutputs(project, inst, recorded, workRoot)) !== 'unavailable') {
            const entry = { ...recorded, deps: computed.deps };
            setEntry(id, entry, computed);
            results.set(id, { kind: 'restored', entry, computed });
            opts.reporter.event({ type: 'restored', id, from: 'remote' });
            return true;
          }
        } catch (err) {
          if (!(err instanceof TransferError)) throw err;
          opts.reporter.info(`${id}: ${err.message}; building it here`);
        }
      }
    }
    const executor = executorOf(inst);
    const started = performance.now();
    const job = buildJob(project, inst, computed, gpus, workRoot);
    // A job that runs elsewhere records its own run, so that its result outlives this process.
    if (record && !executor.runsHere) job.runRecord = { id, entry: entryFromRun(computed, {}, undefined) };
    let result: JobResult;
    try {
      result = await executor.run({
        job,
        gpus,
        slurm: inst.slurm,
        gpuCount: inst.resources.gpu,
        signal: opts.signal,
        onStart: (s) => opts.reporter.event({ type: 'start', id, gpus: s.gpus, ...(s.jobId !== undefined ? { slurmJob: s.jobId } : {}) }),
      });
    } catch (err) {
      result = { ok: false, error: describeError(err, project.cacheDir) };
    }
    if (!result.ok) return fail(id, result.at ? atParam(project, inst.stage, result.at, result.error) : result.error, computed, job.logFile);
    const base = entryFromRun(computed, {}, undefined); // as a job elsewhere is given it (runRecord)
    const entry = entryFromRun(computed, result.outs, result.metrics);
    if (inst.kind === 'builtin' && !(await placeWorkspaceCopies(project, inst, entry, workRoot))) return fail(id, 'an output could not be read back from the cache', computed, job.logFile);
    if (record) {
      for (const m of computed.manifests) await project.store.putManifest(m);
      await project.runs.record(id, base, result.outs, result.metrics, result.resources);
    }
    setEntry(id, entry, computed);
    const ms = performance.now() - started;
    results.set(id, { kind: 'ran', entry, computed, ms });
    opts.reporter.event({ type: 'done', id, ms });
    return true;
  };

  const fail = (id: string, error: string, computed?: Computed, logFile?: string): false => {
    results.set(id, { kind: 'failed', error, computed });
    opts.reporter.event({ type: 'failed', id, error, logFile: logFile && path.relative(process.cwd(), logFile), logTail: logFile ? logTail(logFile, 20) : undefined });
    return false;
  };

  const tasks = selected.map((id) => {
    const inst = pipeline.instances.get(id)!;
    return { id, needs: inst.upstream.map((u) => u.id), gpus: inst.resources.gpu, remote: !executorOf(inst).runsHere };
  });
  let outcomes: Map<string, Outcome>;
  try {
    // An error thrown anywhere in an instance's run (a full disk while its run is recorded) fails
    // that instance by name: the scheduler alone would count it failed without a word.
    const runReported = (id: string, g: string[]) => runOne(id, g).catch((err: unknown) => fail(id, describeError(err, project.cacheDir)));
    outcomes = await schedule(tasks, { jobs: Math.max(1, opts.jobs), gpuIds: opts.gpus, keepGoing: opts.keepGoing, remoteJobs: opts.slurmJobs, signal: opts.signal }, (t, g) => runReported(t.id, g));
  } finally {
    local.close();
    slurm?.close();
    await lockWrite;
    await flushLock(true);
    await project.stats.save();
  }
  for (const id of selected) {
    const o = outcomes.get(id);
    if (o === 'skipped' && !results.has(id)) {
      const failedUp = pipeline.instances.get(id)!.upstream.map((u) => u.id).find((u) => outcomes.get(u) === 'failed' || outcomes.get(u) === 'skipped');
      results.set(id, { kind: 'skipped' });
      opts.reporter.event({ type: 'skipped', id, because: `upstream ${failedUp ?? ''} failed`.replace('  ', ' ') });
    } else if (o === 'cancelled' && !results.has(id)) results.set(id, { kind: 'cancelled' });
  }
  if (record && opts.targets.length === 0 && !opts.downstream) {
    // A full run forgets instances that no longer exist in the pipeline.
    let pruned = false;
    for (const id of Object.keys(lock.stages)) {
      if (!pipeline.instances.has(id)) {
        delete lock.stages[id];
        pruned = true;
      }
    }
    if (pruned) await writeLock(project.lockFile, lock);
  }
  const ok = selected.every((id) => {
    const r = results.get(id);
    return r !== undefined && (r.kind === 'fresh' || r.kind === 'restored' || r.kind === 'ran');
  });
  return { selected, results, ok };
}

/** An error as a failed instance's message: a failed write names the cache and what to do. */
function describeError(err: unknown, cacheDir: string): string {
  const e = writeProblem(err, 'the cache', cacheDir);
  return e instanceof UserError ? formatUserError(e) : e instanceof Error ? e.message : String(e);
}

/**
 * Make an instance's recorded outputs available: workspace files of command stages are
 * restored from the store where they differ; built-in outputs are checked in the store.
 * 'unavailable' when an object is missing or corrupt (the instance must run again).
 */
export async function ensureOutputs(project: Project, inst: StageInstance, entry: LockEntry, workRoot: string): Promise<'present' | 'restored' | 'unavailable'> {
  let restored = false;
  const wantOuts = inst.kind === 'cmd' ? inst.outs : (inst.builtin?.def.outputs ?? []);
  if (wantOuts.some((o) => !entry.outs?.[o])) return 'unavailable';
  for (const name of wantOuts) {
    const info = entry.outs[name]!;
    if (inst.kind === 'cmd') {
      const abs = path.isAbsolute(name) ? name : path.join(workRoot, ...name.split('/'));
      const now = await hashPath(abs, project.stats);
      if (now?.hash === info.hash) continue;
      if (!(await project.store.verify(info.hash as ObjectHash, project.stats))) return 'unavailable';
      try {
        await project.store.checkout(info.hash as ObjectHash, abs);
      } catch (err) {
        if (err instanceof CorruptObjectError) return 'unavailable';
        throw err;
      }
      restored = true;
    } else if (!(await project.store.verify(info.hash as ObjectHash, project.stats))) return 'unavailable';
  }
  if (inst.kind === 'builtin' && !(await placeWorkspaceCopies(project, inst, entry, workRoot))) return 'unavailable';
  return restored ? 'restored' : 'present';
}

/**
 * Puts the outputs a built-in stage lists in `workspace` into the project (copies of their cache
 * objects), where the file there is missing or differs. False when an object is unreadable.
 */
async function placeWorkspaceCopies(project: Project, inst: StageInstance, entry: LockEntry, workRoot: string): Promise<boolean> {
  for (const [name, rel] of Object.entries(inst.builtin?.def.workspace ?? {})) {
    const info = entry.outs[name];
    if (!info) continue;
    const abs = path.join(workRoot, ...rel.split('/'));
    const now = await hashPath(abs, project.stats);
    if (now?.hash === info.hash) continue;
    try {
      await project.store.checkout(info.hash as ObjectHash, abs);
    } catch (err) {
      if (err instanceof CorruptObjectError) return false;
      throw err;
    }
  }
  return true;
}

function buildJob(project: Project, inst: StageInstance, c: Computed, gpus: string[], workRoot: string): StageJob {
  const records = inst.builtin?.def.upstreamRecords === true;
  const upstreamRecord = (from: string | undefined) => {
    const up = from ? project.pipeline.instances.get(from) : undefined;
    if (!records || !up) return {};
    return { fingerprint: c.record.upstream?.[up.id], params: up.kind === 'builtin' ? (up.with ?? {}) : up.params };
  };
  const pathDeps = c.inputs.filter((i) => i.key.startsWith(EXTERNAL) || !i.key.includes(':') || path.isAbsolute(i.key)).filter((i) => !(i.from && i.key.startsWith(`${i.from}:`)));
  return {
    id: inst.id,
    kind: inst.kind,
    workRoot,
    cacheDir: project.cacheDir,
    cmd: inst.cmd,
    uses: inst.uses,
    modulePath: inst.builtin?.modulePath,
    with: inst.with,
    item: inst.item,
    outs: inst.kind === 'cmd' ? inst.outs : [...(inst.builtin?.def.outputs ?? [])],
    ...(Object.keys(inst.outAs).length ? { outAs: inst.outAs } : {}),
    metrics: inst.metrics,
    inputs: c.inputs.map((i) => ({
      from: i.from ?? '',
      output: i.output ?? i.key,
      path: i.path,
      hash: i.info.hash,
      item: i.from ? (project.pipeline.instances.get(i.from)?.item ?? {}) : {},
      ...upstreamRecord(i.from),
    })),
    deps: pathDeps.map((d) => ({ path: d.rel ?? d.output ?? d.key, hash: d.info.hash })),
    env: inst.env,
    environment: c.record.env,
    gpus,
    logFile: path.join(project.logsDir, `${inst.id.replace(/[/\\]/g, '_')}.log`),
  };
}

export type { HashInfo };

/**
 * A run-time parameter error shown where the value lies in pipeline.yaml (`with:` of its stage):
 * `pipeline.yaml:44:13: error: …` with the line underlined; the bare message if the file moved.
 */
function atParam(project: Project, stage: string, at: readonly (string | number)[], message: string): string {
  const file = project.pipeline.file;
  const { file: yf } = YamlFile.load(file, path.relative(process.cwd(), file) || path.basename(file));
  return yf ? formatDiagnostic(yf.diag(['stages', stage, 'with', ...at], message)) : message;
}
