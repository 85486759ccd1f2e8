/**
 * The analysed pipeline, kept between runs. Parsing and validating a large pipeline.yaml costs
 * far more than the no-op `status` it serves, so the expanded pipeline is saved as JSON together
 * with the hash of every file it was derived from (pipeline.yaml, params files, stage modules and
 * conno's own analyzer). A hit requires every one of those hashes to match: any edit, to any of
 * them, means a full analysis with positioned diagnostics.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pipeline, StageInstance } from './model.js';
import type { StatCache } from '../hash/statcache.js';
import { writeFileAtomic } from '../util/fsx.js';
import { CORE_DIR } from '../location.js';

const FORMAT = 3;
/** This module's folder (location.ts says why not from import.meta). */
const HERE = path.join(CORE_DIR, 'pipeline');

/** Instance fields left out of the saved analysis when empty (most are, and a no-op `status` parses every instance). */
const EMPTY_OBJECTS = ['item', 'with', 'outAs', 'params', 'env', 'slurm'] as const;
const EMPTY_ARRAYS = ['deps', 'outs', 'metrics', 'upstream'] as const;

type SavedInstance = Omit<StageInstance, 'builtin'> & { builtin?: { modulePath: string; isBuiltin: boolean } };

interface Saved {
  format: number;
  /** The analyzer that made it (this module's folder): another installation of conno analyses anew. */
  analyzer: string;
  /** Every file the analysis read, with its content hash. */
  inputs: { path: string; hash: string }[];
  root: string;
  file: string;
  params: { values: Record<string, unknown>; files: string[] };
  /** Each stage's name and instance ids (its config is not kept: nothing after the analysis reads it). */
  stages: [string, string[]][];
  /** Without the fields in EMPTY_OBJECTS / EMPTY_ARRAYS that are empty. */
  instances: Partial<SavedInstance>[];
  order: string[];
  remotes: Pipeline['remotes'];
  defaultRemote?: string;
}

/**
 * The code an analysis came from: the analyzer's import closure (a new conno version must not
 * trust an old analysis) and every stage module's (schemas, defaults, `inputs` and `check`
 * live there and in what they import), as absolute paths.
 */
async function codeFiles(p: Pipeline, stats: StatCache): Promise<string[]> {
  const [{ PACKAGE_ROOT }, { BUILD_MANIFEST, stageCode }, { tableKindsModule }] = await Promise.all([import('../stage/registry.js'), import('../stage/code.js'), import('../stage/kinds.js')]);
  const out = new Set<string>();
  const dist = path.join(PACKAGE_ROOT, 'dist');
  const builtin = { root: PACKAGE_ROOT, dist, manifestFile: path.join(dist, BUILD_MANIFEST) };
  const add = (root: string, files: Record<string, string>) => Object.keys(files).forEach((f) => out.add(path.resolve(root, f)));
  add(PACKAGE_ROOT, (await stageCode(path.join(HERE, 'load.js'), 0, { ...builtin, skipComputedImports: true }, stats)).detail.files);
  // The table kinds that `as:` names are checked against (loaded by path, outside the analyzer's imports).
  if ([...p.instances.values()].some((i) => Object.keys(i.outAs).length > 0)) {
    add(PACKAGE_ROOT, (await stageCode(tableKindsModule(PACKAGE_ROOT), 0, builtin, stats)).detail.files);
  }
  const modules = new Map<string, boolean>();
  for (const inst of p.instances.values()) if (inst.builtin) modules.set(inst.builtin.modulePath, inst.builtin.isBuiltin);
  for (const [modulePath, isBuiltin] of modules) {
    const root = isBuiltin ? PACKAGE_ROOT : p.root;
    add(root, (await stageCode(modulePath, 0, isBuiltin ? builtin : { root }, stats)).detail.files);
  }
  return [...out].sort();
}

export async function saveAnalysis(cacheFile: string, p: Pipeline, extraInputs: string[], stats: StatCache): Promise<void> {
  let code: string[];
  try {
    code = await codeFiles(p, stats);
  } catch {
    return; // code that cannot be followed (a stale build): nothing to check a saved analysis by
  }
  const files = [p.file, ...p.params.files.map((f) => path.resolve(p.root, f)), ...extraInputs, ...code];
  const inputs: Saved['inputs'] = [];
  for (const f of [...new Set(files)]) {
    try {
      inputs.push({ path: f, hash: (await stats.hashFile(f)).hash });
    } catch {
      return; // An input vanished meanwhile: do not save what cannot be checked.
    }
  }
  const saved: Saved = {
    format: FORMAT,
    analyzer: HERE,
    inputs,
    root: p.root,
    file: p.file,
    params: { values: p.params.values, files: p.params.files },
    stages: [...p.stages.values()].map((g) => [g.name, g.instances]),
    instances: [...p.instances.values()].map(slim),
    order: p.order,
    remotes: p.remotes,
    defaultRemote: p.defaultRemote,
  };
  await writeFileAtomic(cacheFile, JSON.stringify(saved)).catch(() => undefined);
}

