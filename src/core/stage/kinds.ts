/**
 * Table kinds: the schemas a command stage's named outputs (`outs: [{ path, as: dynamics }]`)
 * must meet, so that the stages downstream can read them like a built-in stage's output of that
 * name. The engine knows only the shape of a rule (columns, their Arrow types, schema metadata);
 * the kinds themselves come with the built-in stages (stages/kinds.ts, compiled into the
 * package's dist/stages/kinds.js).
 *
 * A named output is checked when its command finishes, before anything is cached: a table that
 * does not fit fails the stage with every problem named (file, column, expected type).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as arrow from 'apache-arrow';

export interface ColumnRule {
  name: string;
  /** Arrow type names as typeName() spells them; `fixed_size_list<float32>` matches any list size. */
  types: readonly string[];
  optional?: boolean;
}

export interface MetadataRule {
  key: string;
  /** What the value is, for the error (e.g. 'a JSON list of class names'). */
  what: string;
  optional?: boolean;
  /** A problem with the value, or undefined when it is fine. */
  check?(value: string): string | undefined;
}

export interface TableKind {
  description: string;
  columns: readonly ColumnRule[];
  metadata?: readonly MetadataRule[];
  /** Checks across columns and rows (e.g. logits as wide as the class list); problems as text. */
  check?(table: arrow.Table): string[];
}

export type TableKinds = ReadonlyMap<string, TableKind>;

/** The module of the package that exports `tableKinds` (a Record<string, TableKind>). */
export function tableKindsModule(packageRoot: string): string {
  return path.join(packageRoot, 'dist', 'stages', 'kinds.js');
}

let loaded: Promise<TableKinds> | undefined;

/** The table kinds this conno knows (empty when the package has none built). */
export function loadTableKinds(packageRoot: string): Promise<TableKinds> {
  loaded ??= (async () => {
    const file = tableKindsModule(packageRoot);
    if (!existsSync(file)) return new Map();
    const m = (await import(pathToFileURL(file).href)) as { tableKinds?: Record<string, TableKind> };
    return new Map(Object.entries(m.tableKinds ?? {}));
  })();
  return loaded;
}

/** Does the Arrow type name `have` satisfy `want`? (`fixed_size_list<float32>` without a size matches every size.) */
function typeFits(have: string, want: string): boolean {
  return have === want || (!want.includes('[') && have.startsWith(`${want}[`));
}

/**
 * Every way the table at `file` falls short of kind `name`; [] when it fits. `where` names the
 * output in messages (e.g. `out/dynamics.arrow (as dynamics)`).
 */
export async function checkTableKind(file: string, name: string, kind: TableKind, where: string): Promise<string[]> {
  const { readTableFile } = await import('../arrow/io.js');
  const { typeName } = await import('../arrow/typename.js');
  let table: arrow.Table;
  try {
    table = readTableFile(file);
  } catch (err) {
    return [`${where}: a ${name} table must be an Arrow IPC file (Feather v2): ${(err as Error).message}`];
  }
  const problems: string[] = [];
  const fields = new Map(table.schema.fields.map((f) => [f.name, typeName(f.type)]));
  for (const c of kind.columns) {
    const have = fields.get(c.name);
    const want = c.types.join(' or ');
    if (have === undefined) {
      if (!c.optional) problems.push(`${where}: no column '${c.name}' (${want}), which a ${name} table needs (columns: ${[...fields.keys()].join(', ') || 'none'})`);
    } else if (!c.types.some((t) => typeFits(have, t))) {
      problems.push(`${where}: column '${c.name}' is ${have}; a ${name} table needs ${want}`);
    }
  }
  for (const m of kind.metadata ?? []) {
    const v = table.schema.metadata.get(m.key);
    if (v === undefined) {
      if (!m.optional) problems.push(`${where}: no schema metadata '${m.key}' (${m.what}), which a ${name} table needs`);
      continue;
    }
    const bad = m.check?.(v);
    if (bad !== undefined) problems.push(`${where}: schema metadata '${m.key}' ${bad}`);
  }
  // Cross-column checks assume the columns are there.
  if (problems.length === 0 && kind.check) problems.push(...kind.check(table).map((p) => `${where}: ${p}`));
  return problems;
}
