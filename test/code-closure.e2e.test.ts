/**
 * A stage's code is the import closure of its module, and `status` names every file of it that
 * changed. Checked against what really runs: each stage process of a small study (every built-in
 * stage) records its import graph through a module-resolution hook, and everything reachable from
 * the stage module must be in the closure conno computed. Then, in a copy of the conno package,
 * an edit to each file of any closure makes exactly the stages whose closure holds it stale,
 * naming the file; and a source edited without a build is refused, never passed as fresh.
 */
import { appendFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { synthStage } from './support/pipelines.js';

const STUDY = `stages:
${synthStage('classes: 3, clips_per_class: 10, seconds: 0.25, sample_rate: 16000, seed: 1, test_fraction: 0.3, dev_fraction: 0')}  rs:
    uses: resample
    needs: [data]
    with: { rate: 8000, quality: fast }
  noisy:
    uses: inject-noise
    needs: [rs]
    with: { seed: 2, label: { model: symmetric, rate: 0.2 }, data: { kind: white, fraction: 0, test_copies: { snrs: [0] } } }
  features:
    uses: features
    needs: [noisy]
    with: { n_fft: 256, win_length: 256, hop_length: 128, n_mels: 16, f_max: 4000, frames: 12 }
  train:
    uses: train
    needs: [features]
    with: { model: { name: cnn4, filters: [4, 8], batchnorm: false }, epochs: 2, batch_size: 8, seed: 1 }
  score:
    uses: score-difficulty
    needs: [train]
  evaluate:
    uses: evaluate-ood
    needs: [train, features]
  report:
    uses: report
    needs: [train, score, evaluate]
`;

const STAGES = ['download', 'resample', 'inject-noise', 'features', 'train', 'score-difficulty', 'evaluate-ood', 'report'];
const INSTANCE_OF: Record<string, string> = {
  download: 'data',
  resample: 'rs',
  'inject-noise': 'noisy',
  features: 'features',
  train: 'train',
  'score-difficulty': 'score',
  'evaluate-ood': 'evaluate',
  report: 'report',
};

/** A copy of the conno package (sources, build, CLI) sharing the repo's node_modules. */
let pkg: string;
let p: TempProject;
/** Each stage's closure as conno.lock records it: files and packages. */
const closures = new Map<string, { files: Record<string, string>; packages: Record<string, string> }>();

const conno = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [path.join(pkg, 'bin', 'conno.js'), ...args], { cwd: p.dir, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '', ...env }, timeout: 240_000 });
const rebuildManifest = () => execa(process.execPath, [path.join(pkg, 'scripts', 'build-manifest.mjs')]);

beforeAll(() => {
  pkg = mkdtempSync(path.join(os.tmpdir(), 'conno-pkg-'));
  for (const d of ['src', 'stages', 'dist', 'bin', 'scripts']) cpSync(path.join(REPO, d), path.join(pkg, d), { recursive: true });
  cpSync(path.join(REPO, 'package.json'), path.join(pkg, 'package.json'));
  symlinkSync(path.join(REPO, 'node_modules'), path.join(pkg, 'node_modules'));
  p = tempProject({ 'pipeline.yaml': STUDY });
});
afterAll(() => {
  rmSync(pkg, { recursive: true, force: true });
  p?.remove();
});

/** Lines `parent\tchild` of every process, grouped by process. */
function traces(dir: string): string[][] {
  return readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean));
}

/** A loaded module as the lock names it: a package, or a file relative to the package copy. */
function nameOf(url: string): { pkg?: string; file?: string } | undefined {
  if (!url.startsWith('file:')) return undefined; // node: builtins
  const file = fileURLToPath(url);
  const nm = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (nm >= 0) {
    const parts = file.slice(nm + 14).split(path.sep);
    return { pkg: parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0] };
  }
  const rel = path.relative(path.join(pkg, 'dist'), file).split(path.sep).join('/');
  return { file: rel.replace(/\.js$/, '.ts') };
}

