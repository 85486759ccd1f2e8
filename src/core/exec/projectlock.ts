/**
 * One `conno repro` (or `gc`, or `verify`) at a time per cache. A second one waits for the first,
 * or with --no-wait refuses with a message naming the holder. The lock (proper-lockfile, a
 * directory whose mtime the holder keeps fresh) is taken over when its holder was killed: at
 * once if the holder's pid is gone on this host, otherwise when it goes stale.
 */
import { promises as fsp, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { ConnoError } from '../util/errors.js';
import { writeProblem } from '../util/fsx.js';

export interface Holder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

const STALE_MS = 10_000;

export async function acquireProjectLock(cacheDir: string, opts: { wait: boolean; command: string; onWait?: (h: Holder | undefined) => void }): Promise<() => Promise<void>> {
  try {
    return await acquire(cacheDir, opts);
  } catch (err) {
    throw writeProblem(err, 'the cache', cacheDir);
  }
}

async function acquire(cacheDir: string, opts: { wait: boolean; command: string; onWait?: (h: Holder | undefined) => void }): Promise<() => Promise<void>> {
  await fsp.mkdir(cacheDir, { recursive: true });
  const target = path.join(cacheDir, 'repro');
  const lockPath = `${target}.lock`;
  const infoFile = path.join(cacheDir, 'repro.holder.json');
  let announced = false;
  for (;;) {
    try {
      let compromised: Error | undefined;
      const release = await lockfile.lock(target, {
        realpath: false,
        lockfilePath: lockPath,
        stale: STALE_MS,
        update: STALE_MS / 4,
        retries: 0,
        onCompromised: (err) => {
          compromised = err;
        },
      });
      const holder: Holder = { pid: process.pid, host: os.hostname(), command: opts.command, since: new Date().toISOString() };
      await fsp.writeFile(infoFile, JSON.stringify(holder));
      return async () => {
        await fsp.rm(infoFile, { force: true });
        if (!compromised) await release().catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      const holder = await readHolder(infoFile);
      const lockAge = await fsp.stat(lockPath).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (holder && holder.host === os.hostname() && !pidAlive(holder.pid) && lockAge > (STALE_MS / 4) * 1.2) {
        // The holder died without releasing (SIGKILL, power loss): take the lock over without
        // waiting for it to go stale. The age check makes sure the lock directory is not one a
        // live process has just created (a live holder refreshes it every STALE_MS/4).
        await fsp.rm(lockPath, { recursive: true, force: true });
        await fsp.rm(infoFile, { force: true });
        continue;
      }
      if (!opts.wait) {
        const who = holder ? `pid ${holder.pid} on ${holder.host}, \`${holder.command}\`, since ${holder.since}` : 'another process';
        throw new ConnoError(`another conno is working on this project (${who}); not waiting because of --no-wait`);
      }
      if (!announced) {
        opts.onWait?.(holder);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function readHolder(file: string): Promise<Holder | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
