import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectGpus, parseGpuList } from './gpus.js';
import { UsageError } from '../util/errors.js';

describe('parseGpuList', () => {
  it.each([
    ['0', ['0']],
    ['0,1', ['0', '1']],
    [' 0 , 1 ,3 ', ['0', '1', '3']],
    ['10', ['10']],
    ['GPU-8f3c2a1e-1b2c-4d5e-9f00-123456789abc', ['GPU-8f3c2a1e-1b2c-4d5e-9f00-123456789abc']],
    ['MIG-GPU-8f3c2a1e/1/0,1', ['MIG-GPU-8f3c2a1e/1/0', '1']],
  ])('%j → %j', (text, ids) => {
    expect(parseGpuList(text, '--gpus')).toEqual(ids);
  });

  it.each(['', '  ', 'none', ' none '])('%j means no GPUs', (text) => {
    expect(parseGpuList(text, '--gpus')).toEqual([]);
  });

  it.each([
    ['cuda:0', 'cuda:0'],
    ['0,,1', ''],
    ['0,one', 'one'],
    ['-1', '-1'],
    ['0 1', '0 1'],
    ['all', 'all'],
    ['None', 'None'],
  ])('%j is a UsageError naming the bad id', (text, bad) => {
    let err: unknown;
    try {
      parseGpuList(text, 'CONNO_GPUS');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`CONNO_GPUS: '${bad}' is not a GPU index or UUID (expected e.g. 0,1)`);
  });

  it('a GPU listed twice is a UsageError quoting the whole value', () => {
    expect(() => parseGpuList('0,1,0', '--gpus')).toThrow(UsageError);
    expect(() => parseGpuList('0,1,0', '--gpus')).toThrow("--gpus: a GPU is listed twice in '0,1,0'");
  });
});

describe('detectGpus', () => {
  let bin: string;
  let savedPath: string | undefined;

  /** Put a fake nvidia-smi first on PATH. */
  function fakeSmi(script: string) {
    const exe = path.join(bin, 'nvidia-smi');
    writeFileSync(exe, `#!/bin/sh\n${script}\n`);
    chmodSync(exe, 0o755);
  }

  beforeEach(() => {
    bin = mkdtempSync(path.join(os.tmpdir(), 'conno-gpus-'));
    savedPath = process.env.PATH;
    // Only the fake bin folder and the shell's own: a real nvidia-smi on this machine must not leak in.
    process.env.PATH = `${bin}:/bin:/usr/bin`;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    rmSync(bin, { recursive: true, force: true });
  });

  it('--gpus wins over CONNO_GPUS and nvidia-smi', () => {
    fakeSmi('echo 0; echo 1; echo 2');
    expect(detectGpus('3', { CONNO_GPUS: '1,2' })).toEqual({ ids: ['3'], from: '--gpus' });
  });

  it('--gpus none / empty disables GPUs even when others would list some', () => {
    fakeSmi('echo 0');
    expect(detectGpus('none', { CONNO_GPUS: '1' })).toEqual({ ids: [], from: '--gpus' });
    expect(detectGpus('', { CONNO_GPUS: '1' })).toEqual({ ids: [], from: '--gpus' });
  });

  it('CONNO_GPUS wins over nvidia-smi', () => {
    fakeSmi('echo 0; echo 1');
    expect(detectGpus(undefined, { CONNO_GPUS: '1' })).toEqual({ ids: ['1'], from: 'CONNO_GPUS' });
    expect(detectGpus(undefined, { CONNO_GPUS: '' })).toEqual({ ids: [], from: 'CONNO_GPUS' });
    expect(detectGpus(undefined, { CONNO_GPUS: 'none' })).toEqual({ ids: [], from: 'CONNO_GPUS' });
  });

  it('an inherited CUDA_VISIBLE_DEVICES comes after CONNO_GPUS and before nvidia-smi', () => {
    expect(detectGpus(undefined, { CUDA_VISIBLE_DEVICES: '2,3' })).toEqual({ ids: ['2', '3'], from: 'CUDA_VISIBLE_DEVICES' });
    expect(detectGpus(undefined, { CUDA_VISIBLE_DEVICES: '-1' })).toEqual({ ids: [], from: 'CUDA_VISIBLE_DEVICES' });
    expect(detectGpus(undefined, { CONNO_GPUS: '0', CUDA_VISIBLE_DEVICES: '2,3' })).toEqual({ ids: ['0'], from: 'CONNO_GPUS' });
  });

  it('falls back to the indices nvidia-smi lists', () => {
    fakeSmi('printf "0\\n1\\n\\n"');
    expect(detectGpus(undefined, {})).toEqual({ ids: ['0', '1'], from: 'nvidia-smi' });
  });

  it('no nvidia-smi, a failing one, or one that lists nothing: no GPUs', () => {
    expect(detectGpus(undefined, {})).toEqual({ ids: [], from: 'none' });
    fakeSmi('echo "NVIDIA-SMI has failed" >&2; exit 9');
    expect(detectGpus(undefined, {})).toEqual({ ids: [], from: 'none' });
    fakeSmi('exit 0');
    expect(detectGpus(undefined, {})).toEqual({ ids: [], from: 'none' });
  });

  it('bad values are UsageErrors naming their source and value', () => {
    expect(() => detectGpus('0,x', {})).toThrow("--gpus: 'x' is not a GPU index or UUID");
    expect(() => detectGpus(undefined, { CONNO_GPUS: 'gpu0' })).toThrow(UsageError);
    expect(() => detectGpus(undefined, { CONNO_GPUS: 'gpu0' })).toThrow("CONNO_GPUS: 'gpu0' is not a GPU index or UUID");
  });

  it('defaults to process.env for CONNO_GPUS', () => {
    const saved = process.env.CONNO_GPUS;
    process.env.CONNO_GPUS = '0,1';
    try {
      expect(detectGpus(undefined)).toEqual({ ids: ['0', '1'], from: 'CONNO_GPUS' });
    } finally {
      if (saved === undefined) delete process.env.CONNO_GPUS;
      else process.env.CONNO_GPUS = saved;
    }
  });
});
