/**
 * Records keyed by what users name (paths, stage ids, output and metric names, env variables):
 * without a prototype, so that a key such as `__proto__` or `constructor` is data like any other.
 * On a plain object, `deps['__proto__'] = info` would set the object's prototype instead (the
 * input would vanish from the fingerprint record), and `lock.stages['constructor']` would find
 * Object's constructor for a stage that was never built.
 */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A prototype-less copy of `obj` (own enumerable keys, `__proto__` included). */
export function toDict<T>(obj: Record<string, T> | undefined): Record<string, T> {
  return Object.assign(dict<T>(), obj);
}

/** `obj[key]` when `key` is its own property (not Object.prototype's). */
export function own<T>(obj: Record<string, T> | undefined, key: string): T | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}
