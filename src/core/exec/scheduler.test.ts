import { describe, expect, it } from 'vitest';
import { schedule, type Outcome, type ScheduleOptions, type Task } from './scheduler.js';

const task = (id: string, needs: string[] = [], gpus = 0): Task => ({ id, needs, gpus });
const opts = (over: Partial<ScheduleOptions> = {}): ScheduleOptions => ({ jobs: 4, gpuIds: [], keepGoing: false, ...over });
/** Let every pending promise callback (and the scheduler's reactions to them) run. */
const settle = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Tasks that run until the test finishes them by hand. Records what started, with which GPUs,
 * and the highest number running at once.
 */
function manual() {
  const finishers = new Map<string, (ok: boolean | Error) => void>();
  const started: string[] = [];
  const gpusOf = new Map<string, string[]>();
  let running = 0;
  let max = 0;
  const run = (t: Task, gpus: string[]) =>
    new Promise<boolean>((resolve, reject) => {
      started.push(t.id);
      gpusOf.set(t.id, gpus);
      running++;
      max = Math.max(max, running);
      finishers.set(t.id, (ok) => {
        running--;
        if (ok instanceof Error) reject(ok);
        else resolve(ok);
      });
    });
  return {
    run,
    started,
    gpusOf,
    get running() {
      return running;
    },
    get max() {
      return max;
    },
    /** Finish a running task, then let the scheduler react. */
    async finish(id: string, ok: boolean | Error = true) {
      const f = finishers.get(id);
      if (!f) throw new Error(`${id} is not running (started: ${started.join(',')})`);
      finishers.delete(id);
      f(ok);
      await settle();
    },
  };
}

/** Resolves the schedule promise into a box so tests can check whether it is done yet. */
function track(p: Promise<Map<string, Outcome>>) {
  const box: { done: boolean; result?: Map<string, Outcome> } = { done: false };
  void p.then((r) => {
    box.done = true;
    box.result = r;
  });
  return box;
}
const asObject = (m: Map<string, Outcome> | undefined) => Object.fromEntries([...(m ?? new Map<string, Outcome>())].sort());

describe('schedule: concurrency and order', () => {
  it('never runs more than `jobs` tasks at once, and uses all of them', async () => {
    let running = 0;
    let max = 0;
    const tasks = Array.from({ length: 12 }, (_, i) => task(`t${i}`));
    const res = await schedule(tasks, opts({ jobs: 3 }), async (t) => {
      running++;
      max = Math.max(max, running);
      await sleep(1 + (Number(t.id.slice(1)) % 4) * 3);
      running--;
      return true;
    });
    expect(max).toBe(3);
    expect([...res.values()].every((o) => o === 'ok')).toBe(true);
    expect(res.size).toBe(12);
  });

  it('starts a task only after everything it needs has succeeded', async () => {
    // a → b, a → c, (b, c) → d, d → e; f independent; `outside` is not in the set (ignored).
    const tasks = [task('e', ['d']), task('d', ['b', 'c']), task('c', ['a']), task('b', ['a']), task('a'), task('f', ['outside'])];
    const log: string[] = [];
    const res = await schedule(tasks, opts({ jobs: 8 }), async (t) => {
      log.push(`start ${t.id}`);
      await sleep(t.id === 'b' ? 15 : 3);
      log.push(`end ${t.id}`);
      return true;
    });
    const at = (s: string) => log.indexOf(s);
    for (const t of tasks) for (const n of t.needs.filter((x) => x !== 'outside')) expect(at(`end ${n}`), `${n} before ${t.id}`).toBeLessThan(at(`start ${t.id}`));
    expect(at('start f')).toBeLessThan(at('end a')); // f waits for nothing
    expect(asObject(res)).toEqual({ a: 'ok', b: 'ok', c: 'ok', d: 'ok', e: 'ok', f: 'ok' });
  });

  it('starts ready tasks in the order they were given', async () => {
    const m = manual();
    const done = track(schedule([task('x'), task('y'), task('z', ['x']), task('w')], opts({ jobs: 1 }), m.run));
    await settle();
    await m.finish('x');
    await m.finish('y');
    await m.finish('z'); // z (index 2) became ready before w (index 3) started
    await m.finish('w');
    expect(m.started).toEqual(['x', 'y', 'z', 'w']);
    expect(done.done).toBe(true);
    expect(m.max).toBe(1);
  });

  it('an empty task list resolves at once', async () => {
    expect((await schedule([], opts(), async () => true)).size).toBe(0);
  });

  it('tasks caught in a cycle never start and are reported as cancelled', async () => {
    const res = await schedule([task('a', ['b']), task('b', ['a']), task('c')], opts(), async () => true);
    expect(asObject(res)).toEqual({ a: 'cancelled', b: 'cancelled', c: 'ok' });
  });
});

