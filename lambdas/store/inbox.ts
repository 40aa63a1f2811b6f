/**
 * The inbox of an execution: items the API adds (signals, cancel requests), within the inbox's
 * limits, and the worker's reads of them and of the counter that tells when something arrived.
 */
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { InboxEvent, InboxItem } from "../core/events.js";
import { CANCEL_HEADROOM_ITEMS, MAX_INBOX_BYTES, MAX_INBOX_ITEMS } from "../core/limits.js";
import { NOT_ENDED } from "./commits.js";
import { ExecutionEndedError, ExecutionNotFoundError, InboxFullError } from "./errors.js";
import { decodeInboxItem, newItemCondition, nextArrivalCounter, inboxItemBytes, inboxItem, unmarshallItem } from "./items.js";
import { DUE_SHARD, executionPk, META_SK, INBOX_PREFIX } from "./keys.js";
import type { StoreContext } from "./store-context.js";
import { TransactionConflict, withinTransaction } from "./transaction.js";
import { translate } from "./translate.js";

/**
 * What letting `event` into the inbox takes: the execution item's update (it must exist, not have
 * ended and have room; it becomes due now, so the sweeper wakes it even if the caller's wake-up
 * message is lost; its inbox counter moves, so a worker in the middle of a turn sees it before it
 * ends), the item to put, and what a refused update means.
 */
export function inboxAdmission(tableName: string, executionId: string, event: InboxEvent, nowMs: number, unique?: string) {
  // Inbox keys sort by arrival: time, then a monotonic counter so two events of the same
  // millisecond from this process keep their order (events from different processes in the
  // same millisecond are concurrent: either order is a true one).
  const id = unique ?? (event.type === "Signal" ? event.signalId : `${event.type.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`);
  const item = inboxItem(executionId, event, nowMs, `${nextArrivalCounter()}#${id}`);
  const bytes = inboxItemBytes(event);
  // A signal must leave the inbox within its limits; a cancel gets a little room beyond them, so
  // an execution flooded with signals can still be canceled.
  const maxItems = event.type === "Cancel" ? MAX_INBOX_ITEMS + CANCEL_HEADROOM_ITEMS : MAX_INBOX_ITEMS;
  const maxBytes = event.type === "Cancel" ? MAX_INBOX_BYTES + CANCEL_HEADROOM_ITEMS * 2_048 : MAX_INBOX_BYTES;
  const roomForOne = "(attribute_not_exists(inboxCount) OR inboxCount < :maxItems)";
  const roomForBytes = "(attribute_not_exists(inboxBytes) OR inboxBytes <= :roomBytes)";
  return {
    item,
    key: { PK: executionPk(executionId), SK: META_SK },
    update: {
      UpdateExpression: "SET nextWakeAtMs = :now, dueShard = :due ADD inboxSeq :one, inboxCount :one, inboxBytes :bytes",
      ConditionExpression: `attribute_exists(PK) AND ${NOT_ENDED.condition} AND ${roomForOne} AND ${roomForBytes}`,
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ...NOT_ENDED.values, ":now": nowMs, ":due": DUE_SHARD, ":one": 1, ":bytes": bytes, ":maxItems": maxItems, ":roomBytes": maxBytes - bytes },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    },
    /** Why the execution item refused, from what it held (ALL_OLD). */
    refused(old: Record<string, unknown> | undefined): Error {
      if (!old) return new ExecutionNotFoundError(executionId);
      if (old.purgeAtMs !== undefined && Number(old.purgeAtMs) <= nowMs) return new ExecutionNotFoundError(executionId);
      if (old.status !== "running" && old.status !== "sleeping") return new ExecutionEndedError(executionId, String(old.status));
      return new InboxFullError(executionId, { items: MAX_INBOX_ITEMS, bytes: MAX_INBOX_BYTES }, { items: Number(old.inboxCount ?? 0), bytes: Number(old.inboxBytes ?? 0) });
    },
    tableName,
  };
}

export async function addToInbox(ctx: StoreContext, executionId: string, event: InboxEvent, nowMs: number): Promise<InboxItem> {
  const admission = inboxAdmission(ctx.tableName, executionId, event, nowMs);
  try {
    await withinTransaction(ctx.doc, (tx) => {
      tx.update(ctx.tableName, admission.key, admission.update);
      tx.put(ctx.tableName, admission.item, newItemCondition);
    }, ctx.values);
  } catch (err) {
    if (err instanceof TransactionConflict && err.reasons[0] === "ConditionalCheckFailed") {
      const raw = err.original.CancellationReasons?.[0]?.Item;
      throw admission.refused(raw ? unmarshallItem(raw) : undefined);
    }
    throw translate(err, executionId);
  }
  return decodeInboxItem(admission.item);
}

export async function readInboxSeq(ctx: StoreContext, executionId: string): Promise<number | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: { PK: executionPk(executionId), SK: META_SK },
      ConsistentRead: true,
      ProjectionExpression: "inboxSeq, PK",
    }),
  );
  return out.Item ? Number(out.Item.inboxSeq ?? 0) : undefined;
}

export async function readInbox(ctx: StoreContext, executionId: string): Promise<InboxItem[]> {
  const items: InboxItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :inbox)",
        ExpressionAttributeValues: { ":pk": executionPk(executionId), ":inbox": INBOX_PREFIX },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    await ctx.values.openItems(out.Items ?? []);
    for (const item of out.Items ?? []) items.push(decodeInboxItem(item));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}
