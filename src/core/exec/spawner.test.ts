import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spawner, type SpawnExit, type SpawnRequest } from './spawner.js';

// The compiled helper (`npm test` builds dist/ first).
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'src', 'core', 'exec', 'spawner-child.js');

let dir: string;
let spawner: Spawner;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-spawner-'));
});
afterEach(() => {
  spawner?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function started(): Promise<Spawner> {
  const s = new Spawner(CHILD);
  for (let i = 0; i < 200 && !s.active; i++) await new Promise((r) => setTimeout(r, 25));
  expect(s.active).toBe(true);
  return s;
}

function request(cmd: string, over: Partial<SpawnRequest> = {}): SpawnRequest & { pids: number[] } {
  const pids: number[] = [];
  return { cmd, cwd: dir, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ONLY_HERE: 'yes' }, logFile: path.join(dir, 'log.txt'), header: `$ ${cmd}\n`, onPid: (p) => pids.push(p), pids, ...over };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('Spawner', () => {
  it('runs `sh -c CMD` in the folder, with exactly the environment given, its output after the header in the log', async () => {
    spawner = await started();
    const req = request('echo "$ONLY_HERE ${HOME-unset}" && pwd && echo err >&2');
    const exit = await spawner.run(req)!;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(readFileSync(req.logFile, 'utf8')).toBe(`$ ${req.cmd}\nyes unset\n${dir}\nerr\n`);
    expect(req.pids).toHaveLength(1);
  });

  it('starts each command as the leader of a process group of its own, not the helper’s', async () => {
    spawner = await started();
    const req = request('ps -o pid=,pgid=,sid= -p $$ > ids.txt; echo $PPID > ppid.txt');
    await spawner.run(req);
    const [pid, pgid, sid] = readFileSync(path.join(dir, 'ids.txt'), 'utf8').trim().split(/\s+/).map(Number);
    expect(pid).toBe(req.pids[0]);
    expect(pgid).toBe(pid);
    expect(sid).toBe(pid);
    // Started by the helper, not by this process.
    expect(Number(readFileSync(path.join(dir, 'ppid.txt'), 'utf8'))).not.toBe(process.pid);
  });

  it('reports exit codes and signals, and a command it cannot start', async () => {
    spawner = await started();
    expect(await spawner.run(request('exit 3'))).toEqual({ code: 3, signal: null });
    expect(await spawner.run(request('kill -TERM $$'))).toEqual({ code: null, signal: 'SIGTERM' });
    const missing = await spawner.run(request('true', { cwd: path.join(dir, 'nowhere') }));
    expect(missing?.error).toMatch(/ENOENT/);
    const noLog = await spawner.run(request('true', { logFile: path.join(dir, 'no', 'such', 'log.txt') }));
    expect(noLog?.error).toMatch(/cannot write the stage's log .*log\.txt/);
  });

  it('runs commands side by side', async () => {
    spawner = await started();
    // Each marks that it runs, then waits (at most 10 s) to see the other two running: only
    // commands that run at the same time all see all three marks (exit 0); one after another,
    // the first would give up and exit 1.
    const cmd = (i: number) => `touch m${i}; for t in $(seq 100); do [ -e m1 ] && [ -e m2 ] && [ -e m3 ] && exit 0; sleep 0.1; done; exit 1`;
    const exits = await Promise.all([1, 2, 3].map((i) => spawner.run(request(cmd(i), { logFile: path.join(dir, `log${i}.txt`) }))));
    expect(exits.map((e) => e?.code)).toEqual([0, 0, 0]);
  });

  it('if the helper dies, the commands it started are stopped and reported, and later ones are not taken', async () => {
    spawner = await started();
    const req = request('sleep 30');
    const running = spawner.run(req)!;
    for (let i = 0; i < 100 && req.pids.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const helper = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(req.pids[0])], { encoding: 'utf8' }).trim());
    process.kill(helper, 'SIGKILL');
    const exit: SpawnExit = await running;
    expect(exit.error).toMatch(/spawner process was killed by SIGKILL/);
    for (let i = 0; i < 100 && alive(req.pids[0]!); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(req.pids[0]!)).toBe(false);
    expect(spawner.active).toBe(false);
    expect(spawner.run(request('true'))).toBeUndefined();
  });

  it('takes nothing before it has started or after close, and without its script', async () => {
    const s = new Spawner(CHILD);
    expect(s.run(request('true'))).toBeUndefined();
    s.close();
    expect(new Spawner(path.join(dir, 'missing.js')).run(request('true'))).toBeUndefined();
    spawner = await started();
    spawner.close();
    expect(spawner.run(request('true'))).toBeUndefined();
    expect(existsSync(path.join(dir, 'log.txt'))).toBe(false);
  });
});
