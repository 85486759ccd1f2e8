/**
 * The code of a stage: every file its module imports, transitively, found by lexing the modules
 * that actually run (es-module-lexer), plus the packages it imports (as name@version) and the
 * run-time assets declared beside the code that loads them. Its hash is the `code` part of a
 * fingerprint; the per-file breakdown goes into conno.lock so that `status` can name each file
 * that changed.
 *
 * Built-in stages run from dist/ (compiled JavaScript) but are hashed by their TypeScript
 * sources, the files people edit and review. The two must agree: `npm run build` writes
 * dist/build-manifest.json with the hash of every source it compiled, and a source whose hash
 * differs from it means dist/ is stale — an error, never a silent pass (the stale code would run
 * under the new code's fingerprint). Project stage modules (`uses: ./x.mjs`) run as they are and
 * are hashed as they are.
 *
 * What the lexer cannot see is declared once, in a comment beside the code that loads it:
 * - `// conno:asset c/simd_kernels.wasm`: a file the code reads at run time (relative to the source);
 * - `// conno:package @alexanderolsen/libsamplerate-js`: a package loaded through `createRequire`
 *   or a computed `import()` (recorded as name@version, or name@absent when it is not installed).
 * A file with a computed `import()` must declare what it loads: otherwise conno cannot know what
 * code runs, and that is an error rather than a fingerprint that could miss an edit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashString, hasher, hex64 } from '../hash/xxhash.js';
import { toPosix, writeFileAtomic } from '../util/fsx.js';
import type { StatCache } from '../hash/statcache.js';
import { canonicalJson } from '../util/canonical.js';
import { ConnoError } from '../util/errors.js';
import { dict } from '../util/dict.js';

/** What a stage's code hash covers, kept in conno.lock under the hash. */
export interface CodeDetail {
  /** Source files (relative to the conno package for built-ins, else to the project) → content hash. */
  files: Record<string, string>;
  /**
   * Packages it imports from node_modules, and theirs, transitively → installed version (several,
   * space-separated, where different copies are installed; `absent` for a declared optional one).
   */
  packages: Record<string, string>;
  /** The stage's own `version` (bumped for changes the code cannot show). */
  version: number;
}

export interface StageCode {
  hash: string;
  detail: CodeDetail;
}

/** Name of the manifest `npm run build` writes into dist/: source path → hash at build time. */
export const BUILD_MANIFEST = 'build-manifest.json';

// A declaration is a comment of its own line (`// conno:asset x.wasm`), never text that quotes one
// (this file's own documentation does).
const PRAGMA_RE = /^[ \t]*\/[/*][ \t]*conno:(asset|package)[ \t]+([^\n*]+)/gm;
const JS_EXT = /\.(m?js|cjs)$/;

type Lexer = typeof import('es-module-lexer');
let lexer: Promise<Lexer> | undefined;
async function loadLexer(): Promise<Lexer> {
  lexer ??= import('es-module-lexer').then(async (m) => {
    await m.init;
    return m;
  });
  return lexer;
}

export interface WalkRoot {
  /** Folder the file keys are relative to. */
  root: string;
  /** For built-ins: the compiled tree (`<root>/dist`) whose files map back to sources. */
  dist?: string;
  /** The build manifest: source hashes the compiled tree was built from (built-ins only). */
  manifestFile?: string;
  /**
   * Not a stage's closure but conno's analyzer's, whose computed `import()`s load the stage
   * modules: those are followed on their own (analysis-cache.ts), so they are passed over here.
   */
  skipComputedImports?: boolean;
}

/**
 * Everything a closure was computed from: each file read (with the hash of the bytes read) and
 * each path whose existence decided something. The same answers give the same closure, so a
 * later command checks these (by stat, through the stat cache) instead of lexing again.
 */
