/**
 * Which upstream outputs evaluate-ood reads: the model it evaluates, the features table that model
 * was trained from, the tables named by `sets` and `probe`, and the models named by `cka`.
 *
 * Pairing follows the pipeline's own rule: an upstream instance belongs to this instance when
 * their matrix values agree on every key they share (`evaluate-ood@noise=0.2` → `train@noise=0.2`),
 * so a `needs: [{stage: train, on: []}]` that brings in every run (for CKA) still leaves one model
 * to evaluate.
 */
import type { StageInput } from '../../src/core/stage/api.js';
import type { EvaluateOodParams } from './params.js';
import { InputError } from '../../src/core/util/errors.js';

type Item = Record<string, string | number | boolean>;

/** True when the two matrix items agree on every key they share. */
export function itemsAgree(a: Item, b: Item): boolean {
  return Object.keys(a).every((k) => !(k in b) || String(a[k]) === String(b[k]));
}

const stageOf = (id: string): string => id.replace(/@.*$/, '');
const list = (ids: readonly string[]): string => (ids.length === 0 ? 'none' : ids.map((i) => `'${i}'`).join(', '));

interface Resolved<C> {
  /** The same train instance's predictions (every row of its features table, in order). */
  predictions: C | undefined;
  /** The run evaluated: its model, else its predictions. */
  run: C;
  /** sets' and probe's `from`, resolved. */
  tables: Map<string, C>;
  /** cka.with, resolved (in the order given). */
  ckaModels: C[];
}

/** A train instance's model, and the features table it was trained on. */
export interface ModelInputs<C extends Candidate = StageInput> extends Resolved<C> {
  model: C;
  features: C;
}

/** A run known by its predictions alone (a command stage's `as: predictions`), with the features table paired with it if there is one. */
export interface PredictionInputs<C extends Candidate = StageInput> extends Resolved<C> {
  model: undefined;
  predictions: C;
  features: C | undefined;
}

export type ResolvedInputs<C extends Candidate = StageInput> = ModelInputs<C> | PredictionInputs<C>;

/** A parameter that names no usable upstream instance; `path` is where in `with:` it is. */
export class InputRefError extends InputError {
  constructor(
    message: string,
    readonly path: (string | number)[],
  ) {
    super(message);
  }
}

/** What resolveInputs needs of an upstream output: the run-time input, or the analyzer's view of it. */
type Candidate = Pick<StageInput, 'from' | 'output' | 'item'>;

/** `ref` as an exact instance id, or a stage name whose instances pair with `item` (exactly one). */
function resolveRef<C extends Candidate>(ref: string, candidates: C[], item: Item, what: string, at: (string | number)[]): C {
  const exact = candidates.find((c) => c.from === ref);
  if (exact) return exact;
  const byStage = candidates.filter((c) => stageOf(c.from) === ref && itemsAgree(item, c.item));
  if (byStage.length === 1) return byStage[0]!;
  const available = candidates.map((c) => c.from);
  if (byStage.length > 1) throw new InputRefError(`${what} '${ref}' matches ${list(byStage.map((c) => c.from))}: name one instance`, at);
  throw new InputRefError(`${what} '${ref}' is not an upstream stage instance with that output (list it in needs); available: ${list(available)}`, at);
}

/**
 * The inputs an instance reads. Called with the real inputs in `run`, and with the analyzer's
 * view of the upstream outputs by `check`, so that a bad reference is found before anything runs.
 */
