/**
 * The API's side of callbacks in the DynamoDB store: a completion or a failure is accepted only
 * if the callback item (callback-items.ts) matches the token and is still open and in time, and
 * it lands with the inbox item and the execution's due mark in one transaction, so an answer is
 * accepted once and never lost. A heartbeat moves the item's heartbeat deadline on; it does not
 * wake the execution (the worker reads the deadline when the old one falls due).
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { batchGetAll } from "./batch-get.js";
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

/**
 * What a refused answer or heartbeat transaction means: its first item is the callback item,
 * its second the execution item (explained by `executionRefused` from what it held).
 */
function refusal(err: unknown, ref: CallbackRef, nowMs: number, executionRefused: (old: Record<string, unknown> | undefined) => Error): unknown {
  if (!(err instanceof TransactionConflict)) return translate(err, ref.executionId);
  const held = (index: number) => {
    const raw = err.original.CancellationReasons?.[index]?.Item;
    return raw ? unmarshallItem(raw) : undefined;
  };
  const [callback, execution] = err.reasons;
  if (callback === "ConditionalCheckFailed") return callbackRefusal(held(0), ref, nowMs) ?? new StoreBusyError("the callback changed meanwhile; try again", err);
  if (execution === "ConditionalCheckFailed") return executionRefused(held(1));
  return translate(err, ref.executionId);
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
    }, ctx.values);
  } catch (err) {
    throw refusal(err, ref, nowMs, admission.refused);
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
    }, ctx.values);
  } catch (err) {
    throw refusal(err, ref, nowMs, (meta) => (meta ? new ExecutionEndedError(ref.executionId, String(meta.status)) : new ExecutionNotFoundError(ref.executionId)));
  }
  return next === undefined ? {} : { heartbeatDeadlineAtMs: next };
}

export async function readCallbackHeartbeats(ctx: StoreContext, executionId: string, callbackIds: readonly string[]): Promise<Map<string, number>> {
  const keys = [...new Set(callbackIds)].map((id) => ({ PK: executionPk(executionId), SK: callbackSk(id) }));
  const found = new Map<string, number>();
  for (const item of await batchGetAll(ctx, keys, "callback", "callbackId, heartbeatDeadlineAtMs")) {
    if (item.heartbeatDeadlineAtMs !== undefined) found.set(String(item.callbackId), Number(item.heartbeatDeadlineAtMs));
  }
  return found;
}
