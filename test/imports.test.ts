/**
 * `conno status` must stay fast on big pipelines: it never loads TensorFlow.js, Arrow, listr2 or
 * the code that runs stages.
 */
import { afterEach, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, tempProject, TRACE_IMPORTS, unbundledUrls, type TempProject } from './helpers.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => p?.remove());

async function loadedModules(args: string[]): Promise<string[]> {
  const trace = path.join(p!.dir, 'imports.txt');
  rmSync(trace, { force: true }); // the hook appends
  const r = await execa(process.execPath, ['--import', TRACE_IMPORTS, BIN, ...args], {
    cwd: p!.dir,
    reject: false,
    env: { CONNO_TRACE_IMPORTS: trace, CONNO_GPUS: '' },
  });
  expect(r.exitCode, r.stderr).toBe(0);
  return unbundledUrls(readFileSync(trace, 'utf8').split('\n').filter(Boolean));
}

it('status loads no heavy library', async () => {
  p = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' });
  const mods = await loadedModules(['status']);
  expect(mods.some((m) => m.includes('/dist/src/core/engine/status.js'))).toBe(true); // the trace works
  for (const heavy of ['@tensorflow', 'apache-arrow', 'listr2', 'execa', '/exec/job.js', '/engine/repro.js']) {
    expect(mods.filter((m) => m.includes(heavy)), heavy).toEqual([]);
  }
});

it('repro on a terminal-less run loads no listr2 and no Arrow', async () => {
  p = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' });
  const mods = await loadedModules(['repro']);
  for (const heavy of ['@tensorflow', 'apache-arrow', 'listr2']) expect(mods.filter((m) => m.includes(heavy)), heavy).toEqual([]);
});

it('status on a pipeline with train and score-difficulty stages loads no TensorFlow.js', async () => {
  p = tempProject({
    'pipeline.yaml': `stages:
${synthStage('classes: 2, clips_per_class: 4, seconds: 0.25')}  features:
    uses: features
    needs: [data]
    with: { n_mels: 16, frames: 10 }
  train:
    uses: train
    needs: [features]
    with: { model: { name: cnn4, filters: [4] }, loss: { name: gce, q: 0.7 }, epochs: 1, mixup: { alpha: 0.2 } }
  difficulty:
    uses: score-difficulty
    needs: [train, features]
`,
  });
  const mods = await loadedModules(['status']);
  expect(mods.some((m) => m.includes('/dist/stages/train/index.js'))).toBe(true);
  expect(mods.some((m) => m.includes('/dist/stages/score-difficulty/index.js'))).toBe(true);
  for (const heavy of ['@tensorflow', 'apache-arrow', 'listr2']) expect(mods.filter((m) => m.includes(heavy)), heavy).toEqual([]);
});

it('status on a pipeline with a report stage loads no Vega and no Arrow', async () => {
  p = tempProject({
    'pipeline.yaml': `stages:
${synthStage('classes: 2, clips_per_class: 4, seconds: 0.25')}  report:
    uses: report
    needs: [data]
    with: { title: T, axes: { method: model } }
`,
  });
  const mods = await loadedModules(['status']);
  expect(mods.some((m) => m.includes('/dist/stages/report/index.js'))).toBe(true);
  for (const heavy of ['vega', 'apache-arrow', '@tensorflow']) expect(mods.filter((m) => m.includes(heavy)), heavy).toEqual([]);
});

it('a second status takes the analysed pipeline from the cache: no YAML parser, no zod', async () => {
  p = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n' });
  await execa(process.execPath, [BIN, 'status'], { cwd: p.dir, reject: false });
  await execa(process.execPath, [BIN, 'repro', 'a'], { cwd: p.dir, reject: false });
  let mods = await loadedModules(['status']);
  // The analysis was saved (it can be checked against every file it came from, conno's own included).
  expect(readFileSync(path.join(p.dir, 'cache', 'analysis.json'), 'utf8')).toContain('"format"');
  mods = await loadedModules(['status']);
  for (const lib of ['/node_modules/yaml/', '/node_modules/zod/', '/pipeline/load.js']) expect(mods.filter((m) => m.includes(lib)), lib).toEqual([]);
  // An edit to pipeline.yaml: analysed again.
  p.write('pipeline.yaml', p.read('pipeline.yaml').replace('echo a', 'echo A'));
  mods = await loadedModules(['status']);
  expect(mods.some((m) => m.includes('/pipeline/load.js'))).toBe(true);
});
