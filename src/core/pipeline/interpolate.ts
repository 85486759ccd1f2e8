/**
 * `${…}` interpolation of params and matrix items into cmd, with, deps, outs and env.
 *
 * `${audio.rate}` reads a params key, `${item.seed}` the instance's matrix value. A string that
 * is exactly one `${…}` keeps the value's type (a number stays a number, a list a list);
 * otherwise values are spliced in as text. `\${` writes a literal `${` (for shell variables).
 *
 * In a command (`cmd:`, run by a shell) every value is spliced in shell-quoted, one word per
 * list element (util/shell.ts): a value is data, never shell code. `${raw:key}` splices a value
 * meant as shell text (several options in one param, a pipe) as it is; it is only for `cmd:`.
 */
import { shellWords } from '../util/shell.js';

/** A reference written `${raw:…}` has `raw: true`. */
export type Piece = { text: string } | { ref: string; raw?: true; offset: number; length: number };

export interface InterpolationProblem {
  message: string;
  offset: number;
  length: number;
}

const REF_RE = /^(raw:)?[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

export function parseTemplate(s: string): { pieces: Piece[]; problems: InterpolationProblem[] } {
  const pieces: Piece[] = [];
  const problems: InterpolationProblem[] = [];
  let text = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('\\${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (s.startsWith('${', i)) {
      const close = s.indexOf('}', i + 2);
      if (close === -1) {
        problems.push({ message: 'unterminated `${`: missing `}` (write `\\${` for a literal `${`)', offset: i, length: s.length - i });
        break;
      }
      const ref = s.slice(i + 2, close).trim();
      if (!REF_RE.test(ref)) {
        problems.push({ message: `bad interpolation \`${s.slice(i, close + 1)}\`: expected a dotted key like \${audio.rate} or \${item.seed}`, offset: i, length: close + 1 - i });
      } else {
        if (text) pieces.push({ text });
        text = '';
        const raw = ref.startsWith('raw:');
        pieces.push(raw ? { ref: ref.slice(4), raw: true, offset: i, length: close + 1 - i } : { ref, offset: i, length: close + 1 - i });
      }
      i = close + 1;
      continue;
    }
    text += s[i];
    i++;
  }
  if (text) pieces.push({ text });
  return { pieces, problems };
}

export function hasInterpolation(s: string): boolean {
  return s.includes('${');
}

/** Text form of a value spliced into a string: lists become space-separated words. */
export function spliceText(v: unknown): string {
  if (Array.isArray(v)) return v.map(spliceText).join(' ');
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export type Lookup = (ref: string) => { ok: true; value: unknown } | { ok: false; message: string };

/**
 * Resolve a template; unresolved references are reported with their offsets. With `shell` (a
 * command), values are shell-quoted words unless written `${raw:…}`, and the result is text.
 */
export function resolveTemplate(s: string, lookup: Lookup, opts: { shell?: boolean } = {}): { value: unknown; problems: InterpolationProblem[]; refs: string[] } {
  const { pieces, problems } = parseTemplate(s);
  const refs: string[] = [];
  const values: unknown[] = [];
  for (const p of pieces) {
    if ('text' in p) {
      values.push(p.text);
      continue;
    }
    if (p.raw && !opts.shell) {
      problems.push({ message: `\`\${raw:${p.ref}}\` is for \`cmd:\` only (it splices a value into a command unquoted); write \`\${${p.ref}}\``, offset: p.offset, length: p.length });
      values.push('');
      continue;
    }
    const r = lookup(p.ref);
    if (!r.ok) {
      problems.push({ message: r.message, offset: p.offset, length: p.length });
      values.push('');
      continue;
    }
    refs.push(p.ref);
    values.push(r.value);
  }
  if (opts.shell) {
    const text = values.map((v, i) => {
      const p = pieces[i]!;
      return 'text' in p ? v : p.raw ? spliceText(v) : shellWords(v);
    });
    return { value: text.join(''), problems, refs };
  }
  if (pieces.length === 1 && !('text' in pieces[0]!)) return { value: values[0], problems, refs };
  return { value: values.map((v, i) => ('text' in pieces[i]! ? v : spliceText(v))).join(''), problems, refs };
}