describe('schedule: GPU slots', () => {
  const gpu2 = (over: Partial<ScheduleOptions> = {}) => opts({ jobs: 8, gpuIds: ['0', '1'], ...over });

  it('a task needing one GPU gets exactly one id; CPU tasks get none', async () => {
    const m = manual();
    const done = track(schedule([task('g', [], 1), task('c')], gpu2(), m.run));
    await settle();
    expect(m.gpusOf.get('g')).toEqual(['0']);
    expect(m.gpusOf.get('c')).toEqual([]);
    await m.finish('g');
    await m.finish('c');
    expect(asObject(done.result)).toEqual({ c: 'ok', g: 'ok' });
  });

  it('two GPU tasks run at once on distinct ids; a third waits until one frees and gets that id', async () => {
    const m = manual();
    const done = track(schedule([task('g1', [], 1), task('g2', [], 1), task('g3', [], 1)], gpu2(), m.run));
    await settle();
    expect(m.started).toEqual(['g1', 'g2']);
    expect(m.gpusOf.get('g1')).toEqual(['0']);
    expect(m.gpusOf.get('g2')).toEqual(['1']);
    await m.finish('g2');
    expect(m.started).toEqual(['g1', 'g2', 'g3']);
    expect(m.gpusOf.get('g3')).toEqual(['1']);
    expect(m.running).toBe(2);
    await m.finish('g1');
    await m.finish('g3');
    expect(done.done).toBe(true);
  });

  it('a 2-GPU task gets both ids, and waits for both to be free', async () => {
    const m = manual();
    const done = track(schedule([task('one', [], 1), task('both', [], 2)], gpu2(), m.run));
    await settle();
    expect(m.started).toEqual(['one']);
    await m.finish('one');
    expect(m.started).toEqual(['one', 'both']);
    expect(m.gpusOf.get('both')).toEqual(['0', '1']);
    await m.finish('both');
    expect(asObject(done.result)).toEqual({ both: 'ok', one: 'ok' });
  });

  it('ids are handed out in the order given, and come back after a task ends', async () => {
    const m = manual();
    track(schedule([task('a', [], 1), task('b', [], 1), task('c', [], 2)], opts({ jobs: 8, gpuIds: ['3', '1'] }), m.run));
    await settle();
    expect([m.gpusOf.get('a'), m.gpusOf.get('b')]).toEqual([['3'], ['1']]);
    await m.finish('a');
    await m.finish('b');
    expect(m.gpusOf.get('c')).toEqual(['3', '1']);
    await m.finish('c');
  });

  it('CPU tasks keep running while GPU tasks wait for slots', async () => {
    const m = manual();
    const tasks = [task('g1', [], 1), task('g2', [], 1), task('g3', [], 1), task('c1'), task('c2')];
    track(schedule(tasks, gpu2({ jobs: 4 }), m.run));
    await settle();
    expect(m.started).toEqual(['g1', 'g2', 'c1', 'c2']);
    await m.finish('c1');
    expect(m.started).toHaveLength(4); // g3 still waits for a GPU although a job slot is free
    await m.finish('g1');
    expect(m.started.at(-1)).toBe('g3');
    expect(m.gpusOf.get('g3')).toEqual(['0']);
    await m.finish('c2');
    await m.finish('g2');
    await m.finish('g3');
    expect(m.max).toBe(4);
  });

  it('with no GPU ids, GPU requests are ignored (the tasks run on the CPU, jobs still apply)', async () => {
    const m = manual();
    const done = track(schedule([task('a', [], 2), task('b', [], 5), task('c', [], 1)], opts({ jobs: 2, gpuIds: [] }), m.run));
    await settle();
    expect(m.started).toEqual(['a', 'b']);
    expect(m.gpusOf.get('a')).toEqual([]);
    expect(m.gpusOf.get('b')).toEqual([]);
    await m.finish('a');
    expect(m.gpusOf.get('c')).toEqual([]);
    await m.finish('b');
    await m.finish('c');
    expect(done.done).toBe(true);
  });

  it('asking for more GPUs than exist is refused before anything runs', async () => {
    let ran = 0;
    const p = schedule([task('ok'), task('greedy', [], 3)], gpu2(), async () => {
      ran++;
      return true;
    });
    await expect(p).rejects.toThrow('greedy asks for 3 GPUs but only 2 are available (0,1)');
    expect(ran).toBe(0);
  });

  it('a failed GPU task gives its GPU back', async () => {
    const m = manual();
    const done = track(schedule([task('g1', [], 1), task('g2', [], 1), task('g3', [], 1)], gpu2({ keepGoing: true }), m.run));
    await settle();
    await m.finish('g1', false);
    expect(m.gpusOf.get('g3')).toEqual(['0']);
    await m.finish('g2');
    await m.finish('g3');
    expect(asObject(done.result)).toEqual({ g1: 'failed', g2: 'ok', g3: 'ok' });
  });
});

