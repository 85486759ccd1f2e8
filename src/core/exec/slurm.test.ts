import { describe, it, expect } from 'vitest';
import { sbatchOptions, parseSacct, parseSqueue, describeState, SlurmSpecError } from './slurm.js';
import { executorFor } from '../engine/repro.js';
import type { StageInstance } from '../pipeline/model.js';

describe('sbatchOptions', () => {
  it('turns the slurm block into sbatch options', () => {
    expect(sbatchOptions({ partition: 'gpu', time: '02:00:00', mem: '16G', cpus: '4', account: 'audio-lab', qos: 'normal', extra: '--constraint=avx2 --exclusive' }, 0)).toEqual([
      '--partition=gpu',
      '--time=02:00:00',
      '--mem=16G',
      '--cpus-per-task=4',
      '--account=audio-lab',
      '--qos=normal',
      '--constraint=avx2',
      '--exclusive',
    ]);
  });
  it('requests the stage’s GPUs as gres, or what slurm.gpus says', () => {
    expect(sbatchOptions({}, 1)).toEqual(['--gres=gpu:1']);
    expect(sbatchOptions({}, 0)).toEqual([]);
    expect(sbatchOptions({ gpus: 'a100:2' }, 1)).toEqual(['--gres=gpu:a100:2']);
    expect(sbatchOptions({ gpus: '0' }, 1)).toEqual([]);
    expect(sbatchOptions({ extra: ['--comment=two words'] }, 0)).toEqual(['--comment=two words']);
  });
  it.each([
    [{ time: 'one hour' }, "slurm.time: 'one hour' is not a Slurm time limit"],
    [{ mem: 'lots' }, "slurm.mem: 'lots' is not a Slurm memory size"],
    [{ cpus: '0' }, "slurm.cpus: '0' is not a positive whole number"],
    [{ gpus: 'many' }, "slurm.gpus: 'many' is not a GPU count"],
    [{ account: 'a b' }, "slurm.account: 'a b' is not a Slurm account name"],
    [{ extra: 'exclusive' }, "slurm.extra: 'exclusive' is not an sbatch option"],
    [{ extra: '--output=x.log' }, "slurm.extra: conno sets '--output' itself"],
    [{ partition: ['a', 'b'] }, 'slurm.partition takes one value, not a list'],
  ])('rejects %j', (spec, message) => {
    expect(() => sbatchOptions(spec as Record<string, string>, 0)).toThrow(SlurmSpecError);
    expect(() => sbatchOptions(spec as Record<string, string>, 0)).toThrow(message);
  });
  it('accepts every time format sbatch does', () => {
    for (const t of ['30', '30:00', '2:30:00', '1-0', '1-12', '1-12:30', '1-12:30:00', 'UNLIMITED']) expect(sbatchOptions({ time: t }, 0)).toEqual([`--time=${t}`]);
  });
});

describe('job states', () => {
  it('parses sacct lines, with "CANCELLED by UID" and running jobs', () => {
    const s = parseSacct('12|COMPLETED|0:0\n13|CANCELLED by 0|0:15\n14|RUNNING|0:0\n15|PENDING|0:0\n16|OUT_OF_MEMORY|0:125\nbad line\n');
    expect([...s.values()].map((j) => [j.id, j.state, j.done])).toEqual([
      ['12', 'COMPLETED', true],
      ['13', 'CANCELLED', true],
      ['14', 'RUNNING', false],
      ['15', 'PENDING', false],
      ['16', 'OUT_OF_MEMORY', true],
    ]);
    expect(parseSqueue('7|RUNNING\n8|COMPLETING\n').get('8')?.done).toBe(false);
  });
  it('says what each failure state means, with the setting to change', () => {
    expect(describeState({ id: '9', state: 'TIMEOUT', done: true }, { time: '10' })).toBe('Slurm job 9 TIMEOUT: it ran past its time limit (slurm.time: 10)');
    expect(describeState({ id: '9', state: 'OUT_OF_MEMORY', done: true }, { mem: '1G' })).toBe('Slurm job 9 OUT_OF_MEMORY: it used more memory than it asked for (slurm.mem: 1G)');
    expect(describeState({ id: '9', state: 'NODE_FAIL', done: true }, {})).toContain('its node failed');
    expect(describeState({ id: '9', state: 'FAILED', done: true, exitCode: '2:0' }, {})).toBe('Slurm job 9 FAILED (exit code 2)');
  });
});

describe('executorFor', () => {
  const inst = (executor?: 'local' | 'slurm') => ({ executor }) as StageInstance;
  it('lets --executor decide, except for stages pinned to local', () => {
    expect(executorFor(inst(), undefined)).toBe('local');
    expect(executorFor(inst('slurm'), undefined)).toBe('slurm');
    expect(executorFor(inst(), 'slurm')).toBe('slurm');
    expect(executorFor(inst('local'), 'slurm')).toBe('local');
    expect(executorFor(inst('slurm'), 'local')).toBe('local');
  });
});

describe('SlurmRun without Slurm', () => {
  it('fails the instance with one clear message when sbatch cannot run', async () => {
    const { SlurmRun } = await import('./slurm.js');
    const saved = process.env['PATH'];
    process.env['PATH'] = '/nonexistent-conno-test';
    try {
      const run = new SlurmRun({ jobDir: '/nonexistent-conno-test/jobs', entry: 'entry.js' });
      const r = await run.run({ id: 'a', logFile: '/nonexistent-conno-test/a.log', workRoot: '/' } as never, {}, 0);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toMatch(/^cannot submit to Slurm: `sbatch --version` failed \(sbatch is not on PATH\); is this a Slurm login node\? Run with --executor local to run here\.$/);
      run.close();
    } finally {
      process.env['PATH'] = saved;
    }
  });
});
