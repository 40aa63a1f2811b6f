/** Runs work over many items with a bound on how much of it is in flight. No I/O of its own. */

/**
 * Calls `fn` on every item, at most `limit` calls at once, each next item taken as a call ends;
 * resolves when all have, rejects with the first failure (calls already started run on).
 *
 * @example
 * await forEachBounded(keys, 16, (key) => deleteItem(key));
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next;
        next += 1;
        await fn(items[index] as T, index);
      }
    }),
  );
}
