/**
 * Ensembles of runs: runs equal in every matrix key but `ensemble_over` (the seeds), their
 * scores averaged per clip and confident learning's verdict by majority.
 */
import { instanceId } from '../../src/core/pipeline/ids.js';
import * as S from '../../src/lab/difficulty/scores.js';
import * as I from './inputs.js';
import type { ScoreName } from '../../src/lab/difficulty/scores.js';
import type { ScoredRun, Run } from './scoring.js';

export interface Ensemble {
  scored: ScoredRun['scored'];
  label: Int32Array;
  labelOrig: Int32Array;
  clIssue: boolean[];
}

export function ensemblesOf(runs: readonly Run[], scored: readonly ScoredRun[], wanted: readonly ScoreName[], ensembleOver: readonly string[], log: (m: string) => void): Ensemble[] {
  // ---- ensembles: runs equal in every matrix key but `ensemble_over`
  const groups = new Map<string, ScoredRun[]>();
  const stages = new Set(runs.map((r) => r.stage));
  for (const s of scored) {
    const name = instanceId(stages.size > 1 ? `ensemble-${s.run.stage}` : 'ensemble', I.without(s.run.item, ensembleOver));
    groups.set(name, [...(groups.get(name) ?? []), s]);
  }
  const ensembles: Ensemble[] = [];
  for (const [name, members] of groups) {
    if (members.length < 2) continue;
    const clipIds: string[] = [];
    const at = new Map<string, number>();
    const label: number[] = [];
    const labelOrig: number[] = [];
    for (const m of members) {
      m.run.clipIds.forEach((c, i) => {
        const j = at.get(c);
        if (j === undefined) {
          at.set(c, clipIds.length);
          clipIds.push(c);
          label.push(m.run.labels[i]!);
          labelOrig.push(m.run.labelsOrig[i]!);
        } else if (label[j] !== m.run.labels[i]) {
          throw new Error(
            `score-difficulty: runs ${members[0]!.run.id} and ${m.run.id} of ensemble ${name} give clip ${c} different labels; ` +
              `ensembles average runs of the same labels: set ensemble_over to the matrix keys that only vary the training seed (now [${ensembleOver.join(', ')}])`,
          );
        }
      });
    }
    const aligned = (m: (typeof members)[number], values: Float64Array) => {
      const out = new Float64Array(clipIds.length).fill(NaN);
      m.run.clipIds.forEach((c, i) => (out[at.get(c)!] = values[i]!));
      return out;
    };
    const scores = new Map(wanted.map((s) => [s as string, S.ensembleMean(members.map((m) => aligned(m, m.scored.scores.get(s)!)))]));
    const votes = new Array<number>(clipIds.length).fill(0);
    const present = new Array<number>(clipIds.length).fill(0);
    for (const m of members) {
      m.run.clipIds.forEach((c, i) => {
        present[at.get(c)!]!++;
        if (m.clIssue[i]) votes[at.get(c)!]!++;
      });
    }
    ensembles.push({
      scored: { id: name, clipIds, flipped: clipIds.map((_, i) => label[i] !== labelOrig[i]), scores },
      label: Int32Array.from(label),
      labelOrig: Int32Array.from(labelOrig),
      clIssue: votes.map((v, i) => v > present[i]! / 2), // a majority of the runs
    });
    log(`${name}: mean of ${members.map((m) => m.run.id).join(', ')}`);
  }

  return ensembles;
}
