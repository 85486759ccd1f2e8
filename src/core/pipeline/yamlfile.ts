/**
 * YAML files read with positions kept, so that any value can be pointed at in a diagnostic.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node, type YAMLError } from 'yaml';
import type { Diagnostic } from '../util/diagnostics.js';

export type YamlPath = readonly (string | number)[];

/**
 * Limits on what conno reads as YAML, so that a hostile or broken file is a positioned error and
 * never a crash or an exhausted machine: a 10,000-stage pipeline is ~1 MB.
 */
export const YAML_LIMITS = {
  /** Bytes of one file. */
  maxBytes: 16 * 1024 * 1024,
  /** Alias resolutions when building the value (the yaml library's maxAliasCount): a "billion laughs" document needs millions. */
  maxAliasCount: 1000,
};

export class YamlFile {
  readonly lines: string[];
  private constructor(
    readonly file: string,
    readonly text: string,
    readonly doc: Document.Parsed,
    readonly lineCounter: LineCounter,
  ) {
    this.lines = text.split(/\r?\n/);
  }

  /** Parse a file; syntax errors and files past the limits come back as diagnostics, never as exceptions. */
  static load(absPath: string, displayPath: string): { file?: YamlFile; diagnostics: Diagnostic[] } {
    const problem = (message: string, line = 1, column = 1): { diagnostics: Diagnostic[] } => ({ diagnostics: [{ file: displayPath, line, column, length: 1, message }] });
    let bytes: Buffer;
    try {
      bytes = readFileSync(absPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return problem(code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a YAML file' : `cannot read: ${(err as Error).message}`);
    }
    if (bytes.length > YAML_LIMITS.maxBytes) {
      return problem(`the file is ${(bytes.length / 1048576).toFixed(1)} MiB; conno reads YAML files of at most ${YAML_LIMITS.maxBytes / 1048576} MiB`);
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      const at = firstInvalidUtf8(bytes);
      const before = new TextDecoder('utf-8').decode(bytes.subarray(0, at));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      return problem(`not UTF-8: byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at offset ${at} (save the file as UTF-8)`, line, column);
    }
    return YamlFile.parse(text, displayPath);
  }

  static parse(text: string, displayPath: string): { file?: YamlFile; diagnostics: Diagnostic[] } {
    const lineCounter = new LineCounter();
    // merge: `<<: *defaults` (YAML 1.1 merge keys), which users of shared stage settings expect.
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, merge: true });
    const f = new YamlFile(displayPath, text, doc, lineCounter);
    const diagnostics: Diagnostic[] = [];
    const seen = new Set<string>();
    for (const e of doc.errors) {
      const d = f.yamlError(e);
      // An unquoted `${…}` in a list derails the parser: report it once, and no errors after it
      // but other unquoted `${…}`.
      const unquoted = d.message.startsWith(UNQUOTED);
      if (seen.size > 0 && !unquoted) continue;
      const key = `${d.line}:${d.column}`;
      if (!diagnostics.some((x) => `${x.line}:${x.column}` === key)) diagnostics.push(d);
      if (unquoted) seen.add(key);
    }
    if (diagnostics.length) return { diagnostics };
    try {
      f.value = doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount });
    } catch (err) {
      // The yaml library refuses to expand too many aliases: point at the first one.
      let first: Node | undefined;
      visit(doc, { Alias: (_, node) => ((first = node as Node), visit.BREAK) });
      const at = (first as Node | undefined)?.range?.[0] ?? 0;
      const why = /alias/i.test((err as Error).message) ? `expanding its aliases (*name) takes more than ${YAML_LIMITS.maxAliasCount} resolutions ("billion laughs"); write the values out` : (err as Error).message.split('\n')[0]!;
      return { diagnostics: [f.at(at, 1, `cannot read this YAML: ${why}`)] };
    }
    return { file: f, diagnostics: [] };
  }

  /** A YAML syntax error, pointed at the place the user has to fix. */
  private yamlError(e: YAMLError): Diagnostic {
    const [start, end] = e.pos;
    const message = cleanYamlMessage(e.message);
    // `[a/${item.seed}]`: the `{` of `${` opens a flow mapping inside a flow collection.
    const unquoted = unquotedInterpolation(this.text, start);
    if (unquoted) {
      const [from, to] = unquoted;
      const value = this.text.slice(from, to);
      return this.at(from, to - from, `${UNQUOTED}: write "${value}"`);
    }
    const quote = /^missing closing (["'])quote/.exec(message);
    if (quote) {
      const open = this.text.lastIndexOf(quote[1]!, start - 1);
      if (open >= 0) return this.at(open, firstLineLength(this.text, open, this.text.length), `unclosed \`${quote[1]}\`: missing the closing \`${quote[1]}\``);
    }
    if (e.code === 'DUPLICATE_KEY') {
      const first = firstKeyBefore(this.doc, start);
      const key = first ? String(first.value) : /^[^:\n]*/.exec(this.text.slice(start))![0].trim();
      const where = first?.range ? ` (first set on line ${this.lineCounter.linePos(first.range[0]).line})` : '';
      return this.at(start, Math.max(1, key.length), `duplicate key '${key}'${where}`);
    }
    // An unclosed flow collection is noticed at the next line; point at its opening bracket.
    const flow = /^flow (sequence|mapping) in block collection must be sufficiently indented and end with a ([\]}])/.exec(message);
    if (flow) {
      const open = unclosedBracket(this.text, start, flow[2] === ']' ? '[' : '{', flow[2]!);
      if (open !== undefined) {
        return this.at(open, firstLineLength(this.text, open, this.text.length), `unclosed \`${this.text[open]}\`: missing \`${flow[2]}\` to end this ${flow[1] === 'sequence' ? 'list' : 'mapping'}`);
      }
    }
    return this.at(start, Math.max(1, end - start), message);
  }

  /** The document's value, built once within the limits when the file was parsed. */
  private value: unknown;
  toJS(): unknown {
    return this.value;
  }

  /** A diagnostic at a character offset. */
  at(offset: number, length: number, message: string): Diagnostic {
    const { line, col } = this.lineCounter.linePos(Math.min(offset, this.text.length));
    return { file: this.file, line, column: col, length: Math.max(1, length), message, lineText: this.lines[line - 1] ?? '' };
  }

  /** The node at a path (the value, or with `key` the key of the last segment). */
  node(path: YamlPath, key = false): Node | undefined {
    let cur: unknown = this.doc.contents;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(cur)) {
        const pair = cur.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return undefined;
        if (last && key) return pair.key as Node;
        cur = pair.value;
      } else if (isSeq(cur) && typeof seg === 'number') {
        cur = cur.items[seg];
      } else {
        return undefined;
      }
    }
    return (cur as Node | null) ?? undefined;
  }

  /**
   * A diagnostic pointing at the value at `path` (or its key with `key`); falls back to the
   * closest existing ancestor, so a missing field points at the object that lacks it.
   */
  diag(path: YamlPath, message: string, opts: { key?: boolean; sub?: { offset: number; length: number } } = {}): Diagnostic {
    for (let n = path.length; n >= 0; n--) {
      const useKey = n === path.length ? opts.key === true : n > 0;
      const node = this.node(path.slice(0, n), useKey);
      if (node?.range) {
        const [start, valueEnd] = node.range;
        if (opts.sub && n === path.length) {
          const at = subOffset(this.text, node, opts.sub.offset);
          return this.at(at, opts.sub.length, message);
        }
        return this.at(start, firstLineLength(this.text, start, valueEnd), message);
      }
    }
    return this.at(0, 1, message);
  }
}

