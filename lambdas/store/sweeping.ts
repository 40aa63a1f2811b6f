/**
 * What the sweeper does to the table: finds due executions in the sparse due index and claims them
 * (so two sweepers never both wake one), and fails an execution without a lease when the engine
 * gives up and no lease can be had.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { HistoryEvent, InboxEvent } from "../core/events.js";
import { markDue, NOT_ENDED } from "./commits.js";
import { historyItem, newItemCondition, inboxItemBytes, inboxItem, unmarshallItem } from "./items.js";
import { DUE_SHARD, executionIdFromPk, executionPk, HISTORY_PREFIX, historySk, META_SK, PURGE_SHARD, seqFromHistorySk, TABLE } from "./keys.js";
import type { StoreContext } from "./store-context.js";
import type { ClaimedExecution, LeaselessEnd } from "../ports/store.js";
import { TransactionConflict, withinTransaction } from "./transaction.js";
import { translate } from "./translate.js";

/*
 * Claim timeline (the sweeper's `claimDueExecutions(lockTimeMs, limit)`):
 *
 *   nextWakeAtMs ── grace ── query sees it due ── claim: nextWakeAtMs := now + lockTimeMs ── ...
 *                                                   │ only if nextWakeAtMs is still what the
 *                                                   │ query read and no live lease holds it
 *   a second sweeper that read the same value ──────┴─ fails this condition and skips it
 *
 * The claimed execution is woken by the caller; its worker takes the lease (which moves the wake
 * time again). If that wake-up is lost too, the claim runs out and the next sweep finds it.
 */
export async function claimDueExecutions(ctx: StoreContext, lockTimeMs: number, limit: number, options: { nowMs: number; dueBeforeMs?: number }): Promise<ClaimedExecution[]> {
  const due = await findDue(ctx, options.dueBeforeMs ?? options.nowMs, limit);
  if (due.length === 0) return [];
  const claims = await Promise.allSettled(due.map((d) => claimDue(ctx, d.executionId, d.nextWakeAtMs, options.nowMs + lockTimeMs, options.nowMs)));
  // A claim that failed for a reason other than its condition (throttling) is skipped: the next sweep retries it.
  return claims.flatMap((c) => (c.status === "fulfilled" && c.value ? [c.value] : []));
}

export async function claimDue(ctx: StoreContext, executionId: string, seenWakeAtMs: number, lockedUntilMs: number, nowMs: number): Promise<ClaimedExecution | undefined> {
  const key = { PK: executionPk(executionId), SK: META_SK };
  const stillDue = "nextWakeAtMs = :seen"; // nobody (sweeper, worker, signal) moved it since the query
  const notEnded = NOT_ENDED.condition;
  const noLiveLease = "(attribute_not_exists(leaseExpiresAtMs) OR leaseExpiresAtMs < :now)";
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: key,
        UpdateExpression: "SET nextWakeAtMs = :lockedUntil",
        ConditionExpression: `${stillDue} AND ${notEnded} AND ${noLiveLease}`,
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":seen": seenWakeAtMs, ":lockedUntil": lockedUntilMs, ":now": nowMs, ...NOT_ENDED.values },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw translate(err, executionId);
    const old = err.Item ? unmarshallItem(err.Item) : undefined;
    if (old && old.status !== "running" && old.status !== "sleeping" && old.nextWakeAtMs === seenWakeAtMs) {
      // Not a live execution (ended, or an item a late notification created): take it out of the
      // due index so it is not read again.
      await ctx.doc
        .send(
          new UpdateCommand({
            TableName: ctx.tableName,
            Key: key,
            UpdateExpression: "REMOVE nextWakeAtMs, dueShard",
            ConditionExpression: `nextWakeAtMs = :seen AND NOT ${notEnded}`,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: { ":seen": seenWakeAtMs, ...NOT_ENDED.values },
          }),
        )
        .catch(() => undefined);
    }
    return undefined;
  }
  const unlock = async () => {
    try {
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: key,
          UpdateExpression: "SET nextWakeAtMs = :seen",
          ConditionExpression: "nextWakeAtMs = :lockedUntil", // still our claim: nothing else moved it
          ExpressionAttributeValues: { ":seen": seenWakeAtMs, ":lockedUntil": lockedUntilMs },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return;
      throw translate(err, executionId);
    }
  };
  return { executionId, unlock };
}

