/**
 * Redrive on DynamoDB: a failed execution goes on. One transaction: the execution item from
 * `failed` back to `running` (due now, error and retention cleared, the fencing token moved on),
 * conditional on nothing having been appended since the caller read history, and the
 * ExecutionRedriven event at the next seq.
 */
import type { ExecutionRedriven } from "../core/events.js";
import { ExecutionNotFailedError, ExecutionNotFoundError, StoreBusyError } from "./errors.js";
import { historyItem, newItemCondition, toRecord, type MetaItem, unmarshallItem } from "./items.js";
import { DUE_SHARD, executionPk, META_SK } from "./keys.js";
import type { StoreContext } from "./store-context.js";
import { TransactionConflict, withinTransaction } from "./transaction.js";
import { translate } from "./translate.js";

export async function redriveExecution(ctx: StoreContext, executionId: string, redriven: ExecutionRedriven, options: { expectedLastSeq: number }, nowMs: number): Promise<void> {
  const seq = options.expectedLastSeq + 1;
  try {
    await withinTransaction(ctx.doc, (tx) => {
      tx.update(ctx.tableName, { PK: executionPk(executionId), SK: META_SK }, {
        UpdateExpression:
          "SET #status = :running, updatedAtMs = :now, nextWakeAtMs = :now, dueShard = :due, retryCount = :zero, lastSeq = :seq, " +
          "leaseVersion = if_not_exists(leaseVersion, :zero) + :one REMOVE #error, purgeAtMs, purgeShard, purgeClaimUntilMs, leaseOwner, leaseExpiresAtMs",
        ConditionExpression: "attribute_exists(PK) AND #status = :failed AND lastSeq = :expected AND attribute_not_exists(parent) AND purgeAtMs > :now",
        ExpressionAttributeNames: { "#status": "status", "#error": "error" },
        ExpressionAttributeValues: {
          ":running": "running",
          ":failed": "failed",
          ":now": nowMs,
          ":due": DUE_SHARD,
          ":zero": 0,
          ":one": 1,
          ":seq": seq,
          ":expected": options.expectedLastSeq,
        },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      });
      tx.put(ctx.tableName, historyItem(executionId, { ...redriven, seq, atMs: nowMs }), newItemCondition);
    }, ctx.values);
  } catch (err) {
    if (!(err instanceof TransactionConflict)) throw translate(err, executionId);
    if (err.reasons[0] === "ConditionalCheckFailed") {
      const old = err.original.CancellationReasons?.[0]?.Item;
      if (!old) throw new ExecutionNotFoundError(executionId);
      const meta = unmarshallItem(old);
      await ctx.values.openItem(meta as unknown as Record<string, unknown>);
      throw refusal(executionId, meta, nowMs);
    }
    if (err.reasons[1] === "ConditionalCheckFailed") throw new StoreBusyError(`execution "${executionId}" changed while it was redriven; try again`, err);
    throw translate(err, executionId);
  }
}

/** Why a redrive's condition failed, from the execution item as it was. */
export function refusal(executionId: string, meta: MetaItem, nowMs: number): Error {
  const record = toRecord(meta);
  if (record.purgeAtMs !== undefined && record.purgeAtMs <= nowMs) return new ExecutionNotFoundError(executionId);
  if (record.status !== "failed") return new ExecutionNotFailedError(executionId, record.status);
  if (record.parent) return new ExecutionNotFailedError(executionId, "failed", `it is a child of "${record.parent.executionId}"; children are not redriven`);
  return new StoreBusyError(`execution "${executionId}" changed while it was redriven; try again`, undefined);
}
