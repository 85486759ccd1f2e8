/** What a command handler is given, and the shape of the command table's entries. */
import type { Io } from '../util/io.js';

export interface OptionSpec {
  name: string;
  short?: string;
  type: 'boolean' | 'string';
  /** The value's name in help (`N`, `LIST`). */
  arg?: string;
  help: string;
}

export interface CommandContext {
  io: Io;
  /** The project folder given with -C (else the working directory). */
  dir: string | undefined;
  /** The whole command line, for naming the holder of the project lock. */
  argv: readonly string[];
  command: string;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export type Handler = (ctx: CommandContext) => Promise<number>;
