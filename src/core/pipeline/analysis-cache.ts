/**
 * The analysed pipeline, kept between runs. Parsing and validating a large pipeline.yaml costs
 * far more than the no-op `status` it serves, so the expanded pipeline is saved as JSON together
 * with the hash of every file it was derived from (pipeline.yaml, params files, stage modules and
 * conno's own analyzer). A hit requires every one of those hashes to match: any edit, to any of
 * them, means a full analysis with positioned diagnostics.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pipeline, StageGroup, StageInstance } from './model.js';
import type { StatCache } from '../hash/statcache.js';
import { importStage, PACKAGE_ROOT } from '../stage/registry.js';
import { BUILD_MANIFEST, stageCode } from '../stage/code.js';
import { tableKindsModule } from '../stage/kinds.js';
import { writeFileAtomic } from '../util/fsx.js';

const FORMAT = 2;
const HERE = path.dirname(fileURLToPath(import.meta.url));

interface Saved {
  format: number;
  /** Every file the analysis read, with its content hash. */
  inputs: { path: string; hash: string }[];
  root: string;
  file: string;
  params: { values: Record<string, unknown>; files: string[] };
  stages: [string, StageGroup][];
  instances: (Omit<StageInstance, 'builtin'> & { builtin?: { modulePath: string; isBuiltin: boolean } })[];
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
    inputs,
    root: p.root,
    file: p.file,
    params: { values: p.params.values, files: p.params.files },
    stages: [...p.stages.entries()],
    instances: [...p.instances.values()].map(({ builtin, ...rest }) => (builtin ? { ...rest, builtin: { modulePath: builtin.modulePath, isBuiltin: builtin.isBuiltin } } : rest)),
    order: p.order,
    remotes: p.remotes,
    defaultRemote: p.defaultRemote,
  };
  await writeFileAtomic(cacheFile, JSON.stringify(saved)).catch(() => undefined);
}

export async function loadAnalysis(cacheFile: string, pipelineFile: string, stats: StatCache, opts: { skipStageModules?: boolean }): Promise<Pipeline | undefined> {
  let saved: Saved;
  try {
    saved = JSON.parse(readFileSync(cacheFile, 'utf8')) as Saved;
  } catch {
    return undefined;
  }
  if (saved.format !== FORMAT || saved.file !== pipelineFile) return undefined;
  for (const input of saved.inputs) {
    try {
      if ((await stats.hashFile(input.path)).hash !== input.hash) return undefined;
    } catch {
      return undefined;
    }
  }
  const instances = new Map<string, StageInstance>();
  for (const s of saved.instances) {
    const inst: StageInstance = { ...s, builtin: undefined };
    if (s.builtin && !opts.skipStageModules) inst.builtin = { ...s.builtin, def: await importStage(s.builtin.modulePath) };
    instances.set(inst.id, inst);
  }
  const downstream = new Map<string, string[]>();
  for (const id of saved.order) downstream.set(id, []);
  for (const id of saved.order) for (const u of instances.get(id)!.upstream) downstream.get(u.id)!.push(id);
  return {
    root: saved.root,
    file: saved.file,
    params: { values: saved.params.values, files: saved.params.files, origin: new Map() },
    stages: new Map(saved.stages),
    instances,
    order: saved.order,
    downstream,
    remotes: saved.remotes ?? {},
    defaultRemote: saved.defaultRemote,
  };
}
