/**
 * The kinds of table a command stage may name its outputs as (`outs: [{ path, as: predictions }]`),
 * so that score-difficulty, evaluate-ood and the report read a program's training like train's:
 * each kind is what those stages read of train's output of that name (see stages/train/index.ts).
 * python/conno_io.py writes every one of them.
 */
import type * as arrow from 'apache-arrow';
import type { MetadataRule, TableKind } from '../src/core/stage/kinds.js';

const FLOAT = ['float32', 'float64'] as const;
const VECTOR = ['fixed_size_list<float32>'] as const;

const CLASSES: MetadataRule = {
  key: 'conno.classes',
  what: 'the class names in label order, as a JSON list, e.g. ["dog","siren"]',
  check(v) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      return `is not JSON: ${v.slice(0, 60)}`;
    }
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every((c) => typeof c === 'string') ? undefined : `must be a non-empty JSON list of class names, not ${v.slice(0, 60)}`;
  },
};

/** The columns that name a row of a table over every split (train writes them first). */
const IDENTITY: TableKind['columns'] = [
  { name: 'clip_id', types: ['utf8'] },
  { name: 'split', types: ['utf8'] },
  { name: 'label', types: ['int32'] },
];
const PATCH = { name: 'patch', types: ['int32'], optional: true } as const;

const classesOf = (t: arrow.Table): string[] => JSON.parse(t.schema.metadata.get('conno.classes')!) as string[];

/** The list size of a FixedSizeList column. */
const widthOf = (t: arrow.Table, column: string): number => (t.schema.fields.find((f) => f.name === column)!.type as arrow.FixedSizeList).listSize;

/** The first row whose value breaks `ok`, as a problem. */
function firstBad(t: arrow.Table, column: string, ok: (v: unknown) => boolean, what: string): string[] {
  const c = t.getChild(column)!;
  for (let i = 0; i < t.numRows; i++) {
    const v: unknown = c.get(i);
    if (!ok(v)) return [`column '${column}' row ${i} is ${v === null ? 'null' : JSON.stringify(v)}; ${what}`];
  }
  return [];
}

/** Labels are class indices; logits (or any per-class column) have one value per class; ids are never null. */
function classColumns(t: arrow.Table, perClass: string | null, labels: readonly string[]): string[] {
  const k = classesOf(t).length;
  const problems: string[] = [];
  if (perClass !== null && widthOf(t, perClass) !== k) problems.push(`column '${perClass}' has ${widthOf(t, perClass)} values per row, but conno.classes names ${k} classes`);
  for (const l of labels) {
    if (t.getChild(l) !== null) problems.push(...firstBad(t, l, (v) => typeof v === 'number' && v >= 0 && v < k, `a label is a class index from 0 to ${k - 1}`));
  }
  for (const id of ['clip_id', 'split']) if (t.getChild(id) !== null) problems.push(...firstBad(t, id, (v) => typeof v === 'string' && v !== '', 'it must name the row'));
  return problems;
}

/** Dynamics are epoch-major: every train sample once per epoch 0, 1, …, in the same order each time. */
export function epochMajor(t: arrow.Table): string[] {
  const epoch = t.getChild('epoch')!;
  const ids = t.getChild('clip_id')!;
  const patch = t.getChild('patch');
  if (t.numRows === 0) return ['it has no rows'];
  let n = 0;
  for (let j = 0; j < t.numRows; j++) if (epoch.get(j) === 0) n++;
  if (n === 0) return ['no row is of epoch 0; epochs count from 0'];
  const key = (j: number) => `${String(ids.get(j))}#${patch === null ? '' : String(patch.get(j))}`;
  for (let j = 0; j < t.numRows; j++) {
    if (epoch.get(j) !== Math.floor(j / n) || key(j) !== key(j % n)) {
      return [
        `row ${j} (epoch ${String(epoch.get(j))}, clip ${String(ids.get(j))}) breaks the epoch-major order: the ${n} samples of epoch 0 first, then each later epoch in the same order`,
      ];
    }
  }
  if (t.numRows % n !== 0) return [`${t.numRows} rows are not whole epochs of ${n} samples`];
  return [];
}

export const tableKinds: Record<string, TableKind> = {
  predictions: {
    description: 'the final model on every sample of every split (train, dev, test, test@snr=…, holdout)',
    columns: [
      ...IDENTITY,
      { name: 'label_orig', types: ['int32'], optional: true },
      PATCH,
      { name: 'logits', types: VECTOR },
      { name: 'cv_heldout', types: ['bool'], optional: true },
    ],
    metadata: [CLASSES],
    check: (t) => classColumns(t, 'logits', ['label', 'label_orig']),
  },
  dynamics: {
    description: 'every train sample after every epoch (inference mode), epoch-major',
    columns: [
      { name: 'clip_id', types: ['utf8'] },
      PATCH,
      { name: 'epoch', types: ['int32'] },
      { name: 'loss', types: FLOAT },
      { name: 'p_given', types: FLOAT, optional: true },
      { name: 'correct_given', types: ['bool'] },
      { name: 'p_orig', types: FLOAT, optional: true },
      { name: 'correct_orig', types: ['bool'], optional: true },
      { name: 'margin', types: FLOAT },
      { name: 'flipped', types: ['bool'], optional: true },
      { name: 'logits', types: VECTOR },
    ],
    metadata: [CLASSES],
    check: (t) => [...classColumns(t, 'logits', []), ...epochMajor(t)],
  },
  embeddings: {
    description: "the final model's embedding of every sample of every split",
    columns: [...IDENTITY, PATCH, { name: 'embedding', types: VECTOR }],
    metadata: [CLASSES],
    check: (t) => classColumns(t, null, ['label']),
  },
  curves: {
    description: 'one row per epoch: accuracies on the train split (given and original labels), its flipped samples, and dev',
    columns: [
      { name: 'epoch', types: ['int32'] },
      { name: 'train_acc', types: FLOAT, optional: true },
      { name: 'train_acc_orig', types: FLOAT, optional: true },
      { name: 'flipped_acc_noisy', types: FLOAT, optional: true },
      { name: 'dev_acc', types: FLOAT, optional: true },
    ],
    metadata: [{ key: 'conno.best_epoch', what: 'the epoch whose weights the model keeps', optional: true, check: (v) => (/^\d+$/.test(v) ? undefined : `must be an epoch number, not ${v}`) }],
  },
};
