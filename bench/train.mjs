#!/usr/bin/env node
// Training benchmark: conno's TensorFlow.js wasm backend (with conno's kernels, src/lab/ml/kernels)
// against PyTorch on CPU, same models, same batch, one thread each, in one run.
//
// Models (src/lab/ml/backend_reference_models.ts; bench/train_torch.py defines the same ones):
//   cnn-bn      the reference model of feasibility.md: 4 conv blocks 3×3 (16/32/64/64) with
//               batchnorm, ReLU, 2×2 max-pool, global average pool, dense softmax (61,402 params)
//   cnn         the same without batchnorm
//   tc-resnet8  Choi et al. 2019, 1-D temporal convs with the mel bins as channels
//   wavecnn     after M5 (Dai et al. 2017): 1-D convs on 1 s of 16 kHz raw waveform
// Batch 32 of 64 mel × 128 frames, random data, Adam 1e-3, categorical cross-entropy,
// `trainOnBatch`; `--warmup` steps the first time a model runs, then `--steps` timed steps
// (samples/s = batch ÷ mean step) in each of `--rounds` rounds (default 3). In each round the two
// sides time a model in turns, one right after the other (conno first in odd rounds, PyTorch
// first in even ones); a model's ratio is the median of its rounds' ratios.
// One step of cnn-bn is profiled per kernel (tf.profile) to show what limits the speed.
//
// `--backends wasm,webgpu` also times conno on the WebGPU backend (Dawn: a GPU, or Mesa's llvmpipe
// where there is none), against the wasm path in the same run. The CPU's SIMD level and the one
// PyTorch's kernels use are printed with the results.
//
// Usage: npm run bench:train -- [--models cnn-bn,cnn,tc-resnet8,wavecnn] [--backends wasm,webgpu] [--steps N] [--warmup N] [--rounds N] [--json]
// conno's kernels sum with fused multiply-adds where the CPU has them (the SIMD line says which);
// CONNO_WASM_FMA=0 npm run bench:train times them with separate multiplies and adds.
// --json prints exactly one JSON object on stdout ({ ratio: conno ÷ PyTorch samples/s for cnn-bn,
// conno: {model: samples/s}, pytorch: {…}, ratios: {…}, rounds: {model: [{conno_ms, pytorch_ms,
// ratio}]}, profile: […], … }); notes go to stderr. Other backends (--backends) are timed once
// each, after the rounds, against the wasm medians.
// Needs dist/ (npm run build) and Debian's python3-torch for /usr/bin/python3 (installed with
// apt-get if missing).

import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const BATCH = 32;

function parseArgs(argv) {
  const o = { models: ['cnn-bn', 'cnn', 'tc-resnet8', 'wavecnn'], backends: ['wasm'], steps: 10, warmup: 3, rounds: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--models') o.models = argv[++i].split(',');
    else if (a === '--backends') o.backends = argv[++i].split(',');
    else if (a === '--steps') o.steps = Number(argv[++i]);
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else {
      process.stderr.write(`bench/train.mjs: unknown argument ${a}\nusage: node bench/train.mjs [--models a,b] [--backends wasm,webgpu] [--steps N] [--warmup N] [--rounds N] [--json]\n`);
      process.exit(2);
    }
  }
  for (const k of ['steps', 'rounds']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) {
      process.stderr.write(`bench/train.mjs: --${k} must be a whole number ≥ 1, got ${o[k]}\n`);
      process.exit(2);
    }
  }
  return o;
}

const note = (s) => process.stderr.write(`${s}\n`);

