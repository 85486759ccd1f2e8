/**
 * The analyzer: pipeline.yaml + params files → a validated, expanded Pipeline, or every problem
 * found, each with its file:line:column. Nothing is run before all of it is valid.
 */
import path from 'node:path';
import { z } from 'zod';
import type { Diagnostic } from '../util/diagnostics.js';
import { YamlFile, type YamlPath } from './yamlfile.js';
import { PipelineSchema, ResourcesSchema, SlurmSchema, STAGE_NAME_RE, StageSchema, type SlurmConfig, type StageConfig, type MatrixScalar, type NeedConfig } from './schema.js';
import { closest, loadParams, lookupParam, type ParamsSet } from './params.js';
import { resolveTemplate } from './interpolate.js';
import { instanceId, type Item, type Pipeline, type StageGroup, type StageInstance } from './model.js';
import { builtinNames, importStage, isLocalStageRef, resolveStageModule } from '../stage/registry.js';
import type { UpstreamInfo } from '../stage/api.js';
import { sbatchOptions, SlurmSpecError } from './sbatch.js';
import { keysAt } from './schema-keys.js';
import { toPosix } from '../util/fsx.js';
import type { StatCache } from '../hash/statcache.js';

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
  private diags: Diagnostic[] = [];
  constructor(
    private readonly yf: YamlFile,
    private readonly root: string,
    private readonly file: string,
    private readonly display: (abs: string) => string,
    private readonly opts: LoadOptions,
  ) {}

  private paramsIncomplete = false;
  /** Stage and field of each bad `slurm:` value reported (once per stage, not per instance). */
  private slurmReported = new Set<string>();
  private slurmDefaults: SlurmConfig | undefined;

  /** A message of '' is a problem already reported elsewhere (see lookupParam). */
  private report(path: YamlPath, message: string, opts?: { key?: boolean; sub?: { offset: number; length: number } }): void {
    if (message === '') return;
    this.diags.push(this.yf.diag(path, message, opts));
  }

  /** A params lookup; misses are silent when a params file could not be read. */
  private lookupParam(params: ParamsSet, ref: string): ReturnType<typeof lookupParam> {
    const r = lookupParam(params.values, ref);
    return !r.ok && this.paramsIncomplete ? { ok: false, message: '' } : r;
  }

  /** Report schema problems; `raw` is the value at `base`, for messages that quote it. */
  private zodIssues(err: z.ZodError, base: YamlPath, raw: unknown): void {
    for (const issue of unknownKeysFirst(err.issues)) this.zodIssue(issue, base, issue.path as (string | number)[], raw);
  }

  /** Fields named by a "did you mean" (as joined paths): not reported missing as well. */
  private suggested = new Set<string>();

  private zodIssue(issue: z.core.$ZodIssue, base: YamlPath, rel: (string | number)[], raw: unknown): void {
    const at = [...base, ...rel];
    const value = valueAt(raw, rel);
    const label = fieldLabel(rel);
    const stage = base[0] === 'stages' ? String(base[1]) : undefined;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(base, rel);
        for (const key of issue.keys) {
          const near = closest(key, known);
          if (near) this.suggested.add([...at, near].join('\0'));
          const where = rel.length ? ` in '${label}'` : '';
          this.report([...at, key], `unknown field '${key}'${where}${near ? `; did you mean '${near}'?` : ` (expected one of: ${known.join(', ')})`}`, { key: true });
        }
        return;
      }
      case 'invalid_key': {
        const key = String(at[at.length - 1]);
        const why = issue.issues[0]?.message ?? issue.message;
        const what = base.length === 0 && rel.length === 2 && rel[0] === 'stages' ? 'stage name' : rel[0] === 'matrix' ? 'matrix key' : 'key';
        this.report(at, `bad ${what} '${key}': ${why}`, { key: true });
        return;
      }
      case 'invalid_union': {
        // The alternatives whose type matched say what is wrong inside; otherwise name the types.
        const typeMismatch = (branch: z.core.$ZodIssue[]) => branch.some((i) => i.path.length === 0 && i.code === 'invalid_type');
        const matched = issue.errors.filter((b) => !typeMismatch(b));
        if (matched.length === 1) {
          for (const sub of unknownKeysFirst(matched[0]!)) this.zodIssue(sub, base, [...rel, ...(sub.path as (string | number)[])], raw);
          return;
        }
        const kinds = issue.errors.map((b) => b.find((i) => i.path.length === 0 && i.code === 'invalid_type')).map((i) => (i && i.code === 'invalid_type' ? typeName(i.expected) : undefined));
        if (kinds.every((k) => k !== undefined)) {
          this.report(at, `'${label}' must be ${orList((kinds as string[]).map((k) => (k === 'true or false' ? 'a boolean' : k)))}, not ${describeValue(value)}`);
          return;
        }
        break;
      }
      case 'invalid_type': {
        if (this.yf.node(at) === undefined && value === undefined && rel.length > 0) {
          if (!this.suggested.has(at.join('\0'))) this.report(at, `missing field '${label}'`);
        } else if (rel.length === 0 && stage !== undefined) {
          this.report(at, `stage '${stage}' must be a mapping of fields (cmd, deps, outs, …), not ${describeValue(value)}`, { key: true });
        } else {
          const hint = issue.expected === 'array' && typeof value === 'string' ? ` (write ${String(rel[rel.length - 1])}: [${value}])` : '';
          this.report(at, `'${label}' must be ${typeName(issue.expected)}, not ${describeValue(value)}${hint}`);
        }
        return;
      }
      case 'too_small':
        if (issue.message.startsWith('Too small') && issue.origin === 'number') {
          this.report(at, `'${label}' must be at least ${String(issue.minimum)}, not ${describeValue(value)}`);
          return;
        }
        if (issue.message.startsWith('Too small') && (issue.origin === 'string' || issue.origin === 'array') && Number(issue.minimum) === 1) {
          this.report(at, `'${label}' cannot be empty`);
          return;
        }
        break;
      case 'invalid_format':
        this.report(at, issue.message.startsWith('not ') ? `'${String(value)}' is ${issue.message}` : `${issue.message}: '${String(value)}'`);
        return;
      case 'custom':
        if (rel.length === 0 && stage !== undefined && raw !== null && typeof raw === 'object') {
          const r = raw as Record<string, unknown>;
          if (r.cmd !== undefined && r.uses !== undefined) {
            this.report([...at, 'uses'], `stage '${stage}' has both \`cmd\` and \`uses\`: a stage runs either a command (\`cmd\`) or a built-in stage (\`uses\`)`, { key: true });
            return;
          }
          if (r.cmd === undefined && r.uses === undefined) {
            this.report(at, `stage '${stage}' has neither \`cmd\` (a command to run) nor \`uses\` (a built-in stage)`, { key: true });
            return;
          }
        }
        break;
      default:
        break;
    }
    this.report(at, issue.message);
  }

  async run(): Promise<LoadResult> {
    const raw = this.yf.toJS();
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.report([], 'pipeline.yaml must be a mapping with a `stages:` key');
      return { ok: false, diagnostics: this.diags };
    }
    // Validate the top level without the stages, then each stage on its own, so that one bad
    // stage does not hide the problems of the others.
    const rawObj = raw as Record<string, unknown>;
    const stageKey = (PipelineSchema.shape.stages as unknown as { def: { keyType: z.ZodType } }).def.keyType;
    const top = PipelineSchema.extend({ stages: z.record(stageKey as z.ZodString, z.unknown()) }).safeParse(rawObj);
    if (!top.success) this.zodIssues(top.error, [], rawObj);
    this.slurmDefaults = top.success ? top.data.slurm : undefined;
    const remotes = top.success ? top.data.remotes : {};
    const defaultRemote = top.success ? top.data.default_remote : undefined;
    if (defaultRemote !== undefined && !(defaultRemote in remotes)) {
      const names = Object.keys(remotes);
      this.report(['default_remote'], `default_remote '${defaultRemote}' is not one of the remotes${names.length ? ` (${names.join(', ')})` : ' (there is no `remotes:` section)'}`);
    }
    const paramFiles = top.success ? top.data.params : Array.isArray(rawObj.params) ? rawObj.params.filter((p): p is string => typeof p === 'string') : [];
    const { params, diagnostics: pds } = loadParams(this.root, paramFiles, this.display, (i, message) => this.yf.diag(['params', i], message));
    this.diags.push(...pds);
    // Keys of a params file that could not be read are unknown: don't report every use of them.
    this.paramsIncomplete = pds.length > 0;
    const stagesRaw = rawObj.stages;
    if (stagesRaw === undefined) {
      if (top.success) this.report([], 'missing field `stages`');
      return { ok: false, diagnostics: this.diags };
    }
    if (stagesRaw === null || typeof stagesRaw !== 'object' || Array.isArray(stagesRaw)) return { ok: false, diagnostics: this.diags };

    const configs = new Map<string, StageConfig>();
    // Stages with schema problems, minus the offending fields: still checked for the rest, so
    // that all problems are reported at once, but never part of the graph.
    const salvaged = new Map<string, { cfg: StageConfig; broken: BrokenMatrix }>();
    for (const [name, cfg] of Object.entries(stagesRaw as Record<string, unknown>)) {
      if (!STAGE_NAME_RE.test(name)) continue; // reported by the top-level schema
      const r = StageSchema.safeParse(cfg ?? {});
      if (!r.success) {
        this.zodIssues(r.error, ['stages', name], cfg ?? {});
        configs.set(name, undefined as unknown as StageConfig); // known name, invalid body
        const s = salvage(cfg, r.error.issues);
        if (s) salvaged.set(name, s);
        continue;
      }
      configs.set(name, r.data);
    }

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
    this.checkNeedsNames(new Map([...configs].map(([name, cfg]) => [name, cfg ?? salvaged.get(name)?.cfg] as [string, StageConfig])));
    this.checkOutputs(instances);
    this.linkNeeds(stages, instances);
    this.linkDeps(instances);
    const order = this.topoOrder(stages, instances);
    if (order) this.runStageChecks(stages, instances);
    if (this.diags.length > 0 || !order) return { ok: false, diagnostics: this.diags };

    const downstream = new Map<string, string[]>();
    for (const id of order) downstream.set(id, []);
    for (const id of order) for (const u of instances.get(id)!.upstream) downstream.get(u.id)!.push(id);
    return { ok: true, pipeline: { root: this.root, file: this.file, params, stages, instances, order, downstream, remotes, defaultRemote } };
  }

  /** Matrix expansion and interpolation of one stage. */
  private async expand(name: string, cfg: StageConfig, params: ParamsSet, broken: BrokenMatrix = { axes: new Set(), all: false }): Promise<StageInstance[]> {
    const base: YamlPath = ['stages', name];
    const before = this.diags.length;
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
      const outs = pathsAt(cfg.outs, 'outs');
      const metrics = pathsAt(cfg.metrics, 'metrics');
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(cfg.env)) env[k] = typeof v === 'string' ? String(resolveAt(v, [...base, 'env', k])) : String(v);
      // sbatch settings are interpolated like the rest, but what they use is not recorded as a
      // param of the stage: where it runs must not change its fingerprint.
      const slurm: Record<string, string | string[]> = {};
      const lookupQuiet = (ref: string) => (ref === 'item' || ref.startsWith('item.') ? lookup(ref) : this.lookupParam(params, ref));
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
      for (let i = 0; i < cfg.params.length; i++) {
        const key = cfg.params[i]!;
        const r = this.lookupParam(params, key);
        if (!r.ok) {
          if (firstInstance) this.report([...base, 'params', i], r.message);
        } else used.set(key, r.value);
      }
      if (builtin && firstInstance) {
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
      if (builtin) {
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
      const sortedParams: Record<string, unknown> = {};
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
    return this.diags.length > before ? [] : out;
  }

  /**
   * The stages' own checks (StageDefinition.check): references to other instances in `with:` and
   * what those were built with. A place with problems in several instances is reported once.
   */
  private runStageChecks(stages: Map<string, StageGroup>, instances: Map<string, StageInstance>): void {
    const info = (inst: StageInstance): UpstreamInfo => ({
      id: inst.id,
      stage: inst.stage,
      item: inst.item,
      kind: inst.kind,
      uses: inst.uses,
      with: inst.kind === 'builtin' ? inst.with : undefined,
      outputs: inst.kind === 'cmd' ? inst.outs : (inst.builtin?.def.outputs ?? []),
      upstream: inst.upstream.map((u) => u.id),
    });
    const instance = (id: string) => {
      const inst = instances.get(id);
      return inst ? info(inst) : undefined;
    };
    for (const group of stages.values()) {
      const seen = new Set<string>();
      for (const id of group.instances) {
        const inst = instances.get(id)!;
        const def = inst.builtin?.def;
        if (!def?.check) continue;
        const parsed = def.params.safeParse(inst.with);
        if (!parsed.success) continue; // reported already
        const problems = def.check({ id, params: parsed.data, item: inst.item, upstream: inst.upstream.map((u) => info(instances.get(u.id)!)), instance });
        for (const pr of problems) {
          const key = pr.path.join('\0'); // once per place: the first instance's message shows it
          if (seen.has(key)) continue;
          seen.add(key);
          const at: YamlPath = ['stages', group.name, 'with', ...pr.path];
          this.report(at, group.instances.length > 1 ? `${pr.message} (in ${inst.id})` : pr.message);
        }
      }
    }
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

  private checkNeedsNames(configs: Map<string, StageConfig>): void {
    const names = [...configs.keys()];
    for (const [name, cfg] of configs) {
      if (!cfg) continue;
      cfg.needs.forEach((need, i) => {
        const target = typeof need === 'string' ? need : need.stage;
        const at: YamlPath = typeof need === 'string' ? ['stages', name, 'needs', i] : ['stages', name, 'needs', i, 'stage'];
        if (!configs.has(target)) {
          const near = closest(target, names);
          this.report(at, `unknown stage '${target}' in needs${near ? `; did you mean '${near}'?` : ''}`);
        } else if (target === name) this.report(at, `stage '${name}' cannot need itself`);
      });
    }
  }

  /** Two instances may not write one path, nor one write inside the other's folder. */
  private checkOutputs(instances: Map<string, StageInstance>): void {
    const owners: { path: string; id: string }[] = [];
    for (const inst of instances.values()) for (const o of inst.outs) owners.push({ path: o, id: inst.id });
    // Sort with '/' first, so that everything inside a folder directly follows it ('data',
    // 'data/x', 'data-raw'; a plain sort puts 'data-raw' and 'data.csv' in between).
    const sortKey = (p: string) => p.replace(/\//g, '\0');
    owners.sort((a, b) => (sortKey(a.path) < sortKey(b.path) ? -1 : sortKey(a.path) > sortKey(b.path) ? 1 : 0));
    const reported = new Set<string>();
    for (let i = 0; i < owners.length; i++) {
      for (let j = i + 1; j < owners.length; j++) {
        const a = owners[i]!;
        const b = owners[j]!;
        if (!(b.path === a.path || b.path.startsWith(a.path + '/'))) break;
        if (a.id === b.id && a.path !== b.path) continue;
        const instB = instances.get(b.id)!;
        const key = `${instB.stage}\0${a.path}\0${b.path}`;
        if (reported.has(key)) continue;
        reported.add(key);
        if (a.id === b.id) {
          this.report(['stages', instB.stage, 'outs', instB.outs.lastIndexOf(b.path)], `output '${b.path}' is listed twice`);
          continue;
        }
        const idx = instB.outs.indexOf(b.path);
        const what = a.path === b.path ? `output '${b.path}' is also written by '${a.id}'` : `output '${b.path}' lies inside '${a.path}', an output of '${a.id}'`;
        const hint = a.id !== b.id && instB.stage === instances.get(a.id)!.stage ? ' (matrix instances need distinct outputs: use ${item.<key>} in the path)' : '';
        this.report(['stages', instB.stage, 'outs', idx], what + hint);
      }
    }
  }

  private linkNeeds(stages: Map<string, StageGroup>, instances: Map<string, StageInstance>): void {
    for (const group of stages.values()) {
      group.config.needs.forEach((need: NeedConfig, i) => {
        const target = typeof need === 'string' ? need : need.stage;
        const up = stages.get(target);
        if (!up || target === group.name) return;
        const upKeys = Object.keys(up.config.matrix ?? {});
        const myKeys = Object.keys(group.config.matrix ?? {});
        let on: string[];
        if (typeof need !== 'string' && need.on) {
          on = need.on;
          on.forEach((k, j) => {
            const lacking = [group.name, target].filter((s, n) => !(n === 0 ? myKeys : upKeys).includes(k));
            if (lacking.length) this.report(['stages', group.name, 'needs', i, 'on', j], `cannot pair on '${k}': ${lacking.map((s) => `'${s}'`).join(' and ')} ${lacking.length === 1 ? 'has' : 'have'} no matrix key '${k}'`);
          });
        } else on = myKeys.filter((k) => upKeys.includes(k));
        for (const id of group.instances) {
          const inst = instances.get(id)!;
          for (const upId of up.instances) {
            const upInst = instances.get(upId)!;
            if (on.every((k) => String(upInst.item[k]) === String(inst.item[k]))) inst.upstream.push({ id: upId, via: 'needs' });
          }
        }
      });
    }
  }

  /** A dep path that another instance writes (or lies inside one of its output folders) is an edge. */
  private linkDeps(instances: Map<string, StageInstance>): void {
    const writer = new Map<string, string>();
    const ownOutputReported = new Set<string>();
    for (const inst of instances.values()) for (const o of inst.outs) writer.set(o, inst.id);
    const sortedOuts = [...writer.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const inst of instances.values()) {
      for (const dep of inst.deps) {
        let p = dep;
        for (;;) {
          const w = writer.get(p);
          if (w !== undefined) {
            if (w !== inst.id && !inst.upstream.some((u) => u.id === w)) inst.upstream.push({ id: w, via: 'deps' });
            const at: YamlPath = ['stages', inst.stage, 'deps', inst.deps.indexOf(dep)];
            if (w === inst.id && !ownOutputReported.has(at.join('\0'))) {
              ownOutputReported.add(at.join('\0'));
              this.report(at, `stage '${inst.stage}' depends on its own output '${dep}'`);
            }
            break;
          }
          const slash = p.lastIndexOf('/');
          if (slash <= 0) break;
          p = p.slice(0, slash);
        }
        // A dep on a folder holding other stages' outputs reads them too.
        for (const w of writersInside(sortedOuts, dep)) {
          if (w !== inst.id && !inst.upstream.some((u) => u.id === w)) inst.upstream.push({ id: w, via: 'deps' });
        }
      }
    }
  }

  /** Kahn's algorithm in declaration order; a cycle is reported with its path. */
  private topoOrder(stages: Map<string, StageGroup>, instances: Map<string, StageInstance>): string[] | undefined {
    const indeg = new Map<string, number>();
    const down = new Map<string, string[]>();
    const ids = [...stages.values()].flatMap((g) => g.instances);
    for (const id of ids) {
      indeg.set(id, 0);
      down.set(id, []);
    }
    for (const id of ids) {
      for (const u of instances.get(id)!.upstream) {
        indeg.set(id, indeg.get(id)! + 1);
        down.get(u.id)!.push(id);
      }
    }
    const position = new Map(ids.map((id, i) => [id, i]));
    // A binary heap keyed on declaration position keeps the order stable and O(n log n).
    const heap: number[] = [];
    const push = (i: number) => {
      heap.push(i);
      let c = heap.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (heap[p]! <= heap[c]!) break;
        [heap[p], heap[c]] = [heap[c]!, heap[p]!];
        c = p;
      }
    };
    const pop = (): number => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length) {
        heap[0] = last;
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          const r = l + 1;
          let m = c;
          if (l < heap.length && heap[l]! < heap[m]!) m = l;
          if (r < heap.length && heap[r]! < heap[m]!) m = r;
          if (m === c) break;
          [heap[m], heap[c]] = [heap[c]!, heap[m]!];
          c = m;
        }
      }
      return top;
    };
    for (const id of ids) if (indeg.get(id) === 0) push(position.get(id)!);
    const order: string[] = [];
    while (heap.length) {
      const id = ids[pop()]!;
      order.push(id);
      for (const d of down.get(id)!) {
        const n = indeg.get(d)! - 1;
        indeg.set(d, n);
        if (n === 0) push(position.get(d)!);
      }
    }
    if (order.length === ids.length) return order;
    this.reportCycle(instances, ids.filter((id) => indeg.get(id)! > 0));
    return undefined;
  }

  private reportCycle(instances: Map<string, StageInstance>, remaining: string[]): void {
    const left = new Set(remaining);
    // Walk upstream edges inside the remaining set until a node repeats: that is a cycle.
    let cur = remaining[0]!;
    const seen = new Map<string, number>();
    const walk: string[] = [];
    while (!seen.has(cur)) {
      seen.set(cur, walk.length);
      walk.push(cur);
      cur = instances.get(cur)!.upstream.find((u) => left.has(u.id))!.id;
    }
    const found = walk.slice(seen.get(cur)!).reverse();
    // Start the path at the stage declared first, as the reader meets them in pipeline.yaml.
    const pos = new Map([...instances.keys()].map((id, i) => [id, i]));
    const start = found.reduce((best, id, i) => (pos.get(id)! < pos.get(found[best]!)! ? i : best), 0);
    const cycle = [...found.slice(start), ...found.slice(0, start)];
    const stageCycle = cycle.map((id) => instances.get(id)!.stage);
    const text = [...stageCycle, stageCycle[0]].join(' → ');
    const first = instances.get(cycle[0]!)!;
    const nextId = cycle[1 % cycle.length]!;
    const edge = instances.get(nextId)!.upstream.find((u) => u.id === first.id)!;
    const nextStage = instances.get(nextId)!.stage;
    const nextInst = instances.get(nextId)!;
    if (edge.via === 'deps') {
      const idx = nextInst.deps.findIndex((d) => first.outs.some((o) => d === o || d.startsWith(o + '/') || o.startsWith(d + '/')));
      const why = idx >= 0 ? ` ('${nextStage}' reads '${nextInst.deps[idx]}', which '${first.stage}' writes)` : '';
      this.report(['stages', nextStage, 'deps', Math.max(0, idx)], `dependency cycle: ${text}${why}`);
    } else {
      const cfgNeeds = this.yf.toJS() as { stages: Record<string, { needs?: (string | { stage: string })[] }> };
      const needs = cfgNeeds.stages[nextStage]?.needs ?? [];
      const idx = needs.findIndex((n) => (typeof n === 'string' ? n : n.stage) === first.stage);
      this.report(['stages', nextStage, 'needs', Math.max(0, idx)], `dependency cycle: ${text}`);
    }
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

function unknownKeysFirst(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return [...issues.filter((i) => i.code === 'unrecognized_keys'), ...issues.filter((i) => i.code !== 'unrecognized_keys')];
}

function knownKeys(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown>; def?: { in?: { shape?: Record<string, unknown> } } }).shape ??
    (schema as unknown as { def?: { schema?: { shape?: Record<string, unknown> } } }).def?.schema?.shape;
  return shape ? Object.keys(shape) : [];
}

