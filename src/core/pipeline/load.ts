/**
 * The analyzer: pipeline.yaml + params files → a validated, expanded Pipeline, or every problem
 * found, each with its file:line:column. Nothing is run before all of it is valid.
 */
import path from 'node:path';
import { z } from 'zod';
import type { Diagnostic } from '../util/diagnostics.js';
import { YamlFile, type YamlPath } from './yamlfile.js';
import { PipelineSchema, STAGE_NAME_RE, StageSchema, type SlurmConfig, type StageConfig, type MatrixScalar } from './schema.js';
import { Problems } from './problems.js';
import { fieldLabel, salvage, SchemaIssues, type BrokenMatrix } from './schema-issues.js';
import { PipelineGraph } from './graph.js';
import { loadParams, lookupParam, type ParamsSet } from './params.js';
import { closest } from '../util/closest.js';
import { resolveTemplate, type Lookup } from './interpolate.js';
import { instanceId, type Item, type Pipeline, type StageGroup, type StageInstance } from './model.js';
import { builtinNames, importStage, isLocalStageRef, PACKAGE_ROOT, resolveStageModule } from '../stage/registry.js';
import { loadTableKinds, type TableKinds } from '../stage/kinds.js';
import { sbatchOptions, SlurmSpecError } from './sbatch.js';
import { keysAt } from './schema-keys.js';
import { toPosix } from '../util/fsx.js';
import type { StatCache } from '../hash/statcache.js';
import { dict } from '../util/dict.js';

export type LoadResult = { ok: true; pipeline: Pipeline } | { ok: false; diagnostics: Diagnostic[] };

export interface LoadOptions {
  /** How to print file paths in diagnostics (default: relative to the working directory). */
  display?: (abs: string) => string;
  /** Skip loading stage modules (used by tools that only need the graph). */
  skipStageModules?: boolean;
  /** Keep the analysed pipeline in this file between runs (see analysis-cache.ts). */
  analysisCache?: { file: string; stats: StatCache };
}

export async function loadPipeline(pipelineFile: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const file = path.resolve(pipelineFile);
  const root = path.dirname(file);
  const cache = opts.analysisCache;
  const display = opts.display ?? ((abs: string) => toPosix(path.relative(process.cwd(), abs)) || path.basename(abs));
  const { file: yf, diagnostics: yamlDiags } = YamlFile.load(file, display(file));
  if (!yf) return { ok: false, diagnostics: yamlDiags };
  const a = new Analyzer(yf, root, file, display, opts);
  const result = await a.run();
  if (result.ok && cache && !opts.skipStageModules) {
    const { saveAnalysis } = await import('./analysis-cache.js');
    await saveAnalysis(cache.file, result.pipeline, [], cache.stats);
  }
  return result;
}

class Analyzer {
  private readonly problems: Problems;
  private readonly schemaIssues: SchemaIssues;
  private readonly graph: PipelineGraph;
  constructor(
    private readonly yf: YamlFile,
    private readonly root: string,
    private readonly file: string,
    private readonly display: (abs: string) => string,
    private readonly opts: LoadOptions,
  ) {
    this.problems = new Problems(yf);
    this.schemaIssues = new SchemaIssues(this.problems);
    this.graph = new PipelineGraph(this.problems);
  }

  private paramsIncomplete = false;
  /** Stage and field of each bad `slurm:` value reported (once per stage, not per instance). */
  private slurmReported = new Set<string>();
  private slurmDefaults: SlurmConfig | undefined;

  private report(path: YamlPath, message: string, opts?: { key?: boolean; sub?: { offset: number; length: number } }): void {
    this.problems.report(path, message, opts);
  }

  /** A params lookup; misses are silent when a params file could not be read. */
  private lookupParam(params: ParamsSet, ref: string): ReturnType<typeof lookupParam> {
    const r = lookupParam(params.values, ref);
    return !r.ok && this.paramsIncomplete ? { ok: false, message: '' } : r;
  }

