/**
 * Bring your own data: a local folder of WAV files, labelled by a CSV or by the file names.
 *
 * - CSV (`csv:`, relative to the folder): columns `file,label` and optionally `split`,
 *   `speaker`, `fold`; `file` is relative to the folder.
 * - Pattern (`pattern:`): a regular expression matched against each file's path relative to the
 *   folder ('/'-separated; a pattern with no '/' is matched against the base name), with named
 *   groups `label` (required) and optionally `split`, `speaker`, `fold`.
 *
 * Clips without a split go to `train`. Classes are sorted (numerically when every label is an
 * integer, so '2' < '10'); a clip's id is its path without the extension.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ClipEntry, ClipIndex } from './datasets.js';
import { walkFiles } from './datasets.js';
import { parseCsvRecords } from './csv.js';

export interface FolderOptions {
  /** Absolute folder path. */
  root: string;
  csv?: string;
  pattern?: string;
}

export async function indexFolder(opts: FolderOptions): Promise<ClipIndex> {
  const { root } = opts;
  const st = await fsp.stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`dataset folder ${root} does not exist or is not a folder`);
  const entries: ClipEntry[] = [];
  const make = (rel: string, label: string, split: string | undefined, speaker: string | undefined, fold: string | undefined, where: string): ClipEntry => {
    if (!label) throw new Error(`${where}: empty label`);
    if (fold !== undefined && fold !== '' && !/^-?\d+$/.test(fold)) throw new Error(`${where}: fold '${fold}' is not an integer`);
    return {
      file: path.join(root, ...rel.split('/')),
      source: rel,
      clipId: rel.replace(/\.[^./]*$/, ''),
      className: label,
      split: split || 'train',
      speaker: speaker || null,
      fold: fold ? Number(fold) : null,
    };
  };
  if (opts.csv) {
    const csv = path.resolve(root, opts.csv);
    const rows = parseCsvRecords(await fsp.readFile(csv, 'utf8'), csv, ['file', 'label']);
    rows.forEach((r, i) => {
      const rel = r.file!.replace(/\\/g, '/').replace(/^\.\//, '');
      entries.push(make(rel, r.label!, r.split, r.speaker, r.fold, `${csv}:${i + 2}`));
    });
  } else if (opts.pattern) {
    const re = new RegExp(opts.pattern);
    const onBase = !opts.pattern.includes('/');
    for (const rel of await walkFiles(root)) {
      if (!/\.wav$/i.test(rel)) continue;
      const m = re.exec(onBase ? path.posix.basename(rel) : rel);
      if (!m) continue;
      const g = m.groups ?? {};
      entries.push(make(rel, g.label ?? '', g.split, g.speaker, g.fold, `${path.join(root, rel)} (pattern ${opts.pattern})`));
    }
    if (entries.length === 0) throw new Error(`no .wav file in ${root} matches the pattern ${opts.pattern}`);
  } else {
    throw new Error('the folder dataset needs `csv:` or `pattern:` to label its files');
  }
  return { entries, classes: sortLabels(new Set(entries.map((e) => e.className))) };
}

function sortLabels(labels: Set<string>): string[] {
  const all = [...labels];
  if (all.every((l) => /^-?\d+$/.test(l))) return all.sort((a, b) => Number(a) - Number(b));
  return all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