/** The bytes (as text) of the saved analysis each loaded pipeline was read from. */
const loadedFrom = new WeakMap<Pipeline, string>();

/** The text of the saved analysis `p` was read from; undefined for a pipeline analysed anew. */
export function savedAnalysisText(p: Pipeline): string | undefined {
  return loadedFrom.get(p);
}

export async function loadAnalysis(cacheFile: string, pipelineFile: string, stats: StatCache, opts: { skipStageModules?: boolean }): Promise<Pipeline | undefined> {
  let saved: Saved;
  let text: string;
  try {
    text = readFileSync(cacheFile, 'utf8');
    saved = JSON.parse(text) as Saved;
  } catch {
    return undefined;
  }
  if (saved.format !== FORMAT || saved.analyzer !== HERE || saved.file !== pipelineFile) return undefined;
  for (const input of saved.inputs) {
    try {
      if ((await stats.hashFile(input.path)).hash !== input.hash) return undefined;
    } catch {
      return undefined;
    }
  }
  const instances = new Map<string, StageInstance>();
  // The stage registry is loaded only for module stages (a pipeline of commands has none).
  let registry: typeof import('../stage/registry.js') | undefined;
  for (const s of saved.instances) {
    const inst = full(s);
    if (s.builtin && !opts.skipStageModules) {
      registry ??= await import('../stage/registry.js');
      inst.builtin = { ...s.builtin, def: await registry.importStage(s.builtin.modulePath) };
    }
    instances.set(inst.id, inst);
  }
  const downstream = new Map<string, string[]>();
  for (const id of saved.order) downstream.set(id, []);
  for (const id of saved.order) for (const u of instances.get(id)!.upstream) downstream.get(u.id)!.push(id);
  const pipeline: Pipeline = {
    root: saved.root,
    file: saved.file,
    params: { values: saved.params.values, files: saved.params.files, origin: new Map() },
    stages: new Map(saved.stages.map(([name, ids]) => [name, { name, instances: ids }])),
    instances,
    order: saved.order,
    downstream,
    remotes: saved.remotes ?? {},
    defaultRemote: saved.defaultRemote,
  };
  loadedFrom.set(pipeline, text);
  return pipeline;
}

/** The saved form of an instance: its module by path, and no empty fields. */
function slim({ builtin, ...rest }: StageInstance): Partial<SavedInstance> {
  const out: Partial<SavedInstance> & Record<string, unknown> = builtin ? { ...rest, builtin: { modulePath: builtin.modulePath, isBuiltin: builtin.isBuiltin } } : { ...rest };
  for (const k of EMPTY_OBJECTS) if (Object.keys(out[k] ?? {}).length === 0) delete out[k];
  for (const k of EMPTY_ARRAYS) if ((out[k] ?? []).length === 0) delete out[k];
  return out;
}

/**
 * An instance from its saved form (module not loaded yet). Built field by field: objects of one
 * shape are several times faster to make and to read than spread copies (a no-op `status` reads
 * every instance), and a field added to StageInstance fails to compile here until it is handled.
 */
function full(s: Partial<SavedInstance>): StageInstance {
  const inst: Required<Pick<StageInstance, Exclude<keyof StageInstance, OptionalKey>>> & Partial<Pick<StageInstance, OptionalKey>> = {
    id: s.id!,
    stage: s.stage!,
    item: s.item ?? {},
    kind: s.kind!,
    with: s.with ?? {},
    deps: s.deps ?? [],
    outs: s.outs ?? [],
    outAs: s.outAs ?? {},
    metrics: s.metrics ?? [],
    params: s.params ?? {},
    env: s.env ?? {},
    resources: s.resources!,
    slurm: s.slurm ?? {},
    upstream: s.upstream ?? [],
    builtin: undefined,
  };
  if (s.cmd !== undefined) inst.cmd = s.cmd;
  if (s.uses !== undefined) inst.uses = s.uses;
  if (s.executor !== undefined) inst.executor = s.executor;
  return inst;
}

/** The optional fields of an instance, set only when present (every other field is listed in `full`). */
type OptionalKey = 'cmd' | 'uses' | 'executor' | 'builtin';
