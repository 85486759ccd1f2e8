/**
 * Canonical JSON: object keys sorted at every depth, no whitespace. Every hashed or compared
 * record goes through here so that the key order of a YAML file never changes a fingerprint.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
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