class Probes {
  readonly reads = new Map<string, string>();
  readonly exists = new Map<string, boolean>();
  constructor(private readonly h: Hasher) {}
  has(p: string): boolean {
    const e = existsSync(p);
    this.exists.set(p, e);
    return e;
  }
  read(p: string): Buffer {
    const bytes = readFileSync(p);
    this.reads.set(p, hex64(this.h.create64().update(bytes).digest()));
    return bytes;
  }
}

type Hasher = Awaited<ReturnType<typeof hasher>>;

interface Saved {
  hash: string;
  detail: CodeDetail;
  reads: [string, string][];
  exists: [string, boolean][];
}

/** Closures kept between commands (cache/code.json), each valid while its probes answer the same. */
export class CodeCache {
  private entries: Record<string, Saved> = {};
  private dirty = false;
  private constructor(private readonly file: string | undefined) {}

  static open(file: string | undefined): CodeCache {
    const c = new CodeCache(file);
    if (file) {
      try {
        const data = JSON.parse(readFileSync(file, 'utf8')) as { format?: number; entries?: Record<string, Saved> };
        if (data.format === CACHE_FORMAT && data.entries) c.entries = data.entries;
      } catch {
        // No usable cache: closures are computed afresh.
      }
    }
    return c;
  }

  async get(key: string, stats: StatCache): Promise<StageCode | undefined> {
    const e = this.entries[key];
    if (!e) return undefined;
    for (const [p, was] of e.exists) if (existsSync(p) !== was) return undefined;
    for (const [p, hash] of e.reads) {
      try {
        if ((await stats.hashFile(p)).hash !== hash) return undefined;
      } catch {
        return undefined;
      }
    }
    return { hash: e.hash, detail: e.detail };
  }

  set(key: string, code: StageCode, probes: Probes): void {
    this.entries[key] = { ...code, reads: [...probes.reads], exists: [...probes.exists] };
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    this.dirty = false;
    await writeFileAtomic(this.file, JSON.stringify({ format: CACHE_FORMAT, entries: this.entries })).catch(() => undefined);
  }
}

const CACHE_FORMAT = 1;

/**
 * The code of a stage module: `modulePath` is the file that runs (dist/stages/<name>/index.js
 * for a built-in, the project's .mjs for a local module). With a cache, a closure computed
 * before is reused while every file and path it was computed from is unchanged.
 */
export async function stageCode(modulePath: string, version: number, where: WalkRoot, stats: StatCache, cache?: CodeCache): Promise<StageCode> {
  const key = `${path.resolve(modulePath)}\0${version}\0${where.root}`;
  const known = await cache?.get(key, stats);
  if (known) return known;
  const t = new Probes(await hasher());
  const code = await computeStageCode(path.resolve(modulePath), version, where, t);
  cache?.set(key, code, t);
  return code;
}

