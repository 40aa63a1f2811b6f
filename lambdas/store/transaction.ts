/**
 * `withinTransaction(fn)`: collects writes and commits them in one TransactWriteItems, all or
 * nothing. A canceled transaction surfaces as TransactionConflict with its reasons in item order,
 * so the caller can tell a lost lease from a history conflict from throttling.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { DurableError } from "../core/errors.js";

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

export async function withinTransaction(
  doc: DynamoDBDocumentClient,
  fn: (tx: TransactWrite) => void | Promise<void>,
): Promise<void> {
  const tx = new TransactWrite();
  await fn(tx);
  if (tx.items.length === 0) return;
  const bytes = Buffer.byteLength(JSON.stringify(tx.items));
  if (tx.items.length > MAX_TRANSACTION_ITEMS || bytes > MAX_TRANSACTION_BYTES) {
    throw new TransactionTooLargeError(tx.items.length, bytes);
  }
  try {
    await doc.send(new TransactWriteCommand({ TransactItems: tx.items }));
  } catch (err) {
    if (err instanceof TransactionCanceledException) {
      const reasons = (err.CancellationReasons ?? []).map((r) => r.Code ?? "None");
      throw new TransactionConflict(reasons, err);
    }
    throw err;
  }
}
