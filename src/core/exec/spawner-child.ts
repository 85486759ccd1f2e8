/**
 * The spawner process (see spawner.ts): starts command stages for the conno that started it, so
 * that conno's own process, large after it loaded a pipeline, is not forked once per command.
 * Reads one JSON request per line on stdin and answers one JSON line per event on stdout:
 *
 *   ← {"id":1,"cmd":"…","cwd":"…","env":{…},"log":"…","header":"$ …\n"}
 *   → {"id":1,"pid":1234}                 the command runs, in a process group of its own
 *   → {"id":1,"code":0,"signal":null}     it ended
 *   → {"id":1,"error":"…"}                it could not be started
 *
 * It ignores SIGINT (Ctrl-C reaches the whole terminal group; conno decides what to stop, by
 * process group, and this process reports how each command ended) and exits when its stdin
 * closes, which happens when conno exits, however it exits.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

interface Request {
  id: number;
  cmd: string;
  cwd: string;
  env: Record<string, string>;
  log: string;
  header: string;
}

const send = (msg: object) => process.stdout.write(`${JSON.stringify(msg)}\n`);

function start(r: Request): void {
  let fd: number;
  try {
    fd = openSync(r.log, 'w');
    writeSync(fd, r.header);
  } catch (err) {
    send({ id: r.id, error: `cannot write the stage's log ${r.log}: ${(err as Error).message}` });
    return;
  }
  try {
    const child = spawn('/bin/sh', ['-c', r.cmd], { cwd: r.cwd, env: r.env, stdio: ['ignore', fd, fd], detached: true });
    child.on('error', (err) => send({ id: r.id, error: err.message }));
    child.on('exit', (code, signal) => send({ id: r.id, code, signal }));
    if (child.pid !== undefined) send({ id: r.id, pid: child.pid });
  } finally {
    closeSync(fd); // the command holds its own copies
  }
}

process.on('SIGINT', () => undefined);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let r: Request;
  try {
    r = JSON.parse(line) as Request;
  } catch {
    return; // not conno's: nothing to answer
  }
  start(r);
});
lines.on('close', () => process.exit(0));
send({ ready: true });
