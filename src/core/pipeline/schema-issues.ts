/**
 * Schema problems (zod issues) of pipeline.yaml as diagnostics a person can act on: unknown
 * fields with "did you mean", wrong types named in words, and what is left of a stage whose
 * fields are partly wrong, so that the rest of it is still checked.
 */
import type { z } from 'zod';
import type { YamlPath } from './yamlfile.js';
import { PipelineSchema, ResourcesSchema, SlurmSchema, StageSchema, type StageConfig } from './schema.js';
import { closest } from '../util/closest.js';
import type { Problems } from './problems.js';
import { keysAt } from './schema-keys.js';

export class SchemaIssues {
  constructor(private readonly p: Problems) {}

  /** Report schema problems; `raw` is the value at `base`, for messages that quote it. */
  report(err: z.ZodError, base: YamlPath, raw: unknown): void {
    for (const issue of unknownKeysFirst(err.issues)) this.issue(issue, base, issue.path as (string | number)[], raw);
  }

  /** Fields named by a "did you mean" (as joined paths): not reported missing as well. */
  private suggested = new Set<string>();

  private issue(issue: z.core.$ZodIssue, base: YamlPath, rel: (string | number)[], raw: unknown): void {
    const at = [...base, ...rel];
    const value = valueAt(raw, rel);
    const label = fieldLabel(rel);
    const stage = base[0] === 'stages' ? String(base[1]) : undefined;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(base, rel);
        for (const key of issue.keys) {
          const near = closest(key, known);
          if (near) this.suggested.add([...at, near].join('\0'));
          const where = rel.length ? ` in '${label}'` : '';
          this.p.report([...at, key], `unknown field '${key}'${where}${near ? `; did you mean '${near}'?` : ` (expected one of: ${known.join(', ')})`}`, { key: true });
        }
        return;
      }
      case 'invalid_key': {
        const key = String(at[at.length - 1]);
        const why = issue.issues[0]?.message ?? issue.message;
        const what = base.length === 0 && rel.length === 2 && rel[0] === 'stages' ? 'stage name' : rel[0] === 'matrix' ? 'matrix key' : 'key';
        this.p.report(at, `bad ${what} '${key}': ${why}`, { key: true });
        return;
      }
      case 'invalid_union': {
        // The alternatives whose type matched say what is wrong inside; otherwise name the types.
        const typeMismatch = (branch: z.core.$ZodIssue[]) => branch.some((i) => i.path.length === 0 && i.code === 'invalid_type');
        const matched = issue.errors.filter((b) => !typeMismatch(b));
        if (matched.length === 1) {
          for (const sub of unknownKeysFirst(matched[0]!)) this.issue(sub, base, [...rel, ...(sub.path as (string | number)[])], raw);
          return;
        }
        const kinds = issue.errors.map((b) => b.find((i) => i.path.length === 0 && i.code === 'invalid_type')).map((i) => (i && i.code === 'invalid_type' ? typeName(i.expected) : undefined));
        if (kinds.every((k) => k !== undefined)) {
          this.p.report(at, `'${label}' must be ${orList((kinds as string[]).map((k) => (k === 'true or false' ? 'a boolean' : k)))}, not ${describeValue(value)}`);
          return;
        }
        break;
      }
      case 'invalid_type': {
        if (this.p.yf.node(at) === undefined && value === undefined && rel.length > 0) {
          if (!this.suggested.has(at.join('\0'))) this.p.report(at, `missing field '${label}'`);
        } else if (rel.length === 0 && stage !== undefined) {
          this.p.report(at, `stage '${stage}' must be a mapping of fields (cmd, deps, outs, …), not ${describeValue(value)}`, { key: true });
        } else {
          const hint = issue.expected === 'array' && typeof value === 'string' ? ` (write ${String(rel[rel.length - 1])}: [${value}])` : '';
          this.p.report(at, `'${label}' must be ${typeName(issue.expected)}, not ${describeValue(value)}${hint}`);
        }
        return;
      }
      case 'too_small':
        if (issue.message.startsWith('Too small') && issue.origin === 'number') {
          this.p.report(at, `'${label}' must be at least ${String(issue.minimum)}, not ${describeValue(value)}`);
          return;
        }
        if (issue.message.startsWith('Too small') && (issue.origin === 'string' || issue.origin === 'array') && Number(issue.minimum) === 1) {
          this.p.report(at, `'${label}' cannot be empty`);
          return;
        }
        break;
      case 'invalid_format':
        this.p.report(at, issue.message.startsWith('not ') ? `'${String(value)}' is ${issue.message}` : `${issue.message}: '${String(value)}'`);
        return;
      case 'custom':
        if (rel.length === 0 && stage !== undefined && raw !== null && typeof raw === 'object') {
          const r = raw as Record<string, unknown>;
          if (r.cmd !== undefined && r.uses !== undefined) {
            this.p.report([...at, 'uses'], `stage '${stage}' has both \`cmd\` and \`uses\`: a stage runs either a command (\`cmd\`) or a built-in stage (\`uses\`)`, { key: true });
            return;
          }
          if (r.cmd === undefined && r.uses === undefined) {
            this.p.report(at, `stage '${stage}' has neither \`cmd\` (a command to run) nor \`uses\` (a built-in stage)`, { key: true });
            return;
          }
        }
        break;
      default:
        break;
    }
    this.p.report(at, issue.message);
  }
}

