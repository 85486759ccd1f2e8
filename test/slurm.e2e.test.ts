/**
 * The Slurm executor against a real cluster: `npm run slurm:up` starts munged, MariaDB, slurmdbd,
 * slurmctld and slurmd on this machine (one node, gres gpu:2). Without a running cluster these
 * tests are skipped, unless CONNO_REQUIRE_SLURM=1 (CI), where that is a failure that shows the
 * daemons' logs.
 */
import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { execa, execaSync } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { tempProject, countingCmd, runCount, BIN, ZOD_MODULE, distModule, type TempProject } from './helpers.js';

const LOGS = '/var/log/conno-slurm';

function slurmUp(): { up: boolean; why: string } {
  try {
    const ping = execaSync('scontrol', ['ping'], { reject: false, timeout: 10_000 });
    if (ping.exitCode !== 0 || !/UP/.test(ping.stdout)) return { up: false, why: `scontrol ping: ${(ping.stdout + ping.stderr).trim() || `exit ${ping.exitCode}`}` };
    const node = execaSync('sinfo', ['-h', '-N', '-o', '%T'], { reject: false, timeout: 10_000 });
    if (!/^(idle|mixed|allocated)/m.test(node.stdout)) return { up: false, why: `no node takes jobs (sinfo: ${node.stdout.trim() || node.stderr.trim()})` };
    return { up: true, why: '' };
  } catch (err) {
    return { up: false, why: (err as Error).message.split('\n')[0]! };
  }
}

function daemonLogs(): string {
  try {
    return readdirSync(LOGS)
      .map((f) => `== ${f}\n${readFileSync(path.join(LOGS, f), 'utf8').split('\n').slice(-25).join('\n')}`)
      .join('\n');
  } catch {
    return `(no logs in ${LOGS})`;
  }
}

const state = slurmUp();
const required = process.env['CONNO_REQUIRE_SLURM'] === '1';
if (!state.up && !required) console.warn(`Slurm tests skipped: Slurm is not running (${state.why}); \`npm run slurm:up\` starts a one-node cluster here.`);

/** Every job's state, by the run name conno printed. */
async function sacct(name: string): Promise<{ id: string; state: string; tres: string }[]> {
  const r = await execa('sacct', ['-n', '-P', '-X', `--name=${name}`, '-S', 'now-1hour', '-o', 'JobIDRaw,State,AllocTRES']);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, st, tres] = l.split('|');
      return { id: id!, state: st!, tres: tres ?? '' };
    });
}

const runName = (out: string) => /Slurm job (\d+)/.exec(out)?.[1];
const jobName = async (jobId: string) => (await execa('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'JobName'])).stdout.trim();

const FAST = { CONNO_SLURM_POLL: '300,2000' };

/** `conno repro …` in the background, with its output so far and a way to wait on it. */
function background(p: TempProject, args: string[]) {
  const child = execa(process.execPath, [BIN, 'repro', ...args], { cwd: p.dir, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '', ...FAST } });
  let out = '';
  child.all!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    /** Slurm job ids submitted so far. */
    jobs: () => [...out.matchAll(/as Slurm job (\d+)/g)].map((m) => m[1]!),
    /** Poll until `ready` holds (at most a minute); false if it never did. */
    async until(ready: () => boolean | Promise<boolean>): Promise<boolean> {
      for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 300))) if (await ready()) return true;
      return false;
    },
    get out() {
      return out;
    },
  };
}

const running = async (ids: string[]) => (await execa('squeue', ['-h', '-j', ids.join(','), '-o', '%T'], { reject: false })).stdout.split('\n').filter((s) => s.trim() === 'RUNNING').length;

