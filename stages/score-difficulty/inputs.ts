/**
 * Reading score-difficulty's upstream tables: every train instance's dynamics and predictions
 * (runs), the cross-validation instances among them (their predictions carry cv_heldout), a
 * teacher's embeddings and the features. Imported inside `run` only (it loads apache-arrow).
 */
import type * as arrow from 'apache-arrow';
import { flatFloat32, readTableFile } from '../../src/core/arrow/io.js';
import type { StageInput } from '../../src/core/stage/api.js';
import type { RunDynamics } from '../../src/lab/difficulty/scores.js';
import { epochMajor } from '../kinds.js';

export type Item = Record<string, string | number | boolean>;

/** One upstream instance and its outputs by name. */
export interface Instance {
  id: string;
  /** The stage name (the id before '@'). */
  stage: string;
  item: Item;
  outputs: Map<string, string>;
}

/** The train split of a train instance, in its dynamics' row order. */
export interface Run {
  id: string;
  stage: string;
  item: Item;
  classes: string[];
  clipIds: string[];
  labels: Int32Array;
  labelsOrig: Int32Array;
  flipped: boolean[];
  /** null for a run assembled from cross-validation instances only (no dynamics of its own). */
  dynamics: RunDynamics | null;
  /** The `model` output's path, if any. */
  model: string | null;
}

/** The held-out predictions of a set of cv instances that differ only in the fold key. */
export interface CvGroup {
  /** e.g. `train_cv` or `train_cv@seed=1`: the instances' id without the fold key. */
  id: string;
  stage: string;
  /** The instances' shared item (without the fold key). */
  item: Item;
  members: string[];
  classes: string[];
  /** clip id → its given label and logits [K] from the instance that held it out. */
  heldout: Map<string, { label: number; labelOrig: number; logits: Float32Array; from: string }>;
}

export function groupInstances(inputs: readonly StageInput[]): Instance[] {
  const byId = new Map<string, Instance>();
  for (const i of inputs) {
    let inst = byId.get(i.from);
    if (!inst) {
      inst = { id: i.from, stage: i.from.split('@')[0]!, item: i.item, outputs: new Map() };
      byId.set(i.from, inst);
    }
    inst.outputs.set(i.output, i.path);
  }
  return [...byId.values()];
}

function column(table: arrow.Table, name: string, where: string): arrow.Vector {
  const c = table.getChild(name);
  if (c === null) throw new Error(`${where} has no column '${name}'`);
  return c;
}

function values<V>(table: arrow.Table, name: string, where: string): V[] {
  const c = column(table, name, where);
  return Array.from({ length: table.numRows }, (_, i) => c.get(i) as V);
}

function classesOf(table: arrow.Table, where: string): string[] {
  const text = table.schema.metadata.get('conno.classes');
  if (text === undefined) throw new Error(`${where} has no conno.classes metadata`);
  return JSON.parse(text) as string[];
}

function refusePatches(table: arrow.Table, where: string): void {
  if (table.getChild('patch') !== null) {
    throw new Error(`${where} has one row per patch; score-difficulty scores whole clips and does not support patch features yet`);
  }
}

/** Train rows of a predictions table, by clip id. */
interface TrainPrediction {
  label: number;
  labelOrig: number;
  logits: Float32Array;
  heldout: boolean;
}

export function isCrossValidation(inst: Instance): boolean {
  const path = inst.outputs.get('predictions');
  if (path === undefined) return false;
  return readTableFile(path).getChild('cv_heldout') !== null;
}

function readTrainPredictions(path: string, where: string): { classes: string[]; rows: Map<string, TrainPrediction> } {
  const t = readTableFile(path);
  refusePatches(t, where);
  const classes = classesOf(t, where);
  const k = classes.length;
  const ids = values<string>(t, 'clip_id', where);
  const splits = values<string>(t, 'split', where);
  const labels = values<number>(t, 'label', where);
  const orig = t.getChild('label_orig') ? values<number>(t, 'label_orig', where) : labels;
  const held = t.getChild('cv_heldout') ? values<boolean>(t, 'cv_heldout', where) : null;
  const logits = flatFloat32(t, 'logits').values;
  const rows = new Map<string, TrainPrediction>();
  for (let i = 0; i < t.numRows; i++) {
    if (splits[i] !== 'train') continue;
    rows.set(ids[i]!, { label: labels[i]!, labelOrig: orig[i]!, logits: logits.subarray(i * k, (i + 1) * k), heldout: held?.[i] ?? false });
  }
  return { classes, rows };
}

