/**
 * The classifiers of the study, built with TensorFlow.js layers. Every initializer and dropout
 * layer gets a seed derived from the run's seed, so the same fingerprint builds the same model.
 * The layer named `embedding` is the representation later stages read (linear probes, CKA,
 * transfer-teacher scores).
 *
 * Inputs are log-mel patches [n_mels, frames, 1] (NHWC with H = mel bands, W = frames).
 */
import { z } from 'zod';
import type * as tfl from '@tensorflow/tfjs-layers';

export const ModelSchema = z.discriminatedUnion('name', [
  /** Fonseca et al., WASPAA 2019 baseline: 3 conv 5×5 (24/48/48), pool (4,2), dense 64, dropout 0.5, L2 1e-3. */
  z.strictObject({
    name: z.literal('waspaa19'),
    l2: z.number().nonnegative().default(1e-3),
    dropout: z.number().min(0).max(1).default(0.5),
  }),
  /** 4 conv blocks (3×3, batchnorm, ReLU, 2×2 max-pool), global average pool, softmax: the speed reference. */
  z.strictObject({
    name: z.literal('cnn4'),
    filters: z.array(z.number().int().positive()).min(1).default([16, 32, 64, 64]),
    batchnorm: z.boolean().default(true),
    dropout: z.number().min(0).max(1).default(0),
  }),
  /** TC-ResNet8 (Choi et al. 2019): 1-D temporal convolutions with the mel bands as channels. */
  z.strictObject({
    name: z.literal('tcresnet8'),
    width: z.number().positive().default(1),
  }),
  /** A small transformer over spectrogram patches (src/lab/ml/transformer.ts). */
  z
    .strictObject({
      name: z.literal('transformer'),
      /** [mel bands, frames] per patch (non-overlapping; a remainder of the input is dropped). */
      patch: z.tuple([z.number().int().positive(), z.number().int().positive()]).default([8, 10]),
      dim: z.number().int().positive().default(64),
      depth: z.number().int().positive().default(2),
      heads: z.number().int().positive().default(4),
      mlp: z.number().int().positive().default(128),
      dropout: z.number().min(0).max(1).default(0.1),
    })
    .refine((m) => m.dim % m.heads === 0, { message: 'dim must be a multiple of heads', path: ['heads'] }),
  /**
   * A raw-waveform 1-D CNN after M5/M11 (Dai et al. 2017, "Very deep convolutional neural networks
   * for raw waveforms"): a wide strided first convolution (a learnt filterbank), then blocks of
   * 3-tap convolutions with batchnorm, ReLU and max-pooling by 4, global average pool. Its input
   * is a waveform table [1, samples] (uses: waveform).
   */
  z.strictObject({
    name: z.literal('wavecnn'),
    filters: z.array(z.number().int().positive()).min(1).default([32, 32, 64, 64]),
    first_kernel: z.number().int().positive().default(80),
    first_stride: z.number().int().positive().default(4),
    /** 3-tap convolutions per block after the first (M5: 1, M11: 2 or 3). */
    depth: z.number().int().positive().default(1),
    dropout: z.number().min(0).max(1).default(0),
  }),
  /** A linear (hidden: []) or MLP head, e.g. on frozen embeddings. */
  z.strictObject({
    name: z.literal('mlp'),
    hidden: z.array(z.number().int().positive()).default([]),
    dropout: z.number().min(0).max(1).default(0),
  }),
]);

export type ModelConfig = z.infer<typeof ModelSchema>;

/**
 * A linear Conv2D layer whose gradients are computed input by input, only where asked for.
 * tfjs-layers runs every 2-D convolution as `fused.conv2d`, whose custom gradient computes the
 * input's gradient even where nothing needs it: on a model's first layer, a whole extra
 * convolution per step over the largest activations (7% of a cnn4 step). Here the layer runs
 * the same kernels on the same values (so the same bits, src/lab/ml/models.wasm.test.ts): without
 * a bias the plain conv2d op; with one, the FusedConv2D kernel itself, whose gradient is
 * registered below in the engine's lazy form (the bias's is the fused op's: dy summed over N, H, W).
 */
async function lazyGradients(layer: tfl.layers.Layer): Promise<tfl.layers.Layer> {
  const tfc = await import('@tensorflow/tfjs-core');
  registerFusedConvGradient(tfc);
  // The layer's configuration and weights are protected members of tfjs-layers' Conv2D: read by name.
  const field = <T>(name: string): T => Reflect.get(layer, name) as T;
  const activation = field<{ getClassName(): string } | undefined>('activation');
  if ((activation !== undefined && activation.getClassName() !== 'linear') || field('dataFormat') !== 'channelsLast') throw new Error('lazyGradients: only a linear NHWC Conv2D');
  const call = (inputs: unknown) => {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as import('@tensorflow/tfjs-core').Tensor4D;
    const kernel = field<{ read(): import('@tensorflow/tfjs-core').Tensor4D }>('kernel').read();
    const bias = field<{ read(): import('@tensorflow/tfjs-core').Tensor1D } | null | undefined>('bias');
    const strides = field<[number, number]>('strides');
    const dilations = field<[number, number]>('dilationRate');
    const pad = field('padding') === 'same' ? 'same' : 'valid';
    if (bias == null) return tfc.conv2d(x, kernel, strides, pad, 'NHWC', dilations);
    return tfc.engine().runKernel('FusedConv2D', { x, filter: kernel, bias: bias.read() }, { strides, pad, dataFormat: 'NHWC', dilations, activation: 'linear' });
  };
  Reflect.set(layer, 'call', call);
  return layer;
}

