/** Consistent BatchGetItem over any number of keys: 100 a request, unprocessed keys retried with backoff. */
import { BatchGetCommand } from "@aws-sdk/lib-dynamodb";
import { StoreBusyError } from "./errors.js";
import type { StoreContext } from "./store-context.js";

/** The items found under `keys` (missing ones are left out), in no particular order. */
export async function batchGetAll(
  ctx: Pick<StoreContext, "doc" | "tableName">,
  keys: readonly Record<string, unknown>[],
  what: string,
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Record<string, unknown>[] = keys.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt >= 6) throw new StoreBusyError(`DynamoDB left ${pending.length} ${what} keys unprocessed`, undefined);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      const out = await ctx.doc.send(
        new BatchGetCommand({ RequestItems: { [ctx.tableName]: { Keys: pending, ConsistentRead: true, ...(projection ? { ProjectionExpression: projection } : {}) } } }),
      );
      items.push(...(out.Responses?.[ctx.tableName] ?? []));
      pending = out.UnprocessedKeys?.[ctx.tableName]?.Keys ?? [];
    }
  }
  return items;
}
