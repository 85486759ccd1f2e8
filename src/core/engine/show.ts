/**
 * `conno show STAGE[:OUTPUT]`: print an output as recorded in conno.lock. Arrow tables come out
 * as a table (or JSON), folders as their file list, other files as text.
 */
import { promises as fsp } from 'node:fs';
import type { Project } from './project.js';
import { UsageError, ConnoError } from '../util/errors.js';
import { isTreeHash, type ObjectHash } from '../hash/types.js';
import { formatBytes } from '../util/format.js';

export async function show(project: Project, spec: string, opts: { head: number; json: boolean; pathOnly: boolean }): Promise<string> {
  const colon = spec.indexOf(':');
  const target = colon === -1 ? spec : spec.slice(0, colon);
  const outputName = colon === -1 ? undefined : spec.slice(colon + 1);
  const ids = project.selectTargets([target]);
  if (ids.length !== 1) throw new UsageError(`'${target}' names ${ids.length} instances; pick one: ${ids.slice(0, 6).join(', ')}${ids.length > 6 ? ', …' : ''}`);
  const id = ids[0]!;
  const entry = project.lock.stages[id];
  if (!entry) throw new ConnoError(`${id} has not been run yet (not in conno.lock): run \`conno repro ${id}\``);
  const names = Object.keys(entry.outs ?? {});
  // A command's named output (`as: predictions`) also answers to its name.
  const named = Object.entries(entry.as ?? {}).find(([, n]) => n === outputName)?.[0];
  let name = named ?? outputName;
  let inside: string | undefined;
  if (name === undefined) {
    // A built-in stage's first declared output is its main one (e.g. features before stats).
    const main = project.pipeline.instances.get(id)?.builtin?.def.outputs[0];
    if (main !== undefined && names.includes(main)) name = main;
    else if (names.length !== 1) throw new UsageError(`${id} has ${names.length} outputs; name one: ${names.map((n) => `${id}:${n}`).join(', ')}`);
    else name = names[0]!;
  } else if (!names.includes(name)) {
    const folder = names.find((n) => name!.startsWith(n + '/'));
    if (!folder) throw new UsageError(`${id} has no output '${name}' (outputs: ${names.join(', ')})`);
    inside = name.slice(folder.length + 1);
    name = folder;
  }
  let hash = entry.outs[name]!.hash as ObjectHash;
  if (inside !== undefined) {
    const m = await project.store.readManifest(hash).catch(() => undefined);
    const f = m?.files.find((x) => x.path === inside);
    if (!f) throw new UsageError(`'${inside}' is not in ${id}:${name}`);
    hash = f.hash;
  }
  const file = project.store.objectPath(hash);
  if (!(await project.store.has(hash))) throw new ConnoError(`the cache has no copy of ${id}:${name} (${hash}); run \`conno repro ${id}\``);
  if (opts.pathOnly) return file;
  if (isTreeHash(hash)) {
    const m = await project.store.readManifest(hash);
    if (opts.json) return JSON.stringify({ id, output: name, hash, files: m.files }, null, 2);
    return [`${id}:${name} (folder, ${m.files.length} files)`, ...m.files.map((f) => `  ${f.path}  ${formatBytes(f.size)}  ${f.hash}`)].join('\n');
  }
  const { isArrowFile, readTableFile } = await import('../arrow/io.js');
  if (isArrowFile(file)) {
    const { formatTable, tableToJson } = await import('../arrow/format.js');
    const table = readTableFile(file);
    if (opts.json) return JSON.stringify(tableToJson(table, { head: opts.head }), null, 2);
    return `${id}:${name}\n${formatTable(table, { head: opts.head, maxWidth: process.stdout.columns || 120 })}`;
  }
  const bytes = await fsp.readFile(file);
  if (bytes.includes(0)) return `${id}:${name}: binary file, ${formatBytes(bytes.length)} (${file})`;
  const lines = bytes.toString('utf8').split('\n');
  const text = lines.slice(0, opts.head).join('\n');
  if (opts.json) return JSON.stringify({ id, output: name, hash, text }, null, 2);
  return lines.length > opts.head ? `${text}\n… (${lines.length - opts.head} more lines)` : text;
}
