/**
 * Finds stage modules and the code they run.
 *
 * Built-in stages live in stages/<name>/ of the conno package (compiled to dist/stages/<name>/);
 * project stage modules are files of the project (`uses: ./x.mjs`). Either way a stage's code is
 * the import closure of its module (code.ts), so editing any file it runs makes exactly its
 * instances stale.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StageDefinition } from './api.js';
import type { StatCache } from '../hash/statcache.js';
import { BUILD_MANIFEST, stageCode, type CodeCache, type StageCode } from './code.js';
import { CORE_DIR } from '../location.js';

/** The conno package root (holds src/, stages/, dist/). */
export const PACKAGE_ROOT = findPackageRoot(path.join(CORE_DIR, 'stage'));

/** The folder of conno's package.json, from dist/src/core/stage (built) or src/core/stage (tests). */
function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'conno') return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..', '..', '..', '..');
  }
}

/** Names of the built-in stages shipped with this conno (for "did you mean" hints). */
export function builtinNames(): string[] {
  const dir = path.join(PACKAGE_ROOT, 'dist', 'stages');
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'index.js')))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

export interface LoadedStage {
  def: StageDefinition;
  /** Absolute path of the compiled module to import in the stage process. */
  modulePath: string;
  isBuiltin: boolean;
}

export function isLocalStageRef(uses: string): boolean {
  return uses.startsWith('./') || uses.startsWith('../') || path.isAbsolute(uses);
}

export function resolveStageModule(uses: string, projectRoot: string): { modulePath: string; isBuiltin: boolean } | undefined {
  if (isLocalStageRef(uses)) {
    const p = path.resolve(projectRoot, uses);
    return existsSync(p) ? { modulePath: p, isBuiltin: false } : undefined;
  }
  if (!/^[a-z][a-z0-9-]*$/.test(uses)) return undefined;
  const p = path.join(PACKAGE_ROOT, 'dist', 'stages', uses, 'index.js');
  return existsSync(p) ? { modulePath: p, isBuiltin: true } : undefined;
}

const loaded = new Map<string, Promise<StageDefinition>>();

export async function importStage(modulePath: string): Promise<StageDefinition> {
  let p = loaded.get(modulePath);
  if (!p) {
    p = import(pathToFileURL(modulePath).href).then((m: { stage?: StageDefinition; default?: StageDefinition }) => {
      const def = m.stage ?? m.default;
      if (!def || typeof def.run !== 'function' || !def.params || !Array.isArray(def.outputs)) {
        throw new Error(`${modulePath} does not export a stage (expected \`export const stage = { version, params, outputs, run }\`)`);
      }
      return def;
    });
    loaded.set(modulePath, p);
  }
  return p;
}

/**
 * The code that decides a stage's results: the import closure of its module (see code.ts). For a
 * built-in stage the files are conno's TypeScript sources, checked against the build of dist/.
 */
export async function stageCodeOf(modulePath: string, isBuiltin: boolean, projectRoot: string, def: StageDefinition, stats: StatCache, cache?: CodeCache): Promise<StageCode> {
  if (!isBuiltin) return stageCode(modulePath, def.version, { root: projectRoot }, stats, cache);
  const dist = path.join(PACKAGE_ROOT, 'dist');
  return stageCode(modulePath, def.version, { root: PACKAGE_ROOT, dist, manifestFile: path.join(dist, BUILD_MANIFEST) }, stats, cache);
}
