/**
 * A pretrained model exported to ONNX (e.g. `torch.onnx.export`), run with onnxruntime-node as a
 * frozen feature extractor: one embedding per clip.
 *
 * Reproducibility: the CPU execution provider with one thread for each operator and between
 * operators, sequential execution; inputs batched in a fixed order (clips of one length together,
 * in table order), so the same model, inputs and batch size give the same bytes. onnxruntime-node
 * is an optional dependency (its install script fetches CUDA binaries from outside the npm
 * registry unless told `onnxruntime-node-install=skip`): a missing runtime is a clear error.
 */
import { createRequire } from 'node:module';
import { ConnoError, InputError, ParamError } from '../../core/util/errors.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

/** The runtime's version (it goes into the embed stage's fingerprint), or null when not installed. */
export function onnxRuntimeVersion(): string | null {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}

async function runtime(): Promise<Ort> {
  try {
    return await import('onnxruntime-node');
  } catch (err) {
    throw new ConnoError(
      `the embed stage needs onnxruntime-node, which is not installed (${(err as Error).message.split('\n')[0]}). ` +
        "It is an optional dependency of conno: in your project, put `onnxruntime-node-install=skip` in .npmrc (its install script otherwise fetches CUDA binaries from outside the npm registry) and run `npm install`.",
    );
  }
}

export interface TensorInfo {
  name: string;
  /** Each dimension: a size, or a symbolic name (a dynamic axis such as 'batch'). */
  shape: (number | string)[];
}

export interface OnnxModel {
  file: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  session: Session;
  ort: Ort;
}

const describeTensor = (t: TensorInfo) => `'${t.name}' [${t.shape.map(String).join(', ')}]`;
export const describeTensors = (ts: TensorInfo[]): string => ts.map(describeTensor).join(', ');

export async function loadOnnxModel(file: string, where: string, provider: 'cpu' | 'cuda' = 'cpu'): Promise<OnnxModel> {
  const ort = await runtime();
  let session: Session;
  try {
    session = await ort.InferenceSession.create(file, {
      executionProviders: [provider],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Its own log would repeat, with C++ source positions, what the error below says.
      logSeverityLevel: 4,
    });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    if (provider === 'cuda') {
      throw new ConnoError(`${where}: onnxruntime cannot run it with the cuda provider (${msg}); it needs onnxruntime's CUDA binaries, which npm skipped: \`ONNXRUNTIME_NODE_INSTALL=true npm rebuild onnxruntime-node\` on the GPU machine fetches them (a CUDA 12 driver and cuDNN 9 are needed), or use provider: cpu`);
    }
    throw new InputError(`${where}: cannot load the ONNX model: ${msg}`);
  }
  const info = (m: readonly import('onnxruntime-node').InferenceSession.ValueMetadata[]): TensorInfo[] =>
    m.map((v) => ({ name: v.name, shape: v.isTensor ? [...v.shape] : [] }));
  return { file, inputs: info(session.inputMetadata), outputs: info(session.outputMetadata), session, ort };
}

/** The model's tensor named `name`, or its only one when `name` is null; else an error naming what it has. */
export function pickTensor(ts: TensorInfo[], name: string | null, what: 'input' | 'output', where: string, param: string): TensorInfo {
  if (name === null) {
    if (what === 'input' && ts.length !== 1) throw new ParamError(`${where}: the model has ${ts.length} inputs (${describeTensors(ts)}); name the one to feed with \`${param}\``, ['model']);
    return ts[0]!;
  }
  const t = ts.find((x) => x.name === name);
  if (!t) throw new ParamError(`${where}: ${param}: the model has no ${what} '${name}'; its ${what}s: ${describeTensors(ts)}`, [param]);
  return t;
}

/**
 * Check one example's dims ([...] without the batch) against the model input's declared shape
 * (fixed sizes must match; symbolic ones take anything); the dims fed, with the batch first.
 * A model with one more axis than the data (a channel axis of size 1) gets it inserted.
 */
export function inputDims(input: TensorInfo, example: number[], where: string, what: string): number[] {
  const declared = input.shape;
  let dims = example;
  if (declared.length === example.length + 2 && (declared[1] === 1 || typeof declared[1] === 'string')) dims = [1, ...example];
  if (declared.length !== 0 && declared.length !== dims.length + 1) {
    throw new ParamError(`${where}: the model's input ${describeTensor(input)} has ${declared.length} axes; ${what} give [batch, ${example.join(', ')}]`, ['model']);
  }
  dims.forEach((d, i) => {
    const want = declared[i + 1];
    if (typeof want === 'number' && want > 0 && want !== d) {
      throw new ParamError(`${where}: the model's input ${describeTensor(input)} wants ${want} at axis ${i + 1}; ${what} give [batch, ${example.join(', ')}]`, ['model']);
    }
  });
  return dims;
}

export interface EmbedBatch {
  /** Row indices of the examples, in the order of `data`. */
  rows: number[];
  /** The examples of the batch, concatenated (each `dims` long in total). */
  data: Float32Array;
  /** One example's dims (without the batch axis). */
  dims: number[];
}

