/**
 * Shared parts of the fault suite: how big it runs, a seeded random source, integrity checks of
 * a store (local or a folder remote), and the table of results it prints.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { hashFile, hashString } from '../../src/core/hash/xxhash.js';
import { Rng } from '../../src/core/util/random.js';

/** `npm run test:faults` runs the full size; inside `npm test` it runs reduced. */
export const FULL = process.env['CONNO_FAULTS'] === 'full';
export const trials = (reduced: number, full: number): number => (FULL ? full : reduced);

/** Every random choice of the suite comes from here (CONNO_FAULT_SEED to vary it). */
export const SEED = Number(process.env['CONNO_FAULT_SEED'] ?? 20261204);
export const rng = (stream: number): Rng => new Rng(SEED, stream);

/** Objects (under an objects/ folder with two-character shards) whose bytes do not hash to their name. */
export async function corruptObjects(objectsDir: string): Promise<{ total: number; bad: string[] }> {
  const bad: string[] = [];
  let total = 0;
  let shards: string[] = [];
  try {
    shards = readdirSync(objectsDir);
  } catch {
    return { total, bad };
  }
  for (const shard of shards) {
    for (const rest of readdirSync(path.join(objectsDir, shard))) {
      total++;
      const name = shard + rest;
      const file = path.join(objectsDir, shard, rest);
      const actual = name.endsWith('.dir') ? `${await hashString(readFileSync(file, 'utf8'))}.dir` : (await hashFile(file)).hash;
      if (actual !== name) bad.push(name);
    }
  }
  return { total, bad };
}

export interface Tally {
  category: string;
  trials: number;
  survived: number;
  /** What went wrong in the trials that did not survive. */
  lost: string[];
}

const tallies = new Map<string, Tally>();

/** Records one trial: survived when `check` returns no problems. */
export async function trial(category: string, check: () => Promise<string[]>): Promise<string[]> {
  const t = tallies.get(category) ?? { category, trials: 0, survived: 0, lost: [] };
  tallies.set(category, t);
  t.trials++;
  let problems: string[];
  try {
    problems = await check();
  } catch (err) {
    problems = [`threw: ${(err as Error).stack ?? String(err)}`];
  }
  if (problems.length === 0) t.survived++;
  else t.lost.push(...problems);
  return problems;
}

export function table(): string {
  const rows = [...tallies.values()];
  const w = Math.max(8, ...rows.map((r) => r.category.length));
  const line = (a: string, b: string, c: string, d: string) => `| ${a.padEnd(w)} | ${b.padStart(6)} | ${c.padStart(8)} | ${d.padStart(4)} |`;
  return [
    `fault suite (${FULL ? 'full' : 'reduced'}, seed ${SEED})`,
    line('fault', 'trials', 'survived', 'lost'),
    `|${'-'.repeat(w + 2)}|--------|----------|------|`,
    ...rows.map((r) => line(r.category, String(r.trials), String(r.survived), String(r.trials - r.survived))),
  ].join('\n');
}