function ensureTorch() {
  if (spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return;
  note('bench:train: PyTorch is missing for /usr/bin/python3; running `apt-get install -y python3-torch`');
  const r = spawnSync('apt-get', ['install', '-y', 'python3-torch'], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error('apt-get install -y python3-torch failed');
}

/** The widest x86 SIMD extension the CPU reports (/proc/cpuinfo), or what the platform is. */
function cpuSimd() {
  try {
    const flags = new Set((readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
    return flags.has('avx512f') ? 'AVX-512' : flags.has('avx2') ? 'AVX2' : flags.has('sse4_2') ? 'SSE4.2' : `${process.arch} (no AVX2)`;
  } catch {
    return process.arch;
  }
}

/**
 * conno's side: each model built (seeded), compiled with conno's Adam and warmed up the first
 * time it is timed, then kept, so that the rounds time the same model again.
 */
async function connoTrainers(opts, backendName = 'wasm') {
  const dist = (p) => pathToFileURL(path.join(REPO, 'dist', p)).href;
  if (!existsSync(path.join(REPO, 'dist/src/lab/ml/backend.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend, backendFingerprint } = await import(dist('src/lab/ml/backend.js'));
  const { buildReferenceModel, referenceInputShape } = await import(dist('src/lab/ml/backend_reference_models.js'));
  const { adam } = await import(dist('src/lab/ml/adam.js'));
  const backend = await initBackend(backendName);
  const fingerprint = backendFingerprint();
  const built = new Map();
  async function get(name) {
    let t = built.get(name);
    if (!t) {
      const model = await buildReferenceModel(name, { seed: 1 });
      model.compile({ optimizer: adam(1e-3), loss: 'categoricalCrossentropy' }); // conno's Adam: what the train stage runs
      const x = tf.randomNormal([BATCH, ...referenceInputShape(name)], 0, 1, 'float32', 1);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), 'int32'), 10);
      t = { model, x, y, step: () => model.trainOnBatch(x, y) };
      for (let i = 0; i < opts.warmup; i++) await t.step();
      built.set(name, t);
    }
    return t;
  }
  return {
    backend,
    fingerprint,
    async time(name) {
      const t = await get(name);
      const t0 = performance.now();
      for (let i = 0; i < opts.steps; i++) await t.step();
      const ms = (performance.now() - t0) / opts.steps;
      return { samples_per_s: (BATCH * 1000) / ms, ms_per_step: ms, params: t.model.countParams() };
    },
    async profile(name) {
      const t = await get(name);
      return { profile: await profileStep(tf, t.step), convGflop: convFlops(t.model) / 1e9 };
    },
    dispose() {
      for (const t of built.values()) {
        tf.dispose([t.x, t.y]);
        t.model.dispose();
      }
      built.clear();
    },
  };
}

/** Multiply-adds ×2 of one forward pass of the model's Conv2D layers, for a batch. */
function convFlops(model) {
  let flops = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D') continue;
    const [kh, kw, ci, co] = layer.getWeights()[0].shape;
    const [, h, w] = layer.outputShape;
    flops += 2 * BATCH * h * w * co * kh * kw * ci;
  }
  return flops;
}

/** Kernel time of one training step, summed per kernel name, largest first. */
async function profileStep(tf, step) {
  const p = await tf.profile(step);
  const byKernel = new Map();
  for (const k of p.kernels) {
    // tf.profile also lists op scopes (e.g. `fusedConv2d__op`) around kernels: keep kernels only.
    if (k.name.includes('__op')) continue;
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  return [...byKernel.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([kernel, ms]) => ({ kernel, ms: Number(ms.toFixed(1)), share: Number((ms / total).toFixed(3)) }));
}

/** PyTorch's side: one process (train_torch.py --serve) that builds each model once and times it on request. */
async function torchServer(opts) {
  ensureTorch();
  const child = spawn(PYTHON, [path.join(REPO, 'bench/train_torch.py'), '--serve', '--batch', String(BATCH)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error('bench/train_torch.py --serve ended early (its error is above)');
    return JSON.parse(r.value);
  };
  const header = await next();
  return {
    torch: header.torch,
    cpu_capability: header.cpu_capability,
    async time(name) {
      child.stdin.write(`${name} ${opts.warmup} ${opts.steps}\n`);
      return next();
    },
    close: () => child.stdin.end(),
  };
}

const median = (xs) => {
  const t = [...xs].sort((a, b) => a - b);
  const n = t.length;
  return n % 2 ? t[(n - 1) / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
};

const opts = parseArgs(process.argv.slice(2));
// conno and PyTorch are timed in turns, model by model (conno first in odd rounds, PyTorch first
// in even ones): this machine's speed drifts within minutes, and a ratio of two timings taken
// minutes apart measured the drift as much as the code. Each model's ratio is the median of its
// rounds' ratios; the samples/s are the medians of each side's rounds.
const conno = await connoTrainers(opts);
const torch = await torchServer(opts);
const rounds = Object.fromEntries(opts.models.map((m) => [m, []]));
for (let r = 0; r < opts.rounds; r++) {
  for (const name of opts.models) {
    const got = {};
    for (const side of r % 2 === 0 ? ['conno', 'torch'] : ['torch', 'conno']) got[side] = side === 'conno' ? await conno.time(name) : await torch.time(name);
    rounds[name].push({ conno_ms: got.conno.ms_per_step, pytorch_ms: got.torch.ms_per_step, ratio: got.torch.ms_per_step / got.conno.ms_per_step, params: got.conno.params });
    note(`round ${r + 1}  ${name.padEnd(11)} conno ${got.conno.ms_per_step.toFixed(1).padStart(6)} ms/step, PyTorch ${got.torch.ms_per_step.toFixed(1).padStart(6)} ms/step → ${(got.torch.ms_per_step / got.conno.ms_per_step).toFixed(2)}×`);
  }
}
torch.close();
const summary = (name, side) => {
  const ms = median(rounds[name].map((x) => x[`${side}_ms`]));
  return { samples_per_s: (BATCH * 1000) / ms, ms_per_step: ms, ...(side === 'conno' ? { params: rounds[name][0].params } : {}) };
};
const connoResults = Object.fromEntries(opts.models.map((m) => [m, summary(m, 'conno')]));
const torchResults = Object.fromEntries(opts.models.map((m) => [m, summary(m, 'pytorch')]));
const ratios = Object.fromEntries(opts.models.map((m) => [m, median(rounds[m].map((x) => x.ratio))]));
const { profile, convGflop } = opts.models.includes('cnn-bn') ? await conno.profile('cnn-bn') : { profile: [], convGflop: 0 };
conno.dispose();
const others = {};
for (const b of opts.backends.filter((x) => x !== 'wasm')) {
  const t = await connoTrainers(opts, b);
  const results = {};
  for (const name of opts.models) {
    results[name] = await t.time(name);
    note(`conno/${b.padEnd(6)} ${name.padEnd(11)} ${results[name].samples_per_s.toFixed(1).padStart(7)} samples/s  (${results[name].ms_per_step.toFixed(0)} ms/step, one timing)`);
  }
  t.dispose();
  others[b] = { fingerprint: t.fingerprint, results };
}
for (const name of opts.models) {
  note(`conno/wasm   ${name.padEnd(11)} ${connoResults[name].samples_per_s.toFixed(1).padStart(7)} samples/s  (${connoResults[name].ms_per_step.toFixed(0)} ms/step, median of ${opts.rounds})`);
}
note(`SIMD: the CPU has ${cpuSimd()}; PyTorch ${torch.torch} uses ${torch.cpu_capability}; conno's wasm backend runs wasm SIMD128 (${conno.backend.simd ? 'on' : 'off'}), conno's kernels ${conno.backend.arithmetic === 'fma' ? 'with fused multiply-adds (relaxed SIMD)' : 'with separate multiplies and adds'}`);
for (const [b, r] of Object.entries(others)) {
  note(`conno ${b} ÷ wasm: ` + opts.models.map((m) => `${m} ${(r.results[m].samples_per_s / connoResults[m].samples_per_s).toFixed(2)}×`).join(', ') + ` (${r.fingerprint.find((f) => f.startsWith('adapter=')) ?? b})`);
}
for (const name of opts.models) {
  const t = torchResults[name];
  note(`pytorch     ${name.padEnd(11)} ${t.samples_per_s.toFixed(1).padStart(7)} samples/s  (${t.ms_per_step.toFixed(0)} ms/step, median of ${opts.rounds})`);
}
const range = (m) => {
  const r = rounds[m].map((x) => x.ratio);
  return `${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)}`;
};
note('conno ÷ PyTorch (median of the rounds, range): ' + opts.models.map((m) => `${m} ${ratios[m].toFixed(2)}× (${range(m)})`).join(', '));
if (profile.length > 0) {
  note('cnn-bn, one step on wasm, kernel time:');
  for (const k of profile.slice(0, 10)) note(`  ${k.kernel.padEnd(22)} ${String(k.ms).padStart(7)} ms  ${(100 * k.share).toFixed(1)}%`);
}
// What the convolutions alone must cost: a training step does each convolution three times
// (forward, input gradient, filter gradient) with the same multiply-adds. At the speed the
// forward pass reaches (conno's conv_in_order on wasm SIMD128), that floor is compared with the
// time per step that 0.5× PyTorch allows.
let bound = null;
const fwd = profile.find((k) => k.kernel === 'FusedConv2D' || k.kernel === 'Conv2D');
if (fwd && torchResults['cnn-bn']) {
  const fwdGflops = convGflop / (fwd.ms / 1000);
  bound = {
    conv_gflop_per_pass: Number(convGflop.toFixed(3)),
    forward_conv_gflops: Number(fwdGflops.toFixed(1)),
    conv_floor_ms: Number((3 * fwd.ms).toFixed(1)),
    step_ms_for_half_of_pytorch: Number((torchResults['cnn-bn'].ms_per_step / 0.5).toFixed(1)),
  };
  note(`bound: forward convolutions run at ${bound.forward_conv_gflops} GFLOP/s; all three convolution passes at that speed take ${bound.conv_floor_ms} ms, of the ${bound.step_ms_for_half_of_pytorch} ms per step that 0.5× PyTorch allows`);
}
const fixed = (o) => Object.fromEntries(Object.entries(o).map(([m, r]) => [m, Number(r.samples_per_s.toFixed(2))]));
const out = {
  ratio: ratios['cnn-bn'] ?? null,
  bound,
  ratios,
  rounds,
  conno: fixed(connoResults),
  pytorch: fixed(torchResults),
  details: { conno: connoResults, pytorch: torchResults },
  batch: BATCH,
  input: [64, 128],
  steps: opts.steps,
  warmup: opts.warmup,
  threads: { conno: conno.backend.threads, pytorch: 1 },
  backend: conno.fingerprint,
  other_backends: Object.fromEntries(Object.entries(others).map(([b, r]) => [b, { fingerprint: r.fingerprint, samples_per_s: fixed(r.results) }])),
  cpu_simd: cpuSimd(),
  torch_cpu_capability: torch.cpu_capability,
  conno_kernel_arithmetic: conno.backend.arithmetic,
  torch_version: torch.torch,
  profile,
};
if (opts.json) process.stdout.write(JSON.stringify(out) + '\n');
else {
  // One line per model measured (with --models tc-resnet8 there is no cnn-bn to speak of).
  for (const m of opts.models) process.stdout.write(`${m}: conno ${out.conno[m]} vs PyTorch ${out.pytorch[m]} samples/s → ${ratios[m].toFixed(2)}×\n`);
}
