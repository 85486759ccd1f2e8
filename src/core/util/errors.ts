/**
 * Errors that cross module boundaries.
 *
 * A UserError is a problem of the user's — how conno was called, the pipeline, a file or value
 * the user gave, the machine — never a bug in conno. It is one type, tagged by `reason`, printed
 * the same way everywhere (its message, then its hint), without a stack trace:
 *
 * | reason        | class            | exit | e.g.                                             |
 * |---------------|------------------|------|--------------------------------------------------|
 * | `usage`       | UsageError       | 2    | an unknown flag or target                        |
 * | `pipeline`    | DiagnosticsError | 2    | problems in pipeline.yaml, each file:line:column |
 * | `input`       | InputError       | 1    | a corrupt WAV, a checksum mismatch, a bad value  |
 * | `environment` | ConnoError       | 1    | a stale build, a missing tool, a remote down     |
 *
 * Anything else that is thrown (a TypeError, a RangeError, a plain Error from a library) is a bug
 * or an unexpected failure and keeps its stack.
 */
import type { Diagnostic } from './diagnostics.js';

export type UserErrorReason = 'usage' | 'pipeline' | 'input' | 'environment';

export abstract class UserError extends Error {
  abstract readonly reason: UserErrorReason;
  /** What to do about it, printed on its own line after the message. */
  readonly hint: string | undefined;
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.hint = opts.hint;
  }
  /** The process exit code for this kind of problem. */
  get exitCode(): 1 | 2 {
    return this.reason === 'usage' || this.reason === 'pipeline' ? 2 : 1;
  }
}

/** A mistake in how conno was called: printed as one line, exit code 2. */
export class UsageError extends UserError {
  override readonly name = 'UsageError';
  readonly reason = 'usage' as const;
}

/** One or more positioned problems in the user's files: printed all at once, exit code 2. */
export class DiagnosticsError extends UserError {
  override readonly name = 'DiagnosticsError';
  readonly reason = 'pipeline' as const;
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'} in the pipeline`);
  }
}

/** Bad data or a bad value met while running a stage (a file that cannot be read, a mismatch). */
export class InputError extends UserError {
  override name = 'InputError';
  readonly reason = 'input' as const;
}

/**
 * A stage parameter that does not fit what the stage met at run time (a model without the input
 * `input_name` names, a split the table lacks): `path` is where in the stage's `with:` it lies,
 * and conno shows the error at that value in pipeline.yaml.
 */
export class ParamError extends InputError {
  override name = 'ParamError';
  constructor(
    message: string,
    readonly path: readonly (string | number)[],
    opts: { hint?: string; cause?: unknown } = {},
  ) {
    super(message, opts);
  }
}

/** A failure the user can act on that is not a usage mistake: the machine, the build, a remote. */
export class ConnoError extends UserError {
  override name = 'ConnoError';
  readonly reason = 'environment' as const;
}

/** A user error as conno prints it: the message, and the hint on a line of its own. */
export function formatUserError(err: UserError): string {
  return err.hint ? `${err.message}\n  hint: ${err.hint}` : err.message;
}

export function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