export async function endWithoutLease(
  ctx: StoreContext,
  executionId: string,
  end: LeaselessEnd,
  nowMs: number,
  options: { parent?: { executionId: string; position: number } } = {},
): Promise<boolean> {
  let notifyParent = options.parent !== undefined;
  for (let attempt = 1; ; attempt += 1) {
    // The ending event goes after the last event: a zombie's late append at that seq makes this
    // try again after it, and once it has landed no later append can (each writer appends N + 1
    // only after its own N).
    const lastSeq = await lastHistorySeq(ctx, executionId);
    const event = endingEvent(end, lastSeq + 1, nowMs);
    try {
      await withinTransaction(ctx.doc, (tx) => {
        tx.update(ctx.tableName, { PK: executionPk(executionId), SK: META_SK }, {
          // The fencing token moves on: a worker still holding a lease cannot commit over this.
          UpdateExpression:
            "SET #status = :status, #error = :error, updatedAtMs = :now, purgeAtMs = :purgeAt, purgeShard = :purgeShard, lastSeq = :lastSeq, " +
            "leaseVersion = if_not_exists(leaseVersion, :zero) + :one REMOVE leaseOwner, leaseExpiresAtMs, nextWakeAtMs, dueShard",
          ConditionExpression: `attribute_exists(PK) AND ${NOT_ENDED.condition}`,
          ExpressionAttributeNames: { "#status": "status", "#error": "error" },
          ExpressionAttributeValues: {
            ":status": end.status,
            ":error": JSON.stringify(end.error),
            ":now": nowMs,
            ":purgeAt": nowMs + ctx.retentionSeconds * 1000,
            ":purgeShard": PURGE_SHARD,
            ":lastSeq": event.seq,
            ":zero": 0,
            ":one": 1,
            ...NOT_ENDED.values,
          },
        });
        tx.put(ctx.tableName, historyItem(executionId, event), newItemCondition);
        const parent = options.parent;
        if (parent && notifyParent) {
          const notice: InboxEvent = { type: "ChildEnded", position: parent.position, childId: executionId, status: end.status, error: end.error };
          tx.put(ctx.tableName, inboxItem(parent.executionId, notice, nowMs, `child-${executionId}`));
          markDue(tx, ctx.tableName, parent.executionId, nowMs, inboxItemBytes(notice));
        }
      }, ctx.values);
      return true;
    } catch (err) {
      if (!(err instanceof TransactionConflict)) throw translate(err, executionId);
      if (err.reasons[0] === "ConditionalCheckFailed") return false;
      if (err.reasons[1] === "ConditionalCheckFailed" && attempt < 5) continue;
      if (err.reasons[3] === "ConditionalCheckFailed" && notifyParent) {
        notifyParent = false; // the parent ended or is gone: nobody to tell
        continue;
      }
      throw translate(err, executionId);
    }
  }
}

/** The event that records a leaseless end. */
export function endingEvent(end: LeaselessEnd, seq: number, nowMs: number): HistoryEvent {
  if (end.status === "failed") return { seq, atMs: nowMs, type: "ExecutionFailed", error: end.error };
  return { seq, atMs: nowMs, type: "ExecutionTerminated", ...(end.reason === undefined ? {} : { reason: end.reason }), ...(end.by === undefined ? {} : { by: end.by }) };
}

/** The seq of the last history event (0 if none). */
export async function lastHistorySeq(ctx: StoreContext, executionId: string): Promise<number> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: "PK = :pk AND SK BETWEEN :from AND :to",
      ExpressionAttributeValues: { ":pk": executionPk(executionId), ":from": historySk(0), ":to": `${HISTORY_PREFIX}~` },
      ProjectionExpression: "SK",
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const last = out.Items?.[0];
  return last ? seqFromHistorySk(String(last.SK)) : 0;
}

export async function findDue(ctx: StoreContext, nowMs: number, limit: number): Promise<{ executionId: string; nextWakeAtMs: number }[]> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      IndexName: TABLE.indexes.due.name,
      KeyConditionExpression: "dueShard = :shard AND nextWakeAtMs <= :now",
      ExpressionAttributeValues: { ":shard": DUE_SHARD, ":now": nowMs },
      Limit: limit,
    }),
  );
  return (out.Items ?? []).map((item) => ({ executionId: executionIdFromPk(String(item.PK)), nextWakeAtMs: Number(item.nextWakeAtMs) }));
}
