/**
 * What a run cost: wall time, CPU time and peak memory (RSS) of its process. Kept in the
 * run-cache beside the run's results, never in conno.lock or an output: they differ from run to
 * run, and what conno certifies must not.
 *
 * - `process`: a built-in or module stage, measured by its own process (getrusage: exact).
 * - `sampled`: a command stage, its process group read from /proc every 200 ms (Linux): CPU time
 *   counts the processes alive at a sample and all they had waited for; peak RSS is the largest
 *   total seen. A command shorter than one sample records its wall time only.
 * - `slurm`: a cluster run, as Slurm's accounting reports it (ElapsedRaw, TotalCPU, MaxRSS).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export type { Resources } from '../store/runcache.js';

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/** This process's CPU time and peak RSS so far. */
export function ownUsage(): { cpu_s: number; max_rss_mb: number } {
  const u = process.resourceUsage();
  // maxRSS is in kilobytes (getrusage ru_maxrss on Linux).
  return { cpu_s: round((u.userCPUTime + u.systemCPUTime) / 1e6), max_rss_mb: round(u.maxRSS / 1024, 1) };
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

interface Watch {
  pgid: number;
  cpu_s?: number;
  rss_mb?: number;
}
const watches = new Set<Watch>();
let timer: NodeJS.Timeout | undefined;

/** One pass over /proc for every watched process group. */
function sample(): void {
  if (watches.size === 0) return;
  const byGroup = new Map<number, { cpu: number; rssKb: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return;
  }
  const wanted = new Set([...watches].map((w) => w.pgid));
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(f[2]);
    if (!wanted.has(pgrp)) continue;
    // utime stime cutime cstime (fields 14–17): what it ran and what its reaped children ran.
    const cpu = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clockTicks();
    let rssKb = 0;
    try {
      rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
    const g = byGroup.get(pgrp) ?? { cpu: 0, rssKb: 0 };
    g.cpu += cpu;
    g.rssKb += rssKb;
    byGroup.set(pgrp, g);
  }
  for (const w of watches) {
    const g = byGroup.get(w.pgid);
    if (!g) continue;
    w.cpu_s = Math.max(w.cpu_s ?? 0, g.cpu);
    w.rss_mb = Math.max(w.rss_mb ?? 0, g.rssKb / 1024);
  }
}

/**
 * Follow a process group (a command stage's, whose leader is `pgid`) until `stop`, which gives
 * what was seen. Linux only; elsewhere `stop` gives nothing.
 */
export function watchGroup(pgid: number, intervalMs = 200): { stop(): { cpu_s?: number; max_rss_mb?: number } } {
  if (process.platform !== 'linux') return { stop: () => ({}) };
  const w: Watch = { pgid };
  watches.add(w);
  timer ??= setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      watches.delete(w);
      if (watches.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
      return {
        ...(w.cpu_s !== undefined ? { cpu_s: round(w.cpu_s) } : {}),
        ...(w.rss_mb !== undefined && w.rss_mb > 0 ? { max_rss_mb: round(w.rss_mb, 1) } : {}),
      };
    },
  };
}

/** Slurm's TotalCPU: [D-]HH:MM:SS, MM:SS.mmm or SS.mmm → seconds. */
export function parseSlurmDuration(s: string): number | undefined {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(s.trim()) ?? /^()()()(\d+(?:\.\d+)?)$/.exec(s.trim());
  if (!m) return undefined;
  const [, d, h, mi, sec] = m;
  return round(Number(d || 0) * 86400 + Number(h || 0) * 3600 + Number(mi || 0) * 60 + Number(sec));
}

/** Slurm's MaxRSS: 123456K, 12.5M, 1.2G, or bytes → megabytes. */
export function parseSlurmMemory(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s.trim());
  if (!m) return undefined;
  const scale = { '': 1 / 1024 / 1024, K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return round(Number(m[1]) * scale, 1);
}
