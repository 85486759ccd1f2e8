import { afterEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadPipeline } from './load.js';
import { formatDiagnostics } from '../util/diagnostics.js';
import type { Pipeline } from './model.js';
import { tempProject, type TempProject } from '../../../test/helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

async function load(files: Record<string, string>): Promise<Pipeline> {
  p = tempProject(files);
  const dir = p.dir;
  const r = await loadPipeline(path.join(dir, 'pipeline.yaml'), { display: (abs) => path.relative(dir, abs) });
  if (!r.ok) throw new Error(`expected the pipeline to load:\n${formatDiagnostics(r.diagnostics)}`);
  return r.pipeline;
}

async function problems(files: Record<string, string>): Promise<string[]> {
  p = tempProject(files);
  const dir = p.dir;
  const r = await loadPipeline(path.join(dir, 'pipeline.yaml'), { display: (abs) => path.relative(dir, abs) });
  if (r.ok) throw new Error('expected problems');
  return r.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`);
}

const upstream = (pl: Pipeline, id: string) => pl.instances.get(id)!.upstream;
const upIds = (pl: Pipeline, id: string) => upstream(pl, id).map((u) => u.id);

describe('matrix expansion', () => {
  it('expands axes in declaration order, later axes varying fastest, with typed items and ids', async () => {
    const pl = await load({
      'pipeline.yaml': `
stages:
  train:
    matrix:
      noise: [0.1, 0.2]
      seed: [1, 2]
      arch: [cnn]
    cmd: python train.py --noise \${item.noise} --seed \${item.seed} --arch \${item.arch}
    outs: ["models/\${item.arch}-\${item.noise}-\${item.seed}"]
`,
    });
    expect(pl.stages.get('train')!.instances).toEqual([
      'train@noise=0.1,seed=1,arch=cnn',
      'train@noise=0.1,seed=2,arch=cnn',
      'train@noise=0.2,seed=1,arch=cnn',
      'train@noise=0.2,seed=2,arch=cnn',
    ]);
    const inst = pl.instances.get('train@noise=0.2,seed=1,arch=cnn')!;
    expect(inst.item).toEqual({ noise: 0.2, seed: 1, arch: 'cnn' });
    expect(inst.cmd).toBe('python train.py --noise 0.2 --seed 1 --arch cnn');
    expect(inst.outs).toEqual(['models/cnn-0.2-1']);
    expect(inst.stage).toBe('train');
    expect(inst.kind).toBe('cmd');
    expect(pl.order).toEqual(pl.stages.get('train')!.instances);
  });

  it('gives `train@noise=0.2,seed=1` for a two-axis matrix and booleans as true/false', async () => {
    const pl = await load({
      'pipeline.yaml': `
stages:
  train:
    matrix: { noise: [0.2], seed: [1], augment: [true, false] }
    cmd: "python train.py \${item.augment}"
`,
    });
    expect([...pl.instances.keys()]).toEqual(['train@noise=0.2,seed=1,augment=true', 'train@noise=0.2,seed=1,augment=false']);
    expect(pl.instances.get('train@noise=0.2,seed=1,augment=false')!.cmd).toBe('python train.py false');
  });

  it('takes an axis from a params list with `${key}`', async () => {
    const pl = await load({
      'params.yaml': 'train:\n  seeds: [3, 1, 2]\nnoise:\n  snr_db: [0, 10]\n',
      'pipeline.yaml': `
params: [params.yaml]
stages:
  train:
    matrix:
      snr: "\${noise.snr_db}"
      seed: \${train.seeds}
    cmd: python train.py --seed \${item.seed} --snr \${item.snr}
`,
    });
    expect(pl.stages.get('train')!.instances).toEqual(['train@snr=0,seed=3', 'train@snr=0,seed=1', 'train@snr=0,seed=2', 'train@snr=10,seed=3', 'train@snr=10,seed=1', 'train@snr=10,seed=2']);
    expect(pl.instances.get('train@snr=10,seed=1')!.cmd).toBe('python train.py --seed 1 --snr 10');
    // The matrix axis params are not params of the stage: its item values are in its id.
    expect(pl.instances.get('train@snr=10,seed=1')!.params).toEqual({});
  });

  it('a stage without matrix has one instance named like the stage', async () => {
    const pl = await load({ 'pipeline.yaml': 'stages:\n  prepare:\n    cmd: echo hi\n' });
    expect([...pl.instances.keys()]).toEqual(['prepare']);
    expect(pl.instances.get('prepare')!.item).toEqual({});
  });
});

describe('edges', () => {
  const grid = `
stages:
  train:
    matrix: { noise: [0.1, 0.2], seed: [1, 2] }
    cmd: python train.py
    outs: ["models/\${item.noise}/\${item.seed}"]
`;

  it('fans in: a stage without matrix needs every instance', async () => {
    const pl = await load({ 'pipeline.yaml': `${grid}  report:\n    needs: [train]\n    cmd: python report.py\n` });
    expect(upstream(pl, 'report')).toEqual([
      { id: 'train@noise=0.1,seed=1', via: 'needs' },
      { id: 'train@noise=0.1,seed=2', via: 'needs' },
      { id: 'train@noise=0.2,seed=1', via: 'needs' },
      { id: 'train@noise=0.2,seed=2', via: 'needs' },
    ]);
    expect(pl.downstream.get('train@noise=0.2,seed=2')).toEqual(['report']);
  });

  it('pairs instances on the matrix keys both stages share', async () => {
    const pl = await load({ 'pipeline.yaml': `${grid}  evaluate:\n    matrix: { seed: [1, 2] }\n    needs: [train]\n    cmd: python eval.py\n` });
    expect(upIds(pl, 'evaluate@seed=1')).toEqual(['train@noise=0.1,seed=1', 'train@noise=0.2,seed=1']);
    expect(upIds(pl, 'evaluate@seed=2')).toEqual(['train@noise=0.1,seed=2', 'train@noise=0.2,seed=2']);
  });

  it('pairs one to one when both stages have the same matrix', async () => {
    const pl = await load({ 'pipeline.yaml': `${grid}  evaluate:\n    matrix: { noise: [0.1, 0.2], seed: [1, 2] }\n    needs: [train]\n    cmd: python eval.py\n` });
    expect(upIds(pl, 'evaluate@noise=0.2,seed=1')).toEqual(['train@noise=0.2,seed=1']);
  });

  it('`on: []` fans in every instance; `on: [seed]` pairs on seed alone', async () => {
    const pl = await load({
      'pipeline.yaml': `${grid}  all:
    matrix: { noise: [0.1, 0.2], seed: [1, 2] }
    needs: [{ stage: train, on: [] }]
    cmd: echo all
  byseed:
    matrix: { noise: [0.1, 0.2], seed: [1, 2] }
    needs:
      - stage: train
        on: [seed]
    cmd: echo byseed
`,
    });
    expect(upIds(pl, 'all@noise=0.1,seed=1')).toEqual(['train@noise=0.1,seed=1', 'train@noise=0.1,seed=2', 'train@noise=0.2,seed=1', 'train@noise=0.2,seed=2']);
    expect(upIds(pl, 'byseed@noise=0.1,seed=2')).toEqual(['train@noise=0.1,seed=2', 'train@noise=0.2,seed=2']);
  });

  it('`where` picks a reference instance beside the paired one: one edge each, in order', async () => {
    const pl = await load({
      'pipeline.yaml': `${grid}  ev:
    matrix: { noise: [0.1, 0.2], seed: [1, 2] }
    needs: [train, { stage: train, on: [seed], where: { noise: 0.1 } }]
    cmd: echo ev
`,
    });
    expect(upIds(pl, 'ev@noise=0.2,seed=2')).toEqual(['train@noise=0.2,seed=2', 'train@noise=0.1,seed=2']);
    expect(upIds(pl, 'ev@noise=0.1,seed=1')).toEqual(['train@noise=0.1,seed=1']); // its own run is the reference
  });

  it('`where` on a key or a value the upstream does not have is a positioned error', async () => {
    const out = await problems({
      'pipeline.yaml': `${grid}  ev:
    matrix: { seed: [1, 2] }
    needs: [{ stage: train, where: { noise: 0.3 } }, { stage: train, where: { loss: ce } }]
    cmd: echo ev
`,
    });
    expect(out).toEqual([
      expect.stringMatching(/^pipeline\.yaml:\d+:\d+: no instance of 'train' has noise=0\.3$/),
      expect.stringMatching(/^pipeline\.yaml:\d+:\d+: 'train' has no matrix key 'loss' \(its keys: noise, seed\)$/),
    ]);
  });

  it('pairs matrix values by their text (1 in one stage meets "1" in the other)', async () => {
    const pl = await load({
      'pipeline.yaml': `
stages:
  a:
    matrix: { seed: [1, 2] }
    cmd: echo a
  b:
    matrix: { seed: ["1", "2"] }
    needs: [a]
    cmd: echo b
`,
    });
    expect(upIds(pl, 'b@seed=1')).toEqual(['a@seed=1']);
  });

  it('a dep inside another stage output folder is an edge (via deps); a sibling path is not', async () => {
    const pl = await load({
      'pipeline.yaml': `
stages:
  prepare:
    cmd: python prepare.py
    outs: [data/prepared]
  features:
    cmd: python features.py
    deps: [data/prepared/train.csv, data/prepared-old, features.py]
    outs: [data/features]
  exact:
    cmd: echo
    deps: [./data/features/]
`,
    });
    expect(upstream(pl, 'features')).toEqual([{ id: 'prepare', via: 'deps' }]);
    expect(upstream(pl, 'exact')).toEqual([{ id: 'features', via: 'deps' }]);
  });

  it('needs and a dep on the same stage make a single edge', async () => {
    const pl = await load({
      'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    outs: [x]\n  b:\n    needs: [a]\n    deps: [x/y]\n    cmd: echo\n',
    });
    expect(upstream(pl, 'b')).toEqual([{ id: 'a', via: 'needs' }]);
  });

  it('orders topologically, stable by declaration where free', async () => {
    const pl = await load({
      'pipeline.yaml': `
stages:
  report:
    needs: [train]
    cmd: echo report
  prepare:
    cmd: echo prepare
    outs: [data]
  train:
    matrix: { seed: [2, 1] }
    cmd: echo train
    deps: [data]
    outs: ["models/\${item.seed}"]
  lint:
    cmd: echo lint
`,
    });
    expect(pl.order).toEqual(['prepare', 'train@seed=2', 'train@seed=1', 'report', 'lint']);
    expect(pl.downstream.get('prepare')).toEqual(['train@seed=2', 'train@seed=1']);
    expect(pl.downstream.get('lint')).toEqual([]);
    expect([...pl.stages.keys()]).toEqual(['report', 'prepare', 'train', 'lint']);
  });
});

describe('params and interpolation', () => {
  const params = 'audio:\n  rate: 16000\n  seconds: 2\n  tones: [220, 440]\nfeatures:\n  n_mels: 64\n  hop: 160\nseed: 7\n';

  it('records the params a stage uses: explicit keys plus every key in ${…}, with values, sorted', async () => {
    const pl = await load({
      'params.yaml': params,
      'pipeline.yaml': `
params: [params.yaml]
stages:
  features:
    params: [features, seed]
    cmd: python features.py --rate \${audio.rate} --tones \${audio.tones}
    outs: ["out/\${audio.seconds}s"]
    env: { HOP: "\${features.hop}", FIXED: 3 }
`,
    });
    const inst = pl.instances.get('features')!;
    expect(inst.params).toEqual({ 'audio.rate': 16000, 'audio.seconds': 2, 'audio.tones': [220, 440], features: { n_mels: 64, hop: 160 }, 'features.hop': 160, seed: 7 });
    expect(Object.keys(inst.params)).toEqual(['audio.rate', 'audio.seconds', 'audio.tones', 'features', 'features.hop', 'seed']);
    expect(inst.cmd).toBe('python features.py --rate 16000 --tones 220 440');
    expect(inst.outs).toEqual(['out/2s']);
    expect(inst.env).toEqual({ HOP: '160', FIXED: '3' });
    expect(pl.params.values).toEqual({ audio: { rate: 16000, seconds: 2, tones: [220, 440] }, features: { n_mels: 64, hop: 160 }, seed: 7 });
    expect(pl.params.files).toEqual(['params.yaml']);
  });

  it('keeps `\\${…}` in a cmd for the shell', async () => {
    const pl = await load({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo \\${HOME} > out.txt\n' });
    expect(pl.instances.get('a')!.cmd).toBe('echo ${HOME} > out.txt');
    expect(pl.instances.get('a')!.params).toEqual({});
  });

  it('passes typed values to a stage module through `with` (a single reference keeps its type)', async () => {
    const pl = await load({
      'params.yaml': params,
      'stages/echo.mjs': 'export const stage = { version: 1, params: { safeParse: (v) => ({ success: true, data: { ...v, checked: true } }) }, outputs: [], run() {} };\n',
      'pipeline.yaml': `
params: [params.yaml]
stages:
  synth:
    matrix: { seed: [1] }
    uses: ./stages/echo.mjs
    with:
      rate: \${audio.rate}
      tones: "\${audio.tones}"
      label: "rate=\${audio.rate} seed=\${item.seed}"
      seed: \${item.seed}
      nested: { list: ["\${features.n_mels}", x] }
`,
    });
    const inst = pl.instances.get('synth@seed=1')!;
    expect(inst.kind).toBe('builtin');
    expect(inst.uses).toBe('./stages/echo.mjs');
    expect(inst.with).toEqual({ rate: 16000, tones: [220, 440], label: 'rate=16000 seed=1', seed: 1, nested: { list: [64, 'x'] }, checked: true });
    expect(inst.builtin?.isBuiltin).toBe(false);
    expect(inst.builtin?.modulePath).toBe(path.join(p!.dir, 'stages', 'echo.mjs'));
    expect(inst.params).toEqual({ 'audio.rate': 16000, 'audio.tones': [220, 440], 'features.n_mels': 64 });
  });

  it('merges shared settings with YAML merge keys (<<: *anchor); a key of its own wins', async () => {
    const pl = await load({
      'params.yaml': params,
      'stages/echo.mjs': 'export const stage = { version: 1, params: { safeParse: (v) => ({ success: true, data: v }) }, outputs: [], run() {} };\n',
      'pipeline.yaml': `
params: [params.yaml]
stages:
  a:
    uses: ./stages/echo.mjs
    with: &shared { rate: "\${audio.rate}", epochs: 3 }
  b:
    uses: ./stages/echo.mjs
    with:
      <<: *shared
      epochs: 5
      extra: true
`,
    });
    expect(pl.instances.get('a')!.with).toEqual({ rate: 16000, epochs: 3 });
    expect(pl.instances.get('b')!.with).toEqual({ rate: 16000, epochs: 5, extra: true });
    expect(pl.instances.get('b')!.params).toEqual({ 'audio.rate': 16000 });
  });
});

describe('paths and defaults', () => {
  it('normalises paths to posix, relative to the project, without ./ or a trailing slash', async () => {
    const pl = await load({
      'pipeline.yaml': `
stages:
  a:
    cmd: echo
    deps: [./a/b/, data//raw, x/../y, /abs//data/../set/, "C:\\\\win\\\\dir"]
    outs: [./out/, results/./m.json]
    metrics: [./results/m.json]
`,
    });
    const inst = pl.instances.get('a')!;
    expect(inst.deps).toEqual(['a/b', 'data/raw', 'y', '/abs/set', 'C:/win/dir']);
    expect(inst.outs).toEqual(['out', 'results/m.json']);
    expect(inst.metrics).toEqual(['results/m.json']);
  });

  it('an absolute output inside the project becomes relative', async () => {
    p = tempProject({});
    const dir = p.dir;
    p.write('pipeline.yaml', `stages:\n  a:\n    cmd: echo\n    outs: ["${dir}/out/x"]\n`);
    const r = await loadPipeline(path.join(dir, 'pipeline.yaml'));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.pipeline.instances.get('a')!.outs).toEqual(['out/x']);
  });

  it('fills defaults: no deps/outs/env, no GPU', async () => {
    const pl = await load({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n  b:\n    cmd: echo\n    resources: { gpu: 2 }\n' });
    const a = pl.instances.get('a')!;
    expect({ deps: a.deps, outs: a.outs, metrics: a.metrics, env: a.env, resources: a.resources, upstream: a.upstream }).toEqual({ deps: [], outs: [], metrics: [], env: {}, resources: { gpu: 0 }, upstream: [] });
    expect(pl.instances.get('b')!.resources).toEqual({ gpu: 2 });
    expect(pl.root).toBe(p!.dir);
    expect(pl.file).toBe(path.join(p!.dir, 'pipeline.yaml'));
  });
});

describe('problems the corpus does not pin', () => {
  it('a params file that cannot be read does not make every use of its keys a problem', async () => {
    expect(
      await problems({
        'params.yaml': 'audio: [1, 2\n',
        'pipeline.yaml': 'params: [params.yaml]\nstages:\n  a:\n    matrix: { x: "${audio.list}" }\n    params: [audio.rate]\n    cmd: echo ${audio.rate} ${item.x}\n',
      }),
    ).toEqual(['params.yaml:1:8: unclosed `[`: missing `]` to end this list']);
  });

  it('lists an output named twice in one stage as such', async () => {
    expect(await problems({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    outs: [x, ./x/]\n' })).toEqual(["pipeline.yaml:4:15: output 'x' is listed twice"]);
  });

  it('reports a dep on its own output once per stage, not once per instance', async () => {
    expect(await problems({ 'pipeline.yaml': 'stages:\n  a:\n    matrix: { s: [1, 2, 3] }\n    cmd: echo\n    deps: ["o/${item.s}/x"]\n    outs: ["o/${item.s}"]\n' })).toEqual([
      "pipeline.yaml:5:12: stage 'a' depends on its own output 'o/1/x'",
    ]);
  });

  it('a cycle between matrix instances names the stages', async () => {
    const ds = await problems({
      'pipeline.yaml': 'stages:\n  a:\n    matrix: { s: [1, 2] }\n    needs: [b]\n    cmd: echo\n  b:\n    matrix: { s: [1, 2] }\n    deps: ["x/${item.s}"]\n    cmd: echo\n  c:\n    matrix: { s: [1, 2] }\n    needs: [a]\n    outs: ["x/${item.s}"]\n    cmd: echo\n',
    });
    expect(ds).toEqual(["pipeline.yaml:12:13: dependency cycle: a → c → b → a"]);
  });

  it('a stage module path that does not exist', async () => {
    expect(await problems({ 'pipeline.yaml': 'stages:\n  a:\n    uses: ./stages/nope.mjs\n' })).toEqual([
      "pipeline.yaml:3:11: stage module './stages/nope.mjs' not found (a path in `uses` is relative to the project folder)",
    ]);
  });

  it('a cycle through three stages prints its whole path, from the first declared', async () => {
    const ds = await problems({ 'pipeline.yaml': 'stages:\n  a:\n    needs: [c]\n    cmd: echo\n  b:\n    needs: [a]\n    cmd: echo\n  c:\n    needs: [b]\n    cmd: echo\n' });
    expect(ds).toEqual(['pipeline.yaml:6:13: dependency cycle: a → b → c → a']);
  });
});

describe('executor and slurm settings', () => {
  it('merges top-level slurm defaults under the stage’s, interpolated per instance, without making them params', async () => {
    const pl = await load({
      'params/p.yaml': 'cluster: { partition: gpu, hours: 2 }\nlr: 0.1\n',
      'pipeline.yaml': `params: [params/p.yaml]
slurm: { partition: "\${cluster.partition}", mem: 4G }
stages:
  train:
    matrix: { seed: [1, 2] }
    cmd: train --lr \${lr} --seed \${item.seed}
    executor: slurm
    slurm: { time: "\${cluster.hours}:00:00", extra: ["--comment=seed \${item.seed}"], gpus: 1 }
`,
    });
    const inst = pl.instances.get('train@seed=2')!;
    expect(inst.executor).toBe('slurm');
    expect(inst.slurm).toEqual({ partition: 'gpu', mem: '4G', time: '2:00:00', extra: ['--comment=seed 2'], gpus: '1' });
    // Where a stage runs is not part of what it computes: only lr is a param of the stage.
    expect(inst.params).toEqual({ lr: 0.1 });
  });

  it('names unknown slurm fields, bad executors and unknown params in slurm values', async () => {
    const found = await problems({
      'pipeline.yaml': `slurm: { partitoin: gpu }
stages:
  a:
    cmd: echo a
    executor: cluster
  b:
    cmd: echo b
    slurm: { time: "\${nope}" }
`,
    });
    expect(found.join('\n')).toMatch(/pipeline\.yaml:1:10: unknown field 'partitoin' in 'slurm'; did you mean 'partition'\?/);
    expect(found.join('\n')).toContain('pipeline.yaml:5:15: executor is local or slurm, not "cluster"');
    expect(found.join('\n')).toContain("pipeline.yaml:8:21: unknown params key 'nope'");
  });
});