const UNQUOTED = 'a value with `${…}` inside [ ] or { } must be quoted';

function firstLineLength(text: string, start: number, end: number): number {
  const nl = text.indexOf('\n', start);
  const stop = nl === -1 ? end : Math.min(end, nl);
  return Math.max(1, stop - start);
}

/**
 * Where, in the file, character `offset` of a scalar's parsed value lies. Exact for plain and
 * single-line quoted scalars; for folded/block scalars, the search by content below finds it.
 */
function subOffset(text: string, node: Node, offset: number): number {
  const [start, end] = node.range!;
  const source = text.slice(start, end);
  if (isScalar(node) && typeof node.value === 'string') {
    const value = node.value;
    const quoted = source.startsWith('"') || source.startsWith("'") ? 1 : 0;
    if (source.slice(quoted, quoted + value.length) === value) return start + quoted + offset;
    // Find the piece of text around `offset` in the source.
    const piece = value.slice(offset, offset + 8);
    const idx = source.indexOf(piece);
    if (idx >= 0) return start + idx;
  }
  return start;
}

function cleanYamlMessage(msg: string): string {
  // The yaml package appends " at line L, column C" and a source excerpt; we print our own.
  const m = msg.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
  return m.charAt(0).toLowerCase() + m.slice(1);
}

/** The first key of the mapping that holds the (duplicate) key starting at `offset`. */
function firstKeyBefore(doc: Document.Parsed, offset: number): { value: unknown; range?: Node['range'] } | undefined {
  let found: { value: unknown; range?: Node['range'] } | undefined;
  visit(doc, {
    Map(_, map) {
      const dup = map.items.find((p) => isScalar(p.key) && p.key.range?.[0] === offset);
      if (!dup || !isScalar(dup.key)) return undefined;
      const name = String(dup.key.value);
      const first = map.items.find((p) => isScalar(p.key) && String(p.key.value) === name);
      if (first && isScalar(first.key)) found = { value: first.key.value, range: first.key.range };
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * The unquoted flow scalar holding a `${` whose error is at `offset` (on the same line), as
 * [start, end) offsets; undefined if there is none.
 */
function unquotedInterpolation(text: string, offset: number): [number, number] | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const dollar = text.lastIndexOf('${', offset);
  if (dollar < lineStart) return undefined;
  const close = text.indexOf('}', dollar);
  const lineEnd = text.indexOf('\n', dollar) === -1 ? text.length : text.indexOf('\n', dollar);
  if (close === -1 || close > lineEnd) return undefined;
  let from = dollar;
  while (from > lineStart && !'[{,:'.includes(text[from - 1]!)) from--;
  if (text.slice(lineStart, from).search(/[[{]/) === -1) return undefined; // not in a flow collection
  let to = close + 1;
  while (to < lineEnd && !',]}'.includes(text[to]!)) to++;
  const value = text.slice(from, to).trim();
  if (value.startsWith('"') || value.startsWith("'")) return undefined;
  from += text.slice(from, to).length - text.slice(from, to).trimStart().length;
  return [from, from + value.length];
}

/** Offset of the last `open` before `offset` that no `close` matches (quotes and comments aside). */
function unclosedBracket(text: string, offset: number, open: string, close: string): number | undefined {
  let depth = 0;
  for (let i = Math.min(offset, text.length) - 1; i >= 0; i--) {
    const c = text[i];
    if (c === close) depth++;
    else if (c === open) {
      if (depth === 0) return i;
      depth--;
    }
  }
  return undefined;
}

/** Offset of the first byte that breaks UTF-8's structure (lead byte, then its continuation bytes). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0) return i;
    for (let k = 1; k < n; k++) if (i + k >= bytes.length || (bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += n;
  }
  return 0; // valid structure, refused for another reason (an overlong form, a surrogate): say the start
}
