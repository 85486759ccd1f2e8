/**
 * A full disk and a read-only cache, for real: the cache on a small tmpfs (the tests run as root,
 * as CI does). A failed write is an error naming the path and what to do, never a stack trace;
 * no half-written object is left under its name; once space is freed, the next repro completes
 * and verifies. A read-only cache still answers `status`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';
import { synthStage } from './support/pipelines.js';

let mnt: string;
let p: TempProject;
const mount = (opts: string) => execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', mnt]);
const remount = (opts: string) => execFileSync('mount', ['-o', `remount,${opts}`, mnt]);

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the disk-fault tests mount a tmpfs and need root (CI runs as root)');
  mnt = mkdtempSync(path.join(os.tmpdir(), 'conno-tmpfs-'));
  mount('size=256k');
  p = tempProject({
    'pipeline.yaml': `stages:
  big:
    cmd: mkdir -p out && head -c 600000 /dev/zero | tr '\\\\0' 'a' > out/big.txt
    outs: [out/big.txt]
  small:
    cmd: echo hi > small.txt
    outs: [small.txt]
${synthStage('classes: 3, clips_per_class: 10, seconds: 0.25, sample_rate: 16000')}`,
  });
});
afterAll(() => {
  try {
    execFileSync('umount', [mnt]);
  } finally {
    rmSync(mnt, { recursive: true, force: true });
    p?.remove();
  }
});

const env = () => ({ CONNO_CACHE_DIR: mnt });
/** Files in the cache's objects/ and tmp/. */
const cacheFiles = (sub: string): string[] => {
  try {
    return readdirSync(path.join(mnt, sub), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return [];
  }
};

describe('a full disk and a read-only cache', () => {
  it('a full cache fails the stages that do not fit, naming the cache and what to do; then recovers', async () => {
    // One job at a time: big's temporary object fills the cache while it is written, and a stage
    // recording its run at that moment would fail too (as it should, but not what this tests).
    let r = await p.conno(['repro', '--keep-going', '--jobs', '1'], { env: env() });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('FAILED big: cannot write the cache');
    expect(r.all).toContain('no space left on the device');
    expect(r.all).toContain('hint: free some space (`conno gc` removes cache objects nothing refers to) and run again');
    expect(r.all).toMatch(/FAILED data: .*no space left on the device/);
    expect(r.all).toContain('done small');
    expect(r.all).not.toMatch(/\n\s+at /);
    expect(cacheFiles('tmp')).toEqual([]); // nothing half-written kept
    expect(p.read('conno.lock')).not.toMatch(/^ {2}big:/m);

    remount('size=16m');
    r = await p.conno(['repro'], { env: env() });
    expect(r.exitCode, r.all).toBe(0);
    r = await p.conno(['verify'], { env: env() });
    expect(r.exitCode, r.all).toBe(0);
  }, 120_000);

  it('a read-only cache: repro says so without a stack; status still answers', async () => {
    remount('ro');
    try {
      let r = await p.conno(['status'], { env: env() });
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toContain('Everything is up to date (3 stage instances).');
      p.write('pipeline.yaml', p.read('pipeline.yaml').replace('echo hi', 'echo ho'));
      r = await p.conno(['repro'], { env: env() });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`conno: cannot write the cache (${mnt}`);
      expect(r.stderr).toContain('the file system is read-only');
      expect(r.stderr).toContain('hint: make it writable, or set CONNO_CACHE_DIR to a writable folder');
      expect(r.all).not.toMatch(/\n\s+at /);
    } finally {
      remount('rw');
    }
  });
});
