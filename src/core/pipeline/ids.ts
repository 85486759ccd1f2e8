/**
 * Instance ids (`train@noise=0.2,seed=1`): their own module, so that stages that name instances
 * (and list this file in their code) do not rerun when the pipeline model's types change.
 */
import type { MatrixScalar } from './schema.js';

export type Item = Record<string, MatrixScalar>;

export function formatItemValue(v: MatrixScalar): string {
  return String(v);
}

export function instanceId(stage: string, item: Item): string {
  const keys = Object.keys(item);
  if (keys.length === 0) return stage;
  return `${stage}@${keys.map((k) => `${k}=${formatItemValue(item[k]!)}`).join(',')}`;
}