export function resolveInputs<C extends Candidate>(inputs: readonly C[], item: Item, p: EvaluateOodParams, stageId: string): ResolvedInputs<C> {
  const models = inputs.filter((i) => i.output === 'model');
  const featureTables = inputs.filter((i) => i.output === 'features');

  // ---- CKA partners, then the model to evaluate: the paired one that is not a CKA partner
  // (unless it is its own partner, a sanity check that gives CKA = 1).
  const ckaRefs = p.cka === null ? [] : typeof p.cka.with === 'string' ? [p.cka.with] : p.cka.with;
  const ckaModels = ckaRefs.map((ref) => {
    const m = models.find((c) => c.from === ref);
    if (!m) throw new InputRefError(`cka.with: '${ref}' is not an upstream train instance (list it in needs, e.g. needs: [{stage: train, on: []}]); upstream models: ${list(models.map((c) => c.from))}`, ['cka', 'with']);
    return m;
  });
  const paired = models.filter((m) => itemsAgree(item, m.item));
  let own = paired.filter((m) => !ckaRefs.includes(m.from));
  if (own.length === 0) own = paired;
  if (own.length === 0) {
    // A run known by its predictions alone: a command stage that trained elsewhere.
    const runs = inputs.filter((i) => i.output === 'predictions' && itemsAgree(item, i.item) && !models.some((m) => m.from === i.from));
    if (runs.length === 1) return predictionsOnly(inputs, item, p, stageId, runs[0]!);
  }
  if (own.length !== 1) {
    throw new InputRefError(
      `${stageId} evaluates exactly one model: an upstream stage with a 'model' output (a train stage), or with a 'predictions' output alone (a command stage's \`as: predictions\`), whose matrix values agree with this instance's; ` +
        `found ${list(own.map((m) => m.from))}${models.length > own.length ? ` of ${list(models.map((m) => m.from))}` : ''}. ` +
        'Give evaluate-ood the matrix keys that tell the runs apart (e.g. matrix: { noise: [...] } like the train stage).',
      [],
    );
  }
  const model = own[0]!;
  const predictions = inputs.find((i) => i.from === model.from && i.output === 'predictions');

  // ---- the tables named by sets and probe
  const tables = new Map<string, C>();
  for (const [name, set] of Object.entries(p.sets)) tables.set(set.from, resolveRef(set.from, featureTables, item, `sets.${name}.from:`, ['sets', name, 'from']));
  if (p.probe !== null) tables.set(p.probe.from, resolveRef(p.probe.from, featureTables, item, 'probe.from:', ['probe', 'from']));

  // ---- the table the model was trained from
  let features: C;
  if (p.features !== null) features = resolveRef(p.features, featureTables, item, 'features:', ['features']);
  else {
    const named = new Set([...tables.values()].map((t) => t.from));
    const candidates = featureTables.filter((f) => !named.has(f.from) && itemsAgree(item, f.item) && itemsAgree(model.item, f.item));
    if (candidates.length !== 1) {
      throw new InputRefError(
        `${stageId} needs the features table '${model.from}' was trained from: one upstream 'features' output that pairs with it; ` +
          `found ${list(candidates.map((c) => c.from))}. Add it to needs, or name it with \`features: <instance>\`.`,
        ['features'],
      );
    }
    features = candidates[0]!;
  }
  return { model, predictions, run: model, features, tables, ckaModels };
}

/**
 * A run known only by its predictions (every sample of every split, with logits): its splits can
 * be scored, but nothing that needs the model (other tables through it, a probe, CKA, saliency).
 */
function predictionsOnly<C extends Candidate>(inputs: readonly C[], item: Item, p: EvaluateOodParams, stageId: string, run: C): PredictionInputs<C> {
  const needsModel = (what: string, at: (string | number)[], fix: string) =>
    new InputRefError(`${what} needs the model, and '${run.from}' gives its predictions only (a command stage's \`as: predictions\`): ${fix}`, at);
  if (p.saliency !== null) throw needsModel('saliency', ['saliency'], 'set saliency: null');
  if (p.probe !== null) throw needsModel('probe', ['probe'], 'remove probe');
  if (p.cka !== null) throw needsModel('cka', ['cka'], 'remove cka');
  const set = Object.keys(p.sets)[0];
  if (set !== undefined) throw needsModel(`sets.${set} (another table run through the model)`, ['sets', set], 'evaluate the splits of its predictions, or predict that table in the command');
  let features: C | undefined;
  if (p.features !== null) features = resolveRef(p.features, inputs.filter((i) => i.output === 'features'), item, 'features:', ['features']);
  else {
    const candidates = inputs.filter((f) => f.output === 'features' && itemsAgree(item, f.item) && itemsAgree(run.item, f.item));
    if (candidates.length > 1) {
      throw new InputRefError(`${stageId}: ${list(candidates.map((c) => c.from))} all pair with '${run.from}'; name the table it was trained on with \`features: <instance>\``, ['features']);
    }
    features = candidates[0];
  }
  return { model: undefined, predictions: run, run, features, tables: new Map(), ckaModels: [] };
}