/** The fields allowed in the mapping at `rel` below `base` (the top level or a stage). */
function knownKeysAt(base: YamlPath, rel: (string | number)[]): string[] {
  if (base.length === 0) return rel[0] === 'slurm' ? knownKeys(SlurmSchema) : knownKeys(PipelineSchema);
  if (rel.length === 0) return knownKeys(StageSchema);
  if (rel[0] === 'resources') return knownKeys(ResourcesSchema);
  if (rel[0] === 'slurm') return knownKeys(SlurmSchema);
  if (rel[0] === 'needs') return ['stage', 'on'];
  return [];
}

/** Matrix axes dropped because of schema problems (`all`: the whole matrix). */
interface BrokenMatrix {
  axes: Set<string>;
  all: boolean;
}

/**
 * A stage config without the fields that failed the schema, if what is left is a valid stage.
 * Lists are dropped whole, so that positions of what remains stay right.
 */
function salvage(raw: unknown, issues: z.core.$ZodIssue[]): { cfg: StageConfig; broken: BrokenMatrix } | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const copy: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const broken: BrokenMatrix = { axes: new Set(), all: false };
  for (const issue of issues) {
    const [first, second] = issue.path;
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) for (const k of issue.keys) delete copy[k];
    else if (first === undefined) continue;
    else if (first === 'matrix' && second !== undefined && copy.matrix !== null && typeof copy.matrix === 'object' && !Array.isArray(copy.matrix)) {
      const m = { ...(copy.matrix as Record<string, unknown>) };
      delete m[String(second)];
      copy.matrix = m;
      broken.axes.add(String(second));
    } else {
      if (first === 'matrix') broken.all = true;
      delete copy[String(first)];
    }
  }
  const r = StageSchema.safeParse(copy);
  return r.success ? { cfg: r.data, broken } : undefined;
}

function valueAt(raw: unknown, rel: (string | number)[]): unknown {
  let cur = raw;
  for (const seg of rel) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** `resources.gpu`, `needs[0].stage`: a path as the user would write it. */
function fieldLabel(rel: (string | number)[]): string {
  return rel.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    array: 'a list',
    object: 'a mapping',
    record: 'a mapping',
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

function orList(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return 'a string';
  return String(v);
}

/** Writers of the outputs that lie inside folder `dir` (binary search over sorted paths). */
function writersInside(sorted: [string, string][], dir: string): string[] {
  const prefix = dir === '.' ? '' : `${dir}/`;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]![0] < prefix) lo = mid + 1;
    else hi = mid;
  }
  const out: string[] = [];
  for (let i = lo; i < sorted.length && sorted[i]![0].startsWith(prefix); i++) out.push(sorted[i]![1]);
  return out;
}
