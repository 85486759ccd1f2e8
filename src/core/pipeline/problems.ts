/** The problems found in a pipeline so far, each pointed at its place in the YAML. */
import type { Diagnostic } from '../util/diagnostics.js';
import type { YamlFile, YamlPath } from './yamlfile.js';

export class Problems {
  readonly list: Diagnostic[] = [];
  constructor(readonly yf: YamlFile) {}

  /** A message of '' is a problem already reported elsewhere (see lookupParam). */
  report(path: YamlPath, message: string, opts?: { key?: boolean; sub?: { offset: number; length: number } }): void {
    if (message === '') return;
    this.list.push(this.yf.diag(path, message, opts));
  }
}