async function computeStageCode(modulePath: string, version: number, where: WalkRoot, t: Probes): Promise<StageCode> {
  const manifest = where.manifestFile ? parseManifest(where.manifestFile, where.root, t) : undefined;
  const lex = await loadLexer();
  const files = dict<string>(); // keys are paths
  const found = new Map<string, Set<string>>();
  const visitedPackages = new Set<string>();
  const absent = new Set<string>();
  const seen = new Set<string>();
  const queue = [modulePath];
  while (queue.length) {
    const runFile = queue.pop()!;
    if (seen.has(runFile)) continue;
    seen.add(runFile);
    const pkgDir = packageDirOf(runFile, where.root, t);
    if (pkgDir) {
      addPackage(found, visitedPackages, readPackageJson(pkgDir, t).name ?? path.basename(pkgDir), pkgDir, t);
      continue;
    }
    const source = sourceOf(runFile, where, t);
    const key = keyOf(source, where.root);
    const sourceBytes = readOrFail(t, source, runFile);
    const hash = t.reads.get(source)!;
    if (manifest && where.dist && isUnder(runFile, where.dist)) {
      const built = manifest[key];
      if (built !== hash) {
        throw new ConnoError(
          built === undefined
            ? `conno's dist/ has no build of ${key}: run \`npm run build\` in ${where.root}`
            : `conno's dist/ is out of date: ${key} changed since it was built (run \`npm run build\` in ${where.root})`,
        );
      }
    }
    files[key] = hash;
    if (!JS_EXT.test(runFile)) continue; // JSON, .wasm: data, not code that imports
    const text = (source === runFile ? sourceBytes : readOrFail(t, runFile, runFile)).toString('utf8');
    const declared = pragmas(source === runFile ? text : sourceBytes.toString('utf8'));
    for (const asset of declared.assets) {
      const abs = path.resolve(path.dirname(source), asset);
      if (!t.has(abs)) throw new ConnoError(`${keyOf(source, where.root)} declares the asset '${asset}', which does not exist (${abs})`);
      readOrFail(t, abs, source);
      files[keyOf(abs, where.root)] = t.reads.get(abs)!;
    }
    for (const name of declared.packages) {
      const dir = findPackageDir(name, path.dirname(runFile), t);
      if (dir) addPackage(found, visitedPackages, name, dir, t);
      else absent.add(name);
    }
    let imports: readonly { n?: string | undefined; d: number; ss: number; se: number }[];
    try {
      [imports] = lex.parse(text, runFile);
    } catch (err) {
      throw new ConnoError(`cannot read the imports of ${keyOf(runFile, where.root)}: ${(err as Error).message.split('\n')[0]}`);
    }
    for (const imp of imports) {
      if (imp.d === -2) continue; // import.meta
      const spec = imp.n;
      if (spec === undefined) {
        if (declared.assets.length || declared.packages.length || where.skipComputedImports) continue; // declared beside it, or followed elsewhere
        const line = text.slice(0, imp.ss).split('\n').length;
        throw new ConnoError(
          `${keyOf(source, where.root)}:${line}: import() of a computed specifier: conno cannot tell which code it loads, so its fingerprint could miss an edit; import a literal path, or declare what it loads in a comment (// conno:package NAME, // conno:asset PATH)`,
        );
      }
      if (isBuiltin(spec)) continue;
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('file:')) {
        const target = spec.startsWith('file:') ? fileURLToPath(spec) : path.resolve(path.dirname(runFile), spec.split(/[?#]/)[0]!);
        if (!t.has(target)) throw new ConnoError(`${keyOf(source, where.root)} imports '${spec}', which does not exist`);
        queue.push(target);
        continue;
      }
      const name = packageName(spec);
      const dir = findPackageDir(name, path.dirname(runFile), t);
      if (!dir) throw new ConnoError(`${keyOf(source, where.root)} imports the package '${name}', which is not installed`);
      addPackage(found, visitedPackages, name, dir, t);
    }
  }
  const packages: Record<string, string> = {};
  for (const name of absent) packages[name] = 'absent';
  for (const [name, versions] of found) packages[name] = [...versions].sort().join(' ');
  const detail: CodeDetail = { files: sortKeys(files), packages: sortKeys(packages), version };
  return { hash: await codeHash(detail), detail };
}

export async function codeHash(detail: CodeDetail): Promise<string> {
  return hashString(canonicalJson(detail));
}

/** The compiled file's TypeScript source (built-ins), or the file itself. */
function sourceOf(runFile: string, where: WalkRoot, t: Probes): string {
  if (!where.dist || !isUnder(runFile, where.dist)) return runFile;
  const rel = path.relative(where.dist, runFile);
  const ts = path.join(where.root, rel.replace(/\.js$/, '.ts'));
  if (t.has(ts)) return ts;
  const same = path.join(where.root, rel);
  if (t.has(same)) return same;
  throw new ConnoError(`conno's dist/ holds ${toPosix(path.relative(where.root, runFile))}, whose source is gone: run \`npm run build\` in ${where.root} (after removing dist/)`);
}

function readOrFail(t: Probes, file: string, via: string): Buffer {
  try {
    return t.read(file);
  } catch (err) {
    throw new ConnoError(`cannot read ${file}${via === file ? '' : ` (for ${via})`}: ${(err as Error).message}`);
  }
}

function pragmas(text: string): { assets: string[]; packages: string[] } {
  const out = { assets: [] as string[], packages: [] as string[] };
  for (const m of text.matchAll(PRAGMA_RE)) {
    // Names up to the end of the comment or a parenthesised remark: `conno:package a b (why)`.
    const words = m[2]!.trim().split(/\s+/);
    const end = words.findIndex((w) => w.startsWith('('));
    for (const w of end < 0 ? words : words.slice(0, end)) (m[1] === 'asset' ? out.assets : out.packages).push(w);
  }
  return out;
}

/** Key of a file: posix path relative to the root (`../x` for a file beside the project). */
function keyOf(abs: string, root: string): string {
  return toPosix(path.relative(root, abs));
}

function isUnder(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The folder of package `name` as Node would resolve it from `dir`. */
function findPackageDir(name: string, dir: string, t: Probes): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (t.has(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

/** The package folder holding `file` when it lies in some node_modules/ outside `root`. */
function packageDirOf(file: string, root: string, t: Probes): string | undefined {
  const parts = file.split(path.sep);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0 || i + 1 >= parts.length) return undefined;
  const dir = parts.slice(0, i + (parts[i + 1]!.startsWith('@') ? 3 : 2)).join(path.sep);
  if (dir === root || isUnder(root, dir)) return undefined;
  return t.has(path.join(dir, 'package.json')) ? dir : undefined;
}

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readPackageJson(dir: string, t: Probes): PackageJson {
  const file = path.join(dir, 'package.json');
  try {
    return JSON.parse(t.read(file).toString('utf8')) as PackageJson;
  } catch {
    throw new ConnoError(`cannot read ${file}`);
  }
}

/**
 * Records a package and, transitively, the installed packages it depends on (name → versions):
 * code a stage runs includes its libraries' libraries, and package-lock pins them all.
 */
function addPackage(found: Map<string, Set<string>>, visited: Set<string>, name: string, dir: string, t: Probes): void {
  if (visited.has(dir)) return;
  visited.add(dir);
  const pj = readPackageJson(dir, t);
  const version = typeof pj.version === 'string' ? pj.version : 'unknown';
  if (!found.has(name)) found.set(name, new Set());
  found.get(name)!.add(version);
  for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies, ...pj.peerDependencies })) {
    if (dep.startsWith('@types/')) continue; // type declarations: never code that runs
    const depDir = findPackageDir(dep, dir, t);
    if (depDir) addPackage(found, visited, dep, depDir, t);
  }
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The build manifest's source hashes; a missing one means dist/ was not built by `npm run build`. */
function parseManifest(file: string, root: string, t: Probes): Record<string, string> {
  try {
    const m = JSON.parse(t.read(file).toString('utf8')) as { files?: Record<string, string> };
    if (!m.files || typeof m.files !== 'object') throw new Error('no files');
    return m.files;
  } catch {
    throw new ConnoError(`conno's dist/ has no ${BUILD_MANIFEST}: run \`npm run build\` in ${root}`);
  }
}

/** Human-readable differences between two code details, one line per file or package. */
export function diffCode(was: CodeDetail, now: CodeDetail): string[] {
  const out: string[] = [];
  for (const f of [...new Set([...Object.keys(was.files), ...Object.keys(now.files)])].sort()) {
    const a = was.files[f];
    const b = now.files[f];
    if (a === b) continue;
    out.push(a === undefined ? `${f} (now imported)` : b === undefined ? `${f} (no longer imported)` : f);
  }
  for (const p of [...new Set([...Object.keys(was.packages), ...Object.keys(now.packages)])].sort()) {
    const a = was.packages[p];
    const b = now.packages[p];
    if (a === b) continue;
    out.push(a === undefined ? `package ${p}@${b} (now imported)` : b === undefined ? `package ${p} (no longer imported)` : `package ${p} ${a} → ${b}`);
  }
  if (was.version !== now.version) out.push(`stage version ${was.version} → ${now.version}`);
  return out;
}
