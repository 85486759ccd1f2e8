/**
 * The contract of a built-in stage (stages/<name>/index.ts) or a project stage module
 * (`uses: ./path/to/stage.mjs`). A module exports `stage: StageDefinition`.
 *
 * Heavy libraries (TensorFlow.js, Arrow) must be imported inside `run`, never at the top of the
 * module: `conno status` loads every stage module to validate its params and must stay fast.
 */
import type { z } from 'zod';

export interface StageInput {
  /** Upstream instance id, e.g. `features` or `train@noise=0.2,seed=1`. */
  from: string;
  /** Output name (built-in upstream) or path (command upstream). */
  output: string;
  /** Absolute path to read (a read-only cache object, or a workspace file for command outputs). */
  path: string;
  hash: string;
  /** The upstream instance's matrix values. */
  item: Record<string, string | number | boolean>;
  /** Only for stages that set `upstreamRecords`: the upstream instance's fingerprint … */
  fingerprint?: string;
  /** … and its parameters (a built-in stage's `with` after defaults, or its params keys). */
  params?: Record<string, unknown>;
}

export interface StageContext<P> {
  id: string;
  params: P;
  item: Record<string, string | number | boolean>;
  /** Every output of every upstream instance, in pipeline order. */
  inputs: StageInput[];
  /** Absolute paths of the stage's declared `deps`. */
  deps: string[];
  /** Where to write output `name` (the engine stores it in the cache afterwards). */
  outPath(name: string): string;
  /** Record a metric in conno.lock (JSON-safe values). */
  metric(name: string, value: unknown): void;
  log(message: string): void;
  /** The project folder (for resolving user paths). */
  projectRoot: string;
  /** The project's cache folder (stages may keep their own caches under it, e.g. downloads/). */
  cacheDir?: string;
  /**
   * The environment the fingerprint recorded (the stage's `env:` and its `environment()`), taken
   * where conno ran: a stage whose results depend on the machine (a GPU adapter) can check that
   * it runs on what was fingerprinted, rather than record one machine and compute on another.
   */
  environment?: Record<string, string>;
}

/** An upstream stage instance as the analyzer knows it, before anything runs. */
export interface UpstreamInfo {
  id: string;
  /** The stage (group) name: `train` for `train@noise=0.2`. */
  stage: string;
  item: Record<string, string | number | boolean>;
  kind: 'cmd' | 'builtin';
  /** Built-in or module stages: which (`features`, `./stages/x.mjs`) and its parameters after defaults. */
  uses?: string;
  with?: Record<string, unknown>;
  /** Its output names (built-in outputs, or a command's `outs`). */
  outputs: readonly string[];
  /** The ids of the instances it needs, to walk further up with `instance()`. */
  upstream: readonly string[];
}

/** What `check` sees: the instance, its parameters, and the instances around it. */
export interface StageCheckContext<P> {
  id: string;
  params: P;
  item: Record<string, string | number | boolean>;
  /** The instances this one needs (its run-time inputs come from these). */
  upstream: readonly UpstreamInfo[];
  /** Any instance of the pipeline, by id (undefined for an unknown id). */
  instance(id: string): UpstreamInfo | undefined;
}

/** A problem `check` found: `path` is where in the stage's `with:` it lies (e.g. ['sets', 'b', 'from']). */
export interface StageProblem {
  path: readonly (string | number)[];
  message: string;
}

export interface StageDefinition<S extends z.ZodType = z.ZodType> {
  /** Bump when results change for a reason the code hash cannot see. */
  version: number;
  description: string;
  params: S;
  /** Names of the files the stage writes; each becomes a cache object. */
  outputs: readonly string[];
  /**
   * The stage reads its upstream instances' fingerprints and parameters (e.g. a report's table of
   * runs): they are given in `inputs` and become part of this stage's fingerprint, so a changed
   * upstream fingerprint reruns it even when the upstream's outputs came out the same.
   */
  upstreamRecords?: boolean;
  /**
   * Outputs the engine also places in the project, at these project-relative paths (e.g.
   * `{ html: 'report/index.html' }`), whenever the stage is up to date: after it runs, is
   * restored, or is found fresh with the copy changed or gone. They are copies of cache objects.
   */
  workspace?: Readonly<Record<string, string>>;
  /**
   * Files or folders (relative to the project) that the parameters make the stage read, such as
   * a dataset folder named in `with:`: each becomes an input of the instance like a `deps` entry
   * (hashed, fingerprinted, and an edge from the stage that writes it).
   */
  inputs?(params: z.infer<S>): string[];
  /**
   * Checks that need the pipeline around an instance: references to other stages in `with:`,
   * whether what they were built with fits. Run by the analyzer before anything runs; every
   * problem is reported at its `with:` position with the pipeline's other problems.
   */
  check?(ctx: StageCheckContext<z.infer<S>>): StageProblem[];
  /**
   * Tool versions and settings that change results (e.g. a training backend), as they will be
   * where the instance runs. `env` is the instance's `env:` from pipeline.yaml: what its process
   * gets over conno's own environment (a setting read from the environment is read there first).
   */
  environment?(params: z.infer<S>, env: Readonly<Record<string, string>>): Record<string, string>;
  run(ctx: StageContext<z.infer<S>>): Promise<void>;
}

export function defineStage<S extends z.ZodType>(def: StageDefinition<S>): StageDefinition<S> {
  return def;
}
