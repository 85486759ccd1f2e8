/**
 * Loads a model that a train stage wrote (its `model` output, Arrow): rebuilds the architecture
 * from the schema metadata and sets every weight by its name (namedWeights, src/lab/ml/train.ts). Downstream stages
 * (score-difficulty, evaluate-ood, `init_from`) use it; the backend must be started first
 * (initBackend, src/lab/ml/backend.ts).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildModel, ModelSchema, type ModelConfig } from './models.js';
import type { InitialWeights } from './train.js';

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

/** The weights of a `model` table by name (rows: name, shape as JSON, values). */
export function weightsOfTable(table: import('apache-arrow').Table): InitialWeights {
  const names = table.getChild('name')!;
  const shapes = table.getChild('shape')!;
  const values = table.getChild('values')!;
  const out: InitialWeights = new Map();
  for (let i = 0; i < table.numRows; i++) {
    out.set(names.get(i) as string, {
      shape: JSON.parse(shapes.get(i) as string) as number[],
      values: Float32Array.from((values.get(i) as { toArray(): Float32Array }).toArray()),
    });
  }
  return out;
}

export async function loadTrainedModel(file: string): Promise<TrainedModel> {
  const { readTableFile } = await import('../../core/arrow/io.js');
  const { applyInitialWeights, namedWeights } = await import('./train.js');
  const table = readTableFile(file);
  const md = table.schema.metadata;
  const config = ModelSchema.parse(JSON.parse(meta(md, 'conno.model', file)));
  const classes = JSON.parse(meta(md, 'conno.classes', file)) as string[];
  const inputShape = JSON.parse(meta(md, 'conno.input_shape', file)) as number[];
  const seed = Number(md.get('conno.seed') ?? 0);
  const model = await buildModel(config, inputShape, classes.length, seed);
  try {
    const weights = weightsOfTable(table);
    const expected = namedWeights(model).length;
    if (weights.size !== expected) throw new Error(`${file}: ${weights.size} weight tensors, but a '${config.name}' model has ${expected}`);
    applyInitialWeights(model, weights, file, { freshLogits: false });
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
