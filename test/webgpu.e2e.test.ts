/**
 * The `webgpu` training backend (tfjs-backend-webgpu on Dawn, the optional `webgpu` package) on a
 * tiny model. On these CPU machines Dawn runs on Mesa's llvmpipe through OpenGL ES: slow, but the
 * same code path a GPU takes. Two runs give the same bytes (verify), the adapter is part of the
 * fingerprint, and with no adapter the stage fails saying so, never falling back to wasm.
 *
 * Needs an adapter (a GPU with Vulkan, or Mesa's EGL and GLES: libegl-mesa0, libgles2); skipped
 * without one unless CONNO_REQUIRE_WEBGPU=1 (CI).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { synthStage } from './support/pipelines.js';

const probe = spawnSync(process.execPath, [path.join(REPO, 'dist/src/lab/ml/webgpu.js')], { encoding: 'utf8', timeout: 60_000 });
const ADAPTER = probe.status === 0 ? probe.stdout.trim().replace(/^adapter: /, '') : undefined;
if (!ADAPTER && process.env.CONNO_REQUIRE_WEBGPU === '1') throw new Error(`CONNO_REQUIRE_WEBGPU=1, but Dawn found no WebGPU adapter: ${probe.stderr.trim().split('\n').pop()}`);

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const PIPELINE = `stages:
${synthStage('classes: 3, clips_per_class: 16, seconds: 0.3, sample_rate: 16000, seed: 1, test_fraction: 0.25, dev_fraction: 0')}  features:
    uses: features
    needs: [data]
    with: { n_fft: 512, hop_length: 160, n_mels: 16, f_max: 8000, frames: 16 }
  train:
    uses: train
    needs: [features]
    with:
      model: { name: cnn4, filters: [4, 8], batchnorm: true }
      epochs: 3
      batch_size: 8
      seed: 1
      backend: webgpu
  evaluate:
    uses: evaluate-ood
    needs: [train, features]
    with: { backend: webgpu, saliency: { clips: 1, patch: [4, 4] } }
`;

describe.skipIf(!ADAPTER)(`backend webgpu (e2e, ${ADAPTER ?? 'no adapter'})`, () => {
  it('trains on the WebGPU adapter, bit for bit again under verify, with the adapter in the fingerprint', async () => {
    p = tempProject({ 'pipeline.yaml': PIPELINE });
    const r = await p.conno(['repro'], { timeout: 180_000 });
    expect(r.exitCode, r.all).toBe(0);
    const lock = parse(p.read('conno.lock')) as { stages: Record<string, { env: Record<string, string>; metrics?: { test_acc?: number } }> };
    expect(lock.stages['train']!.env).toMatchObject({ backend: 'webgpu', 'webgpu-adapter': ADAPTER });
    expect(lock.stages['train']!.metrics?.test_acc).toBeTypeOf('number');
    expect(p.read('cache/logs/train.log')).toContain(`adapter=${ADAPTER}`);
    // evaluate-ood runs the model on the same adapter.
    expect(lock.stages['evaluate']!.env).toMatchObject({ backend: 'webgpu', 'webgpu-adapter': ADAPTER });

    const v = await p.conno(['verify', 'train', 'evaluate'], { timeout: 180_000 });
    expect(v.exitCode, v.all).toBe(0);
    expect(v.stdout).toContain('ok train');
    expect(v.stdout).toContain('ok evaluate');

    // Another adapter (here: none, as Dawn has no Direct3D on Linux) is another computation…
    const none = { CONNO_WEBGPU_FLAGS: 'backend=d3d12' };
    const s = await p.conno(['status'], { env: none });
    expect(s.stdout).toContain(`environment changed: webgpu-adapter "${ADAPTER}" → "none: backend 'webgpu': Dawn found no WebGPU adapter (tried: backend=d3d12, core; backend=d3d12, compatibility)"`);
    // …and with none the stage fails, saying so: no silent fall back to another backend.
    const f = await p.conno(['repro'], { env: none, timeout: 120_000 });
    expect(f.exitCode).toBe(1);
    expect(f.all).toMatch(/skipped evaluate: upstream train failed/);
    expect(f.all).toContain("FAILED train: backend 'webgpu': Dawn found no WebGPU adapter (tried: backend=d3d12, core; backend=d3d12, compatibility)");
    expect(f.all).toContain('Or use backend: wasm.');
    expect(f.all).not.toMatch(/\n\s+at [^\n]*\.js:\d+/); // no stack trace
  }, 400_000);

  it('refuses to run on another adapter than the fingerprint recorded (fingerprints are taken where conno runs)', async () => {
    // The stage's own environment makes Dawn describe its adapter otherwise than the probe that
    // conno ran for the fingerprint did: as a compute node with another GPU would.
    p = tempProject({ 'pipeline.yaml': PIPELINE.replace('      backend: webgpu\n', '      backend: webgpu\n    env: { CONNO_WEBGPU_FLAGS: "backend=opengles,validate=1" }\n') });
    const r = await p.conno(['repro', 'train'], { timeout: 180_000 });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain(`FAILED train: backend 'webgpu': this instance was fingerprinted for the adapter '${ADAPTER}', but here Dawn gives '`);
    expect(r.all).toContain('backend=opengles validate=1, compatibility');
    expect(parse(p.read('conno.lock')).stages.train).toBeUndefined();
  }, 200_000);
});
