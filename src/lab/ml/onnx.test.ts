import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchesByLength, embedBatches, inputDims, loadOnnxModel, onnxRuntimeVersion, pickTensor } from './onnx.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/onnx');
// PyTorch's outputs for the same inputs (scripts/fixtures/onnx_fixtures.py).
const expected = JSON.parse(readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as { wave_embed: number[][]; mel_embed: number[][] };

/** The inputs of expected.json, exact in float32. */
function tone(): Float32Array[] {
  const a = Float32Array.from({ length: 4000 }, (_, i) => (((i * 7919) % 256) - 128) / 256);
  const b = Float32Array.from({ length: 4000 }, (_, i) => ((i % 160) - 80) / 128);
  return [a, b];
}

describe('onnx', () => {
  it('knows the runtime version', () => {
    expect(onnxRuntimeVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("runs a PyTorch export as PyTorch does, and the same bytes twice, whatever the batch", async () => {
    const m = await loadOnnxModel(path.join(FIX, 'wave_embed.onnx'), 'wave_embed');
    expect(m.inputs).toEqual([{ name: 'waveform', shape: ['batch', 'samples'] }]);
    const input = pickTensor(m.inputs, null, 'input', 'w', 'input_name');
    const output = pickTensor(m.outputs, null, 'output', 'w', 'output');
    const [a, b] = tone();
    const both = new Float32Array(8000);
    both.set(a!, 0);
    both.set(b!, 4000);
    const run = () => embedBatches(m, input, output, [{ rows: [0, 1], data: both, dims: inputDims(input, [4000], 'w', 'clips') }], 2, 'mean', 'w');
    const out = await run();
    expect(out.shape).toEqual([16, 1]);
    for (let r = 0; r < 2; r++) for (let j = 0; j < 16; j++) expect(out.values[r * 16 + j]).toBeCloseTo(expected.wave_embed[r]![j]!, 5);
    expect(Buffer.from((await run()).values.buffer)).toEqual(Buffer.from(out.values.buffer));
    // One at a time: the same values (to float precision).
    const one = await embedBatches(m, input, output, [{ rows: [1], data: b!, dims: [4000] }, { rows: [0], data: a!, dims: [4000] }], 2, 'mean', 'w');
    for (let i = 0; i < 32; i++) expect(one.values[i]).toBeCloseTo(out.values[i]!, 6);
  });

  it('pools a per-step output by its mean, or keeps every step as [D, steps]', async () => {
    const m = await loadOnnxModel(path.join(FIX, 'mel_embed.onnx'), 'mel_embed');
    const input = pickTensor(m.inputs, 'logmel', 'input', 'm', 'input_name');
    const grid = Float32Array.from({ length: 32 * 40 }, (_, k) => 0.01 * (Math.floor(k / 40) + (k % 40)));
    const dims = inputDims(input, [32, 40], 'm', 'features');
    const mean = await embedBatches(m, input, pickTensor(m.outputs, 'frames', 'output', 'm', 'output'), [{ rows: [0], data: grid, dims }], 1, 'mean', 'm');
    expect(mean.shape).toEqual([12, 1]);
    for (let j = 0; j < 12; j++) expect(mean.values[j]).toBeCloseTo(expected.mel_embed[0]![j]!, 5);
    const all = await embedBatches(m, input, pickTensor(m.outputs, 'frames', 'output', 'm', 'output'), [{ rows: [0], data: grid, dims }], 1, 'none', 'm');
    expect(all.shape).toEqual([12, 40]);
    // Row j of [D, steps] averages to the mean's j.
    for (let j = 0; j < 12; j++) expect(all.values.subarray(j * 40, (j + 1) * 40).reduce((s, v) => s + v, 0) / 40).toBeCloseTo(mean.values[j]!, 5);
  });

  it('says what the model expects when the data or the names do not fit', async () => {
    const m = await loadOnnxModel(path.join(FIX, 'mel_embed.onnx'), 'model models/mel.onnx');
    expect(() => pickTensor(m.inputs, 'waveform', 'input', 'model models/mel.onnx', 'input_name')).toThrow("model models/mel.onnx: input_name: the model has no input 'waveform'; its inputs: 'logmel' [batch, 32, frames]");
    expect(() => pickTensor(m.outputs, 'emb', 'output', 'model models/mel.onnx', 'output')).toThrow("its outputs: 'embedding' [batch, 12], 'frames' [batch, steps, 12]");
    expect(() => inputDims(m.inputs[0]!, [40, 50], 'model models/mel.onnx', 'the features of features')).toThrow("model models/mel.onnx: the model's input 'logmel' [batch, 32, frames] wants 32 at axis 1; the features of features give [batch, 40, 50]");
    expect(() => inputDims(m.inputs[0]!, [16000], 'model models/mel.onnx', 'clips of 16000 samples')).toThrow('has 3 axes; clips of 16000 samples give [batch, 16000]');
    await expect(loadOnnxModel(path.join(FIX, 'expected.json'), 'model x.onnx')).rejects.toThrow(/^model x\.onnx: cannot load the ONNX model/);
  });

  it('batches rows of one length together, in row order', () => {
    expect([...batchesByLength([5, 3, 5, 5, 3], 2)]).toEqual([[0, 2], [3], [1, 4]]);
  });
});

describe('onnx on a machine without CUDA', () => {
  it('says how to get the CUDA provider, never falls back to the CPU', async () => {
    await expect(loadOnnxModel(path.join(FIX, 'wave_embed.onnx'), 'model models/wave.onnx', 'cuda')).rejects.toThrow(/^model models\/wave\.onnx: onnxruntime cannot run it with the cuda provider \(.*\); it needs onnxruntime's CUDA binaries, which npm skipped: `ONNXRUNTIME_NODE_INSTALL=true npm rebuild onnxruntime-node`/);
  });
});
