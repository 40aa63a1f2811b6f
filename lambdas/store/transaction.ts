/**
 * `withinTransaction(fn)`: collects writes and commits them in one TransactWriteItems, all or
 * nothing. A canceled transaction surfaces as TransactionConflict with its reasons in item order,
 * so the caller can tell a lost lease from a history conflict from throttling.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { DurableError } from "../core/errors.js";
import { executionIdFromPk, META_SK } from "./keys.js";
import type { StoredValues } from "./stored-values.js";

/** DynamoDB's limits for one transaction. */
export const MAX_TRANSACTION_ITEMS = 100;
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

type Item = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

interface Condition {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
  /** ALL_OLD: a failed condition's cancellation reason carries the item as it was. */
  ReturnValuesOnConditionCheckFailure?: "ALL_OLD" | "NONE";
}

/** A TransactionCanceledException with its reasons, in item order. */
export class TransactionConflict extends Error {
  constructor(
    readonly reasons: string[],
    readonly original: TransactionCanceledException,
  ) {
    super(`transaction canceled: ${reasons.join(", ")}`);
    this.name = "TransactionConflict";
  }
}

export class TransactWrite {
  readonly items: Item[] = [];

  put(tableName: string, item: Record<string, unknown>, condition: Condition = {}): this {
    this.items.push({ Put: { TableName: tableName, Item: item, ...condition } });
    return this;
  }

  update(tableName: string, key: Record<string, unknown>, update: Condition & { UpdateExpression: string }): this {
    this.items.push({ Update: { TableName: tableName, Key: key, ...update } });
    return this;
  }

  delete(tableName: string, key: Record<string, unknown>, condition: Condition = {}): this {
    this.items.push({ Delete: { TableName: tableName, Key: key, ...condition } });
    return this;
  }

  conditionCheck(tableName: string, key: Record<string, unknown>, condition: Condition & { ConditionExpression: string }): this {
    this.items.push({ ConditionCheck: { TableName: tableName, Key: key, ...condition } });
    return this;
  }
}

export class TransactionTooLargeError extends DurableError {
  constructor(items: number, bytes: number) {
    super("TRANSACTION_TOO_LARGE", `a commit of ${items} items / ${bytes} bytes is over DynamoDB's transaction limit (${MAX_TRANSACTION_ITEMS} items, 4 MB)`, {
      details: { items, bytes },
    });
  }
}

/**
 * Collects the writes `fn` makes and sends them as one transaction, their values sealed by
 * `values` first (large ones written to the object store before the transaction is sent).
 */
export async function withinTransaction(
  doc: DynamoDBDocumentClient,
  fn: (tx: TransactWrite) => void | Promise<void>,
  values: StoredValues,
): Promise<void> {
  const tx = new TransactWrite();
  await fn(tx);
  if (tx.items.length === 0) return;
  const items = await sealTransactItems(tx.items, values);
  const bytes = transactionBytes(items);
  if (items.length > MAX_TRANSACTION_ITEMS || bytes > MAX_TRANSACTION_BYTES) {
    throw new TransactionTooLargeError(items.length, bytes);
  }
  try {
    await doc.send(new TransactWriteCommand({ TransactItems: items }));
  } catch (err) {
    if (err instanceof TransactionCanceledException) {
      const reasons = (err.CancellationReasons ?? []).map((r) => r.Code ?? "None");
      throw new TransactionConflict(reasons, err);
    }
    throw err;
  }
}

/** The transaction's items with their values sealed; the builder's own objects are left as they were. */
async function sealTransactItems(items: readonly Item[], values: StoredValues): Promise<Item[]> {
  return Promise.all(
    items.map(async (item): Promise<Item> => {
      if (item.Put) return { Put: { ...item.Put, Item: await values.sealItem(item.Put.Item as Record<string, unknown>) } };
      const update = item.Update;
      if (update && update.Key?.SK === META_SK && typeof update.Key.PK === "string" && update.ExpressionAttributeValues) {
        const sealed = await values.sealUpdateValues(executionIdFromPk(update.Key.PK), update.ExpressionAttributeValues);
        return { Update: { ...update, ...(sealed ? { ExpressionAttributeValues: sealed } : {}) } };
      }
      return item;
    }),
  );
}

/** Bytes of a transaction as DynamoDB counts them, near enough: binary values by their length. */
function transactionBytes(items: readonly Item[]): number {
  return Buffer.byteLength(JSON.stringify(items, (_key, value: unknown) => (value instanceof Uint8Array ? "x".repeat(value.length) : value)));
}