function unknownKeysFirst(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return [...issues.filter((i) => i.code === 'unrecognized_keys'), ...issues.filter((i) => i.code !== 'unrecognized_keys')];
}

function knownKeys(schema: z.ZodType): string[] {
  return keysAt(schema, []);
}

/** The fields allowed in the mapping at `rel` below `base` (the top level or a stage). */
function knownKeysAt(base: YamlPath, rel: (string | number)[]): string[] {
  if (base.length === 0) return rel[0] === 'slurm' ? knownKeys(SlurmSchema) : knownKeys(PipelineSchema);
  if (rel.length === 0) return knownKeys(StageSchema);
  if (rel[0] === 'resources') return knownKeys(ResourcesSchema);
  if (rel[0] === 'slurm') return knownKeys(SlurmSchema);
  if (rel[0] === 'needs') return ['stage', 'on'];
  return [];
}

/** Matrix axes dropped because of schema problems (`all`: the whole matrix). */
export interface BrokenMatrix {
  axes: Set<string>;
  all: boolean;
}

/**
 * A stage config without the fields that failed the schema, if what is left is a valid stage.
 * Lists are dropped whole, so that positions of what remains stay right.
 */
export function salvage(raw: unknown, issues: z.core.$ZodIssue[]): { cfg: StageConfig; broken: BrokenMatrix } | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const copy: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const broken: BrokenMatrix = { axes: new Set(), all: false };
  for (const issue of issues) {
    const [first, second] = issue.path;
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) for (const k of issue.keys) delete copy[k];
    else if (first === undefined) continue;
    else if (first === 'matrix' && second !== undefined && copy.matrix !== null && typeof copy.matrix === 'object' && !Array.isArray(copy.matrix)) {
      const m = { ...(copy.matrix as Record<string, unknown>) };
      delete m[String(second)];
      copy.matrix = m;
      broken.axes.add(String(second));
    } else {
      if (first === 'matrix') broken.all = true;
      delete copy[String(first)];
    }
  }
  const r = StageSchema.safeParse(copy);
  return r.success ? { cfg: r.data, broken } : undefined;
}

function valueAt(raw: unknown, rel: (string | number)[]): unknown {
  let cur = raw;
  for (const seg of rel) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** `resources.gpu`, `needs[0].stage`: a path as the user would write it. */
export function fieldLabel(rel: (string | number)[]): string {
  return rel.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    array: 'a list',
    object: 'a mapping',
    record: 'a mapping',
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

function orList(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return 'a string';
  return String(v);
}