describe.skipIf(!state.up && !required)('Slurm executor (real slurmctld/slurmd/slurmdbd)', () => {
  let p: TempProject | undefined;
  beforeAll(() => {
    if (!state.up) throw new Error(`CONNO_REQUIRE_SLURM=1 but Slurm is not running (${state.why}); start it with \`npm run slurm:up\`.\n${daemonLogs()}`);
  });
  afterEach(() => {
    p?.remove();
    p = undefined;
  });

  it('runs a pipeline as sbatch jobs, in dependency order, with the same results as a local run', async () => {
    const files = {
      'params/p.yaml': 'n: 3\nminutes: 5\n',
      'stages/squares.mjs': `import { z } from ${ZOD_MODULE};
import { makeTable, writeTableFile } from ${distModule('src/core/arrow/io.js')};
export const stage = {
  version: 1,
  description: 'squares of 0..n-1',
  params: z.strictObject({ n: z.number().int().positive() }),
  outputs: ['table'],
  async run(ctx) {
    const v = Float64Array.from({ length: ctx.params.n }, (_, i) => i * i);
    await writeTableFile(ctx.outPath('table'), makeTable({ sq: { type: 'float64', values: v } }));
    ctx.metric('slurm', process.env.SLURM_JOB_ID ? 'yes' : 'no');
  },
};
`,
      'pipeline.yaml': `params: [params/p.yaml]
slurm: { time: "\${minutes}", mem: 500M }
stages:
  make:
    matrix: { k: [1, 2] }
    cmd: ${countingCmd('make', 'mkdir -p out && echo "k=${item.k} n=${n}" > out/make-${item.k}.txt && echo "job $SLURM_JOB_ID"')}
    outs: ["out/make-\${item.k}.txt"]
    slurm: { cpus: 1 }
  squares:
    uses: ./stages/squares.mjs
    with: { n: "\${n}" }
  join:
    needs: [make, squares]
    cmd: ${countingCmd('join', 'cat out/make-1.txt out/make-2.txt > out/all.txt && if [ -n "$SLURM_JOB_ID" ]; then echo "on a Slurm node"; else echo here; fi > out/where.txt')}
    deps: [out/make-1.txt, out/make-2.txt]
    outs: [out/all.txt, out/where.txt]
`,
    };
    p = tempProject(files);
    // A wrapper in PATH logs every sacct call conno makes, then runs the real one.
    const real = (await execa('sh', ['-c', 'command -v sacct'])).stdout.trim();
    p.write('shim/sacct', `#!/bin/sh\necho "$*" >> ${p.dir}/sacct-calls.txt\nexec ${real} "$@"\n`);
    await execa('chmod', ['+x', path.join(p.dir, 'shim', 'sacct')]);
    const started = Date.now();
    const r = await p.conno(['repro', '--executor', 'slurm'], { env: { ...FAST, PATH: `${path.join(p.dir, 'shim')}:${process.env['PATH']}` }, timeout: 180_000 });
    const seconds = (Date.now() - started) / 1000;
    expect(r.exitCode, r.all).toBe(0);
    // One query per poll for all of the run's jobs, by name, never one per job.
    const calls = p.read('sacct-calls.txt').trim().split('\n');
    expect(calls.every((c) => /--name=conno-/.test(c) && !/(^|\s)-j/.test(c))).toBe(true);
    expect(calls.length).toBeLessThanOrEqual(Math.ceil(seconds / 0.3) + 4);
    // One job per instance, all under the run's unique name, each submitted once its inputs were ready.
    const submitted = [...String(r.all).matchAll(/submitted (\S+) as Slurm job (\d+)/g)].map((m) => ({ id: m[1]!, job: m[2]! }));
    expect(submitted.map((s) => s.id).sort()).toEqual(['join', 'make@k=1', 'make@k=2', 'squares']);
    const name = await jobName(submitted[0]!.job);
    expect(name).toMatch(/^conno-/);
    const jobs = await sacct(name);
    expect(jobs).toHaveLength(4);
    expect(jobs.every((j) => j.state === 'COMPLETED')).toBe(true);
    const joinJob = Number(submitted.find((s) => s.id === 'join')!.job);
    for (const s of submitted) if (s.id !== 'join') expect(Number(s.job)).toBeLessThan(joinJob);
    expect(p.read('out/all.txt')).toBe('k=1 n=3\nk=2 n=3\n');
    expect(p.read('out/where.txt').trim()).toBe('on a Slurm node');
    // The stage's own log is where a local run puts it, with the job's output.
    expect(readFileSync(path.join(p.dir, 'cache', 'logs', 'make@k=1.log'), 'utf8')).toMatch(/job \d+/);
    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.squares.metrics).toEqual({ slurm: 'yes' });
    // What each job used, as Slurm's accounting reports it: in the run-cache, never in conno.lock.
    const used = JSON.parse((await p.conno(['metrics', '--resources', '--json'])).stdout).instances as { id: string; metrics: Record<string, number | string> }[];
    expect(used.map((u) => u.id).sort()).toEqual(['join', 'make@k=1', 'make@k=2', 'squares']);
    for (const u of used) {
      expect(u.metrics['measured']).toBe('slurm');
      expect(u.metrics['wall_s']).toBeGreaterThanOrEqual(0);
      if (u.metrics['max_rss_mb'] !== undefined) expect(u.metrics['max_rss_mb']).toBeGreaterThan(0);
    }
    expect(p.read('conno.lock')).not.toMatch(/wall_s|max_rss/);
    // status and verify do not care where a stage ran.
    expect((await p.conno(['status'])).stdout).toContain('Everything is up to date (4 stage instances)');
    const dry = await p.conno(['repro', '--executor', 'slurm', '--dry-run', '--force', 'join']);
    expect(dry.stdout).toContain('would run join (as a Slurm job): forced');
    // verify reruns everything from scratch on the cluster and compares with conno.lock.
    const v = await p.conno(['verify', '--executor', 'slurm'], { env: FAST, timeout: 180_000 });
    expect(v.exitCode, v.all).toBe(0);
    expect(v.all).toContain('Verified: all 4 stage instances reproduce conno.lock bit for bit.');
    expect([...String(v.all).matchAll(/as Slurm job/g)]).toHaveLength(4);
    const again = await p.conno(['repro', '--executor', 'slurm'], { env: FAST });
    expect(again.exitCode, again.all).toBe(0);
    expect(again.all).not.toContain('submitted');
    expect(runCount(p, 'make')).toBe(2); // verify ran in its scratch copy

    // The same pipeline run locally gives the same output hashes.
    const local = tempProject(files);
    try {
      const lr = await local.conno(['repro', '--executor', 'local'], { timeout: 120_000 });
      expect(lr.exitCode, lr.all).toBe(0);
      const llock = parse(local.read('conno.lock'));
      for (const id of ['make@k=1', 'make@k=2']) expect(llock.stages[id].outs).toEqual(lock.stages[id].outs);
      expect(llock.stages.squares.outs).toEqual(lock.stages.squares.outs);
      expect(llock.stages.squares.fingerprint).toBe(lock.stages.squares.fingerprint);
    } finally {
      local.remove();
    }
  }, 300_000);

  it('reports a failing job with its state and the tail of its log, and caches nothing from it', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  ok:
    cmd: echo fine > ok.txt
    outs: [ok.txt]
  boom:
    needs: [ok]
    cmd: echo "about to fail"; echo "half" > half.txt; exit 3
    outs: [half.txt]
    executor: slurm
  after:
    needs: [boom]
    cmd: echo never > after.txt
    outs: [after.txt]
`,
    });
    // No --executor: `boom` asked for Slurm itself; the others run here.
    const r = await p.conno(['repro'], { env: FAST, timeout: 180_000 });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toMatch(/submitted boom as Slurm job \d+/);
    expect(r.all).not.toMatch(/submitted ok /);
    expect(r.all).toMatch(/FAILED boom: command failed \(exit code 3\) \(Slurm job \d+\)/);
    expect(r.all).toContain('about to fail');
    expect(r.all).toMatch(/skipped after: upstream boom failed/);
    const lock = parse(p.read('conno.lock'));
    expect(Object.keys(lock.stages)).toEqual(['ok']);
  }, 300_000);

  it("checks a command's named output against its table kind inside the Slurm job", async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  curves:
    cmd: echo "epoch,acc" > curves.arrow
    outs: [{ path: curves.arrow, as: curves }]
    executor: slurm
`,
    });
    const r = await p.conno(['repro'], { env: FAST, timeout: 180_000 });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toMatch(/FAILED curves: the command's output does not fit its declared kind:\n\s+curves\.arrow \(as curves\): a curves table must be an Arrow IPC file \(Feather v2\): .*curves\.arrow is not an Arrow IPC file \(Slurm job \d+\)/);
    expect(p.exists('conno.lock') ? Object.keys(parse(p.read('conno.lock')).stages ?? {}) : []).toEqual([]);
  }, 300_000);

  it('requests GPUs for GPU stages and the stage sees the GPUs Slurm allocated', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  train:
    cmd: echo "gpus=$CUDA_VISIBLE_DEVICES" > gpu.txt
    outs: [gpu.txt]
    resources: { gpu: 1 }
  two:
    cmd: echo "gpus=$CUDA_VISIBLE_DEVICES" > gpu2.txt
    outs: [gpu2.txt]
    slurm: { gpus: 2 }
`,
    });
    // --slurm-jobs 1: the second job is submitted only after the first has finished.
    const r = await p.conno(['repro', '--executor', 'slurm', '--slurm-jobs', '1'], { env: FAST, timeout: 180_000 });
    expect(r.exitCode, r.all).toBe(0);
    expect(String(r.all).split('\n').filter((l) => /^(submitted|done) /.test(l)).map((l) => l.split(' ')[0])).toEqual(['submitted', 'done', 'submitted', 'done']);
    expect(p.read('gpu.txt').trim()).toBe('gpus=0');
    expect(p.read('gpu2.txt').trim()).toBe('gpus=0,1');
    const jobs = await sacct(await jobName(runName(String(r.all))!));
    expect(jobs.map((j) => /gres\/gpu=(\d)/.exec(j.tres)?.[1]).sort()).toEqual(['1', '2']);
  }, 300_000);

  it.each(['SIGINT', 'SIGHUP'] as const)('%s (Ctrl-C; a closed SSH session) cancels the run’s jobs with scancel', async (signal) => {
    p = tempProject({
      'pipeline.yaml': `stages:
  slow:
    matrix: { i: [1, 2] }
    cmd: sleep 120; echo done > slow-\${item.i}.txt
    outs: ["slow-\${item.i}.txt"]
`,
    });
    const run = background(p, ['--executor', 'slurm']);
    expect(await run.until(async () => run.jobs().length === 2 && (await running(run.jobs())) === 2), run.out).toBe(true);
    const ids = run.jobs();
    run.child.kill(signal);
    const r = await run.child;
    expect(r.exitCode, r.all).toBe(130);
    const name = await jobName(ids[0]!);
    const jobs = await sacct(name);
    expect(jobs.map((j) => j.state.split(' ')[0])).toEqual(['CANCELLED', 'CANCELLED']);
    expect(p.exists('conno.lock') ? Object.keys(parse(p.read('conno.lock')).stages ?? {}) : []).toEqual([]);
  }, 300_000);

  it('a job that finishes after its conno was killed is restored, not run again, by the next repro', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  long:
    cmd: ${countingCmd('long', 'sleep 3 && echo done > long.txt')}
    outs: [long.txt]
`,
    });
    const run = background(p, ['--executor', 'slurm']);
    expect(await run.until(() => run.jobs().length === 1), run.out).toBe(true);
    const id = run.jobs()[0]!;
    run.child.kill('SIGKILL'); // no chance to scancel: the job goes on
    await run.child;
    for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
      const st = (await execa('sacct', ['-n', '-P', '-X', '-j', id, '-o', 'State'])).stdout.trim();
      if (st === 'COMPLETED') break;
    }
    const r = await p.conno(['repro', '--executor', 'slurm'], { env: FAST });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('restored long (from the run-cache)');
    expect(r.all).not.toContain('submitted');
    expect(runCount(p, 'long')).toBe(1);
    expect(p.read('long.txt')).toBe('done\n');
  }, 300_000);

  it('says which state a job ended in when the cluster cancels it', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  victim:
    cmd: sleep 120 && echo x > v.txt
    outs: [v.txt]
    executor: slurm
`,
    });
    const run = background(p, []);
    expect(await run.until(() => run.jobs().length === 1), run.out).toBe(true);
    const id = run.jobs()[0]!;
    await execa('scancel', [id]);
    const r = await run.child;
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toContain(`Slurm job ${id} CANCELLED`);
  }, 300_000);

  it('follows jobs with squeue where sacct has no accounting', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  a:
    matrix: { i: [1, 2] }
    cmd: echo a\${item.i} > "a\${item.i}.txt"
    outs: ["a\${item.i}.txt"]
  bad:
    cmd: exit 4
    outs: [never.txt]
`,
    });
    // The sacct of a cluster without slurmdbd, in front of the real one.
    p.write('shim/sacct', '#!/bin/sh\necho "sacct: error: Slurm accounting storage is disabled" >&2\nexit 1\n');
    await execa('chmod', ['+x', path.join(p.dir, 'shim', 'sacct')]);
    const r = await p.conno(['repro', '--executor', 'slurm', '--keep-going'], { env: { ...FAST, PATH: `${path.join(p.dir, 'shim')}:${process.env['PATH']}` }, timeout: 180_000 });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toContain('sacct is not available (sacct: error: Slurm accounting storage is disabled); following jobs with squeue instead');
    expect(p.read('a1.txt')).toBe('a1\n');
    expect(p.read('a2.txt')).toBe('a2\n');
    expect(r.all).toMatch(/FAILED bad: command failed \(exit code 4\)/);
    expect(Object.keys(parse(p.read('conno.lock')).stages).sort()).toEqual(['a@i=1', 'a@i=2']);
  }, 300_000);

  it('rejects bad sbatch settings before anything runs, naming the field, value and place', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
    slurm: { time: "one hour" }
`,
    });
    const r = await p.conno(['repro', '--executor', 'slurm'], { env: FAST });
    expect(r.exitCode, r.all).toBe(2);
    expect(r.all).toMatch(/pipeline\.yaml:5:\d+: error: slurm\.time: 'one hour' is not a Slurm time limit/);
    expect(r.all).not.toContain('submitted');
  }, 60_000);

  // About 90 s: Slurm enforces time limits in whole minutes.
  it('reports TIMEOUT and running out of memory with the setting to change and the log tail', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  slow:
    cmd: echo "slow started"; sleep 600; echo x > slow.txt
    outs: [slow.txt]
    slurm: { time: 1 }
  hog:
    cmd: echo "hog started"; node -e "const a = []; for (;;) a.push(Buffer.alloc(1e7, 1))"; echo x > hog.txt
    outs: [hog.txt]
    slurm: { mem: 80M }
`,
    });
    const r = await p.conno(['repro', '--executor', 'slurm', '--keep-going'], { env: FAST, timeout: 240_000 });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toMatch(/FAILED slow: .*Slurm job \d+ TIMEOUT: it ran past its time limit \(slurm\.time: 1\)/);
    expect(r.all).toContain('slow started');
    expect(r.all).toMatch(/DUE TO TIME LIMIT/);
    expect(r.all).toMatch(/FAILED hog: .*Slurm job \d+ OUT_OF_MEMORY: it used more memory than it asked for \(slurm\.mem: 80M\)/);
    expect(r.all).toContain('hog started');
    expect(p.exists('conno.lock') ? Object.keys(parse(p.read('conno.lock')).stages ?? {}) : []).toEqual([]);
  }, 300_000);

  // Last: the node is set DOWN under a running job, then comes back.
  it('reports NODE_FAIL with the log tail', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  doomed:
    cmd: echo "doomed started"; sleep 120; echo x > d.txt
    outs: [d.txt]
    executor: slurm
    slurm: { extra: --no-requeue }
`,
    });
    const run = background(p, []);
    const node = (await execa('sinfo', ['-h', '-N', '-o', '%N'])).stdout.trim().split('\n')[0]!;
    // Running, and the command has started (its first line is in the log).
    expect(await run.until(() => p!.exists('cache/logs/doomed.log') && p!.read('cache/logs/doomed.log').includes('doomed started')), run.out).toBe(true);
    const id = run.jobs()[0];
    await execa('scontrol', ['update', `nodename=${node}`, 'state=down', 'reason=conno-test']);
    try {
      const r = await run.child;
      expect(r.exitCode, r.all).toBe(1);
      expect(r.all).toContain(`Slurm job ${id} NODE_FAIL: its node failed (run again)`);
      expect(r.all).toContain('doomed started');
    } finally {
      // The node re-registers by itself (ReturnToService=2); wait until it takes jobs again.
      for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 500))) {
        const st = (await execa('sinfo', ['-h', '-N', '-o', '%T'], { reject: false })).stdout.trim();
        if (/^(idle|mixed|allocated)$/.test(st)) break;
        await execa('scontrol', ['update', `nodename=${node}`, 'state=resume'], { reject: false });
      }
    }
  }, 300_000);
});