  async run(): Promise<LoadResult> {
    const raw = this.yf.toJS();
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.report([], 'pipeline.yaml must be a mapping with a `stages:` key');
      return { ok: false, diagnostics: this.problems.list };
    }
    // Validate the top level without the stages, then each stage on its own, so that one bad
    // stage does not hide the problems of the others.
    const rawObj = raw as Record<string, unknown>;
    const stageKey = PipelineSchema.shape.stages.keyType;
    const top = PipelineSchema.extend({ stages: z.record(stageKey as z.ZodString, z.unknown()) }).safeParse(rawObj);
    if (!top.success) this.schemaIssues.report(top.error, [], rawObj);
    this.slurmDefaults = top.success ? top.data.slurm : undefined;
    const remotes = top.success ? top.data.remotes : {};
    const defaultRemote = top.success ? top.data.default_remote : undefined;
    if (defaultRemote !== undefined && !(defaultRemote in remotes)) {
      const names = Object.keys(remotes);
      this.report(['default_remote'], `default_remote '${defaultRemote}' is not one of the remotes${names.length ? ` (${names.join(', ')})` : ' (there is no `remotes:` section)'}`);
    }
    const paramFiles = top.success ? top.data.params : Array.isArray(rawObj.params) ? rawObj.params.filter((p): p is string => typeof p === 'string') : [];
    const { params, diagnostics: pds } = loadParams(this.root, paramFiles, this.display, (i, message) => this.yf.diag(['params', i], message));
    this.problems.list.push(...pds);
    // Keys of a params file that could not be read are unknown: don't report every use of them.
    this.paramsIncomplete = pds.length > 0;
    const stagesRaw = rawObj.stages;
    if (stagesRaw === undefined) {
      if (top.success) this.report([], 'missing field `stages`');
      return { ok: false, diagnostics: this.problems.list };
    }
    if (stagesRaw === null || typeof stagesRaw !== 'object' || Array.isArray(stagesRaw)) return { ok: false, diagnostics: this.problems.list };

    // A stage whose body is invalid is known by name (for needs), with no config.
    const configs = new Map<string, StageConfig | undefined>();
    // Stages with schema problems, minus the offending fields: still checked for the rest, so
    // that all problems are reported at once, but never part of the graph.
    const salvaged = new Map<string, { cfg: StageConfig; broken: BrokenMatrix }>();
    for (const [name, cfg] of Object.entries(stagesRaw as Record<string, unknown>)) {
      if (!STAGE_NAME_RE.test(name)) continue; // reported by the top-level schema
      const r = StageSchema.safeParse(cfg ?? {});
      if (!r.success) {
        this.schemaIssues.report(r.error, ['stages', name], cfg ?? {});
        configs.set(name, undefined);
        const s = salvage(cfg, r.error.issues);
        if (s) salvaged.set(name, s);
        continue;
      }
      configs.set(name, r.data);
    }

    if ([...configs.values()].some((c) => c?.outs.some((o) => typeof o !== 'string'))) this.kinds = await loadTableKinds(PACKAGE_ROOT);
    const stages = new Map<string, StageGroup>();
    const instances = new Map<string, StageInstance>();
    for (const [name, cfg] of configs) {
      if (!cfg) continue;
      const group: StageGroup = { name, config: cfg, instances: [] };
      stages.set(name, group);
      for (const inst of await this.expand(name, cfg, params)) {
        group.instances.push(inst.id);
        instances.set(inst.id, inst);
      }
    }
    for (const [name, s] of salvaged) await this.expand(name, s.cfg, params, s.broken);
    this.graph.checkNeedsNames(new Map([...configs].map(([name, cfg]) => [name, cfg ?? salvaged.get(name)?.cfg] as [string, StageConfig])));
    this.graph.checkOutputs(instances);
    this.graph.linkNeeds(stages, instances);
    this.graph.linkDeps(instances);
    const order = this.graph.topoOrder(stages, instances);
    if (order) this.graph.runStageChecks(stages, instances);
    if (this.problems.list.length > 0 || !order) return { ok: false, diagnostics: this.problems.list };

