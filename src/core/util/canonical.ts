/**
 * Canonical JSON: object keys sorted at every depth, no whitespace. Every hashed or compared
 * record goes through here so that the key order of a YAML file never changes a fingerprint.
 *
 * The text is exactly `JSON.stringify(sortDeep(value))` (canonical.test.ts checks the two
 * against each other on generated values), written directly: thousands of fingerprint records
 * are serialised per `status`, and sorted copies of each were a large part of its time.
 */
export function canonicalJson(value: unknown): string {
  return write(value) as string;
}

/** The JSON of one value; undefined where JSON.stringify leaves the value out (undefined, functions, symbols). */
function write(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // JSON has no NaN/Infinity; keep them distinguishable instead of collapsing to null.
      return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(`__number:${String(value)}`);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + (write(value[i]) ?? 'null');
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      let out = '{';
      for (const key of sortedKeys(obj)) {
        const v = obj[key];
        if (v === undefined) continue;
        const text = write(v);
        if (text === undefined) continue;
        out += (out.length > 1 ? ',' : '') + JSON.stringify(key) + ':' + text;
      }
      return out + '}';
    }
    case 'bigint':
      return JSON.stringify(value); // throws, as JSON.stringify does for a BigInt anywhere
    default:
      return undefined; // undefined, functions, symbols
  }
}

/**
 * Keys in the order a sorted copy enumerates them: JS objects list array-index keys ("0" to
 * "4294967294") first in numeric order, then the other keys in insertion (here: sorted) order.
 */
function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj).sort();
  let indexes: string[] | undefined;
  for (const k of keys) if (isArrayIndex(k)) (indexes ??= []).push(k);
  if (!indexes) return keys;
  indexes.sort((a, b) => Number(a) - Number(b));
  return [...indexes, ...keys.filter((k) => !isArrayIndex(k))];
}

function isArrayIndex(key: string): boolean {
  const c = key.charCodeAt(0); // NaN for ""
  if (!(c >= 48 && c <= 57)) return false; // fast path: not a digit
  if (key.length > 1 && c === 48) return false; // "01" is a name, not an index
  for (let i = 1; i < key.length; i++) {
    const d = key.charCodeAt(i);
    if (d < 48 || d > 57) return false;
  }
  return key.length <= 10 && Number(key) <= 4294967294;
}

export function sortDeep(value: unknown): unknown {

  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === 'object') {
    const out = Object.create(null) as Record<string, unknown>; // null prototype: a `__proto__` key stays data
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortDeep(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    // JSON has no NaN/Infinity; keep them distinguishable instead of collapsing to null.
    return `__number:${String(value)}`;
  }
  return value;
}

/** Deep equality of JSON-like values, as canonicalJson sees them. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