/** FusedConv2D's gradient (linear activation), for the layers above; tfjs-core has none registered: its fused op brings its own. */
function registerFusedConvGradient(tfc: typeof import('@tensorflow/tfjs-core')): void {
  if (tfc.getGradient('FusedConv2D') !== undefined) return;
  tfc.registerGradient({
    kernelName: 'FusedConv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [import('@tensorflow/tfjs-core').Tensor4D, import('@tensorflow/tfjs-core').Tensor4D];
      if (attrs['activation'] !== 'linear') throw new Error(`FusedConv2D gradient: only the linear activation (got ${String(attrs['activation'])})`);
      // FusedConv2DAttrs: strides, pad, dataFormat and dimRoundingMode go on as they came.
      const conv: import('@tensorflow/tfjs-core').NamedAttrMap = {};
      for (const k of ['strides', 'pad', 'dataFormat', 'dimRoundingMode']) if (attrs[k] !== undefined) conv[k] = attrs[k];
      const dy4 = dy as import('@tensorflow/tfjs-core').Tensor4D;
      return {
        x: () => tfc.engine().runKernel('Conv2DBackpropInput', { dy: dy4, filter }, { ...conv, inputShape: x.shape }),
        filter: () => tfc.engine().runKernel('Conv2DBackpropFilter', { x, dy: dy4 }, { ...conv, filterShape: filter.shape }),
        bias: () => tfc.sum(dy4, [0, 1, 2]),
      } as Record<string, () => import('@tensorflow/tfjs-core').Tensor>;
    },
  });
}

