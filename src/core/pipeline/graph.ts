/**
 * The pipeline as a graph: needs that name stages, outputs that do not collide, the edges
 * (`needs` pairing by matrix keys, and `deps` on paths another stage writes), a topological
 * order or the cycle that prevents one, and the stages' own checks of the instances around them.
 */
import type { StageConfig, NeedConfig } from './schema.js';
import type { StageGroup, StageInstance } from './model.js';
import type { UpstreamInfo } from '../stage/api.js';
import type { YamlPath } from './yamlfile.js';
import { closest } from '../util/closest.js';
import type { Problems } from './problems.js';

export class PipelineGraph {
  constructor(private readonly p: Problems) {}

  /**
   * The stages' own checks (StageDefinition.check): references to other instances in `with:` and
   * what those were built with. A place with problems in several instances is reported once.
   */
  runStageChecks(stages: Map<string, StageGroup>, instances: Map<string, StageInstance>): void {
    const info = (inst: StageInstance): UpstreamInfo => ({
      id: inst.id,
      stage: inst.stage,
      item: inst.item,
      kind: inst.kind,
      uses: inst.uses,
      with: inst.kind === 'builtin' ? inst.with : undefined,
      outputs: inst.kind === 'cmd' ? inst.outs.map((o) => inst.outAs[o] ?? o) : (inst.builtin?.def.outputs ?? []),
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
          this.p.report(at, group.instances.length > 1 ? `${pr.message} (in ${inst.id})` : pr.message);
        }
      }
    }
  }

  checkNeedsNames(configs: Map<string, StageConfig>): void {
    const names = [...configs.keys()];
    for (const [name, cfg] of configs) {
      if (!cfg) continue;
      cfg.needs.forEach((need, i) => {
        const target = typeof need === 'string' ? need : need.stage;
        const at: YamlPath = typeof need === 'string' ? ['stages', name, 'needs', i] : ['stages', name, 'needs', i, 'stage'];
        if (!configs.has(target)) {
          const near = closest(target, names);
          this.p.report(at, `unknown stage '${target}' in needs${near ? `; did you mean '${near}'?` : ''}`);
        } else if (target === name) this.p.report(at, `stage '${name}' cannot need itself`);
      });
    }
  }

  /** Two instances may not write one path, nor one write inside the other's folder. */
  checkOutputs(instances: Map<string, StageInstance>): void {
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
          this.p.report(['stages', instB.stage, 'outs', instB.outs.lastIndexOf(b.path)], `output '${b.path}' is listed twice`);
          continue;
        }
        const idx = instB.outs.indexOf(b.path);
        const what = a.path === b.path ? `output '${b.path}' is also written by '${a.id}'` : `output '${b.path}' lies inside '${a.path}', an output of '${a.id}'`;
        const hint = a.id !== b.id && instB.stage === instances.get(a.id)!.stage ? ' (matrix instances need distinct outputs: use ${item.<key>} in the path)' : '';
        this.p.report(['stages', instB.stage, 'outs', idx], what + hint);
      }
    }
  }

  linkNeeds(stages: Map<string, StageGroup>, instances: Map<string, StageInstance>): void {
    for (const group of stages.values()) {
      group.config!.needs.forEach((need: NeedConfig, i) => {
        const target = typeof need === 'string' ? need : need.stage;
        const up = stages.get(target);
        if (!up || target === group.name) return;
        const upKeys = Object.keys(up.config!.matrix ?? {});
        const myKeys = Object.keys(group.config!.matrix ?? {});
        let on: string[];
        if (typeof need !== 'string' && need.on) {
          on = need.on;
          on.forEach((k, j) => {
            const lacking = [group.name, target].filter((s, n) => !(n === 0 ? myKeys : upKeys).includes(k));
            if (lacking.length) this.p.report(['stages', group.name, 'needs', i, 'on', j], `cannot pair on '${k}': ${lacking.map((s) => `'${s}'`).join(' and ')} ${lacking.length === 1 ? 'has' : 'have'} no matrix key '${k}'`);
          });
        } else on = myKeys.filter((k) => upKeys.includes(k));
        const where = Object.entries((typeof need !== 'string' && need.where) || {});
        for (const [k, v] of where) {
          if (!upKeys.includes(k)) this.p.report(['stages', group.name, 'needs', i, 'where', k], `'${target}' has no matrix key '${k}'${upKeys.length ? ` (its keys: ${upKeys.join(', ')})` : ''}`);
          else if (!up.instances.some((u) => String(instances.get(u)!.item[k]) === String(v))) this.p.report(['stages', group.name, 'needs', i, 'where', k], `no instance of '${target}' has ${k}=${String(v)}`);
        }
        for (const id of group.instances) {
          const inst = instances.get(id)!;
          for (const upId of up.instances) {
            const upInst = instances.get(upId)!;
            if (!on.every((k) => String(upInst.item[k]) === String(inst.item[k]))) continue;
            if (!where.every(([k, v]) => String(upInst.item[k]) === String(v))) continue;
            // Two needs entries on one stage (paired, and a reference picked by `where`) make one edge each.
            if (!inst.upstream.some((u) => u.id === upId)) inst.upstream.push({ id: upId, via: 'needs' });
          }
        }
      });
    }
  }

  /** A dep path that another instance writes (or lies inside one of its output folders) is an edge. */
  linkDeps(instances: Map<string, StageInstance>): void {
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
              this.p.report(at, `stage '${inst.stage}' depends on its own output '${dep}'`);
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
  topoOrder(stages: Map<string, StageGroup>, instances: Map<string, StageInstance>): string[] | undefined {
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
      this.p.report(['stages', nextStage, 'deps', Math.max(0, idx)], `dependency cycle: ${text}${why}`);
    } else {
      const cfgNeeds = this.p.yf.toJS() as { stages: Record<string, { needs?: (string | { stage: string })[] }> };
      const needs = cfgNeeds.stages[nextStage]?.needs ?? [];
      const idx = needs.findIndex((n) => (typeof n === 'string' ? n : n.stage) === first.stage);
      this.p.report(['stages', nextStage, 'needs', Math.max(0, idx)], `dependency cycle: ${text}`);
    }
  }
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