describe('code closures', () => {
  it('hold everything each stage process loads through its module', async () => {
    const traceDir = mkdtempSync(path.join(os.tmpdir(), 'conno-trace-'));
    try {
      const r = await conno(['repro', '--jobs', '2'], { NODE_OPTIONS: `--import=${path.join(REPO, 'test/fixtures/hooks/trace-graph.mjs')}`, CONNO_TRACE_GRAPH: traceDir });
      expect(r.exitCode, r.all).toBe(0);
      const lock = (await import('yaml')).parse(p.read('conno.lock')) as { stages: Record<string, { code: string }>; code: Record<string, { files: Record<string, string>; packages: Record<string, string> }> };
      for (const s of STAGES) closures.set(s, lock.code[lock.stages[INSTANCE_OF[s]!]!.code]!);

      let checked = 0;
      for (const lines of traces(traceDir)) {
        const edges = new Map<string, string[]>();
        for (const l of lines) {
          const [parent, child] = l.split('\t') as [string, string];
          if (!edges.has(parent)) edges.set(parent, []);
          edges.get(parent)!.push(child);
        }
        const loaded = [...new Set(lines.map((l) => l.split('\t')[1]!))];
        // The orchestrator imports every stage module (to validate params); stage processes run one.
        if (loaded.some((u) => u.endsWith('/dist/src/core/cli/main.js') || u.endsWith('/dist/cli-bundle/main.js'))) continue;
        const root = loaded.find((u) => /\/dist\/stages\/[^/]+\/index\.js$/.test(u));
        if (!root) continue;
        const stage = /\/dist\/stages\/([^/]+)\/index\.js$/.exec(root)![1]!;
        const closure = closures.get(stage)!;
        const seen = new Set([root]);
        const stack = [root];
        while (stack.length) for (const c of edges.get(stack.pop()!) ?? []) if (!seen.has(c)) (seen.add(c), stack.push(c));
        for (const url of seen) {
          const n = nameOf(url);
          if (n?.pkg) expect(closure.packages, `${stage} loads package ${n.pkg}`).toHaveProperty([n.pkg]);
          if (n?.file) expect(Object.keys(closure.files), `${stage} loads ${n.file}`).toContain(n.file);
        }
        checked++;
      }
      expect(checked).toBe(STAGES.length);
      // The example: src/core/util/random.ts is code of the stages that draw random numbers.
      for (const s of ['download', 'inject-noise', 'train', 'score-difficulty']) expect(Object.keys(closures.get(s)!.files)).toContain('src/core/util/random.ts');
      expect(Object.keys(closures.get('inject-noise')!.files).filter((f) => f.startsWith('src/lab/report/'))).toEqual([]);
      expect(Object.keys(closures.get('train')!.files)).toContain('src/lab/ml/kernels/c/simd_kernels.wasm');
      expect(closures.get('train')!.packages['@tensorflow/tfjs-core']).toMatch(/^\d+\.\d+\.\d+$/);
    } finally {
      rmSync(traceDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('an edit to any file of a closure makes exactly the stages holding it stale, naming the file', async () => {
    expect(closures.size).toBe(STAGES.length);
    let r = await conno(['status']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('up to date');
    const union = [...new Set([...closures.values()].flatMap((c) => Object.keys(c.files)))].sort();
    // Files of the package that no stage runs: an edit to them must leave every stage fresh.
    const outside = ['src/core/engine/gc.ts', 'src/core/cli/main.ts', 'src/lab/report/png.ts'].filter((f) => !union.includes(f));
    expect(outside.length).toBeGreaterThan(0);
    for (const file of [...union, ...outside]) {
      const abs = path.join(pkg, file);
      const before = readFileSync(abs);
      try {
        appendFileSync(abs, file.endsWith('.ts') ? '\n// an edit\n' : '\n');
        await rebuildManifest();
        r = await conno(['status', '--json']);
        expect(r.exitCode, `${file}: ${r.all}`).toBe(0);
        const st = JSON.parse(r.stdout) as { stages: { id: string; stale: boolean; reasons: string[] }[] };
        for (const s of STAGES) {
          const id = INSTANCE_OF[s]!;
          const reasons = st.stages.find((x) => x.id === id)!.reasons;
          const holds = Object.keys(closures.get(s)!.files).includes(file);
          if (holds) expect(reasons, `${file} → ${id}`).toContain(`code changed: ${file}`);
          else expect(reasons.filter((x) => x.startsWith('code changed')), `${file} ↛ ${id}`).toEqual([]);
        }
      } finally {
        writeFileSync(abs, before);
      }
    }
    await rebuildManifest();
    r = await conno(['status']);
    expect(r.stdout).toContain('up to date');
  }, 600_000);

  it('refuses a source edited without a build (a stale dist/ never passes for the code)', async () => {
    const file = path.join(pkg, 'src', 'core', 'util', 'random.ts');
    const before = readFileSync(file);
    try {
      appendFileSync(file, '\n// edited, not built\n');
      for (const cmd of [['status'], ['repro']]) {
        const r = await conno(cmd);
        expect(r.exitCode, r.all).toBe(1);
        expect(r.all).toContain("conno's dist/ is out of date: src/core/util/random.ts changed since it was built (run `npm run build`");
        expect(r.all).not.toMatch(/\n\s+at /); // no stack trace
      }
    } finally {
      writeFileSync(file, before);
    }
  });
});

describe('project stage modules', () => {
  let q: TempProject;
  afterAll(() => q?.remove());

  it('are hashed with every file they import; an unrelated file changes nothing', async () => {
    const zod = JSON.stringify(path.join(REPO, 'node_modules', 'zod', 'index.js'));
    q = tempProject({
      'pipeline.yaml': 'stages:\n  mine:\n    uses: ./stages/mine.mjs\n',
      'stages/mine.mjs': `import { z } from ${zod};\nimport { twice } from './lib/helper.mjs';\nexport const stage = { version: 1, description: 'x', params: z.object({}), outputs: ['out'], async run(ctx) { (await import('node:fs')).writeFileSync(ctx.outPath('out'), String(twice(2))); } };\n`,
      'stages/lib/helper.mjs': "export { twice } from './deep.mjs';\n",
      'stages/lib/deep.mjs': 'export const twice = (x) => 2 * x;\n',
      'stages/other.mjs': 'export const unrelated = 1;\n',
    });
    const run = (args: string[]) => execa(process.execPath, [path.join(REPO, 'bin', 'conno.js'), ...args], { cwd: q.dir, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '' } });
    let r = await run(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    const lock = q.read('conno.lock');
    expect(lock).toContain('stages/lib/deep.mjs');
    expect(lock).toMatch(/zod: \d+\.\d+\.\d+/);
    expect(lock).not.toContain(q.dir); // no absolute path

    q.write('stages/other.mjs', 'export const unrelated = 2;\n');
    r = await run(['status']);
    expect(r.stdout).toContain('up to date');

    q.write('stages/lib/deep.mjs', 'export const twice = (x) => x + x;\n');
    r = await run(['status']);
    expect(r.stdout).toContain('code changed: stages/lib/deep.mjs');
    expect(r.stdout).not.toContain('stages/lib/helper.mjs');

    // A computed import hides what runs: refused, unless the module declares what it loads.
    q.write('stages/lib/deep.mjs', "const name = './x.mjs';\nexport const twice = (x) => 2 * x;\nexport const load = () => import(name);\n");
    r = await run(['status']);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('stages/lib/deep.mjs:3: import() of a computed specifier');
    expect(r.all).not.toMatch(/\n\s+at /);
    q.write('stages/lib/x.mjs', 'export default 1;\n');
    q.write('stages/lib/deep.mjs', "// conno:asset x.mjs (loaded by load())\nconst name = './x.mjs';\nexport const twice = (x) => 2 * x;\nexport const load = () => import(name);\n");
    r = await run(['status']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('code changed: stages/lib/deep.mjs');
    expect(r.stdout).toContain('code changed: stages/lib/x.mjs (now imported)');
  });
});