/** Derive the seed of the i-th randomised layer from the run's seed (odd multiplier mixing). */
function seedOf(seed: number, i: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

export async function buildModel(cfg: ModelConfig, inputShape: readonly number[], numClasses: number, seed: number): Promise<tfl.LayersModel> {
  const tf = await import('@tensorflow/tfjs-layers');
  // ReLU's gradient as one kernel on wasm (the same bits), put in place after tfjs-layers registered tfjs-core's.
  const { registerReluGradient } = await import('./kernels/relu_grad.js');
  registerReluGradient();
  const { batchNormalization } = await import('./batchnorm.js');
  const bn = () => batchNormalization(tf.layers);
  let n = 0;
  const kernel = () => tf.initializers.glorotUniform({ seed: seedOf(seed, n++) });
  const dropoutSeed = () => seedOf(seed, n++);
  const input = tf.input({ shape: [...inputShape] });
  let x: tfl.SymbolicTensor;
  switch (cfg.name) {
    case 'waspaa19': {
      const reg = () => (cfg.l2 > 0 ? tf.regularizers.l2({ l2: cfg.l2 }) : undefined);
      x = tf.layers.conv2d({ filters: 24, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: kernel(), kernelRegularizer: reg() }).apply(input) as tfl.SymbolicTensor;
      x = tf.layers.maxPooling2d({ poolSize: [4, 2] }).apply(x) as tfl.SymbolicTensor;
      x = tf.layers.conv2d({ filters: 48, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: kernel(), kernelRegularizer: reg() }).apply(x) as tfl.SymbolicTensor;
      x = tf.layers.maxPooling2d({ poolSize: [4, 2] }).apply(x) as tfl.SymbolicTensor;
      x = tf.layers.conv2d({ filters: 48, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: kernel(), kernelRegularizer: reg() }).apply(x) as tfl.SymbolicTensor;
      x = tf.layers.flatten().apply(x) as tfl.SymbolicTensor;
      x = tf.layers.dropout({ rate: cfg.dropout, seed: dropoutSeed() }).apply(x) as tfl.SymbolicTensor;
      x = tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: kernel(), kernelRegularizer: reg(), name: 'embedding' }).apply(x) as tfl.SymbolicTensor;
      x = tf.layers.dropout({ rate: cfg.dropout, seed: dropoutSeed() }).apply(x) as tfl.SymbolicTensor;
      break;
    }
    case 'cnn4': {
      x = input;
      for (const filters of cfg.filters) {
        // No conv bias before batchnorm: its shift makes the bias redundant.
        const conv = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: !cfg.batchnorm, kernelInitializer: kernel() });
        x = (await lazyGradients(conv)).apply(x) as tfl.SymbolicTensor;
        if (cfg.batchnorm) x = bn().apply(x) as tfl.SymbolicTensor;
        x = tf.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
        x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
      }
      x = tf.layers.globalAveragePooling2d({ name: 'embedding' }).apply(x) as tfl.SymbolicTensor;
      if (cfg.dropout > 0) x = tf.layers.dropout({ rate: cfg.dropout, seed: dropoutSeed() }).apply(x) as tfl.SymbolicTensor;
      break;
    }
    case 'tcresnet8': {
      const [mels, frames] = inputShape as [number, number, number];
      // [mels, frames, 1] → [frames, mels]: time is the convolution axis, mel bands the channels.
      x = tf.layers.permute({ dims: [2, 1, 3] }).apply(input) as tfl.SymbolicTensor;
      x = tf.layers.reshape({ targetShape: [frames, mels] }).apply(x) as tfl.SymbolicTensor;
      const ch = (c: number) => Math.max(1, Math.round(c * cfg.width));
      x = tf.layers.conv1d({ filters: ch(16), kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: kernel() }).apply(x) as tfl.SymbolicTensor;
      for (const c of [24, 32, 48]) {
        const shortcut1 = tf.layers.conv1d({ filters: ch(c), kernelSize: 1, strides: 2, padding: 'same', useBias: false, kernelInitializer: kernel() }).apply(x) as tfl.SymbolicTensor;
        const shortcut = tf.layers.activation({ activation: 'relu' }).apply(bn().apply(shortcut1)) as tfl.SymbolicTensor;
        let y = tf.layers.conv1d({ filters: ch(c), kernelSize: 9, strides: 2, padding: 'same', useBias: false, kernelInitializer: kernel() }).apply(x) as tfl.SymbolicTensor;
        y = bn().apply(y) as tfl.SymbolicTensor;
        y = tf.layers.activation({ activation: 'relu' }).apply(y) as tfl.SymbolicTensor;
        y = tf.layers.conv1d({ filters: ch(c), kernelSize: 9, padding: 'same', useBias: false, kernelInitializer: kernel() }).apply(y) as tfl.SymbolicTensor;
        y = bn().apply(y) as tfl.SymbolicTensor;
        x = tf.layers.add().apply([y, shortcut]) as tfl.SymbolicTensor;
        x = tf.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
      }
      x = tf.layers.globalAveragePooling1d({ name: 'embedding' }).apply(x) as tfl.SymbolicTensor;
      break;
    }
    case 'transformer': {
      const { transformerBody } = await import('./transformer.js');
      x = transformerBody(tf, input, inputShape, cfg, kernel, dropoutSeed);
      break;
    }
    case 'wavecnn': {
      const [rows, samples] = inputShape as [number, number, number];
      if (rows !== 1) throw new Error(`wavecnn takes waveforms [1, samples] (uses: waveform), not [${inputShape.slice(0, 2).join(', ')}]: a log-mel table is for cnn4, tcresnet8 and the others`);
      x = tf.layers.reshape({ targetShape: [samples, 1] }).apply(input) as tfl.SymbolicTensor;
      cfg.filters.forEach((filters, b) => {
        for (let d = 0; d < (b === 0 ? 1 : cfg.depth); d++) {
          const first = b === 0;
          x = tf.layers
            .conv1d({ filters, kernelSize: first ? cfg.first_kernel : 3, strides: first ? cfg.first_stride : 1, padding: 'same', useBias: false, kernelInitializer: kernel() })
            .apply(x) as tfl.SymbolicTensor;
          x = bn().apply(x) as tfl.SymbolicTensor;
          x = tf.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
        }
        x = tf.layers.maxPooling1d({ poolSize: 4, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
      });
      x = tf.layers.globalAveragePooling1d({ name: 'embedding' }).apply(x) as tfl.SymbolicTensor;
      if (cfg.dropout > 0) x = tf.layers.dropout({ rate: cfg.dropout, seed: dropoutSeed() }).apply(x) as tfl.SymbolicTensor;
      break;
    }
    case 'mlp': {
      x = inputShape.length > 1 ? (tf.layers.flatten().apply(input) as tfl.SymbolicTensor) : input;
      cfg.hidden.forEach((units, i) => {
        x = tf.layers.dense({ units, activation: 'relu', kernelInitializer: kernel(), name: i === cfg.hidden.length - 1 ? 'embedding' : undefined }).apply(x) as tfl.SymbolicTensor;
        if (cfg.dropout > 0) x = tf.layers.dropout({ rate: cfg.dropout, seed: dropoutSeed() }).apply(x) as tfl.SymbolicTensor;
      });
      break;
    }
  }
  // Logits: the losses apply their own softmax, so every loss sees the same numbers.
  const logits = tf.layers.dense({ units: numClasses, kernelInitializer: kernel(), name: 'logits' }).apply(x) as tfl.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: cfg.name });
}
