/**
 * The API's side of callbacks in the DynamoDB store: a completion or a failure is accepted only
 * if the callback item (callback-items.ts) matches the token and is still open and in time, and
 * it lands with the inbox item and the execution's due mark in one transaction, so an answer is
 * accepted once and never lost. A heartbeat moves the item's heartbeat deadline on; it does not
 * wake the execution (the worker reads the deadline when the old one falls due).
 */
import { BatchGetCommand, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { CallbackRef } from "../core/callbacks.js";
import type { CallbackOutcome } from "../ports/store.js";
import { NOT_ENDED } from "./commits.js";
import { ExecutionEndedError, ExecutionNotFoundError, StoreBusyError } from "./errors.js";
import { callbackRefusal, callbackResultEvent } from "./callback-items.js";
import { inboxAdmission } from "./inbox.js";
import { newItemCondition, unmarshallItem } from "./items.js";
import { callbackSk, executionPk, META_SK } from "./keys.js";
import type { StoreContext } from "./store-context.js";
import { TransactionConflict, withinTransaction } from "./transaction.js";
import { translate } from "./translate.js";

/** The callback item is the token's, has not ended and is in time (by `:now`). */
const OPEN_AND_IN_TIME =
  "attribute_exists(PK) AND #run = :run AND #position = :position AND attribute_not_exists(endedAs) AND " +
  "(attribute_not_exists(deadlineAtMs) OR deadlineAtMs >= :now) AND (attribute_not_exists(heartbeatDeadlineAtMs) OR heartbeatDeadlineAtMs >= :now)";

function openCondition(ref: CallbackRef, nowMs: number) {
  return {
    ConditionExpression: OPEN_AND_IN_TIME,
    ExpressionAttributeNames: { "#run": "run", "#position": "position" },
    ExpressionAttributeValues: { ":run": ref.run, ":position": ref.position, ":now": nowMs },
  };
}

export async function completeCallback(ctx: StoreContext, ref: CallbackRef, outcome: CallbackOutcome, nowMs: number): Promise<void> {
  const event = callbackResultEvent(ref, outcome);
  const admission = inboxAdmission(ctx.tableName, ref.executionId, event, nowMs, `cb-${ref.callbackId}`);
  const open = openCondition(ref, nowMs);
  try {
    await withinTransaction(ctx.doc, (tx) => {
      tx.update(ctx.tableName, { PK: executionPk(ref.executionId), SK: callbackSk(ref.callbackId) }, {
        UpdateExpression: "SET endedAs = :endedAs, endedAtMs = :now",
        ...open,
        ExpressionAttributeValues: { ...open.ExpressionAttributeValues, ":endedAs": outcome.ok ? "completed" : "failed" },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      });
      tx.update(ctx.tableName, admission.key, admission.update);
      tx.put(ctx.tableName, admission.item, newItemCondition);
    });
  } catch (err) {
    if (err instanceof TransactionConflict) {
      const [callback, execution] = err.reasons;
      if (callback === "ConditionalCheckFailed") {
        const raw = err.original.CancellationReasons?.[0]?.Item;
        throw callbackRefusal(raw ? unmarshallItem(raw) : undefined, ref, nowMs) ?? new StoreBusyError("the callback changed while it was answered; try again", err);
      }
      if (execution === "ConditionalCheckFailed") {
        const raw = err.original.CancellationReasons?.[1]?.Item;
        throw admission.refused(raw ? unmarshallItem(raw) : undefined);
      }
    }
    throw translate(err, ref.executionId);
  }
}

export async function heartbeatCallback(ctx: StoreContext, ref: CallbackRef, nowMs: number): Promise<{ heartbeatDeadlineAtMs?: number }> {
  const key = { PK: executionPk(ref.executionId), SK: callbackSk(ref.callbackId) };
  const out = await ctx.doc.send(new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }));
  const current = out.Item;
  const refused = callbackRefusal(current, ref, nowMs);
  if (refused) throw refused;
  const heartbeatTimeoutMs = current?.heartbeatTimeoutMs === undefined ? undefined : Number(current.heartbeatTimeoutMs);
  const open = openCondition(ref, nowMs);
  const next = heartbeatTimeoutMs === undefined ? undefined : nowMs + heartbeatTimeoutMs;
  try {
    await withinTransaction(ctx.doc, (tx) => {
      tx.update(ctx.tableName, key, {
        UpdateExpression: next === undefined ? "SET lastHeartbeatAtMs = :now" : "SET lastHeartbeatAtMs = :now, heartbeatDeadlineAtMs = :next",
        ...open,
        ExpressionAttributeValues: { ...open.ExpressionAttributeValues, ...(next === undefined ? {} : { ":next": next }) },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      });
      tx.conditionCheck(ctx.tableName, { PK: executionPk(ref.executionId), SK: META_SK }, {
        ConditionExpression: `attribute_exists(PK) AND ${NOT_ENDED.condition}`,
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: NOT_ENDED.values,
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      });
    });
  } catch (err) {
    if (err instanceof TransactionConflict) {
      const [callback, execution] = err.reasons;
      if (callback === "ConditionalCheckFailed") {
        const raw = err.original.CancellationReasons?.[0]?.Item;
        throw callbackRefusal(raw ? unmarshallItem(raw) : undefined, ref, nowMs) ?? new StoreBusyError("the callback changed while it was heartbeated; try again", err);
      }
      if (execution === "ConditionalCheckFailed") {
        const raw = err.original.CancellationReasons?.[1]?.Item;
        const meta = raw ? unmarshallItem(raw) : undefined;
        if (!meta) throw new ExecutionNotFoundError(ref.executionId);
        throw new ExecutionEndedError(ref.executionId, String(meta.status));
      }
    }
    throw translate(err, ref.executionId);
  }
  return next === undefined ? {} : { heartbeatDeadlineAtMs: next };
}

export async function readCallbackHeartbeats(ctx: StoreContext, executionId: string, callbackIds: readonly string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const distinct = [...new Set(callbackIds)];
  for (let i = 0; i < distinct.length; i += 100) {
    let keys: Record<string, unknown>[] = distinct.slice(i, i + 100).map((id) => ({ PK: executionPk(executionId), SK: callbackSk(id) }));
    for (let attempt = 0; keys.length > 0; attempt += 1) {
      if (attempt >= 6) throw new StoreBusyError(`DynamoDB left ${keys.length} callback keys unprocessed`, undefined);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      const out = await ctx.doc.send(
        new BatchGetCommand({ RequestItems: { [ctx.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: "callbackId, heartbeatDeadlineAtMs" } } }),
      );
      for (const item of out.Responses?.[ctx.tableName] ?? []) {
        if (item.heartbeatDeadlineAtMs !== undefined) found.set(String(item.callbackId), Number(item.heartbeatDeadlineAtMs));
      }
      keys = out.UnprocessedKeys?.[ctx.tableName]?.Keys ?? [];
    }
  }
  return found;
}
