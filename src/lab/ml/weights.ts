/**
 * A model's weights by stable names, and setting them from another run's (init_from, and every
 * stage that loads a trained model).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Weights to start from (another run's `model` output), by the names namedWeights gives. */
export type InitialWeights = Map<string, { shape: number[]; values: Float32Array }>;

/**
 * Sets the model's weights from `init` by name (`source` names where they come from, in errors).
 * Every weight of the model must be there with its shape, except, with `freshLogits`, the
 * logits layer's, which starts fresh when its shape differs (another class count).
 */
export function applyInitialWeights(model: tfl.LayersModel, init: InitialWeights, source: string, opts: { freshLogits: boolean; log?: (m: string) => void }): void {
  const named = namedWeights(model);
  const values = named.map(({ name, tensor }) => {
    const w = init.get(name);
    if (!w) throw new Error(`${source}: no weight ${name} (a different architecture: use the same model params)`);
    if (w.shape.join(',') !== tensor.shape.join(',')) {
      if (opts.freshLogits && name.split('/')[1] === 'logits') return null;
      throw new Error(`${source}: weight ${name} has shape [${w.shape.join(', ')}], this model's is [${tensor.shape.join(', ')}] (use the same model params)`);
    }
    return tf.tensor(w.values, w.shape, 'float32');
  });
  const fresh = named.filter((_, i) => values[i] === null).map((w) => w.name);
  if (fresh.length) opts.log?.(`${source}: ${fresh.join(', ')} start fresh (another number of classes)`);
  named.forEach((w, i) => {
    const v = values[i];
    if (v) w.variable.write(v);
  });
  tf.dispose(values.filter((v): v is tf.Tensor => v !== null));
}

/**
 * The model's weights with stable names (layer index and class, weight name), in a fixed order:
 * by layer, then in the order the layer created them. (model.weights puts trainable weights
 * first, so its order changes with freeze.)
 */
export function namedWeights(model: tfl.LayersModel): { name: string; variable: tfl.LayerVariable; tensor: tf.Tensor }[] {
  const values = new Map(model.weights.map((w, i) => [w, model.getWeights()[i]!] as const));
  const out: { name: string; variable: tfl.LayerVariable; tensor: tf.Tensor }[] = [];
  model.layers.forEach((layer, li) => {
    // Auto-generated layer names carry a process-wide counter (conv2d_Conv2D3); the layer's index does not.
    const label = layer.name === 'embedding' || layer.name === 'logits' ? layer.name : layer.getClassName();
    const own = [...layer.weights].sort((a, b) => a.id - b.id);
    for (const w of own) {
      const tensor = values.get(w);
      if (tensor === undefined) throw new Error(`namedWeights: weight ${w.originalName} of layer ${layer.name} is not among the model's weights`);
      out.push({ name: `${li}/${label}/${w.originalName.split('/').at(-1)}`, variable: w, tensor });
    }
  });
  return out;
}
