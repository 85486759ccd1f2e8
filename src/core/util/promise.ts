/**
 * `p`, marked as handled at once: for work started early and awaited later, after other awaits
 * that may throw first (its failure is then not reported as unhandled before it is awaited).
 */
export function settled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
