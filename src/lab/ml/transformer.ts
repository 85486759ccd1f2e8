/**
 * A small transformer over spectrogram patches (in the manner of AST / ViT, pre-norm): the
 * log-mel input [mels, frames, 1] is cut into non-overlapping patches (a strided convolution),
 * each patch becomes a token of width `dim`, a learned position embedding is added, then `depth`
 * blocks of multi-head self-attention and an MLP (GELU), each with layer norm and a residual
 * connection; the mean over tokens is the `embedding`.
 *
 * tfjs-layers 4.22 has no attention layer: the two layers below are written from tfjs-core ops
 * (matMul, softmax, transpose), so their gradients come from tfjs and they train on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

type Initializer = ReturnType<typeof tfl.initializers.zeros>;

export interface TransformerConfig {
  patch: [number, number];
  dim: number;
  depth: number;
  heads: number;
  mlp: number;
  dropout: number;
}

interface Classes {
  PositionEmbedding: new (args: { init: Initializer; name?: string }) => tfl.layers.Layer;
  SelfAttention: new (args: { heads: number; init: () => Initializer; zeros: Initializer; name?: string }) => tfl.layers.Layer;
}

let classes: Classes | undefined;

function layerClasses(layers: typeof tfl.layers): Classes {
  if (classes) return classes;
  // The one cast of this file: tfjs-layers types Layer as an abstract class whose constructor
  // takes its own LayerArgs; our layers take their own arguments and pass LayerArgs on.
  const Layer = layers.Layer as unknown as new (args: object) => tfl.layers.Layer;

  /** x [N, T, d] + P [T, d] (learned). */
  class PositionEmbedding extends Layer {
    static className = 'ConnoPositionEmbedding';
    private readonly init: Initializer;
    private table!: tfl.LayerVariable;
    constructor(args: { init: Initializer; name?: string }) {
      super({ name: args.name });
      this.init = args.init;
    }
    override build(inputShape: tfl.Shape | tfl.Shape[]): void {
      const s = inputShape as number[];
      this.table = this.addWeight('table', [s[1]!, s[2]!], 'float32', this.init);
      this.built = true;
    }
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.add(x, this.table.read());
    }
    override getClassName(): string {
      return PositionEmbedding.className;
    }
  }

  /** Multi-head self-attention over [N, T, d]: softmax(QKᵀ/√(d/h))·V per head, then Wo. */
  class SelfAttention extends Layer {
    static className = 'ConnoSelfAttention';
    private readonly heads: number;
    private readonly init: () => Initializer;
    private readonly zeros: Initializer;
    private w: tfl.LayerVariable[] = [];
    private b: tfl.LayerVariable[] = [];
    constructor(args: { heads: number; init: () => Initializer; zeros: Initializer; name?: string }) {
      super({ name: args.name });
      this.heads = args.heads;
      this.init = args.init;
      this.zeros = args.zeros;
    }
    override build(inputShape: tfl.Shape | tfl.Shape[]): void {
      const d = (inputShape as number[])[2]!;
      this.w = ['query', 'key', 'value', 'output'].map((n) => this.addWeight(`${n}_kernel`, [d, d], 'float32', this.init()));
      this.b = ['query', 'key', 'value', 'output'].map((n) => this.addWeight(`${n}_bias`, [d], 'float32', this.zeros));
      this.built = true;
    }
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
      return tf.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor3D;
        const [n, t, d] = x.shape;
        const h = this.heads;
        const dh = d / h;
        const flat = tf.reshape(x, [n * t, d]);
        // [N·T, d] → [N, h, T, dh]
        const project = (i: number) => tf.transpose(tf.reshape(tf.add(tf.matMul(flat, this.w[i]!.read()), this.b[i]!.read()), [n, t, h, dh]), [0, 2, 1, 3]);
        const q = project(0);
        const k = project(1);
        const v = project(2);
        const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh))); // [N, h, T, T]
        const mixed = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [n * t, d]);
        return tf.reshape(tf.add(tf.matMul(mixed, this.w[3]!.read()), this.b[3]!.read()), [n, t, d]);
      });
    }
    override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
      return inputShape as tfl.Shape;
    }
    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), heads: this.heads };
    }
    override getClassName(): string {
      return SelfAttention.className;
    }
  }

  classes = { PositionEmbedding, SelfAttention };
  return classes;
}

/**
 * The transformer's layers from `input` [mels, frames, 1] to the `embedding` [dim]. `kernel()`
 * gives the next seeded initializer, `dropoutSeed()` the next dropout seed (src/lab/ml/models.ts).
 */
export function transformerBody(
  tflib: typeof tfl,
  input: tfl.SymbolicTensor,
  inputShape: readonly number[],
  cfg: TransformerConfig,
  kernel: () => Initializer,
  dropoutSeed: () => number,
): tfl.SymbolicTensor {
  const { PositionEmbedding, SelfAttention } = layerClasses(tflib.layers);
  const [mels, frames] = inputShape as [number, number];
  const [pm, pt] = cfg.patch;
  if (pm > mels || pt > frames) {
    throw new Error(`transformer: patch [${pm}, ${pt}] is larger than the input [${mels}, ${frames}] (n_mels, frames)`);
  }
  const tokens = Math.floor(mels / pm) * Math.floor(frames / pt);
  const L = tflib.layers;
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
  const dropout = (x: tfl.SymbolicTensor) => (cfg.dropout > 0 ? apply(L.dropout({ rate: cfg.dropout, seed: dropoutSeed() }), x) : x);

  let x = apply(L.conv2d({ filters: cfg.dim, kernelSize: [pm, pt], strides: [pm, pt], padding: 'valid', kernelInitializer: kernel() }), input);
  x = apply(L.reshape({ targetShape: [tokens, cfg.dim] }), x);
  x = apply(new PositionEmbedding({ init: tflib.initializers.truncatedNormal({ stddev: 0.02, seed: dropoutSeed() }) }), x);
  x = dropout(x);
  for (let i = 0; i < cfg.depth; i++) {
    let y = apply(L.layerNormalization({ epsilon: 1e-5 }), x);
    y = apply(new SelfAttention({ heads: cfg.heads, init: kernel, zeros: tflib.initializers.zeros() }), y);
    x = apply(L.add(), [x, dropout(y)]);
    y = apply(L.layerNormalization({ epsilon: 1e-5 }), x);
    y = apply(L.dense({ units: cfg.mlp, activation: 'gelu_new' as never, kernelInitializer: kernel() }), y);
    y = apply(L.dense({ units: cfg.dim, kernelInitializer: kernel() }), y);
    x = apply(L.add(), [x, dropout(y)]);
  }
  x = apply(L.layerNormalization({ epsilon: 1e-5 }), x);
  return apply(L.globalAveragePooling1d({ name: 'embedding' }), x);
}
