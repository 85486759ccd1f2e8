/**
 * Where conno's core modules are: dist/src/core when built, src/core under vitest. Modules that
 * need their own files (the fingerprint memo hashes the code that makes a record, the analysis
 * cache names its analyzer) ask here instead of reading their own import.meta.url, which in the
 * CLI's bundle (scripts/bundle-cli.mjs) would name the bundle's file, not theirs. A module that
 * reads import.meta itself is left out of the bundle, as this one is.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The absolute folder of the core modules (this file's folder). */
export const CORE_DIR = path.dirname(fileURLToPath(import.meta.url));

/** The extension of the core's module files: `.js` when built, `.ts` when run from source. */
export const MODULE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The absolute path of a core module, e.g. `coreModule('engine/state')`. */
export function coreModule(rel: string): string {
  return path.join(CORE_DIR, ...rel.split('/')) + MODULE_EXT;
}
