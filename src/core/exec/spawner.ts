/**
 * Starting command stages through a small helper process (spawner-child.ts).
 *
 * Node starts a child by forking its own process, and the cost of a fork grows with the memory
 * the process has touched: conno, with a large pipeline and its lock loaded, pays 1.5–3 ms of its
 * main thread per command, which for a thousand short commands is most of a build's time. The
 * helper is a bare Node process: its forks are cheaper and happen off conno's main thread.
 *
 * A command started this way runs exactly as one started directly (job.ts): `/bin/sh -c CMD` in
 * the same folder, with the same environment, in a process group of its own, its output in the
 * stage's log. Until the helper has started (or if it fails), commands are started directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CORE_DIR } from '../location.js';

export interface SpawnRequest {
  cmd: string;
  cwd: string;
  env: Record<string, string>;
  logFile: string;
  /** Written at the top of the log before the command's own output. */
  header: string;
  /** Called once the command runs, with its pid (which is also its process group). */
  onPid(pid: number): void;
}

export interface SpawnExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}

interface Pending {
  req: SpawnRequest;
  pid?: number;
  resolve(e: SpawnExit): void;
}

/** The compiled helper beside this module (absent when running from TypeScript sources). */
export const SPAWNER_CHILD = path.join(CORE_DIR, 'exec', 'spawner-child.js');

export class Spawner {
  private child: ChildProcess | undefined;
  private ready = false;
  private closed = false;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  /**
   * conno's environment when the run began, which commands start from (plus their stage's
   * variables): copied once, as a copy of process.env takes ~50 µs (its keys are looked up in
   * the OS environment one by one).
   */
  readonly env: Record<string, string | undefined> = { ...process.env };

  /** Starts the helper in the background; `run` is usable at once. */
  constructor(script = SPAWNER_CHILD) {
    if (!existsSync(script)) return;
    // A small heap keeps the helper's forks cheap; it holds nothing but the commands it runs.
    const child = spawn(process.execPath, ['--max-semi-space-size=1', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    child.on('error', () => this.lost('could not be started'));
    child.on('exit', (code, signal) => this.lost(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    child.stdin!.on('error', () => undefined); // a dead helper is reported by 'exit'
    createInterface({ input: child.stdout! }).on('line', (line) => this.answer(line));
    this.idle();
  }

  /** Whether commands now go through the helper. */
  get active(): boolean {
    return this.ready && !this.closed && this.child !== undefined;
  }

  /**
   * Runs one command through the helper. Returns undefined when the helper is not (yet, or no
   * longer) running: the caller then starts the command itself.
   */
  run(req: SpawnRequest): Promise<SpawnExit> | undefined {
    if (!this.active) return undefined;
    const id = this.next++;
    const p = new Promise<SpawnExit>((resolve) => this.pending.set(id, { req, resolve }));
    if (this.pending.size === 1) this.busy();
    this.child!.stdin!.write(`${JSON.stringify({ id, cmd: req.cmd, cwd: req.cwd, env: req.env, log: req.logFile, header: req.header })}\n`);
    return p;
  }

  /** Ends the helper; commands still out are not waited for (their groups are the caller's to stop). */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
    this.idle();
  }

  private answer(line: string): void {
    let msg: { id?: number; ready?: boolean; pid?: number; code?: number | null; signal?: NodeJS.Signals | null; error?: string };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if (msg.ready) {
      this.ready = true;
      return;
    }
    const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
    if (!p) return;
    if (msg.pid !== undefined) {
      p.pid = msg.pid;
      p.req.onPid(msg.pid);
      return;
    }
    this.settle(msg.id!, msg.error !== undefined ? { code: null, signal: null, error: msg.error } : { code: msg.code ?? null, signal: msg.signal ?? null });
  }

  private settle(id: number, e: SpawnExit): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.idle();
    p.resolve(e);
  }

  /** The helper died: commands it started can no longer be followed, so they are stopped. */
  private lost(how: string): void {
    const wasClosed = this.closed;
    this.child = undefined;
    this.closed = true;
    for (const [id, p] of [...this.pending]) {
      if (p.pid !== undefined) {
        try {
          process.kill(-p.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      this.settle(id, { code: null, signal: null, error: wasClosed ? 'conno stopped following it' : `conno's spawner process ${how} while the command ran` });
    }
  }

  /** While no command is out, the helper must not keep conno running. */
  private idle(): void {
    this.child?.unref();
    (this.child?.stdout as { unref?: () => void } | undefined)?.unref?.();
    (this.child?.stdin as { unref?: () => void } | undefined)?.unref?.();
  }

  private busy(): void {
    this.child?.ref();
    (this.child?.stdout as { ref?: () => void } | undefined)?.ref?.();
  }
}
