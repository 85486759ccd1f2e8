/**
 * One stage instance's execution, described as plain JSON so that the same entry point runs it
 * locally or inside a cluster job: run the command or the stage module, then put every output
 * into the store. Nothing reaches the store unless the whole stage succeeded, and the store
 * only ever receives complete objects, so a failure or a kill leaves no partial output there.
 */
import { watchGroup, type Resources } from './resources.js';
import { promises as fsp, openSync, closeSync, statSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { spawn } from 'node:child_process';
import { ObjectStore } from '../store/store.js';
import type { HashInfo, LockEntry } from '../store/lockfile.js';
import { StatCache } from '../hash/statcache.js';
import { hashPath } from '../hash/tree.js';
import type { Item } from '../pipeline/model.js';
import type { StageInput } from '../stage/api.js';
import { removePath, tmpName, writeProblem } from '../util/fsx.js';
import { ensureDirSync, removePathQuick } from '../util/fsx-sync.js';
import type { Spawner, SpawnExit } from './spawner.js';
import { dict } from '../util/dict.js';

export interface StageJob {
  id: string;
  kind: 'cmd' | 'builtin';
  /** Where the command runs and relative paths resolve (a scratch copy under `verify`). */
  workRoot: string;
  cacheDir: string;
  cmd?: string;
  uses?: string;
  modulePath?: string;
  with?: Record<string, unknown>;
  item: Item;
  /** Command stages: output paths (relative to workRoot). Built-in stages: output names. */
  outs: string[];
  /** Command stages: named outputs (path → table kind) to check before they are cached. */
  outAs?: Record<string, string>;
  metrics: string[];
  inputs: StageInput[];
  /** Dep paths with the hash they had when the fingerprint was taken. */
  deps: { path: string; hash: string }[];
  env: Record<string, string>;
  /** The environment the fingerprint recorded (StageContext.environment). */
  environment?: Record<string, string>;
  gpus: string[];
  logFile: string;
  /** In a cluster job: the GPUs are the ones the cluster allocated (its CUDA_VISIBLE_DEVICES). */
  gpusFromEnv?: boolean;
  /** In a cluster job: the command's output goes to this process's stdout (the job's log). */
  logToStdout?: boolean;
  /**
   * In a cluster job: the run-cache entry to record on success (its outs and metrics filled in
   * by the job), so that a result survives the death of the conno that submitted it.
   */
  runRecord?: { id: string; entry: LockEntry };
}

export type JobResult =
  | { ok: true; outs: Record<string, HashInfo>; metrics: Record<string, unknown>; resources?: Resources }
  | { ok: false; error: string; exitCode?: number; signal?: string; at?: (string | number)[] };

function absIn(root: string, p: string): string {
  return path.isAbsolute(p) ? p : path.join(root, ...p.split('/'));
}

export function stageEnv(job: StageJob): Record<string, string> {
  const env: Record<string, string> = {
    ...job.env,
    CONNO_STAGE_ID: job.id,
    CONNO_INPUTS: JSON.stringify(job.inputs.map((i) => ({ from: i.from, output: i.output, path: i.path }))),
    CONNO_ITEM: JSON.stringify(job.item),
  };
  // Stages that asked for a GPU see exactly the devices they hold; others see none, so a stray
  // framework cannot grab a GPU that another stage holds.
  env.CUDA_VISIBLE_DEVICES = job.gpus.join(',');
  // Number devices as nvidia-smi does, so the index handed out is the GPU nvidia-smi shows.
  env.CUDA_DEVICE_ORDER = 'PCI_BUS_ID';
  return env;
}

/**
 * Run a command stage: `sh -c cmd` in workRoot, output to the log file. With a spawner (the
 * local executor's, spawner.ts) the command is started by its helper process.
 */
export async function runCommand(job: StageJob, signal?: AbortSignal, spawner?: Spawner): Promise<JobResult> {
  // Synchronous where it is a stat or two (fsx-sync.ts): most stages find their folders there.
  ensureDirSync(path.dirname(job.logFile));
  // In order: an output may lie inside another (a folder and a file in it).
  for (const o of job.outs) {
    const abs = absIn(job.workRoot, o);
    await removePathQuick(abs); // A stale output must not pass for a fresh one.
    ensureDirSync(path.dirname(abs));
  }
  const started = performance.now();
  let usage: { cpu_s?: number; max_rss_mb?: number } = {};
  let pid: number | undefined;
  let watch: ReturnType<typeof watchGroup> | undefined;
  // Its own process group, so that cancelling kills the whole command tree.
  const kill = () => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  };
  const onPid = (p: number) => {
    pid = p;
    watch = watchGroup(p);
    if (signal?.aborted) kill();
  };
  signal?.addEventListener('abort', kill, { once: true });
  const env = { ...(spawner?.env ?? process.env), ...stageEnv(job) } as Record<string, string>;
  const header = `$ ${job.cmd}\n`;
  let exit: SpawnExit;
  try {
    const viaHelper = job.logToStdout ? undefined : spawner?.run({ cmd: job.cmd!, cwd: job.workRoot, env, logFile: job.logFile, header, onPid });
    exit = await (viaHelper ?? spawnHere(job, env, header, onPid));
  } finally {
    signal?.removeEventListener('abort', kill);
    usage = watch?.stop() ?? {};
  }
  if (exit.error || exit.code !== 0) {
    const how = exit.error ?? (signal?.aborted ? 'cancelled' : exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`);
    return { ok: false, error: `command failed (${how})`, exitCode: exit.code ?? undefined, signal: exit.signal ?? undefined };
  }
  const resources: Resources = { wall_s: Math.round(performance.now() - started) / 1000, ...usage, from: 'sampled' };
  const misfits = await checkNamedOutputs(job);
  if (misfits) return { ok: false, error: misfits };
  const result = await collectOutputs(job, (o) => absIn(job.workRoot, o));
  return result.ok ? { ...result, resources } : result;
}

/** Start a command from this process (no spawner, or it is not running). */
async function spawnHere(job: StageJob, env: Record<string, string>, header: string, onPid: (pid: number) => void): Promise<SpawnExit> {
  const fd = job.logToStdout ? 1 : openSync(job.logFile, 'w');
  writeSync(fd, header);
  try {
    return await new Promise<SpawnExit>((resolve) => {
      const child = spawn('/bin/sh', ['-c', job.cmd!], { cwd: job.workRoot, env, stdio: ['ignore', fd, job.logToStdout ? 2 : fd], detached: true });
      if (child.pid !== undefined) onPid(child.pid);
      child.on('error', (err) => resolve({ code: null, signal: null, error: err.message }));
      child.on('exit', (code, sig) => resolve({ code, signal: sig }));
    });
  } finally {
    if (!job.logToStdout) closeSync(fd);
  }
}

/** Run a built-in stage in this process (the entry point calls this in a child process). */
export async function runBuiltin(job: StageJob): Promise<JobResult> {
  const { importStage } = await import('../stage/registry.js');
  const def = await importStage(job.modulePath!);
  const scratch = tmpName(path.join(job.cacheDir, 'tmp'), `run-${job.id.replace(/[^\w.-]/g, '_')}`);
  await fsp.mkdir(scratch, { recursive: true });
  const metrics = dict<unknown>(); // named by the stage: any name is data
  try {
    const params = def.params.parse(job.with ?? {});
    await def.run({
      id: job.id,
      params,
      item: job.item,
      inputs: job.inputs,
      deps: job.deps.map((d) => absIn(job.workRoot, d.path)),
      outPath: (name) => {
        if (!def.outputs.includes(name)) throw new Error(`stage ${job.uses} writes undeclared output '${name}' (declared: ${def.outputs.join(', ')})`);
        return path.join(scratch, name);
      },
      metric: (name, value) => void (metrics[name] = value),
      log: (msg) => console.log(msg),
      projectRoot: job.workRoot,
      cacheDir: job.cacheDir,
      environment: job.environment ?? {},
    });
    const r = await collectOutputs(job, (o) => path.join(scratch, o));
    if (r.ok) Object.assign(r.metrics, metrics);
    return r;
  } catch (err) {
    // The stage writes its outputs into the cache's scratch folder: a full or read-only cache.
    throw writeProblem(err, "the stage's outputs in the cache", scratch);
  } finally {
    await removePath(scratch);
  }
}

/**
 * A command's named outputs checked against their table kinds (stage/kinds.ts): every problem of
 * every named output as one message, or undefined when all fit. Nothing is cached on a misfit.
 */
async function checkNamedOutputs(job: StageJob): Promise<string | undefined> {
  const named = Object.entries(job.outAs ?? {});
  if (named.length === 0) return undefined;
  const { loadTableKinds, checkTableKind } = await import('../stage/kinds.js');
  const { PACKAGE_ROOT } = await import('../stage/registry.js');
  const kinds = await loadTableKinds(PACKAGE_ROOT);
  const problems: string[] = [];
  for (const [out, name] of named) {
    const kind = kinds.get(name);
    const abs = absIn(job.workRoot, out);
    const st = await fsp.stat(abs).catch(() => undefined);
    if (!st) continue; // collectOutputs says it was not written
    if (!kind) problems.push(`${out}: '${name}' is not a kind of table this conno knows`);
    else if (st.isFile()) problems.push(...(await checkTableKind(abs, name, kind, `${out} (as ${name})`)));
    else problems.push(`${out} (as ${name}): a ${name} table must be one Arrow file, not a folder`);
  }
  return problems.length ? `the command's output does not fit its declared kind:\n  ${problems.join('\n  ')}` : undefined;
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

async function collectOutputs(job: StageJob, where: (out: string) => string): Promise<JobResult> {
  const store = new ObjectStore(job.cacheDir);
  // Inputs edited while the stage ran would make the recorded fingerprint a lie.
  const stats = await StatCache.open(undefined);
  for (const d of job.deps) {
    const now = await hashPath(absIn(job.workRoot, d.path), stats);
    if (now?.hash !== d.hash) return { ok: false, error: `input '${d.path}' changed while the stage ran; its outputs were not cached (run again)` };
  }
  const outs = dict<HashInfo>(); // keys are paths: `__proto__` is a file name like any other
  for (const o of job.outs) {
    const abs = where(o);
    const st = statOrUndefined(abs);
    if (!st) return { ok: false, error: `the stage succeeded but did not write its declared output '${o}'` };
    const put = await store.putPath(abs, st);
    outs[o] = put.nfiles !== undefined ? { hash: put.hash, size: put.size, nfiles: put.nfiles } : { hash: put.hash, size: put.size };
  }
  const metrics = dict<unknown>();
  for (const m of job.metrics) {
    const abs = where(m);
    let text: string;
    try {
      text = await fsp.readFile(abs, 'utf8');
    } catch {
      return { ok: false, error: `the stage did not write its metrics file '${m}'` };
    }
    try {
      metrics[m] = m.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      return { ok: false, error: `metrics file '${m}' is not valid ${m.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}` };
    }
  }
  return { ok: true, outs, metrics };
}
