/**
 * examples/curriculum through the CLI, cut down: teacher runs score every clip, curriculum runs
 * introduce the clips easiest-first, hardest-first, at random or all at once (order none), with
 * the pacing in the curves; order none gives the teacher's own bytes; status, verify, and the
 * report's tests against the baseline; mistakes named before anything runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { readTableFile } from '../src/core/arrow/io.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

/** The example with 4 classes × 24 clips, 4 epochs, 2 seeds, label noise 0.4 only. */
function smallExample(): TempProject {
  const t = tempProject();
  // The synth example as committed: not its FSDD variant, nor a cache, lock or report of a run made in the checkout.
  const skip = new Set(['cache', 'report', 'conno.lock', 'fsdd']);
  cpSync(path.join(REPO, 'examples/curriculum'), t.dir, { recursive: true, filter: (src) => !skip.has(path.relative(path.join(REPO, 'examples/curriculum'), src).split(path.sep)[0]!) });
  t.write(
    'params/study.yaml',
    t
      .read('params/study.yaml')
      .replace(/classes: \d+/, 'classes: 4')
      .replace(/clips_per_class: \d+/, 'clips_per_class: 24')
      .replace(/label_rates: \[[^\]]*\]/, 'label_rates: [0.4]')
      .replace(/seeds: \[[^\]]*\]/, 'seeds: [1, 2]')
      .replace(/epochs: \d+/, 'epochs: 4'),
  );
  return t;
}

describe('curriculum learning (e2e)', () => {
  it('paces each order as configured, gives order none the plain run’s bytes, verifies, and reports each order against none', async () => {
    p = smallExample();
    const r = await p.conno(['repro'], { timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(0);
    const lock = parse(p.read('conno.lock'));
    const orders = ['none', 'easy_first', 'hard_first', 'random'];
    const id = (order: string, seed: number) => `train@noise=0.4,order=${order},seed=${seed}`;
    for (const order of orders) for (const seed of [1, 2]) expect(lock.stages[id(order, seed)], id(order, seed)).toBeDefined();

    // The pool per epoch: linear from 0.2 to all at 0.8 of 4 epochs: x = e/3.2 → 0.2, 0.45, 0.7, 0.95.
    const curves = async (instance: string) => readTableFile((await p!.conno(['show', `${instance}:curves`, '--path'])).stdout.trim());
    const none = await curves(id('none', 1));
    const n = none.getChild('train_samples')!.get(0) as number;
    expect(Array.from(none.getChild('train_samples')!, Number)).toEqual([n, n, n, n]);
    const paced = [0.2, 0.45, 0.7, 0.95].map((share) => Math.ceil(n * share - 1e-9));
    for (const order of ['easy_first', 'hard_first', 'random']) expect(Array.from((await curves(id(order, 2))).getChild('train_samples')!, Number), order).toEqual(paced);

    // order none is training without a curriculum: the teacher of the same seed, byte for byte.
    expect(lock.stages[id('none', 1)].outs.model.hash).toBe(lock.stages['teacher@noise=0.4,seed=1'].outs.model.hash);
    expect(lock.stages[id('easy_first', 1)].outs.model.hash).not.toBe(lock.stages[id('none', 1)].outs.model.hash);

    const md = p.read('report/report.md');
    for (const order of ['easy_first', 'hard_first', 'random']) expect(md).toMatch(new RegExp(`- Test accuracy, ${order} (against none|scores (higher|lower) than none): .*paired t-test over 2 condition × seed pairs`));

    let s = await p.conno(['status']);
    expect(s.exitCode, s.all).toBe(0);
    expect(s.stdout).toContain('up to date');
    const v = await p.conno(['verify', id('easy_first', 1)], { timeout: 200_000 });
    expect(v.exitCode, v.all).toBe(0);

    // Another pacing makes every curriculum run stale, for that reason, and nothing upstream.
    p.write('params/study.yaml', p.read('params/study.yaml').replace('pacing: linear', 'pacing: root'));
    s = await p.conno(['status']);
    expect(s.stdout).toContain(`${id('easy_first', 1)}:`);
    expect(s.stdout).toMatch(/params changed: curriculum\.pacing linear → root/);
    expect(s.stdout).not.toContain('teacher@');
    expect(s.stdout).not.toContain('score:');
  }, 420_000);

  it('its FSDD variant is a valid pipeline of the same stages', async () => {
    p = tempProject();
    cpSync(path.join(REPO, 'examples/curriculum/fsdd'), p.dir, { recursive: true, filter: (src) => !/\/(cache|report|conno\.lock)$/.test(src) });
    const r = await p.conno(['status']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('37 of 37 stage instances stale');
    expect(r.stdout).toContain('train@noise=0.4,order=hard_first,seed=3:');
  });

  it('names a scores stage that is not upstream, or a score it does not compute, before anything runs', async () => {
    p = smallExample();
    const pipeline = p.read('pipeline.yaml');
    p.write('pipeline.yaml', pipeline.replace('        scores: score\n', '        scores: scores\n'));
    let r = await p.conno(['status']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("curriculum.scores: no upstream instance of 'scores' with a scores output; add it to needs (upstream with scores: 'score')");
    expect(r.stderr).toMatch(/pipeline\.yaml:\d+:\d+/);

    p.write('pipeline.yaml', pipeline);
    p.write('params/study.yaml', p.read('params/study.yaml').replace('score: aum', 'score: el2n'));
    r = await p.conno(['repro']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("curriculum.score: 'el2n' is not a score score computes (its scores: final_loss, aum, forgetting, cum_acc)");
    expect(p.exists('conno.lock')).toBe(false);
  });
});
