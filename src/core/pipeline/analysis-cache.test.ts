import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Pipeline, StageInstance } from './model.js';
import { REPO, tempProject, type TempProject } from '../../../test/helpers.js';

// The built modules: a saved analysis is checked against the analyzer's own compiled code
// (dist/), which the sources run by vitest are not.
const dist = (rel: string) => path.join(REPO, 'dist', 'src', 'core', rel);
const { loadPipeline } = (await import(dist('pipeline/load.js'))) as typeof import('./load.js');
const { loadAnalysis } = (await import(dist('pipeline/analysis-cache.js'))) as typeof import('./analysis-cache.js');
const { StatCache } = (await import(dist('hash/statcache.js'))) as typeof import('../hash/statcache.js');

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const FILES = {
  'params.yaml': 'audio: { rate: 16000 }\nseeds: [1, 2]\ncluster: { partition: gpu }\n',
  'stages/echo.mjs': 'export const stage = { version: 1, params: { safeParse: (v) => ({ success: true, data: { ...v, checked: true } }) }, outputs: ["table"], run() {} };\n',
  'pipeline.yaml': `
params: [params.yaml]
slurm: { partition: "\${cluster.partition}" }
stages:
  prepare:
    cmd: mkdir -p data && echo \${audio.rate} > data/rate.txt
    outs: [data/rate.txt]
    env: { RATE: "\${audio.rate}" }
  train:
    matrix: { seed: "\${seeds}" }
    cmd: "echo \${item.seed} > out/m-\${item.seed}.txt && echo '{\\"acc\\": 1}' > out/acc-\${item.seed}.json"
    deps: [data/rate.txt]
    outs: ["out/m-\${item.seed}.txt"]
    metrics: ["out/acc-\${item.seed}.json"]
    resources: { gpu: 1 }
    slurm: { time: "1:00:00" }
  summary:
    uses: ./stages/echo.mjs
    needs: [train]
    with: { rate: "\${audio.rate}" }
`,
};

/** A pipeline as plain data, its modules by path (what can be compared across loads). */
function plain(pl: Pipeline) {
  const inst = (i: StageInstance) => ({ ...i, builtin: i.builtin && { modulePath: i.builtin.modulePath, isBuiltin: i.builtin.isBuiltin, version: i.builtin.def.version } });
  return {
    root: pl.root,
    file: pl.file,
    params: { values: pl.params.values, files: pl.params.files },
    stages: [...pl.stages.values()].map((g) => [g.name, g.instances]),
    instances: [...pl.instances.values()].map(inst),
    order: pl.order,
    downstream: [...pl.downstream.entries()],
    remotes: pl.remotes,
    defaultRemote: pl.defaultRemote,
  };
}

async function analyse(): Promise<{ fresh: Pipeline; cacheFile: string; stats: InstanceType<typeof StatCache>; pipelineFile: string }> {
  p = tempProject(FILES);
  const pipelineFile = path.join(p.dir, 'pipeline.yaml');
  const cacheFile = path.join(p.dir, 'analysis.json');
  const stats = await StatCache.open(undefined);
  const r = await loadPipeline(pipelineFile, { analysisCache: { file: cacheFile, stats } });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return { fresh: r.pipeline, cacheFile, stats, pipelineFile };
}

describe('the saved analysis', () => {
  it('gives back the pipeline the analysis made: every instance field, stages, order, downstream edges', async () => {
    const { fresh, cacheFile, stats, pipelineFile } = await analyse();
    const again = await loadAnalysis(cacheFile, pipelineFile, stats, {});
    expect(again).toBeDefined();
    expect(plain(again!)).toEqual(plain(fresh));
    // Empty fields are restored as fresh values, not shared between instances.
    const [a, b] = [again!.instances.get('train@seed=1')!, again!.instances.get('train@seed=2')!];
    expect(again!.instances.get('summary')!.deps).toEqual([]);
    expect(again!.instances.get('summary')!.deps).not.toBe(again!.instances.get('prepare')!.item);
    expect(a.outAs).not.toBe(b.outAs);
    // The module is loaded again (not kept as data).
    expect(typeof again!.instances.get('summary')!.builtin!.def.run).toBe('function');
  });

  it('leaves empty fields and stage configs out of the file', async () => {
    const { cacheFile } = await analyse();
    const saved = JSON.parse(readFileSync(cacheFile, 'utf8')) as { instances: Record<string, unknown>[]; stages: unknown[] };
    const summary = saved.instances.find((i) => i.id === 'summary')!;
    expect(Object.keys(summary)).not.toContain('deps');
    expect(Object.keys(summary)).not.toContain('metrics');
    expect(Object.keys(saved.instances.find((i) => i.id === 'train@seed=1')!)).toContain('metrics');
    expect(saved.stages[0]).toEqual(['prepare', ['prepare']]);
  });

  it('is not used when a file it came from changed, or when another installation of conno made it', async () => {
    const { cacheFile, stats, pipelineFile } = await analyse();
    const text = readFileSync(cacheFile, 'utf8');
    const saved = JSON.parse(text) as { analyzer: string; format: number };
    writeFileSync(cacheFile, JSON.stringify({ ...saved, analyzer: '/elsewhere/node_modules/conno/dist/src/core/pipeline' }));
    expect(await loadAnalysis(cacheFile, pipelineFile, stats, {})).toBeUndefined();
    writeFileSync(cacheFile, JSON.stringify({ ...saved, format: saved.format - 1 }));
    expect(await loadAnalysis(cacheFile, pipelineFile, stats, {})).toBeUndefined();
    writeFileSync(cacheFile, text);
    expect(await loadAnalysis(cacheFile, pipelineFile, stats, {})).toBeDefined();
    p!.write('params.yaml', 'audio: { rate: 8000 }\nseeds: [1, 2]\ncluster: { partition: gpu }\n');
    expect(await loadAnalysis(cacheFile, pipelineFile, stats, {})).toBeUndefined();
  });
});
