/**
 * Loads a model that a train stage wrote (its `model` output, Arrow): rebuilds the architecture
 * from the schema metadata and sets every weight by its name (namedWeights, src/ml/train.ts). Downstream stages
 * (score-difficulty, evaluate-ood, `init_from`) use it; the backend must be started first
 * (initBackend, src/ml/backend.ts).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildModel, ModelSchema, type ModelConfig } from './models.js';

export interface TrainedModel {
  model: tfl.LayersModel;
  config: ModelConfig;
  classes: string[];
  /** [n_mels, frames, 1] */
  inputShape: number[];
  /** The backend fingerprint of the run that trained it (e.g. ['backend=wasm', …]). */
  backend: string[];
  bestEpoch: number;
  seed: number;
}

function meta(metadata: Map<string, string>, key: string, file: string): string {
  const v = metadata.get(key);
  if (v === undefined) throw new Error(`${file}: not a conno model table (no ${key} metadata)`);
  return v;
}

export async function loadTrainedModel(file: string): Promise<TrainedModel> {
  const tf = await import('@tensorflow/tfjs-core');
  const { readTableFile } = await import('../arrow/io.js');
  const table = readTableFile(file);
  const md = table.schema.metadata;
  const config = ModelSchema.parse(JSON.parse(meta(md, 'conno.model', file)));
  const classes = JSON.parse(meta(md, 'conno.classes', file)) as string[];
  const inputShape = JSON.parse(meta(md, 'conno.input_shape', file)) as number[];
  const seed = Number(md.get('conno.seed') ?? 0);
  const model = await buildModel(config, inputShape, classes.length, seed);
  const names = table.getChild('name')!;
  const shapes = table.getChild('shape')!;
  const values = table.getChild('values')!;
  try {
    const { namedWeights } = await import('./train.js');
    const byName = new Map(namedWeights(model).map((w) => [w.name, w] as const));
    if (byName.size !== table.numRows) {
      throw new Error(`${file}: ${table.numRows} weight tensors, but a '${config.name}' model has ${byName.size}`);
    }
    for (let i = 0; i < table.numRows; i++) {
      const name = names.get(i) as string;
      const w = byName.get(name);
      if (!w) throw new Error(`${file}: weight ${name} does not belong to a '${config.name}' model of this configuration`);
      const shape = JSON.parse(shapes.get(i) as string) as number[];
      if (shape.join(',') !== w.tensor.shape.join(',')) {
        throw new Error(`${file}: weight ${name} has shape [${shape.join(', ')}], the model expects [${w.tensor.shape.join(', ')}]`);
      }
      const v = values.get(i) as { toArray(): Float32Array };
      const t = tf.tensor(Float32Array.from(v.toArray()), shape, 'float32');
      w.variable.write(t);
      t.dispose();
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return {
    model,
    config,
    classes,
    inputShape,
    backend: JSON.parse(md.get('conno.backend') ?? '[]') as string[],
    bestEpoch: Number(md.get('conno.best_epoch') ?? -1),
    seed,
  };
}
