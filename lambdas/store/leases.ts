/**
 * Leases on executions: a conditional update takes one (and bumps the fencing token), every commit
 * checks it, and giving it back is a conditional update too.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { isTerminal } from "../core/status.js";
import { NOT_ENDED } from "./commits.js";
import { LeaseLostError } from "./errors.js";
import { type MetaItem, toRecord, unmarshallItem } from "./items.js";
import { executionPk, META_SK } from "./keys.js";
import type { StoreContext } from "./store-context.js";
import type { ExecutionRecord, Lease, LeaseResult } from "../ports/store.js";
import { translate } from "./translate.js";

/*
 * Lease timeline:
 *
 *   acquire ───────── work, commits (each checks owner + version) ───────── leaseExpiresAtMs
 *                                                                             │
 *   another worker may acquire only after this point ─────────────────────────┘
 *
 * Acquiring bumps leaseVersion (the fencing token), so a worker that paused past its expiry
 * and wakes up later fails its next commit even if it still believes it holds the lease.
 *
 * Acquiring also adds 1 to retryCount, and the commit that ends a turn sets it back to 0: a turn
 * that fails, crashes or times out leaves it counted without having to write anything (a dead
 * worker cannot). So retryCount is the number of turns in a row that did not finish.
 */
export async function acquireLease(ctx: StoreContext, executionId: string, options: { owner: string; nowMs: number; leaseMs: number; dueByMs?: number }): Promise<LeaseResult> {
  const expiresAtMs = options.nowMs + options.leaseMs;
  const executionExists = "attribute_exists(PK)";
  const notEnded = NOT_ENDED.condition;
  const leaseFree = "attribute_not_exists(leaseExpiresAtMs)";
  const leaseExpired = "leaseExpiresAtMs < :now";
  // Something to do: due by then, or something in the inbox. A wake-up for an execution with
  // neither (a duplicate, a sweeper's resend of one already handled) costs this one request.
  const hasWork = options.dueByMs === undefined ? "" : " AND (nextWakeAtMs <= :dueBy OR inboxCount > :zero)";
  try {
    const out = await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: { PK: executionPk(executionId), SK: META_SK },
        UpdateExpression:
          "SET leaseOwner = :owner, leaseExpiresAtMs = :exp, leaseVersion = if_not_exists(leaseVersion, :zero) + :one, " +
          "retryCount = if_not_exists(retryCount, :zero) + :one",
        // The wake time is left alone (no index write): whatever woke the execution made it due
        // first (start, signal, timer, child result), so if this worker dies the sweeper claims
        // it once the lease has run out (a claim needs no live lease).
        ConditionExpression: `${executionExists} AND ${notEnded} AND (${leaseFree} OR ${leaseExpired})${hasWork}`,
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ...(options.dueByMs === undefined ? {} : { ":dueBy": options.dueByMs }),
          ":owner": options.owner,
          ":exp": expiresAtMs,
          ":now": options.nowMs,
          ":zero": 0,
          ":one": 1,
          ...NOT_ENDED.values,
        },
        ReturnValues: "ALL_OLD",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    await ctx.values.openItem(out.Attributes ?? {});
    const { execution, lease, previous } = leaseTaken(toRecord(out.Attributes as MetaItem), options.owner, expiresAtMs);
    return { acquired: true, lease, execution, previous, unlock: () => releaseLease(ctx, lease) };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) {
      const raw = err.Item ? unmarshallItem(err.Item) : undefined;
      if (raw) await ctx.values.openItem(raw as unknown as Record<string, unknown>);
      const old = raw ? toRecord(raw) : undefined;
      if (!old) return { acquired: false, reason: "not-found" };
      if (isTerminal(old.status)) return { acquired: false, reason: "terminal", execution: old };
      const leaseHeld = old.leaseExpiresAtMs !== undefined && old.leaseExpiresAtMs >= options.nowMs;
      if (!leaseHeld && options.dueByMs !== undefined) return { acquired: false, reason: "not-due", execution: old };
      return { acquired: false, reason: "held", execution: old };
    }
    throw translate(err, executionId);
  }
}

/** Gives the lease back without other changes (the worker stops early). */
export async function releaseLease(ctx: StoreContext, lease: Lease): Promise<void> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: { PK: executionPk(lease.executionId), SK: META_SK },
        UpdateExpression: "REMOVE leaseOwner, leaseExpiresAtMs",
        ConditionExpression: "leaseOwner = :owner AND leaseVersion = :version",
        ExpressionAttributeValues: { ":owner": lease.owner, ":version": lease.version },
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return; // already someone else's
    throw translate(err, lease.executionId);
  }
}

/**
 * After turns that did not finish, progress was made since (history grew past `lastSeq` of the
 * execution item): the count of turns without progress starts again from this one.
 */
export async function markProgress(ctx: StoreContext, lease: Lease, lastSeq: number): Promise<void> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: { PK: executionPk(lease.executionId), SK: META_SK },
        UpdateExpression: "SET retryCount = :one, lastSeq = :lastSeq",
        ConditionExpression: "leaseOwner = :owner AND leaseVersion = :version",
        ExpressionAttributeValues: { ":one": 1, ":lastSeq": lastSeq, ":owner": lease.owner, ":version": lease.version },
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw new LeaseLostError(lease.executionId);
    throw translate(err, lease.executionId);
  }
}

/**
 * What taking the lease made of the execution item `old` (read as it was before): the execution
 * now, the lease, and what the turn needs to know of before. Both stores build their answer with it.
 */
export function leaseTaken(old: ExecutionRecord, owner: string, expiresAtMs: number): { execution: ExecutionRecord; lease: Lease; previous: PreviousState } {
  const execution: ExecutionRecord = { ...old, leaseOwner: owner, leaseExpiresAtMs: expiresAtMs, leaseVersion: old.leaseVersion + 1, retryCount: old.retryCount + 1 };
  const lease: Lease = { executionId: old.id, owner, version: execution.leaseVersion, expiresAtMs };
  const previous: PreviousState = {
    status: old.status,
    retryCount: old.retryCount,
    lastSeq: old.lastSeq,
    inboxSeq: old.inboxSeq,
    ...(old.nextWakeAtMs === undefined ? {} : { nextWakeAtMs: old.nextWakeAtMs }),
  };
  return { execution, lease, previous };
}

type PreviousState = Extract<LeaseResult, { acquired: true }>["previous"];
