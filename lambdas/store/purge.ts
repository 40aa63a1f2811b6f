/**
 * Retention: once an ended execution's `purgeAtMs` has passed, every item it has (history, inbox,
 * the execution item last) is deleted, so inputs, results and personal data go with it and its id
 * can be used again. DynamoDB's TTL deletes one item at a time, on that item's own attribute, which
 * only the execution item could carry (its end is not known when history is written), so the
 * sweeper purges from a sparse index instead (`purge`: ended executions by `purgeAtMs`).
 *
 *   ended ── retention ── purgeAtMs ── claim (purgeClaimUntilMs) ── delete items ── delete META
 *                             │ from here every read answers "not found"; a start under the
 *                             │ same id purges first (the API does it inline), then creates
 *
 * Every item is deleted on a condition: written before the midpoint between the execution's end
 * and `purgeAtMs` (its `atMs`; clocks may differ by less than half the retention). An execution
 * started later under the same id writes only items after `purgeAtMs`, so a purge that is late (a
 * second purger, a paused sweeper) can never delete them. The execution item goes last, on its own
 * `purgeAtMs`: until it is gone the index keeps the purge to do, and a purge stopped halfway is
 * taken up by the next sweep.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { executionIdFromPk, executionPk, META_SK, PURGE_SHARD, TABLE } from "./keys.js";
import { forEachBounded } from "../core/bounded.js";
import { translate } from "./translate.js";
import type { StoredValues } from "./stored-values.js";

export interface PurgeSettings {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Its objects in the object store go with the items that refer to them. */
  values: StoredValues;
}

/** How long a purge holds an execution before another may take it up. */
const CLAIM_MS = 60_000;
/** Deletes in flight at once per execution. */
const DELETE_CONCURRENCY = 16;

/** Ended executions whose retention has passed, oldest first. */
export async function findExpired(settings: PurgeSettings, nowMs: number, limit: number): Promise<{ executionId: string; purgeAtMs: number }[]> {
  const index = TABLE.indexes.purge;
  const out = await settings.doc.send(
    new QueryCommand({
      TableName: settings.tableName,
      IndexName: index.name,
      KeyConditionExpression: "#shard = :shard AND #at <= :now",
      ExpressionAttributeNames: { "#shard": index.partitionKey.name, "#at": index.sortKey.name },
      ExpressionAttributeValues: { ":shard": PURGE_SHARD, ":now": nowMs },
      Limit: limit,
    }),
  );
  return (out.Items ?? []).map((item) => ({ executionId: executionIdFromPk(String(item.PK)), purgeAtMs: Number(item.purgeAtMs) }));
}

/**
 * Deletes every item of an execution whose retention ended at `purgeAtMs`, the execution item
 * last. False when another purge holds it, or it is not (or no longer) that execution. Stops
 * early (false, claim given back) once `deadlineMs` has passed; the next sweep goes on.
 */
export async function purgeExecution(
  settings: PurgeSettings,
  executionId: string,
  purgeAtMs: number,
  options: { nowMs: number; deadlineMs?: number },
): Promise<boolean> {
  const key = { PK: executionPk(executionId), SK: META_SK };
  let endedAtMs: number;
  try {
    const out = await settings.doc.send(
      new UpdateCommand({
        TableName: settings.tableName,
        Key: key,
        UpdateExpression: "SET purgeClaimUntilMs = :until",
        ConditionExpression: "purgeAtMs = :purgeAt AND purgeAtMs <= :now AND (attribute_not_exists(purgeClaimUntilMs) OR purgeClaimUntilMs < :now)",
        ExpressionAttributeValues: { ":until": options.nowMs + CLAIM_MS, ":purgeAt": purgeAtMs, ":now": options.nowMs },
        ReturnValues: "ALL_NEW",
      }),
    );
    endedAtMs = Math.min(Number(out.Attributes?.updatedAtMs ?? purgeAtMs), purgeAtMs);
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw translate(err, executionId);
  }
  const finished = await deleteItemsBefore(settings, executionId, endedAtMs + (purgeAtMs - endedAtMs) / 2, options.deadlineMs);
  if (!finished) {
    await settings.doc
      .send(new UpdateCommand({ TableName: settings.tableName, Key: key, UpdateExpression: "REMOVE purgeClaimUntilMs", ConditionExpression: "purgeAtMs = :purgeAt", ExpressionAttributeValues: { ":purgeAt": purgeAtMs } }))
      .catch(() => undefined);
    return false;
  }
  try {
    await settings.doc.send(
      new DeleteCommand({ TableName: settings.tableName, Key: key, ConditionExpression: "purgeAtMs = :purgeAt", ExpressionAttributeValues: { ":purgeAt": purgeAtMs } }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw translate(err, executionId);
  }
  return true;
}

/**
 * Deletes history and inbox items left without an execution item (by an earlier version that
 * expired only that item through TTL), written before `beforeMs`.
 */
export async function purgeOrphans(settings: PurgeSettings, executionId: string, beforeMs: number): Promise<void> {
  await deleteItemsBefore(settings, executionId, beforeMs, undefined);
}

/** Deletes the execution's items (all but META) written before `beforeMs`; false if it stopped at the deadline. */
async function deleteItemsBefore(settings: PurgeSettings, executionId: string, beforeMs: number, deadlineMs: number | undefined): Promise<boolean> {
  // Objects first, on the same condition (written before `beforeMs`, by the object store's clock,
  // which is far from the middle of the retention): an item is never left referring to nothing
  // that a reader could still reach, and an orphan object (a crash between its write and the
  // commit) goes too.
  await settings.values.deleteObjects(executionId, new Date(beforeMs));
  let startKey: Record<string, unknown> | undefined;
  do {
    if (deadlineMs !== undefined && Date.now() > deadlineMs) return false;
    const out = await settings.doc.send(
      new QueryCommand({
        TableName: settings.tableName,
        KeyConditionExpression: "PK = :pk",
        ExpressionAttributeValues: { ":pk": executionPk(executionId) },
        ProjectionExpression: "PK, SK",
        ConsistentRead: true,
        Limit: 500,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    const keys = (out.Items ?? []).filter((item) => item.SK !== META_SK).map((item) => ({ PK: String(item.PK), SK: String(item.SK) }));
    await forEachBounded(keys, DELETE_CONCURRENCY, (itemKey) => deleteIfBefore(settings, itemKey, beforeMs, executionId));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return true;
}

async function deleteIfBefore(settings: PurgeSettings, key: { PK: string; SK: string }, beforeMs: number, executionId: string): Promise<void> {
  try {
    await settings.doc.send(
      new DeleteCommand({
        TableName: settings.tableName,
        Key: key,
        // Items of earlier versions carry no `atMs`: they belong to the execution being purged.
        ConditionExpression: "attribute_not_exists(atMs) OR atMs < :before",
        ExpressionAttributeValues: { ":before": beforeMs },
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return; // a later execution's item: kept
    throw translate(err, executionId);
  }
}
