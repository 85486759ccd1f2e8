/**
 * The wasm backend trains the reference model deterministically (bit-identical weights from two
 * separate processes with the same seed) and without leaking tensors; asking for the
 * `tensorflow` backend without tfjs-node says which package to install.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { REPO, withEnv } from '../../../test/helpers.js';
import { backendEnvironment, backendFingerprint, initBackend, wasmSimdSupported } from './backend.js';
import { buildReferenceModel, referenceInputShape } from './backend_reference_models.js';
import { kernelArithmetic } from './kernels/simd.js';
import { wasmRelaxedMaddFused } from './simd-support.js';

// The child processes import these modules compiled into a private folder under node_modules
// (so `@tensorflow/*` resolves), not dist/, which other tests may be reading while it is rebuilt.
let outDir: string;
const CHILD = `
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './src/lab/ml/backend.js';
import { buildReferenceModel, referenceInputShape } from './src/lab/ml/backend_reference_models.js';
await initBackend('wasm');
const model = await buildReferenceModel('cnn-bn', { seed: 7 });
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
const x = tf.randomNormal([8, ...referenceInputShape('cnn-bn')], 0, 1, 'float32', 11); // [8, 64, 128, 1]
const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10); // [8, 10]
for (let step = 0; step < 3; step++) await model.trainOnBatch(x, y);
const h = createHash('sha256');
for (const w of model.getWeights()) h.update(new Uint8Array(w.dataSync().buffer));
process.stdout.write(h.digest('hex'));
`;

beforeAll(async () => {
  outDir = mkdtempSync(path.join(REPO, 'node_modules', '.conno-backend-test-'));
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = await execa(
    process.execPath,
    [
      tsc,
      ...['--outDir', outDir, '--rootDir', REPO, '--target', 'ES2022', '--module', 'NodeNext'],
      ...['--moduleResolution', 'NodeNext', '--strict', '--skipLibCheck', '--types', 'node'],
      path.join(REPO, 'src/lab/ml/backend.ts'),
      path.join(REPO, 'src/lab/ml/backend_reference_models.ts'),
    ],
    { reject: false, all: true },
  );
  if (built.exitCode !== 0) throw new Error(`tsc failed:\n${built.all}`);
  writeFileSync(path.join(outDir, 'train-twice.mjs'), CHILD);
}, 120_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('wasm backend', () => {
  it('trains to bit-identical weights in two processes with the same seed', async () => {
    const run = () => execa(process.execPath, [path.join(outDir, 'train-twice.mjs')], { cwd: outDir, reject: false });
    const [a, b] = [await run(), await run()];
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(a.stdout).toMatch(/^[0-9a-f]{64}$/);
    expect(b.stdout).toBe(a.stdout);
  }, 120_000);

  it('with fused multiply-adds, gives the same weights whichever of V8’s compilers runs the kernels, and other weights without them', async () => {
    expect(kernelArithmetic(), 'this machine fuses relaxed SIMD multiply-adds').toBe('fma');
    const run = (nodeFlags: string[], env: Record<string, string> = {}) =>
      execa(process.execPath, [...nodeFlags, path.join(outDir, 'train-twice.mjs')], { cwd: outDir, reject: false, env });
    // Liftoff (the baseline compiler) only, TurboFan only, and both as V8 tiers up by default.
    const [liftoff, turbofan, tiered, mulAdd] = [await run(['--liftoff-only']), await run(['--no-liftoff']), await run([]), await run([], { CONNO_WASM_FMA: '0' })];
    for (const r of [liftoff, turbofan, tiered, mulAdd]) expect(r.exitCode, r.stderr).toBe(0);
    expect(liftoff.stdout).toMatch(/^[0-9a-f]{64}$/);
    expect(turbofan.stdout).toBe(liftoff.stdout);
    expect(tiered.stdout).toBe(liftoff.stdout);
    expect(mulAdd.stdout).toMatch(/^[0-9a-f]{64}$/);
    expect(mulAdd.stdout).not.toBe(liftoff.stdout);
  }, 240_000);

  it('a training step leaves no tensors behind, and the fingerprint names backend, version and SIMD', async () => {
    const info = await initBackend('wasm');
    expect(info).toMatchObject({ name: 'wasm', version: '4.22.0', threads: 1, simd: true });
    expect(backendFingerprint()).toEqual(['backend=wasm', 'tfjs-core=4.22.0', 'simd=true', 'conno-wasm-kernels=4', 'arithmetic=fma']);
    // The tf-free check that stage fingerprints use agrees with what tfjs decided.
    expect(wasmSimdSupported()).toBe(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));

    const model = await buildReferenceModel('cnn-bn', { mels: 16, frames: 32, seed: 3 });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([4, ...referenceInputShape('cnn-bn', 16, 32)], 0, 1, 'float32', 5);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    await model.trainOnBatch(x, y); // the first step creates the optimizer's moment tensors
    const before = tf.memory().numTensors;
    await model.trainOnBatch(x, y);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    model.dispose();
  });

  it("asking for 'tensorflow' without tfjs-node names the npm package to install", async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(/@tensorflow\/tfjs-node/);
  });
});

describe('backendEnvironment', () => {
  it('names what changes a stage’s numbers on each backend: tfjs version, and SIMD and fused multiply-adds for wasm only', async () => {
    expect(backendEnvironment('wasm')).toEqual({ backend: 'wasm', 'tfjs-core': tf.version_core, 'wasm-simd': String(wasmSimdSupported()), 'wasm-fma': 'true' });
    expect(backendEnvironment('cpu')).toEqual({ backend: 'cpu', 'tfjs-core': tf.version_core });
    for (const name of ['CONNO_WASM_FMA', 'CONNO_SIMD_KERNELS']) {
      expect(await withEnv({ [name]: '0' }, () => backendEnvironment('wasm')['wasm-fma']), `${name}=0`).toBe('false');
    }
  });

  it('the relaxed-SIMD probe finds multiply-adds fused exactly where the CPU has fused multiply-adds', () => {
    // Linux says so in /proc/cpuinfo: x86's 'fma' flag (FMA3); every ARM64 has them.
    if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return;
    const cpuHasFma = process.arch === 'arm64' || /^flags\s*:.*\bfma\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    expect(wasmRelaxedMaddFused()).toBe(cpuHasFma);
    expect(kernelArithmetic()).toBe(cpuHasFma ? 'fma' : 'mul-add');
  });

  it('a stage fingerprinted for one arithmetic refuses to run in the other, naming both and the switch', async () => {
    await expect(initBackend('wasm', { 'wasm-fma': 'false' })).rejects.toThrow(/fingerprinted to compute with separate multiplies and adds \(wasm-fma: false\), but here conno's kernels compute with fused multiply-adds \(wasm-fma: true\)/);
    await expect(initBackend('wasm', { 'wasm-fma': 'false' })).rejects.toMatchObject({ hint: expect.stringMatching(/CONNO_WASM_FMA=0/) });
    await withEnv({ CONNO_WASM_FMA: '0' }, async () => {
      await expect(initBackend('wasm', { 'wasm-fma': 'true' })).rejects.toThrow(/fingerprinted to compute with fused multiply-adds/);
      await expect(initBackend('wasm', { 'wasm-fma': 'false' })).resolves.toMatchObject({ name: 'wasm' });
    });
    await expect(initBackend('wasm', { 'wasm-fma': 'true' })).resolves.toMatchObject({ name: 'wasm' });
  });
});
