/**
 * The fingerprint of a stage instance: xxh64 of a canonical record of everything that decides
 * its outputs. The record itself is kept (in conno.lock and the run-cache) so that `status` can
 * say which part changed, not only that the hash did.
 */
import { canonicalJson } from '../util/canonical.js';
import { hashString, hashStringNow } from './xxhash.js';
import { asFingerprint, type Fingerprint, type ObjectHash } from './types.js';

/** Bump when the meaning of a record field changes: every stage becomes stale once. */
export const RECORD_FORMAT = 1;

export interface FingerprintRecord {
  /** Format of this record: a new format is a different computation as far as caching goes. */
  format: number;
  /** `cmd` or `builtin`: the same params fed to different kinds of stage are unrelated. */
  kind: 'cmd' | 'builtin';
  /** The command after interpolation: a different command is a different computation. */
  cmd?: string;
  /** The built-in stage's name (or project module path), then the hash of its code. */
  uses?: string;
  code?: string;
  /** Resolved values of every params key the stage uses (explicitly or through `${…}`). */
  params: Record<string, unknown>;
  /** A built-in stage's parameters after its schema applied defaults. */
  with?: Record<string, unknown>;
  /** Content hash of every input: dep paths and upstream outputs (`<instance>:<output>`). */
  deps: Record<string, ObjectHash>;
  /** Declared outputs: renaming or adding an output changes what the stage produces. */
  outs: string[];
  /** A command's named outputs (path → name, `as:`), when it has any: the name decides how its output is checked and read. */
  as?: Record<string, string>;
  /** Environment the stage sees that changes results: its `env:` and tool versions. */
  env: Record<string, string>;
  /**
   * A matrix instance's values: stages see them (StageContext.item, CONNO_ITEM) even where no
   * param interpolates them, so two instances with equal params and inputs still differ.
   */
  item?: Record<string, string | number | boolean>;
  /** Stages with `upstreamRecords` only: the fingerprint of every upstream instance. */
  upstream?: Record<string, Fingerprint>;
}

export async function fingerprintOf(record: FingerprintRecord): Promise<Fingerprint> {
  return asFingerprint(await hashString(canonicalJson(record)));
}

/** fingerprintOf without a promise once the hasher is loaded; undefined before that. */
export function fingerprintNow(record: FingerprintRecord): Fingerprint | undefined {
  const h = hashStringNow(canonicalJson(record));
  return h === undefined ? undefined : asFingerprint(h);
}
