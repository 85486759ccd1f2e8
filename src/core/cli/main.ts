/**
 * The conno command line: global options, then a command from the table (table.ts), its
 * options parsed by Node's util.parseArgs, its handler imported only when it runs, so that
 * `conno status` never loads TensorFlow.js, Arrow or listr2. User errors are printed here, once,
 * without a stack trace.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DiagnosticsError, formatUserError, UsageError, UserError } from '../util/errors.js';
import { flushPendingSyncs, writeProblem } from '../util/fsx.js';
import type { Io } from '../util/io.js';
import { COMMANDS, type CommandSpec } from './table.js';
import { CORE_DIR, MODULE_EXT } from '../location.js';

export type { Io } from '../util/io.js';

function version(): string {
  // src/core when run from source, dist/src/core when built.
  const pkg = path.join(CORE_DIR, '..', '..', ...(MODULE_EXT === '.ts' ? [] : ['..']), 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/**
 * Commands after which the process may exit as soon as their output is written: they read, and
 * await everything they write (status's stat cache). Node would otherwise wait for V8's
 * background work (a full GC it had scheduled, compiler jobs): 10–20 ms of a 200 ms `status`.
 */
const PROMPT_EXIT = new Set(['status']);
let promptExit = false;

/**
 * Tuning for a command that lasts a fraction of a second: V8 does not compile large functions
 * with its optimising compiler. Such a compile runs on a background thread, and when it is
 * started near the end (the status loop's functions get hot after a few thousand instances) the
 * process waits for it at exit, since Node joins those threads: 30–50 ms of a 230 ms `status`
 * on 1,000 stages here, for code that never ran optimised. Small hot functions are still
 * optimised. (A V8 flag that only decides what to optimise: it changes no result.)
 */
function shortLived(): void {
  v8.setFlagsFromString('--max-optimized-bytecode-size=1000');
}

/** Whether the command main() ran may end the process at once (bin/conno.js then does). */
export function exitsPromptly(): boolean {
  return promptExit;
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    await flushPendingSyncs();
    if (err instanceof DiagnosticsError) {
      const { formatDiagnostics } = await import('../util/diagnostics.js');
      io.err(formatDiagnostics(err.diagnostics));
      return 2;
    }
    // A write that failed for space or permission anywhere (the cache, a log, the project): the
    // user's to fix, said without a stack.
    const e = writeProblem(err, 'a file', '');
    if (e instanceof UserError) {
      io.err(`conno: ${formatUserError(e)}`);
      return e.exitCode;
    }
    throw err;
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  // Global options come before the command.
  let dir: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-C') {
      dir = argv[++i];
      if (dir === undefined) throw new UsageError('-C needs a folder');
    } else if (a.startsWith('-C') && a.length > 2) dir = a.slice(2);
    else if (a === '--help' || a === '-h') {
      io.out((await import('./help.js')).mainHelp());
      return 0;
    } else if (a === '--version' || a === '-V') {
      io.out(version());
      return 0;
    } else break;
  }
  const name = argv[i];
  if (name === undefined) {
    io.err((await import('./help.js')).mainHelp());
    return 2;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) throw new UsageError(`unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')}; see conno --help)`);
  const rest = argv.slice(i + 1);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out((await import('./help.js')).commandHelp(spec));
    return 0;
  }
  const { values, positionals } = parseOptions(spec, rest);
  if (PROMPT_EXIT.has(spec.name)) shortLived();
  const handler = await spec.run();
  const code = await handler({ io, dir, argv, command: spec.name, values, positionals });
  // Renames whose folders' fsyncs were deferred (cache objects, run records) are durable when
  // the command ends, whatever it wrote.
  await flushPendingSyncs();
  promptExit = PROMPT_EXIT.has(spec.name);
  return code;
}

function parseOptions(spec: CommandSpec, args: string[]): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const options = Object.fromEntries(spec.options.map((o) => [o.name, o.short ? { type: o.type, short: o.short } : { type: o.type }]));
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${spec.name}: ${msg} (see conno ${spec.name} --help)`);
  }
}
