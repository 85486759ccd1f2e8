/**
 * `p`, marked as handled at once: for work started early and awaited later, after other awaits
 * that may throw first (its failure is then not reported as unhandled before it is awaited).
 */
export function settled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * Runs `fn` over `items`, at most `n` at a time. After a failure no item is started; the first
 * error is thrown once every call already started has ended (none is left running behind it).
 */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failed) {
      try {
        await fn(items[next++]!);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed) throw failed.err;
}
