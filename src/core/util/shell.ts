/**
 * Values as POSIX shell words: what a value spliced into a command (`cmd:`) becomes, so that a
 * param holding spaces, quotes, `;`, `$(…)` or backticks arrives as one argument, verbatim,
 * and never runs as shell code.
 */

/** Characters that mean nothing to a POSIX shell in an unquoted word. */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One shell word for `s`: as it is when nothing in it is special, else single-quoted. */
export function shellQuote(s: string): string {
  if (SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A value as shell words: a list is one word per element; a mapping is its JSON, one word. */
export function shellWords(v: unknown): string {
  if (Array.isArray(v)) return v.map((x) => shellWords(x)).join(' ');
  if (v !== null && typeof v === 'object') return shellQuote(JSON.stringify(v));
  return shellQuote(String(v));
}
