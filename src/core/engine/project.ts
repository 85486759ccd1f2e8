/**
 * A project: its pipeline, conno.lock and cache, opened once per command.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { Pipeline } from '../pipeline/model.js';
import { ObjectStore } from '../store/store.js';
import { RunCache } from '../store/runcache.js';
import { readLock, readLockHashed, readLockSummaries, saveLockSummaries, summarize, type LockFile, type LockSummaries } from '../store/lockfile.js';
import { StatCache } from '../hash/statcache.js';
import type { CodeCache } from '../stage/code.js';
import { ConnoError, DiagnosticsError, UsageError } from '../util/errors.js';
import { closest } from '../util/closest.js';
import { settled } from '../util/promise.js';

export const PIPELINE_FILE = 'pipeline.yaml';
export const LOCK_FILE = 'conno.lock';

export interface OpenOptions {
  /** The project folder (`-C DIR`); default: the working directory. */
  dir?: string;
  /** Skip loading stage modules: for commands that only need the graph. */
  skipStageModules?: boolean;
  /**
   * Read only the lock entries' summaries (fingerprints and outputs, see readLockSummaries);
   * the whole lock is read by loadLock(), when something needs explaining (`status`).
   */
  summariesOnly?: boolean;
}

export class Project {
  private constructor(
    readonly root: string,
    readonly pipeline: Pipeline,
    private fullLock: LockFile | undefined,
    readonly store: ObjectStore,
    readonly runs: RunCache,
    readonly stats: StatCache,
    /** Opened with `summariesOnly`: the entries' summaries, and the hash of the lock bytes they came from. */
    private readonly summarised?: { summaries: LockSummaries; hash: string | undefined },
  ) {}

  private codeCacheOpened: Promise<CodeCache> | undefined;

  /**
   * Stage code closures between commands (see stage/code.ts); kept only where cache/ exists.
   * Opened (and its module loaded) when a module stage's code is first asked for: a pipeline of
   * command stages never needs it.
   */
  codeCache(): Promise<CodeCache> {
    this.codeCacheOpened ??= import('../stage/code.js').then(({ CodeCache }) => CodeCache.open(existsSync(this.cacheDir) ? path.join(this.cacheDir, 'code.json') : undefined));
    return this.codeCacheOpened;
  }

  /** conno.lock as read when the project opened (opened with `summariesOnly`: after loadLock()). */
  get lock(): LockFile {
    if (!this.fullLock) throw new Error('conno.lock is not read yet: call loadLock() first');
    return this.fullLock;
  }

  set lock(lock: LockFile) {
    this.fullLock = lock;
  }

  /**
   * Each lock entry's fingerprint and outputs: those read when the project opened with
   * `summariesOnly`, else those of the lock in memory.
   */
  lockSummaries(): LockSummaries {
    return this.fullLock ? summarize(this.fullLock) : this.summarised!.summaries;
  }

  /**
   * The whole lock, read now if the project opened with `summariesOnly`. When conno.lock was
   * rewritten since its summaries were read (a `repro` running beside a `status`),
   * lockChangedSinceSummaries says so, and lockSummaries() are the new lock's from then on: one
   * answer must not mix two locks.
   */
  async loadLock(): Promise<LockFile> {
    if (this.fullLock) return this.fullLock;
    const { lock, hash } = await readLockHashed(this.lockFile, path.join(this.cacheDir, 'lock.parsed.json'));
    this.fullLock = lock;
    if (hash !== this.summarised!.hash) this.lockChanged = true;
    return lock;
  }

  private lockChanged = false;

  /** Whether loadLock() found conno.lock rewritten after its summaries were read. */
  get lockChangedSinceSummaries(): boolean {
    return this.lockChanged;
  }

  get cacheDir(): string {
    return this.store.cacheDir;
  }
  get lockFile(): string {
    return path.join(this.root, LOCK_FILE);
  }
  get logsDir(): string {
    return path.join(this.cacheDir, 'logs');
  }

  /** The project folder and its cache folder, without reading anything (for taking the lock first). */
  static locate(opts: OpenOptions = {}): { root: string; cacheDir: string } {
    const root = path.resolve(opts.dir ?? process.cwd());
    const file = path.join(root, PIPELINE_FILE);
    if (!existsSync(file)) {
      throw new UsageError(`no ${PIPELINE_FILE} in ${root}${opts.dir ? '' : ' (run conno in a project folder, or pass -C DIR)'}`);
    }
    return { root, cacheDir: path.resolve(root, process.env.CONNO_CACHE_DIR ?? 'cache') };
  }

