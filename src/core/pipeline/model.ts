/** The validated pipeline the engine works on: every stage expanded into its instances. */
import type { Executor, RemoteConfig, StageConfig } from './schema.js';
import type { ParamsSet } from './params.js';
import type { StageDefinition } from '../stage/api.js';

import type { Item } from './ids.js';
export type { Item };

export interface UpstreamEdge {
  /** Upstream instance id. */
  id: string;
  /** Why the edge exists: `needs` or a dep path that the upstream writes. */
  via: 'needs' | 'deps';
}

export interface StageInstance {
  /** `prepare`, or `train@noise=0.2,seed=1` for matrix instances. */
  id: string;
  stage: string;
  item: Item;
  kind: 'cmd' | 'builtin';
  cmd?: string;
  uses?: string;
  /** Built-in stage params after interpolation and the stage's own schema (defaults applied). */
  with: Record<string, unknown>;
  /** Posix paths relative to the project root (or absolute for data outside it). */
  deps: string[];
  outs: string[];
  /** A command's named outputs: path → the name downstream stages read it by (`as:`). */
  outAs: Record<string, string>;
  metrics: string[];
  /** Every params key the stage uses, with its value. */
  params: Record<string, unknown>;
  env: Record<string, string>;
  resources: { gpu: number };
  /** Where the stage asked to run (unset: the run's executor). Not part of the fingerprint. */
  executor?: Executor;
  /** sbatch settings (pipeline defaults, then the stage's), interpolated; strings throughout. */
  slurm: Record<string, string | string[]>;
  upstream: UpstreamEdge[];
  /** For built-in stages: the loaded definition and module to run. */
  builtin?: { def: StageDefinition; modulePath: string; isBuiltin: boolean };
}

export interface StageGroup {
  name: string;
  /** The stage as written; present while a pipeline is analysed (a saved analysis does not keep it: nothing after the analysis reads it). */
  config?: StageConfig;
  instances: string[];
}

export interface Pipeline {
  root: string;
  file: string;
  params: ParamsSet;
  stages: Map<string, StageGroup>;
  instances: Map<string, StageInstance>;
  /** Instance ids in a topological order (stable: declaration order where free). */
  order: string[];
  /** Downstream edges, for --downstream and for reporting. */
  downstream: Map<string, string[]>;
  /** Remote caches by name (pipeline.yaml `remotes:`), and the default one. */
  remotes: Record<string, RemoteConfig>;
  defaultRemote?: string;
}

export { formatItemValue, instanceId } from './ids.js';
