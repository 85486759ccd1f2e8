/**
 * The fields a zod schema allows at a path inside the value it parses: what "did you mean"
 * suggests for an unknown key in a stage's `with:` (or pipeline.yaml), at any depth.
 */
import { z } from 'zod';

/** The object schemas a value at `path` may be checked against (unions give several). */
function objectsAt(schema: z.ZodType, path: readonly (string | number)[]): z.ZodObject[] {
  // Wrappers that leave the value's shape as it is.
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodReadonly || schema instanceof z.ZodCatch || schema instanceof z.ZodLazy) {
    return objectsAt(schema.unwrap() as z.ZodType, path);
  }
  if (schema instanceof z.ZodPipe) return objectsAt(schema.in as z.ZodType, path);
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap((o) => objectsAt(o, path));
  if (path.length === 0) return schema instanceof z.ZodObject ? [schema] : [];
  const [head, ...rest] = path;
  if (schema instanceof z.ZodObject) {
    const field = (schema.shape as Record<string, z.ZodType>)[String(head)];
    return field ? objectsAt(field, rest) : [];
  }
  if (schema instanceof z.ZodRecord) return objectsAt(schema.valueType as z.ZodType, rest);
  if (schema instanceof z.ZodArray) return objectsAt(schema.element as z.ZodType, rest);
  return [];
}

/** Every field name the schema allows in the mapping at `path` (empty when it is not a mapping). */
export function keysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  return [...new Set(objectsAt(schema, path).flatMap((o) => Object.keys(o.shape)))].sort();
}
