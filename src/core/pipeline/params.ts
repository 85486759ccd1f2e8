/**
 * Params files: YAML files whose (dotted) keys stages reference. Keys from several files are
 * merged; a leaf defined twice is an error naming both places.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isPair } from 'yaml';
import type { Diagnostic } from '../util/diagnostics.js';
import { YamlFile } from './yamlfile.js';
import { closest } from '../util/closest.js';
import { dict, toDict } from '../util/dict.js';

export interface ParamsSet {
  values: Record<string, unknown>;
  files: string[];
  /** Which file each top-level key came from. */
  origin: Map<string, YamlFile>;
}

/**
 * Load and merge the params files. `where(i, message)`, when given, places a problem with the
 * i-th file name itself (a missing file) at its entry in pipeline.yaml.
 */
export function loadParams(
  root: string,
  rels: string[],
  display: (abs: string) => string,
  where?: (index: number, message: string) => Diagnostic,
): { params: ParamsSet; diagnostics: Diagnostic[] } {
  const values = dict<unknown>(); // top-level keys of the params files: any name is data
  const origin = new Map<string, YamlFile>();
  const loaded: YamlFile[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const [index, rel] of rels.entries()) {
    const abs = path.resolve(root, rel);
    if (where && !existsSync(abs)) {
      const shown = display(abs);
      diagnostics.push(where(index, `params file '${rel}' not found${shown === rel ? '' : ` (looked for ${shown})`}`));
      continue;
    }
    const { file, diagnostics: ds } = YamlFile.load(abs, display(abs));
    diagnostics.push(...ds);
    if (!file) continue;
    loaded.push(file);
    const js = file.toJS();
    if (js === null || js === undefined) continue;
    if (typeof js !== 'object' || Array.isArray(js) || !isMap(file.doc.contents)) {
      diagnostics.push(file.diag([], 'a params file must be a mapping of keys to values'));
      continue;
    }
    for (const pair of file.doc.contents.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const value = (js as Record<string, unknown>)[key];
      const prev = origin.get(key);
      if (prev && key in values) {
        const clash = firstClash(values[key], value, [key]);
        if (clash) {
          // The earlier file that defines it (not necessarily the one the top-level key came from).
          const other = loaded.find((f) => f !== file && f.node(clash) !== undefined) ?? prev;
          const line = other.diag(clash, '', { key: true }).line;
          diagnostics.push(file.diag(clash, `params key '${clash.join('.')}' is also defined in ${other.file}:${line}`, { key: true }));
          continue;
        }
        values[key] = deepMerge(values[key], value);
      } else {
        values[key] = value;
        origin.set(key, file);
      }
    }
  }
  return { params: { values, files: rels, origin }, diagnostics };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function firstClash(a: unknown, b: unknown, at: string[]): string[] | undefined {
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of Object.keys(b)) {
      if (k in a) {
        const c = firstClash(a[k], b[k], [...at, k]);
        if (c) return c;
      }
    }
    return undefined;
  }
  return at;
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (isPlainObject(a) && isPlainObject(b)) {
    const out = toDict(a);
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? deepMerge(out[k], v) : v;
    return out;
  }
  return b;
}

export type ParamLookup = { ok: true; value: unknown } | { ok: false; message: string };

/** Look a dotted key up; a miss names the closest existing keys. */
export function lookupParam(values: Record<string, unknown>, key: string): ParamLookup {
  const segs = key.split('.');
  let cur: unknown = values;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (isPlainObject(cur) && Object.prototype.hasOwnProperty.call(cur, seg)) {
      cur = cur[seg];
    } else if (Array.isArray(cur) && /^\d+$/.test(seg) && Number(seg) < cur.length) {
      cur = cur[Number(seg)];
    } else {
      const parent = segs.slice(0, i).join('.');
      const options = isPlainObject(cur) ? Object.keys(cur) : [];
      const near = closest(seg, options);
      const where = parent ? ` (under '${parent}')` : '';
      // Suggest the whole corrected key when the rest of it exists under the near match.
      const fixed = near === undefined ? undefined : [...segs.slice(0, i), near, ...segs.slice(i + 1)].join('.');
      const suggestion = fixed !== undefined && i < segs.length - 1 && lookupParam(values, fixed).ok ? fixed : [...segs.slice(0, i), near].join('.');
      const hint = near ? `; did you mean '${suggestion}'?` : options.length ? `; known keys${where}: ${options.slice(0, 8).join(', ')}` : '';
      return { ok: false, message: `unknown params key '${key}'${hint}` };
    }
  }
  if (cur === undefined) return { ok: false, message: `params key '${key}' has no value` };
  return { ok: true, value: cur };
}