    const downstream = new Map<string, string[]>();
    for (const id of order) downstream.set(id, []);
    for (const id of order) for (const u of instances.get(id)!.upstream) downstream.get(u.id)!.push(id);
    return { ok: true, pipeline: { root: this.root, file: this.file, params, stages, instances, order, downstream, remotes, defaultRemote } };
  }

  /** Matrix expansion and interpolation of one stage. */
  /** The stage's matrix instances' items; axes with problems are reported and left out. */
  private matrixItems(name: string, cfg: StageConfig, params: ParamsSet, broken: BrokenMatrix): { items: Item[]; brokenAxes: Set<string> } {
    const base: YamlPath = ['stages', name];
    const brokenAxes = new Set(broken.axes);
    const axes: [string, MatrixScalar[]][] = [];
    for (const [key, values] of Object.entries(cfg.matrix ?? {})) {
      if (typeof values === 'string') {
        const r = resolveTemplate(values, (ref) => (ref === 'item' || ref.startsWith('item.') ? { ok: false, message: 'a matrix cannot refer to its own items' } : this.lookupParam(params, ref)));
        for (const p of r.problems) this.report([...base, 'matrix', key], p.message, { sub: p });
        const list = r.value;
        if (r.problems.length) {
          brokenAxes.add(key);
          continue;
        }
        if (!Array.isArray(list) || list.length === 0 || !list.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
          this.report([...base, 'matrix', key], `matrix axis '${key}' must be a non-empty list of numbers, strings or booleans (got ${JSON.stringify(list)})`);
          brokenAxes.add(key);
          continue;
        }
        axes.push([key, list as MatrixScalar[]]);
      } else axes.push([key, values]);
    }
    for (const [key, values] of axes) {
      const seen = new Set(values.map((v) => String(v)));
      if (seen.size !== values.length) this.report([...base, 'matrix', key], `matrix axis '${key}' lists a value twice`);
      // Values become instance ids (`train@seed=1`), targets and log file names.
      const bad = values.find((v) => typeof v === 'string' && /[,=@\x00-\x1f\x7f]/.test(v));
      if (bad !== undefined) this.report([...base, 'matrix', key], `matrix value ${JSON.stringify(bad)} of axis '${key}' holds a character instance ids cannot (, = @ or a control character such as a line break)`);
    }
    let items: Item[] = [{}];
    for (const [key, values] of axes) items = items.flatMap((it) => values.map((v) => ({ ...it, [key]: v })));
    return { items, brokenAxes };
  }

  /** The stage module `uses` names, loaded (undefined, with the problem reported, when it cannot be). */
  private async stageModule(name: string, cfg: StageConfig): Promise<StageInstance['builtin']> {
    const base: YamlPath = ['stages', name];
    let builtin: StageInstance['builtin'];
    if (cfg.uses !== undefined && !this.opts.skipStageModules) {
      const resolved = resolveStageModule(cfg.uses, this.root);
      if (!resolved && isLocalStageRef(cfg.uses)) {
        this.report([...base, 'uses'], `stage module '${cfg.uses}' not found (a path in \`uses\` is relative to the project folder)`);
      } else if (!resolved) {
        const names = builtinNames();
        const near = closest(cfg.uses, names);
        const hint = near
          ? `; did you mean '${near}'?`
          : names.length
            ? ` (built-in stages: ${names.join(', ')})`
            : ` (there are no built-in stages; a project stage module is a path such as ./stages/${cfg.uses}.mjs)`;
        this.report([...base, 'uses'], `unknown built-in stage '${cfg.uses}'${hint}`);
      } else {
        try {
          builtin = { def: await importStage(resolved.modulePath), ...resolved };
        } catch (err) {
          this.report([...base, 'uses'], `cannot load stage module '${cfg.uses}': ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    return builtin;
  }

  private async expand(name: string, cfg: StageConfig, params: ParamsSet, broken: BrokenMatrix = { axes: new Set(), all: false }): Promise<StageInstance[]> {
    const base: YamlPath = ['stages', name];
    const before = this.problems.list.length;
    const { items, brokenAxes } = this.matrixItems(name, cfg, params, broken);
    const builtin = await this.stageModule(name, cfg);

    const out: StageInstance[] = [];
    const matrixKeys = Object.keys(cfg.matrix ?? {});
    for (const item of items) {
      const used = new Map<string, unknown>();
      const lookup = (ref: string) => {
        if (ref === 'item' || ref.startsWith('item.')) {
          const k = ref.slice(5);
          // A matrix (axis) already reported as broken: its references are not problems of their own.
          if (broken.all || brokenAxes.has(k)) return { ok: true as const, value: '' };
          if (!cfg.matrix) return { ok: false as const, message: `\${${ref}} is only available in stages with a matrix` };
          if (!(k in item)) {
            const near = closest(k, matrixKeys);
            const hint = near ? `; did you mean '\${item.${near}}'?` : matrixKeys.length ? `; this stage's matrix has: ${matrixKeys.join(', ')}` : '';
            return { ok: false as const, message: `unknown matrix key '${k}' in \${${ref}}${hint}` };
          }
          return { ok: true as const, value: item[k] };
        }
        const r = this.lookupParam(params, ref);
        if (r.ok) used.set(ref, r.value);
        return r;
      };
      // Report interpolation problems once per stage, not once per instance.
      const firstInstance = out.length === 0;
      const resolveAt = (value: string, at: YamlPath, opts: { shell?: boolean } = {}): unknown => {
        const r = resolveTemplate(value, lookup, opts);
        if (firstInstance) for (const p of r.problems) this.report(at, p.message, { sub: p });
        return r.value;
      };
      const resolveDeep = (v: unknown, at: YamlPath): unknown => {
        if (typeof v === 'string') return resolveAt(v, at);
        if (Array.isArray(v)) return v.map((x, i) => resolveDeep(x, [...at, i]));
        if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveDeep(x, [...at, k])]));
        return v;
      };
      const pathsAt = (list: string[], field: 'deps' | 'outs' | 'metrics'): string[] =>
        list.map((p, i) => {
          const v = resolveAt(p, [...base, field, i]);
          return this.normalisePath(String(v), [...base, field, i], field !== 'deps');
        });

      // A command is shell text: the values spliced into it are shell-quoted words (interpolate.ts).
      const cmd = cfg.cmd !== undefined ? String(resolveAt(cfg.cmd, [...base, 'cmd'], { shell: true })) : undefined;
      let withValues = resolveDeep(cfg.with, [...base, 'with']) as Record<string, unknown>;
      const deps = pathsAt(cfg.deps, 'deps');
      const outs = pathsAt(cfg.outs.map((o) => (typeof o === 'string' ? o : o.path)), 'outs');
      const outAs = this.outputNames(name, cfg, outs, firstInstance);
      const metrics = pathsAt(cfg.metrics, 'metrics');
      const env = dict<string>(); // variable names are data, `__proto__` too
      for (const [k, v] of Object.entries(cfg.env)) env[k] = typeof v === 'string' ? String(resolveAt(v, [...base, 'env', k])) : String(v);
      const lookupQuiet = (ref: string) => (ref === 'item' || ref.startsWith('item.') ? lookup(ref) : this.lookupParam(params, ref));
      const slurm = this.slurmSettings(name, cfg, item, firstInstance, lookupQuiet);
      for (let i = 0; i < cfg.params.length; i++) {
        const key = cfg.params[i]!;
        const r = this.lookupParam(params, key);
        if (!r.ok) {
          if (firstInstance) this.report([...base, 'params', i], r.message);
        } else used.set(key, r.value);
      }
      if (builtin) withValues = this.builtinParams(name, cfg, builtin, withValues, deps, firstInstance);
      const sortedParams = dict<unknown>();
      for (const k of [...used.keys()].sort()) sortedParams[k] = used.get(k);
      out.push({
        id: instanceId(name, item),
        stage: name,
        item,
        kind: cfg.cmd !== undefined ? 'cmd' : 'builtin',
        cmd,
        uses: cfg.uses,
        with: withValues,
        deps,
        outs,
        outAs,
        metrics,
        params: sortedParams,
        env,
        resources: { gpu: cfg.resources.gpu },
        executor: cfg.executor,
        slurm,
        upstream: [],
        builtin,
      });
    }
    return this.problems.list.length > before ? [] : out;
  }

  /**
   * The instance's sbatch settings (pipeline defaults, then the stage's), interpolated; what they
   * use is not recorded as a param (where a stage runs must not change its fingerprint). Each is
   * checked as sbatch would take it, whatever executor a run uses.
   */
  private slurmSettings(name: string, cfg: StageConfig, item: Item, firstInstance: boolean, lookupQuiet: Lookup): Record<string, string | string[]> {
    const base: YamlPath = ['stages', name];
    // sbatch settings are interpolated like the rest, but what they use is not recorded as a
    // param of the stage: where it runs must not change its fingerprint.
    const slurm = dict<string | string[]>();
    const slurmLayers: [SlurmConfig | undefined, YamlPath][] = [
      [this.slurmDefaults, ['slurm']],
      [cfg.slurm, [...base, 'slurm']],
    ];
    for (const [layer, at] of slurmLayers) {
      for (const [k, v] of Object.entries(layer ?? {})) {
        const one = (x: string | number, where: YamlPath): string => {
          if (typeof x !== 'string') return String(x);
          const r = resolveTemplate(x, lookupQuiet);
          if (firstInstance) for (const p of r.problems) this.report(where, p.message, { sub: p });
          return String(r.value);
        };
        slurm[k] = Array.isArray(v) ? v.map((x, i) => one(x, [...at, k, i])) : one(v as string | number, [...at, k]);
      }
    }
    // sbatch must take every setting as given: checked here, whatever executor a run uses, one
    // setting at a time so that every bad one is reported.
    for (const [k, v] of Object.entries(slurm)) {
      const err = slurmProblem(k, v);
      if (!err) continue;
      const at: YamlPath = cfg.slurm?.[k as keyof SlurmConfig] !== undefined ? [...base, 'slurm', k] : ['slurm', k];
      const key = at.join('\0'); // a bad top-level default is one problem, not one per stage
      if (this.slurmReported.has(key)) continue;
      this.slurmReported.add(key);
      this.report(at, Object.keys(cfg.matrix ?? {}).length ? `${err.message} (in ${instanceId(name, item)})` : err.message);
    }
    return slurm;
  }

  /** A built-in stage's `with:` through its schema (defaults applied), and the inputs its params name. */
  private builtinParams(name: string, cfg: StageConfig, builtin: NonNullable<StageInstance['builtin']>, withValues: Record<string, unknown>, deps: string[], firstInstance: boolean): Record<string, unknown> {
    const base: YamlPath = ['stages', name];
    if (firstInstance) {
      const parsed = builtin.def.params.safeParse(withValues);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const at = [...base, 'with', ...(issue.path as (string | number)[])];
          if (issue.code === 'unrecognized_keys') {
            const known = keysAt(builtin.def.params, issue.path as (string | number)[]);
            const where = issue.path.length ? ` in '${fieldLabel(issue.path as (string | number)[])}'` : '';
            for (const k of issue.keys) {
              const near = closest(k, known);
              this.report([...at, k], `stage '${cfg.uses}' has no parameter '${k}'${where}${near ? `; did you mean '${near}'?` : known.length ? ` (it has: ${known.join(', ')})` : ''}`, { key: true });
            }
          }
          else this.report(at, `${cfg.uses}: ${issue.path.join('.') || 'with'}: ${issue.message}`);
        }
      }
    }
    {
      const parsed = builtin.def.params.safeParse(withValues);
      if (parsed.success) {
        withValues = parsed.data as Record<string, unknown>;
        // Paths the parameters make the stage read are inputs like `deps`.
        for (const extra of builtin.def.inputs?.(parsed.data) ?? []) {
          const norm = this.normalisePath(extra, [...base, 'with'], false);
          if (!deps.includes(norm)) deps.push(norm);
        }
      }
    }
    return withValues;
  }

  /** The table kinds `as:` may name; loaded only when some output is named. */
  private kinds: TableKinds | undefined;

  /** path → name of a command's `{ path, as }` outputs, each name checked to be a known table kind, once per stage. */
  private outputNames(stage: string, cfg: StageConfig, outs: string[], report: boolean): Record<string, string> {
    const named: Record<string, string> = {};
    const seen = new Map<string, number>();
    cfg.outs.forEach((o, i) => {
      if (typeof o === 'string') return;
      const at: YamlPath = ['stages', stage, 'outs', i, 'as'];
      named[outs[i]!] = o.as;
      if (!report) return;
      const kinds = this.kinds ?? new Map();
      if (!kinds.has(o.as)) {
        const known = [...kinds.keys()];
        const near = closest(o.as, known);
        this.report(at, `'${o.as}' is not a kind of table conno knows${near ? `; did you mean '${near}'?` : ''} (known: ${known.join(', ') || 'none'})`);
      }
      const before = seen.get(o.as);
      if (before !== undefined) this.report(at, `two outputs are named '${o.as}' (outs ${before} and ${i}): a name must say which one downstream stages read`);
      seen.set(o.as, i);
    });
    return named;
  }

  private normalisePath(p: string, at: YamlPath, mustBeInside: boolean): string {
    if (path.isAbsolute(p)) {
      if (mustBeInside) {
        const rel = path.relative(this.root, p);
        if (rel.startsWith('..') || path.isAbsolute(rel)) this.report(at, `outputs must lie inside the project folder: '${p}'`);
        return toPosix(rel);
      }
      return toPosix(path.normalize(p)).replace(/(.)\/+$/, '$1');
    }
    const norm = path.posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '');
    if (norm === '.' || norm === '') {
      if (mustBeInside) this.report(at, 'an output cannot be the project folder itself');
      return '.';
    }
    if (mustBeInside && (norm === '..' || norm.startsWith('../'))) this.report(at, `outputs must lie inside the project folder: '${p}'`);
    if (mustBeInside && (norm === 'cache' || norm.startsWith('cache/') || norm === 'conno.lock')) this.report(at, `'${p}' belongs to conno (cache/ and conno.lock cannot be outputs)`);
    return norm;
  }


}

/** What sbatch would say to one `slurm:` setting, or undefined when it takes it. */
function slurmProblem(key: string, value: string | string[]): SlurmSpecError | undefined {
  try {
    sbatchOptions({ [key]: value }, 0);
    return undefined;
  } catch (err) {
    if (err instanceof SlurmSpecError) return err;
    throw err;
  }
}

