/**
 * The fields a zod schema allows at a path inside the value it parses: what "did you mean"
 * suggests for an unknown key in a stage's `with:`, at any depth.
 */
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  element?: z.ZodType;
  getter?: () => z.ZodType;
}

/** zod 4 keeps a schema's definition at `_zod.def`; this reads only the parts that nest. */
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a value at `path` may be checked against (unions give several). */
function objectsAt(schema: z.ZodType, path: readonly (string | number)[]): Def[] {
  const d = defOf(schema);
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return objectsAt(d.innerType!, path);
    case 'pipe':
      return objectsAt(d.in!, path);
    case 'lazy':
      return d.getter ? objectsAt(d.getter(), path) : [];
    case 'union':
      return (d.options ?? []).flatMap((o) => objectsAt(o, path));
    default:
      break;
  }
  if (path.length === 0) return d.type === 'object' ? [d] : [];
  const [head, ...rest] = path;
  if (d.type === 'object') {
    const field = d.shape?.[String(head)];
    return field ? objectsAt(field, rest) : [];
  }
  if (d.type === 'record') return d.valueType ? objectsAt(d.valueType, rest) : [];
  if (d.type === 'array' || d.type === 'tuple') return d.element ? objectsAt(d.element, rest) : [];
  return [];
}

/** Every field name the schema allows in the mapping at `path` (empty when it is not a mapping). */
export function keysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  return [...new Set(objectsAt(schema, path).flatMap((d) => Object.keys(d.shape ?? {})))].sort();
}
