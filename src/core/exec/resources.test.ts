import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { ownUsage, parseSlurmDuration, parseSlurmMemory, watchGroup } from './resources.js';
import { parseSacct } from './slurm.js';

describe('Slurm accounting fields', () => {
  it('reads TotalCPU in each of its forms', () => {
    expect(parseSlurmDuration('00:01.500')).toBe(1.5);
    expect(parseSlurmDuration('12:03.250')).toBe(723.25);
    expect(parseSlurmDuration('02:00:01')).toBe(7201);
    expect(parseSlurmDuration('1-00:00:02')).toBe(86402);
    expect(parseSlurmDuration('4.5')).toBe(4.5);
    expect(parseSlurmDuration('')).toBeUndefined();
    expect(parseSlurmDuration('soon')).toBeUndefined();
  });
  it('reads MaxRSS with its unit', () => {
    expect(parseSlurmMemory('204800K')).toBe(200);
    expect(parseSlurmMemory('1.5G')).toBe(1536);
    expect(parseSlurmMemory('12M')).toBe(12);
    expect(parseSlurmMemory('1048576')).toBe(1);
    expect(parseSlurmMemory('')).toBeUndefined();
  });
  it("takes a job's state, time and CPU from its own line and its peak memory from its steps", () => {
    const s = parseSacct(['41|COMPLETED|0:0|12|00:10.500|', '41.batch|COMPLETED|0:0|12|00:10.400|204800K', '41.extern|COMPLETED|0:0|12|00:00.001|1024K', '42|RUNNING|0:0|3||', '42.batch|RUNNING|0:0|3||'].join('\n'));
    expect(s.get('41')).toEqual({ id: '41', state: 'COMPLETED', done: true, exitCode: '0:0', wall_s: 12, cpu_s: 10.5, max_rss_mb: 200 });
    expect(s.get('42')).toEqual({ id: '42', state: 'RUNNING', done: false, exitCode: '0:0', wall_s: 3 });
    expect([...s.keys()]).toEqual(['41', '42']);
  });
});

describe('measuring a run', () => {
  it("gives this process's CPU time and peak RSS", () => {
    const u = ownUsage();
    expect(u.cpu_s).toBeGreaterThan(0);
    expect(u.max_rss_mb).toBeGreaterThan(10);
  });

  it.runIf(process.platform === 'linux')('follows a command’s process group: its CPU time and peak memory, children included', async () => {
    // sh → node child: about 1 s of CPU and 150 MB held for a moment.
    const script = 'const b = Buffer.alloc(150 * 2 ** 20, 1); const t = Date.now(); let x = 0; while (Date.now() - t < 1200) x += b[x % b.length]; console.log(x > 0);';
    const child = spawn('sh', ['-c', `${JSON.stringify(process.execPath)} -e ${JSON.stringify(script)}; true`], { detached: true, stdio: 'ignore' });
    const watch = watchGroup(child.pid!, 50);
    await new Promise((r) => child.on('exit', r));
    const seen = watch.stop();
    expect(seen.cpu_s).toBeGreaterThan(0.6);
    expect(seen.cpu_s).toBeLessThan(5);
    expect(seen.max_rss_mb).toBeGreaterThan(140);
    expect(seen.max_rss_mb).toBeLessThan(1000);
  });
});