/** A train instance as a run: its dynamics (checked to be epoch-major) and the labels of its train rows. */
export function readRun(inst: Instance): Run {
  const dynPath = inst.outputs.get('dynamics');
  const predPath = inst.outputs.get('predictions');
  if (dynPath === undefined || predPath === undefined) {
    throw new Error(`${inst.id} is not a train instance (it has no 'dynamics' and 'predictions' outputs)`);
  }
  const where = `${inst.id}:dynamics`;
  const t = readTableFile(dynPath);
  refusePatches(t, where);
  const classes = classesOf(t, where);
  const k = classes.length;
  const epochCol = values<number>(t, 'epoch', where);
  const ids = values<string>(t, 'clip_id', where);
  // The dynamics kind's rule (what a command's `as: dynamics` output is checked against).
  const order = epochMajor(t);
  if (order.length) throw new Error(`${where}: ${order[0]}`);
  const n = epochCol.filter((e) => e === 0).length;
  const epochs = t.numRows / n;
  const correctCol = column(t, 'correct_given', where);
  const dynamics: RunDynamics = {
    n,
    epochs,
    numClasses: k,
    labels: new Int32Array(n),
    loss: Float32Array.from(values<number>(t, 'loss', where)),
    correct: Uint8Array.from({ length: t.numRows }, (_, j) => (correctCol.get(j) ? 1 : 0)),
    margin: Float32Array.from(values<number>(t, 'margin', where)),
    logits: Float32Array.from(flatFloat32(t, 'logits').values),
  };
  if (dynamics.logits.length !== t.numRows * k) throw new Error(`${where}: logits have ${dynamics.logits.length / t.numRows} values per row for ${k} classes`);

  const preds = readTrainPredictions(predPath, `${inst.id}:predictions`).rows;
  const clipIds = ids.slice(0, n);
  const labelsOrig = new Int32Array(n);
  clipIds.forEach((id, i) => {
    const p = preds.get(id);
    if (!p) throw new Error(`${inst.id}: clip ${id} is in the dynamics but not among the train rows of its predictions`);
    dynamics.labels[i] = p.label;
    labelsOrig[i] = p.labelOrig;
  });
  return {
    id: inst.id,
    stage: inst.stage,
    item: inst.item,
    classes,
    clipIds,
    labels: Int32Array.from(dynamics.labels),
    labelsOrig,
    flipped: clipIds.map((_, i) => dynamics.labels[i] !== labelsOrig[i]),
    dynamics,
    model: inst.outputs.get('model') ?? null,
  };
}

/** The item without `key`. */
export function without(item: Item, keys: readonly string[]): Item {
  return Object.fromEntries(Object.entries(item).filter(([k]) => !keys.includes(k)));
}

/**
 * Cross-validation instances grouped by everything but the fold key; every held-out train clip
 * must come from exactly one instance of its group.
 */
export function readCvGroups(instances: Instance[], cvKey: string, instanceId: (stage: string, item: Item) => string): CvGroup[] {
  const groups = new Map<string, CvGroup>();
  for (const inst of instances) {
    const item = without(inst.item, [cvKey]);
    const id = instanceId(inst.stage, item);
    const { classes, rows } = readTrainPredictions(inst.outputs.get('predictions')!, `${inst.id}:predictions`);
    let g = groups.get(id);
    if (!g) {
      g = { id, stage: inst.stage, item, members: [], classes, heldout: new Map() };
      groups.set(id, g);
    }
    g.members.push(inst.id);
    for (const [clip, r] of rows) {
      if (!r.heldout) continue;
      const before = g.heldout.get(clip);
      if (before) {
        throw new Error(
          `cv: clip ${clip} is held out by both ${before.from} and ${inst.id}; instances of one cross-validation must differ only in '${cvKey}' (param cv_key)`,
        );
      }
      g.heldout.set(clip, { label: r.label, labelOrig: r.labelOrig, logits: r.logits, from: inst.id });
    }
  }
  return [...groups.values()];
}

/** A run made of a cv group alone (no plain train instance to attach it to). */
export function runOfCvGroup(g: CvGroup): Run {
  const clipIds = [...g.heldout.keys()].sort();
  const labels = Int32Array.from(clipIds, (c) => g.heldout.get(c)!.label);
  const labelsOrig = Int32Array.from(clipIds, (c) => g.heldout.get(c)!.labelOrig);
  return {
    id: g.id,
    stage: g.stage,
    item: g.item,
    classes: g.classes,
    clipIds,
    labels,
    labelsOrig,
    flipped: clipIds.map((_, i) => labels[i] !== labelsOrig[i]),
    dynamics: null,
    model: null,
  };
}

/** Rows [n × size] of a FixedSizeList column for `clipIds`, from the table's train rows. */
export function trainRowsOf(path: string, column: string, clipIds: readonly string[], where: string): { values: Float32Array; size: number; shape: number[] } {
  const t = readTableFile(path);
  refusePatches(t, where);
  const ids = values<string>(t, 'clip_id', where);
  const splits = values<string>(t, 'split', where);
  const flat = flatFloat32(t, column);
  const rowOf = new Map<string, number>();
  ids.forEach((id, i) => {
    if (splits[i] === 'train') rowOf.set(id, i);
  });
  const out = new Float32Array(clipIds.length * flat.size);
  clipIds.forEach((id, i) => {
    const r = rowOf.get(id);
    if (r === undefined) throw new Error(`${where}: no train row for clip ${id}`);
    out.set(flat.values.subarray(r * flat.size, (r + 1) * flat.size), i * flat.size);
  });
  return { values: out, size: flat.size, shape: flat.shape };
}
