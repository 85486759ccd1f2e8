/**
 * embed: a pretrained model exported to ONNX as a frozen feature extractor (onnxruntime-node, CPU,
 * one thread: bit for bit reproducible). Input: the upstream clip table's audio (`input:
 * waveform`, at the rate the model expects) or a features table's log-mels (`input: logmel`).
 *
 * Output `features` (Arrow), shaped like the features stage's so that train (e.g. `model: {
 * name: mlp }`), score-difficulty, evaluate-ood and the report take it as they take log-mels:
 * clip_id, split, label, speaker, fold, the input's extra columns, and `features`:
 * FixedSizeList<Float32>, shape [D, 1] (one embedding of D values; `pool: mean`) or [D, steps]
 * (`pool: none`), each dimension standardised with the `stats_split` rows' mean and std
 * (`normalize`). Schema metadata: the input's, plus `conno.features` (the parameters, the model's
 * content hash and the runtime's version) and `conno.stats` (the statistics, with `normalize`).
 */
import path from 'node:path';
import { defineStage } from '../../src/core/stage/api.js';
import { onnxRuntimeVersion } from '../../src/lab/ml/onnx.js';
import { EmbedParamsSchema } from './params.js';

export const stage = defineStage({
  version: 1,
  description: 'Embeddings of every clip from a pretrained ONNX model (onnxruntime-node, CPU, one thread), shaped like features.',
  params: EmbedParamsSchema,
  outputs: ['features'],
  // The model file is read at run time: an input of the instance, by its content.
  inputs: (p) => [p.model],
  environment: (p) => ({ 'onnxruntime-node': onnxRuntimeVersion() ?? 'not installed', provider: p.provider }),
  async run(ctx) {
    const p = ctx.params;
    const O = await import('../../src/lab/ml/onnx.js');
    const { makeTable, writeTableFile, readTableFile, flatFloat32 } = await import('../../src/core/arrow/io.js');
    const { readClips, columnSpecOf, identityColumns, CLASSES_KEY } = await import('../../src/lab/audio/clips.js');
    const { canonicalJson } = await import('../../src/core/util/canonical.js');
    const { hashFile } = await import('../../src/core/hash/xxhash.js');
    const { ParamError } = await import('../../src/core/util/errors.js');
    const want = p.input === 'waveform' ? 'clips' : 'features';
    const tables = ctx.inputs.filter((i) => i.output === want);
    if (tables.length !== 1) {
      const what = tables.length === 0 ? 'none' : tables.map((t) => t.from).join(', ');
      throw new Error(`embed with input: ${p.input} needs exactly one upstream stage with a '${want}' output (e.g. needs: [${p.input === 'waveform' ? 'resample' : 'features'}]); got ${what}`);
    }
    const file = path.resolve(ctx.projectRoot, p.model);
    const where = `model ${p.model}`;
    const model = await O.loadOnnxModel(file, where, p.provider);
    const input = O.pickTensor(model.inputs, p.input_name, 'input', where, 'input_name');
    const output = O.pickTensor(model.outputs, p.output, 'output', where, 'output');
    ctx.log(`${p.model}: inputs ${O.describeTensors(model.inputs)}; outputs ${O.describeTensors(model.outputs)}; feeding '${input.name}', keeping '${output.name}' (onnxruntime-node ${onnxRuntimeVersion()})`);

    // The rows, what each feeds the model, and the model's input dims for an example of a length.
    let columns: [string, import('../../src/core/arrow/io.js').ColumnSpec][];
    let metadata: Record<string, string>;
    let rows: number;
    let example: (row: number) => Float32Array;
    let dimsOf: (length: number) => number[];
    if (p.input === 'waveform') {
      const set = readClips(tables[0]!.path);
      const rates = [...new Set(set.clips.map((c) => c.sampleRate))];
      const expect = p.sample_rate;
      if (expect !== null && rates.some((r) => r !== expect)) {
        throw new ParamError(`the model expects ${expect} Hz (sample_rate), the clips of ${tables[0]!.from} are at ${rates.join(', ')} Hz: resample them upstream (uses: resample, rate: ${expect})`, ['sample_rate']);
      }
      rows = set.clips.length;
      example = (r) => set.clips[r]!.audio;
      dimsOf = (len) => O.inputDims(input, [len], where, `clips of ${len} samples`);
      columns = [...identityColumns(set.clips), ...Object.entries(set.extra ?? {})];
      metadata = { ...set.metadata, [CLASSES_KEY]: JSON.stringify(set.classes) };
    } else {
      const table = readTableFile(tables[0]!.path);
      const feats = flatFloat32(table, 'features');
      rows = table.numRows;
      example = (r) => feats.values.subarray(r * feats.size, (r + 1) * feats.size);
      // Every row has the table's one shape: checked once, before anything is computed.
      const dims = O.inputDims(input, feats.shape, where, `the features of ${tables[0]!.from}`);
      dimsOf = () => dims;
      columns = table.schema.fields.filter((f) => f.name !== 'features').map((f) => [f.name, columnSpecOf(table.getChild(f.name)!, f, `${tables[0]!.from}:features`)]);
      metadata = Object.fromEntries(table.schema.metadata);
    }

    const lengths = Array.from({ length: rows }, (_, r) => example(r).length);
    const t0 = performance.now();
    const batches = (function* () {
      for (const group of O.batchesByLength(lengths, p.batch_size)) {
        const len = lengths[group[0]!]!;
        const data = new Float32Array(group.length * len);
        group.forEach((r, k) => data.set(example(r), k * len));
        yield { rows: group, data, dims: dimsOf(len) };
      }
    })();
    const out = await O.embedBatches(model, input, output, batches, rows, p.pool, where);
    const seconds = (performance.now() - t0) / 1000;
    if (p.normalize) {
      const split = columns.find(([n]) => n === 'split')?.[1];
      const splits = split && Array.isArray(split.values) ? (split.values as string[]) : [];
      const stats = O.standardise(out.values, out.shape, splits, p.stats_split);
      if (!stats) throw new Error(`normalize: no row of split '${p.stats_split}' (stats_split) to take the statistics from; the splits are ${[...new Set(splits)].join(', ')}`);
      metadata['conno.stats'] = canonicalJson({ split: p.stats_split, rows: stats.rows, mean: stats.mean, std: stats.std });
      ctx.log(`standardised each of ${out.shape[0]} dimensions with the statistics of ${stats.rows} '${p.stats_split}' rows`);
    }
    const describe = canonicalJson({ embed: { ...p, model_hash: (await hashFile(file)).hash, onnxruntime: onnxRuntimeVersion() } });
    const table = makeTable([...columns, ['features', { type: 'fixedSizeList', values: out.values, shape: out.shape }]], { ...metadata, 'conno.features': describe });
    await writeTableFile(ctx.outPath('features'), table);
    ctx.log(`embedded ${rows} rows in ${seconds.toFixed(2)} s: [${out.shape.join(', ')}] each`);
    ctx.metric('rows', rows);
    ctx.metric('shape', out.shape);
  },
});
