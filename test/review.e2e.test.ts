/**
 * The reviewer's commands on a two-commit git repository made here: `conno metrics` (the table,
 * seed aggregates against hand-computed values, CSV and JSON) and `conno diff` (params, code,
 * metrics with deltas, added and removed instances, means over seeds; text, Markdown, JSON;
 * errors outside git and for an unknown revision).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import path from 'node:path';
import { REPO, tempProject, type TempProject } from './helpers.js';

let p: TempProject;
const git = (...args: string[]) => execa('git', ['-c', 'user.email=r@example.org', '-c', 'user.name=Reviewer', ...args], { cwd: p.dir });

// acc = 0.9 − noise/2 + seed/100 + shift: hand-checkable means over seeds.
const SCORE = `import { writeFileSync, mkdirSync } from 'node:fs';
const [noise, seed, shift, out] = process.argv.slice(2);
mkdirSync('out', { recursive: true });
writeFileSync(out, JSON.stringify({ acc: +(0.9 - Number(noise) / 2 + Number(seed) / 100 + Number(shift)).toFixed(6), epochs: 10 }));
`;
const pipeline = (noise: string) => `params: [params.yaml]
stages:
  train:
    matrix: { noise: ${noise}, seed: [1, 2, 3] }
    cmd: node score.mjs \${item.noise} \${item.seed} \${train.shift} out/m-\${item.noise}-\${item.seed}.json
    deps: [score.mjs]
    params: [train.shift]
    outs: ["out/m-\${item.noise}-\${item.seed}.json"]
    metrics: ["out/m-\${item.noise}-\${item.seed}.json"]
  mine:
    uses: ./stages/mine.mjs
`;
const zod = JSON.stringify(path.join(REPO, 'node_modules', 'zod', 'index.js'));

beforeAll(async () => {
  p = tempProject({
    'pipeline.yaml': pipeline('[0, 0.4]'),
    'params.yaml': 'train:\n  shift: 0\n',
    'score.mjs': SCORE,
    'stages/mine.mjs': `import { z } from ${zod};\nimport { twice } from './lib/deep.mjs';\nexport const stage = { version: 1, description: 'x', params: z.object({}), outputs: ['out'], async run(ctx) { (await import('node:fs')).writeFileSync(ctx.outPath('out'), String(twice(2))); } };\n`,
    'stages/lib/deep.mjs': 'export const twice = (x) => 2 * x;\n',
    '.gitignore': 'cache/\n',
  });
  expect((await p.conno(['repro'])).exitCode).toBe(0);
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'first');
  // The second commit: another shift, another helper, noise 0.4 replaced by 0.8.
  p.write('params.yaml', 'train:\n  shift: 0.05\n');
  p.write('stages/lib/deep.mjs', 'export const twice = (x) => x + x;\n');
  p.write('pipeline.yaml', pipeline('[0, 0.8]'));
  const r = await p.conno(['repro']);
  expect(r.exitCode, r.all).toBe(0);
}, 120_000);
afterAll(() => p?.remove());

describe('conno metrics', () => {
  it('tabulates every instance with its matrix values, and aggregates over seeds', async () => {
    let r = await p.conno(['metrics', 'train']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^instance\s+noise\s+seed\s+acc\s+epochs$/);
    expect(r.stdout).toMatch(/train@noise=0,seed=2\s+0\s+2\s+0\.97\s+10/);

    r = await p.conno(['metrics', '--aggregate', 'seed', '--json']);
    const groups = JSON.parse(r.stdout).groups as { stage: string; item: Record<string, number>; metrics: Record<string, { mean: number; std: number; n: number; ci95: [number, number] }> }[];
    const zero = groups.find((g) => g.stage === 'train' && g.item.noise === 0)!;
    // 0.96, 0.97, 0.98: mean 0.97, std 0.01, half-width t(0.975, 2)·0.01/√3 = 0.0248414
    expect(zero.metrics.acc!.n).toBe(3);
    expect(zero.metrics.acc!.mean).toBeCloseTo(0.97, 10);
    expect(zero.metrics.acc!.std).toBeCloseTo(0.01, 10);
    expect(zero.metrics.acc!.ci95[1] - zero.metrics.acc!.mean).toBeCloseTo(0.0248414, 6);

    r = await p.conno(['metrics', '--aggregate', 'seed', '--csv', 'train@noise=0.8']);
    expect(r.stdout.split('\n')).toEqual(['stage,noise,n,acc,epochs', 'train,0.8,3,0.5700 ± 0.0248,10.0000 ± 0.0000']);
    r = await p.conno(['metrics', '--aggregate', 'fold']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--aggregate fold: no instance has the matrix key 'fold' (keys: noise, seed)");
  });
});

describe('conno metrics --resources', () => {
  it('gives what each run used, from the run-cache, never from conno.lock', async () => {
    const r = await p.conno(['metrics', '--resources', '--json']);
    expect(r.exitCode, r.all).toBe(0);
    const used = JSON.parse(r.stdout).instances as { id: string; metrics: Record<string, number | string> }[];
    // The module stage measured by its own process (getrusage); the commands sampled from /proc.
    const mine = used.find((u) => u.id === 'mine')!.metrics;
    expect(mine['measured']).toBe('process');
    expect(mine['wall_s']).toBeGreaterThan(0);
    expect(mine['cpu_s']).toBeGreaterThan(0);
    expect(mine['max_rss_mb']).toBeGreaterThan(20);
    const train = used.filter((u) => u.id.startsWith('train@'));
    expect(train).toHaveLength(6);
    for (const t of train) {
      expect(t.metrics['measured']).toBe('sampled');
      expect(t.metrics['wall_s']).toBeGreaterThan(0);
    }
    expect(p.read('conno.lock')).not.toMatch(/wall_s|max_rss|cpu_s/);
    const agg = await p.conno(['metrics', '--resources', '--aggregate', 'seed', 'train']);
    // cpu_s and max_rss_mb only where a sample caught the (short) command running.
    expect(agg.stdout).toMatch(/^stage\s+noise\s+n\s+(cpu_s\s+)?(max_rss_mb\s+)?wall_s$/m);
    // Without the run-cache (a fresh clone that pulled nothing), it says what it lacks.
    const q = tempProject({ 'pipeline.yaml': p.read('pipeline.yaml'), 'conno.lock': p.read('conno.lock') });
    try {
      const none = await q.conno(['metrics', '--resources']);
      expect(none.exitCode).toBe(0);
      expect(none.stderr).toMatch(/^7 instances have no record of what their runs used in this cache/m);
    } finally {
      q.remove();
    }
  });
});

describe('conno diff', () => {
  it('says what changed between two commits: params, code, metrics, added and removed instances, means over seeds', async () => {
    await git('add', '-A');
    await git('commit', '-q', '-m', 'second');
    const r = await p.conno(['diff', 'HEAD~1', 'HEAD']);
    expect(r.exitCode, r.all).toBe(0);
    const out = r.stdout;
    expect(out).toContain('conno.lock: HEAD~1 → HEAD');
    expect(out).toContain('10 instances differ: 4 changed, 3 added, 3 removed.');
    expect(out).toMatch(/train@noise=0\.8,seed=1\s+added/);
    expect(out).toMatch(/train@noise=0\.4,seed=3\s+removed/);
    expect(out).toMatch(/train@noise=0,seed=1\s+acc\s+0\.91\s+0\.96\s+\+0\.05\s+\+5\.5%/);
    expect(out).toMatch(/train@noise=0,seed=2\s+param train\.shift 0 → 0\.05/);
    expect(out).toMatch(/mine\s+code stages\/lib\/deep\.mjs/);
    // New bytes: the train outputs; not mine's, whose new code computes the same 4.
    const outputs = out.slice(out.indexOf('Outputs with new bytes'));
    expect(outputs).toMatch(/train@noise=0,seed=1\s+out\/m-0-1\.json/);
    expect(outputs).not.toContain('mine');
    // Means over the seeds: noise 0 before 0.92 ± 0.0248, after 0.97 ± 0.0248.
    expect(out).toMatch(/train@noise=0\s+acc\s+0\.9200 ± 0\.0248 \(n = 3\)\s+0\.9700 ± 0\.0248 \(n = 3\)\s+\+0\.05/);
  });

  it('compares HEAD with the working tree by default, as Markdown for a PR or as JSON', async () => {
    p.write('params.yaml', 'train:\n  shift: 0.1\n');
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    let r = await p.conno(['diff', '--md']);
    expect(r.stdout).toContain('## conno.lock: HEAD → the working tree');
    expect(r.stdout).toContain('| train@noise=0,seed=1 | acc | 0.96 | 1.01 | +0.05 | +5.2% |');
    r = await p.conno(['diff', '--json']);
    const d = JSON.parse(r.stdout) as { instances: { id: string; change: string; metrics: { name: string; delta: number }[] }[]; aggregate: string };
    expect(d.aggregate).toBe('seed');
    expect(d.instances.map((i) => i.id).sort()).toEqual(['train@noise=0,seed=1', 'train@noise=0,seed=2', 'train@noise=0,seed=3', 'train@noise=0.8,seed=1', 'train@noise=0.8,seed=2', 'train@noise=0.8,seed=3']);
    expect(d.instances.every((i) => i.change === 'changed' && Math.abs(i.metrics[0]!.delta - 0.05) < 1e-9)).toBe(true);
  });

  it('is a clear error outside git and for an unknown revision', async () => {
    let r = await p.conno(['diff', 'no-such-rev']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("diff: unknown revision 'no-such-rev'");
    const q = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a\n' });
    try {
      r = await q.conno(['diff']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('is not in a git repository');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      q.remove();
    }
  });
});