describe('schedule: failures', () => {
  // a → b → c ; x, y independent
  const graph = () => [task('a'), task('b', ['a']), task('c', ['b']), task('x'), task('y')];

  it('without keepGoing: downstream is skipped, nothing new starts, running tasks finish', async () => {
    const m = manual();
    const done = track(schedule(graph(), opts({ jobs: 2 }), m.run));
    await settle();
    expect(m.started).toEqual(['a', 'x']);
    await m.finish('a', false);
    expect(m.started).toEqual(['a', 'x']); // y would fit in the free slot but must not start
    expect(done.done).toBe(false); // x is still running
    await m.finish('x');
    expect(done.done).toBe(true);
    expect(asObject(done.result)).toEqual({ a: 'failed', b: 'skipped', c: 'skipped', x: 'ok', y: 'cancelled' });
  });

  it('with keepGoing: independent branches continue', async () => {
    const m = manual();
    const done = track(schedule(graph(), opts({ jobs: 2, keepGoing: true }), m.run));
    await settle();
    await m.finish('a', false);
    expect(m.started).toEqual(['a', 'x', 'y']);
    await m.finish('x');
    await m.finish('y');
    expect(m.started).not.toContain('b');
    expect(asObject(done.result)).toEqual({ a: 'failed', b: 'skipped', c: 'skipped', x: 'ok', y: 'ok' });
  });

  it('a task that needs one failed and one good input is skipped, not run', async () => {
    const m = manual();
    const done = track(schedule([task('p'), task('q'), task('r', ['p', 'q'])], opts({ keepGoing: true }), m.run));
    await settle();
    await m.finish('p', false);
    await m.finish('q');
    expect(m.started).toEqual(['p', 'q']);
    expect(asObject(done.result)).toEqual({ p: 'failed', q: 'ok', r: 'skipped' });
  });

  it('a task that throws counts as failed', async () => {
    const m = manual();
    const done = track(schedule([task('a'), task('b', ['a'])], opts(), m.run));
    await settle();
    await m.finish('a', new Error('boom'));
    expect(asObject(done.result)).toEqual({ a: 'failed', b: 'skipped' });
  });
});

describe('schedule: abort', () => {
  it('aborting cancels waiting tasks; running ones finish and keep their outcome', async () => {
    const m = manual();
    const ac = new AbortController();
    const done = track(schedule([task('a'), task('b'), task('c', ['a'])], opts({ jobs: 1, signal: ac.signal }), m.run));
    await settle();
    expect(m.started).toEqual(['a']);
    ac.abort();
    await settle();
    expect(done.done).toBe(false);
    await m.finish('a');
    expect(done.done).toBe(true);
    expect(m.started).toEqual(['a']);
    expect(asObject(done.result)).toEqual({ a: 'ok', b: 'cancelled', c: 'cancelled' });
  });

  it('a signal aborted before the start runs nothing', async () => {
    let ran = 0;
    const res = await schedule([task('a'), task('b', ['a'])], opts({ signal: AbortSignal.abort() }), async () => {
      ran++;
      return true;
    });
    expect(ran).toBe(0);
    expect(asObject(res)).toEqual({ a: 'cancelled', b: 'cancelled' });
  });

  it('aborting while GPU tasks wait for slots cancels them', async () => {
    const m = manual();
    const ac = new AbortController();
    const done = track(schedule([task('g1', [], 1), task('g2', [], 1)], opts({ jobs: 4, gpuIds: ['0'], signal: ac.signal }), m.run));
    await settle();
    ac.abort();
    await m.finish('g1');
    expect(asObject(done.result)).toEqual({ g1: 'ok', g2: 'cancelled' });
  });
});

describe('remote (cluster) tasks', () => {
  it('take no local job slot and no local GPU slot, and respect remoteJobs', async () => {
    const m = manual();
    const tasks: Task[] = [
      { ...task('r1', [], 1), remote: true },
      { ...task('r2', [], 1), remote: true },
      { ...task('r3', [], 1), remote: true },
      task('local', [], 1),
      task('after', ['r1', 'local']),
    ];
    const box = track(schedule(tasks, opts({ jobs: 1, gpuIds: ['0'], remoteJobs: 2 }), m.run));
    await settle();
    // Two cluster jobs out (the limit), and the local task holds the one local GPU.
    expect(m.started.sort()).toEqual(['local', 'r1', 'r2']);
    expect(m.gpusOf.get('r1')).toEqual([]);
    expect(m.gpusOf.get('local')).toEqual(['0']);
    await m.finish('r2');
    expect(m.started).toContain('r3');
    await m.finish('r1');
    expect(m.started).not.toContain('after'); // still needs `local`
    await m.finish('local');
    expect(m.started).toContain('after');
    await m.finish('r3');
    await m.finish('after');
    await settle();
    expect(box.done).toBe(true);
    expect([...box.result!.values()].every((o) => o === 'ok')).toBe(true);
  });

  it('a remote task may ask for more GPUs than this machine has', async () => {
    const m = manual();
    const box = track(schedule([{ ...task('big', [], 8), remote: true }], opts({ gpuIds: ['0'] }), m.run));
    await settle();
    expect(m.started).toEqual(['big']);
    await m.finish('big');
    expect(box.done).toBe(true);
  });
});