  static async open(opts: OpenOptions = {}): Promise<Project> {
    const { root, cacheDir } = Project.locate(opts);
    const file = path.join(root, PIPELINE_FILE);
    // Only where a cache exists already: validating a pipeline never creates cache/.
    const hasCache = existsSync(cacheDir);
    // Loaded while the stat cache is read (a module's files are read off the main thread).
    const saved = hasCache ? settled(import('../pipeline/analysis-cache.js')) : undefined;
    const stats = await StatCache.open(path.join(cacheDir, 'stat-cache.json'), [path.join(cacheDir, 'tmp')]);
    const analysisCache = hasCache ? { file: path.join(cacheDir, 'analysis.json'), stats } : undefined;
    // The analyser (yaml, zod) is loaded only when the saved analysis is out of date.
    let pipeline = analysisCache && saved && (await (await saved).loadAnalysis(analysisCache.file, file, stats, opts));
    if (!pipeline) {
      const { loadPipeline } = await import('../pipeline/load.js');
      const loaded = await loadPipeline(file, { skipStageModules: opts.skipStageModules, analysisCache });
      if (!loaded.ok) throw new DiagnosticsError(loaded.diagnostics);
      pipeline = loaded.pipeline;
    }
    let lock: LockFile | undefined;
    let summarised: { summaries: LockSummaries; hash: string | undefined } | undefined;
    const lockFile = path.join(root, LOCK_FILE);
    const cached = existsSync(cacheDir);
    const parsed = cached ? path.join(cacheDir, 'lock.parsed.json') : undefined;
    try {
      if (opts.summariesOnly) {
        const summaryFile = cached ? path.join(cacheDir, 'lock.summary.json') : undefined;
        summarised = summaryFile ? await readLockSummaries(lockFile, summaryFile) : undefined;
        if (!summarised) {
          const read = await readLockHashed(lockFile, parsed);
          lock = read.lock;
          summarised = { summaries: summarize(lock), hash: read.hash };
          if (summaryFile && read.hash !== undefined) await saveLockSummaries(summaryFile, read.hash, summarised.summaries);
        }
      } else lock = await readLock(lockFile, parsed);
    } catch (err) {
      if (err instanceof ConnoError) throw err;
      throw new ConnoError(`cannot read ${LOCK_FILE}: ${(err as Error).message}`);
    }
    return new Project(root, pipeline, lock, new ObjectStore(cacheDir), new RunCache(cacheDir), stats, summarised);
  }

  /** Read conno.lock again (after waiting for another process that may have rewritten it). */
  async reloadLock(): Promise<void> {
    this.lock = await readLock(this.lockFile, path.join(this.cacheDir, 'lock.parsed.json'));
  }

  /** Absolute path of a pipeline path (posix, relative to the project). */
  abs(p: string): string {
    if (p.startsWith('/')) return p;
    return path.sep === '/' ? `${this.root}/${p}` : path.join(this.root, ...p.split('/'));
  }

  /**
   * Instances named by targets, as users type them: a stage name (all its instances), a full
   * instance id, or a partial one (`train@seed=1` selects every instance with seed=1).
   */
  selectTargets(targets: string[]): string[] {
    const p = this.pipeline;
    if (targets.length === 0) return [...p.order];
    const chosen = new Set<string>();
    for (const t of targets) {
      const [stage, sel] = t.split('@', 2) as [string, string | undefined];
      const group = p.stages.get(stage);
      if (!group) {
        const names = [...p.stages.keys()];
        const near = closest(stage, names);
        const list = names.length <= 12 ? names.join(', ') : `${names.slice(0, 10).join(', ')}, … ${names.length} in all; \`conno dag\` lists them`;
        throw new UsageError(`unknown target '${t}'${near ? `; did you mean '${near}'?` : ''} (stages: ${list})`);
      }
      if (sel === undefined) {
        group.instances.forEach((id) => chosen.add(id));
        continue;
      }
      const want = sel.split(',').map((kv) => kv.split('=', 2) as [string, string | undefined]);
      const matches = group.instances.filter((id) => {
        const item = p.instances.get(id)!.item;
        return want.every(([k, v]) => k in item && v !== undefined && String(item[k]) === v);
      });
      if (matches.length === 0) {
        const ids = group.instances;
        const list = ids.length <= 12 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')}, … ${ids.length} in all`;
        throw new UsageError(`no instance of '${stage}' matches '${t}' (instances: ${list})`);
      }
      matches.forEach((id) => chosen.add(id));
    }
    return p.order.filter((id) => chosen.has(id));
  }

  /** The given instances and everything they need, in pipeline order. */
  withUpstream(ids: string[]): string[] {
    return this.reachable(ids, (id) => this.pipeline.instances.get(id)!.upstream.map((u) => u.id));
  }

  /** The given instances and everything that depends on them, in pipeline order. */
  withDownstream(ids: string[]): string[] {
    return this.reachable(ids, (id) => this.pipeline.downstream.get(id) ?? []);
  }

  private reachable(ids: string[], next: (id: string) => readonly string[]): string[] {
    const keep = new Set<string>();
    const stack = [...ids];
    while (stack.length) {
      const id = stack.pop()!;
      if (keep.has(id)) continue;
      keep.add(id);
      stack.push(...next(id));
    }
    return this.pipeline.order.filter((id) => keep.has(id));
  }

}