/**
 * Run the model on each batch and pool its output per example: `[batch, D]` gives D values
 * (shape [D, 1]); `[batch, T, D]` gives the mean over T (`mean`, shape [D, 1]) or all of it
 * transposed (`none`, shape [D, T]: dimensions as bands, steps as frames, like log-mel features).
 */
export async function embedBatches(
  model: OnnxModel,
  input: TensorInfo,
  output: TensorInfo,
  batches: Iterable<EmbedBatch>,
  rows: number,
  pool: 'mean' | 'none',
  where: string,
): Promise<{ values: Float32Array; shape: [number, number] }> {
  let shape: [number, number] | undefined;
  let values: Float32Array | undefined;
  for (const b of batches) {
    const n = b.rows.length;
    const feed = new model.ort.Tensor('float32', b.data, [n, ...b.dims]);
    let out: import('onnxruntime-node').Tensor;
    try {
      const res = await model.session.run({ [input.name]: feed }, [output.name]);
      out = res[output.name]!;
    } catch (err) {
      throw new InputError(`${where}: the model failed on a batch of [${[n, ...b.dims].join(', ')}] for input '${input.name}': ${(err as Error).message.split('\n')[0]}`);
    }
    if (out.type !== 'float32') throw new ParamError(`${where}: the model's output '${output.name}' is ${out.type}; embed takes float32 outputs`, ['output']);
    const dims = out.dims.map(Number);
    if (dims[0] !== n || (dims.length !== 2 && dims.length !== 3)) {
      throw new ParamError(`${where}: the model's output '${output.name}' came out [${dims.join(', ')}] for a batch of ${n}; embed takes [batch, D] or [batch, steps, D]`, ['output']);
    }
    const data = out.data as Float32Array;
    const [steps, d] = dims.length === 2 ? [1, dims[1]!] : [dims[1]!, dims[2]!];
    const here: [number, number] = dims.length === 2 || pool === 'mean' ? [d, 1] : [d, steps];
    if (!shape) {
      shape = here;
      values = new Float32Array(rows * here[0] * here[1]);
    } else if (shape[0] !== here[0] || shape[1] !== here[1]) {
      throw new InputError(`${where}: the embeddings differ in shape ([${shape.join(', ')}] and [${here.join(', ')}]); with pool: none every clip must give as many steps (make the clips one length upstream), or use pool: mean`);
    }
    const size = here[0] * here[1];
    b.rows.forEach((row, k) => {
      const src = data.subarray(k * steps * d, (k + 1) * steps * d); // [steps, d]
      const dst = values!.subarray(row * size, (row + 1) * size); // [d, here[1]]
      if (here[1] === 1 && steps > 1) {
        // The mean over steps, accumulated in float64 in a fixed order.
        for (let j = 0; j < d; j++) {
          let s = 0;
          for (let t = 0; t < steps; t++) s += src[t * d + j]!;
          dst[j] = s / steps;
        }
      } else if (here[1] === 1) dst.set(src);
      else for (let t = 0; t < steps; t++) for (let j = 0; j < d; j++) dst[j * steps + t] = src[t * d + j]!;
    });
  }
  if (!shape || !values) throw new InputError(`${where}: no clips to embed`);
  return { values, shape };
}

/** Batches of at most `size` rows, each of rows whose examples have the same length, in row order. */
export function* batchesByLength(lengths: readonly number[], size: number): Generator<number[]> {
  const groups = new Map<number, number[]>();
  lengths.forEach((len, row) => {
    const g = groups.get(len);
    if (g) g.push(row);
    else groups.set(len, [row]);
  });
  for (const rows of groups.values()) for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/**
 * Standardise each embedding dimension (row j of every [D, steps] value) in place with the mean
 * and std over the rows of `split` (all their steps), accumulated in float64 in row order.
 * Returns the statistics, or null when no row is of that split.
 */
export function standardise(values: Float32Array, shape: [number, number], splits: readonly string[], split: string, minStd = 1e-8): { mean: number[]; std: number[]; rows: number } | null {
  const [d, steps] = shape;
  const size = d * steps;
  const use = splits.flatMap((s, r) => (s === split ? [r] : []));
  if (use.length === 0) return null;
  const mean = new Array<number>(d).fill(0);
  const sq = new Array<number>(d).fill(0);
  for (const r of use) {
    for (let j = 0; j < d; j++) {
      for (let t = 0; t < steps; t++) {
        const v = values[r * size + j * steps + t]!;
        mean[j]! += v;
        sq[j]! += v * v;
      }
    }
  }
  const count = use.length * steps;
  const std = mean.map((s, j) => {
    const m = s / count;
    mean[j] = m;
    return Math.max(Math.sqrt(Math.max(0, sq[j]! / count - m * m)), minStd);
  });
  for (let r = 0; r < splits.length; r++) {
    for (let j = 0; j < d; j++) for (let t = 0; t < steps; t++) {
      const k = r * size + j * steps + t;
      values[k] = (values[k]! - mean[j]!) / std[j]!;
    }
  }
  return { mean, std, rows: use.length };
}
