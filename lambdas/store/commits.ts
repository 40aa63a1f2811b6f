/**
 * Commits under a lease: the cheapest write that is still safe for each batch.
 *
 *   one event, nothing else      → one conditional PutItem on its seq (a step result)
 *   only the execution update    → one conditional UpdateItem (the end of a turn)
 *   anything else                → TransactWriteItems, split by commit-plan.ts when too big
 *
 * Every transaction's first item is the execution item, checked (or updated) on the lease's owner
 * and fencing token, so a worker whose lease ran out can never write one. A batch that ends the
 * turn is also checked on the inbox counter the worker last saw: if a signal, cancel or child
 * result arrived since, the commit is refused with InboxChangedError (nothing written) and the
 * worker takes the new items in first. That is what keeps an execution due while anything waits
 * in its inbox, whatever the clocks and the wake-up sends do.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { CommitBatch, ConsumedItem } from "../core/driver.js";
import { InboxChangedError } from "../core/errors.js";
import type { HistoryEvent } from "../core/events.js";
import { callbackWrites } from "./callback-items.js";
import { isTerminal } from "../core/status.js";
import { type CommitPart, isLoneAppend, planCommit } from "./commit-plan.js";
import { ChildIdInUseError, HistoryConflictError, LeaseLostError, InboxConflictError, StoreBusyError } from "./errors.js";
import { encode, historyItem, publishedState, INLINE_INPUT_BYTES, type MetaItem, metaItem, newItemCondition, inboxItemBytes, inboxItem, startedEvent, tagItems, unmarshallItem } from "./items.js";
import { DUE_SHARD, executionPk, META_SK, PURGE_SHARD } from "./keys.js";
import type { Lease, NewExecution } from "../ports/store.js";
import { TransactionConflict, type TransactWrite, withinTransaction } from "./transaction.js";
import { translate } from "./translate.js";
import type { StoredValues } from "./stored-values.js";

export interface CommitSettings {
  doc: DynamoDBDocumentClient;
  tableName: string;
  retentionSeconds: number;
  singlePutSteps: boolean;
  /** How values are sealed and offloaded (stored-values.ts). */
  values: StoredValues;
  /** TESTS ONLY, deliberately broken (see DynamoStoreOptions). */
  unsafeSkipLeaseCheck: boolean;
  /** TESTS ONLY, deliberately broken (see DynamoStoreOptions). */
  unsafeUnconditionalWakeTime: boolean;
  /**
   * Removes the executions under these ids whose retention has ended (a child of an earlier
   * execution under the parent's id, say); true if any was removed, so the part is tried again.
   */
  freeExpiredIds(executionIds: readonly string[], nowMs: number): Promise<boolean>;
}

/** An execution-item write with its condition, as a transaction item or a plain update takes it. */
interface MetaWrite {
  kind: "update" | "check";
  UpdateExpression?: string;
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/** Notices to other executions dropped because their target had ended or is gone. */
interface Dropped {
  childCancels: Set<string>;
  notifyParent: boolean;
}

export async function commitBatch(settings: CommitSettings, lease: Lease, batch: CommitBatch, nowMs: number, inboxSeen: number | undefined): Promise<void> {
  const id = lease.executionId;
  if (settings.singlePutSteps && isLoneAppend(batch, inboxSeen)) {
    // A step result is one conditional put on its sequence number: two writers can never both
    // append seq N, and a writer appends N only after its own N − 1 landed (see driver.ts), so
    // whoever wins a seq, history stays one writer's consistent account.
    const event = batch.events[0] as HistoryEvent;
    try {
      const item = await settings.values.sealItem(historyItem(id, event));
      await settings.doc.send(new PutCommand({ TableName: settings.tableName, Item: item, ...newItemCondition }));
      return;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new HistoryConflictError(id, event.seq);
      throw translate(err, id);
    }
  }
  const onlyTheExecution =
    batch.execution !== undefined &&
    batch.events.length === 0 &&
    batch.consumed.length === 0 &&
    batch.childStarts.length === 0 &&
    batch.childCancels.length === 0 &&
    !batch.notifyParent;
  if (onlyTheExecution) {
    await updateExecution(settings, lease, batch, nowMs, inboxSeen);
    return;
  }
  const parts = planCommit(batch, partSizes(settings.values, id, nowMs));
  for (const part of parts) await commitPart(settings, lease, batch, part, nowMs, inboxSeen);
}

/** The end of a turn with nothing else to write: one conditional UpdateItem. */
async function updateExecution(settings: CommitSettings, lease: Lease, batch: CommitBatch, nowMs: number, inboxSeen: number | undefined): Promise<void> {
  const write = metaWrite(settings, lease, batch, { events: [], consumed: [], childStarts: [], childCancels: [], ...(batch.execution ? { execution: batch.execution } : {}) }, nowMs, inboxSeen);
  try {
    await settings.doc.send(
      new UpdateCommand({
        TableName: settings.tableName,
        Key: { PK: executionPk(lease.executionId), SK: META_SK },
        UpdateExpression: write.UpdateExpression as string,
        ConditionExpression: write.ConditionExpression,
        ...(write.ExpressionAttributeNames ? { ExpressionAttributeNames: write.ExpressionAttributeNames } : {}),
        ...(write.ExpressionAttributeValues ? { ExpressionAttributeValues: await settings.values.sealUpdateValues(lease.executionId, write.ExpressionAttributeValues) } : {}),
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw whyRefused(lease, err.Item ? unmarshallItem(err.Item) : undefined, inboxSeen);
    throw translate(err, lease.executionId);
  }
}

async function commitPart(settings: CommitSettings, lease: Lease, batch: CommitBatch, part: CommitPart, nowMs: number, inboxSeen: number | undefined): Promise<void> {
  const dropped: Dropped = { childCancels: new Set(), notifyParent: false };
  for (let attempt = 1; ; attempt += 1) {
    const { notifyParent, ...rest } = part;
    const current: CommitPart = {
      ...rest,
      childCancels: part.childCancels.filter((c) => !dropped.childCancels.has(c)),
      ...(notifyParent && !dropped.notifyParent ? { notifyParent } : {}),
    };
    try {
      await withinTransaction(settings.doc, (tx) => writePart(settings, tx, lease, batch, current, nowMs, inboxSeen), settings.values);
      return;
    } catch (err) {
      if (!(err instanceof TransactionConflict)) throw translate(err, lease.executionId);
      const explained = explain(err, lease, current, inboxSeen);
      // A child id held by an execution past its retention: that one is gone for every reader, so
      // it makes room, as a start would, and this part (only) is tried again.
      if (explained instanceof ChildIdInUseError && attempt < 3 && (await settings.freeExpiredIds(explained.childIds, nowMs))) continue;
      if (explained instanceof DroppedNotices && attempt < 3) {
        for (const c of explained.childCancels) dropped.childCancels.add(c);
        if (explained.notifyParent) dropped.notifyParent = true;
        continue;
      }
      throw explained instanceof DroppedNotices ? new StoreBusyError(`commit of "${lease.executionId}" kept failing on ended targets`, err) : explained;
    }
  }
}

function writePart(settings: CommitSettings, tx: TransactWrite, lease: Lease, batch: CommitBatch, part: CommitPart, nowMs: number, inboxSeen: number | undefined): void {
  const table = settings.tableName;
  const id = lease.executionId;
  const key = { PK: executionPk(id), SK: META_SK };
  const write = metaWrite(settings, lease, batch, part, nowMs, inboxSeen);
  const names = write.ExpressionAttributeNames ? { ExpressionAttributeNames: write.ExpressionAttributeNames } : {};
  const values = write.ExpressionAttributeValues ? { ExpressionAttributeValues: write.ExpressionAttributeValues } : {};
  if (write.kind === "update") {
    tx.update(table, key, { UpdateExpression: write.UpdateExpression as string, ConditionExpression: write.ConditionExpression, ...names, ...values, ReturnValuesOnConditionCheckFailure: "ALL_OLD" });
  } else {
    tx.conditionCheck(table, key, { ConditionExpression: write.ConditionExpression, ...names, ...values, ReturnValuesOnConditionCheckFailure: "ALL_OLD" });
  }
  for (const event of part.events) tx.put(table, historyItem(id, event), newItemCondition);
  for (const write of callbackWrites(id, part.events)) {
    if (write.kind === "put") tx.put(table, write.item, newItemCondition);
    else {
      tx.update(table, { PK: executionPk(id), SK: write.sk }, {
        UpdateExpression: "SET endedAs = :endedAs, endedAtMs = :endedAtMs",
        ExpressionAttributeValues: { ":endedAs": write.endedAs, ":endedAtMs": write.atMs },
      });
    }
  }
  for (const { item } of part.consumed) tx.delete(table, { PK: executionPk(id), SK: item.key }, { ConditionExpression: "attribute_exists(PK)" });
  for (const child of part.childStarts) {
    const request: NewExecution = { id: child.childId, workflow: child.workflow, version: child.version, input: child.input, nowMs, parent: { executionId: id, position: child.parentPosition } };
    tx.put(table, metaItem(request, settings.values.maxValueBytes), newItemCondition);
    tx.put(table, historyItem(child.childId, startedEvent(request)), newItemCondition);
    // A tenant's child is listed with its tenant's executions (keys.ts tenantPartition).
    for (const listed of tagItems(request)) tx.put(table, listed);
  }
  // Safety guard, as for a signal: the execution told something becomes due now, so the sweeper
  // wakes it if the wake-up sent after this commit is lost (a crash in between).
  for (const childId of part.childCancels) {
    const event = { type: "Cancel" as const, reason: "parent canceled" };
    tx.put(table, inboxItem(childId, event, nowMs, `cancel-${id}`));
    markDue(tx, table, childId, nowMs, inboxItemBytes(event));
  }
  if (part.notifyParent) {
    tx.put(table, inboxItem(part.notifyParent.executionId, part.notifyParent.event, nowMs, `child-${id}`));
    markDue(tx, table, part.notifyParent.executionId, nowMs, inboxItemBytes(part.notifyParent.event));
  }
}

/**
 * Puts an item in another execution's inbox: counts it and makes that execution due now. Only if
 * the execution exists and has not ended (a parent past its retention must not come back as a
 * stub; an ended child needs no cancel): otherwise the notice is dropped (DroppedNotices).
 */
export function markDue(tx: TransactWrite, table: string, executionId: string, nowMs: number, bytes: number): void {
  tx.update(table, { PK: executionPk(executionId), SK: META_SK }, {
    UpdateExpression: "SET nextWakeAtMs = :now, dueShard = :due ADD inboxSeq :one, inboxCount :one, inboxBytes :bytes",
    ConditionExpression: `attribute_exists(PK) AND ${NOT_ENDED.condition}`,
    ExpressionAttributeNames: { "#status": "status" },
    ExpressionAttributeValues: { ":now": nowMs, ":due": DUE_SHARD, ":one": 1, ":bytes": bytes, ...NOT_ENDED.values },
  });
}

/**
 * The execution item's part of a commit: the lease condition (and the inbox condition for a
 * batch that ends the turn), with the execution update on the part that carries it and the inbox
 * counters taken down by what the part consumes.
 */
function metaWrite(settings: CommitSettings, lease: Lease, batch: CommitBatch, part: CommitPart, nowMs: number, inboxSeen: number | undefined): MetaWrite {
  const conditions: string[] = [];
  const values: Record<string, unknown> = {};
  if (settings.unsafeSkipLeaseCheck) conditions.push("attribute_exists(PK)");
  else {
    // The lease is still this worker's: same owner and same fencing token as when it was taken.
    conditions.push("leaseOwner = :owner AND leaseVersion = :version");
    values[":owner"] = lease.owner;
    values[":version"] = lease.version;
  }
  if (inboxSeen !== undefined && !settings.unsafeUnconditionalWakeTime) {
    // No inbox item arrived since the worker last looked (see the file comment).
    conditions.push(inboxSeen === 0 ? "(attribute_not_exists(inboxSeq) OR inboxSeq = :inboxSeen)" : "inboxSeq = :inboxSeen");
    values[":inboxSeen"] = inboxSeen;
  }
  const set: string[] = [];
  const remove: string[] = [];
  const add: string[] = [];
  if (part.consumed.length > 0) {
    add.push("inboxCount :consumedCount", "inboxBytes :consumedBytes");
    values[":consumedCount"] = -part.consumed.length;
    values[":consumedBytes"] = -part.consumed.reduce((n, c) => n + inboxItemBytes(c.item.event), 0);
  }
  // The latest state the workflow published, where GET reads it.
  const published = publishedState(part.events);
  if (published) {
    set.push("publishedState = :publishedState", "publishedStateAtMs = :publishedStateAt");
    values[":publishedState"] = published.publishedState;
    values[":publishedStateAt"] = published.publishedStateAtMs;
  }
  const update = part.execution;
  if (update) {
    set.push("#status = :status", "updatedAtMs = :now", "retryCount = :zero", "lastSeq = :lastSeq");
    Object.assign(values, { ":status": update.status, ":now": nowMs, ":zero": 0, ":lastSeq": batch.lastSeq });
    if (update.nextWakeAtMs === null || isTerminal(update.status)) {
      remove.push("nextWakeAtMs", "dueShard");
    } else if (update.nextWakeAtMs !== undefined) {
      set.push("nextWakeAtMs = :wake", "dueShard = :due");
      values[":wake"] = update.nextWakeAtMs;
      values[":due"] = DUE_SHARD;
    }
    if (update.releaseLease) remove.push("leaseOwner", "leaseExpiresAtMs");
    if (update.output !== undefined) {
      const output = encode(update.output, "the output", settings.values.maxValueBytes) as string;
      const lastEvent = part.events[part.events.length - 1];
      if (Buffer.byteLength(output) <= settings.values.inlineOutputBytes || !lastEvent) {
        set.push("#output = :output");
        values[":output"] = output;
      } else {
        set.push("outputSeq = :outputSeq");
        values[":outputSeq"] = lastEvent.seq;
      }
    }
    if (update.error !== undefined) {
      set.push("#error = :error");
      values[":error"] = JSON.stringify(update.error);
    }
    if (isTerminal(update.status)) {
      // Retention: the sweeper removes every item of the execution once this time has passed.
      set.push("purgeAtMs = :purgeAt", "purgeShard = :purgeShard");
      values[":purgeAt"] = nowMs + settings.retentionSeconds * 1000;
      values[":purgeShard"] = PURGE_SHARD;
    }
    if (update.run) {
      set.push("#run = :run", "runStartSeq = :runStart");
      values[":run"] = update.run.run;
      values[":runStart"] = update.run.runStartSeq;
      const input = encode(update.run.input, "the input", settings.values.maxValueBytes) ?? "null";
      if (Buffer.byteLength(input) <= INLINE_INPUT_BYTES) {
        set.push("#input = :input");
        values[":input"] = input;
        remove.push("inputInHistory");
      } else {
        set.push("inputInHistory = :true");
        values[":true"] = true;
        remove.push("#input");
      }
      remove.push("#output", "#error", "outputSeq");
    }
  }
  const clauses = [
    set.length > 0 ? `SET ${set.join(", ")}` : "",
    remove.length > 0 ? `REMOVE ${[...new Set(remove)].join(", ")}` : "",
    add.length > 0 ? `ADD ${add.join(", ")}` : "",
  ].filter((c) => c !== "");
  const names: Record<string, string> = {};
  for (const part of [...set, ...remove]) {
    for (const match of part.matchAll(/#\w+/g)) names[match[0]] = match[0].slice(1);
  }
  return {
    kind: clauses.length > 0 ? "update" : "check",
    ...(clauses.length > 0 ? { UpdateExpression: clauses.join(" ") } : {}),
    ConditionExpression: conditions.join(" AND "),
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}

/** Notices whose target ended or is gone: the part is retried without them. */
class DroppedNotices extends Error {
  constructor(
    readonly childCancels: string[],
    readonly notifyParent: boolean,
  ) {
    super("notice targets ended");
  }
}

/** Reads a canceled transaction reason by reason, in the order writePart added the items. */
function explain(err: TransactionConflict, lease: Lease, part: CommitPart, inboxSeen: number | undefined): Error {
  const id = lease.executionId;
  const reasons = err.reasons;
  const failed = (i: number) => reasons[i] === "ConditionalCheckFailed";
  if (failed(0)) {
    const item = err.original.CancellationReasons?.[0]?.Item;
    return whyRefused(lease, item ? unmarshallItem(item) : undefined, inboxSeen);
  }
  let i = 1;
  for (const event of part.events) {
    if (failed(i)) return new HistoryConflictError(id, event.seq);
    i += 1;
  }
  for (let k = 0; k < part.consumed.length; k += 1, i += 1) if (failed(i)) return new InboxConflictError(id);
  const taken: string[] = [];
  for (const child of part.childStarts) {
    if (failed(i) || failed(i + 1)) taken.push(child.childId);
    i += 2;
  }
  if (taken.length > 0) return new ChildIdInUseError(id, taken);
  const cancels: string[] = [];
  for (const childId of part.childCancels) {
    if (failed(i + 1)) cancels.push(childId);
    i += 2;
  }
  const parentGone = part.notifyParent !== undefined && failed(i + 1);
  if (cancels.length > 0 || parentGone) return new DroppedNotices(cancels, parentGone);
  return translate(err, id) as Error;
}

/** Why the execution item refused a commit: a lost lease, or inbox items the worker has not seen. */
function whyRefused(lease: Lease, item: MetaItem | undefined, inboxSeen: number | undefined): Error {
  if (!item || item.leaseOwner !== lease.owner || Number(item.leaseVersion) !== lease.version) return new LeaseLostError(lease.executionId);
  if (inboxSeen !== undefined && Number(item.inboxSeq ?? 0) !== inboxSeen) return new InboxChangedError(lease.executionId);
  return new LeaseLostError(lease.executionId);
}

/** Approximate bytes of what each part of a commit writes, for splitting by DynamoDB's 4 MB. */
function partSizes(values: StoredValues, executionId: string, nowMs: number) {
  const itemBytes = (item: Record<string, unknown>) => values.storedBytes(item);
  return {
    event: (event: HistoryEvent) => itemBytes(historyItem(executionId, event)),
    consumed: (c: ConsumedItem) => 100 + c.item.key.length,
    childStart: (child: { childId: string; workflow: string; version: number; input: unknown; parentPosition: number }) => {
      const request: NewExecution = { id: child.childId, workflow: child.workflow, version: child.version, input: child.input, nowMs, parent: { executionId, position: child.parentPosition } };
      return itemBytes(metaItem(request, values.maxValueBytes)) + itemBytes(historyItem(child.childId, startedEvent(request)));
    },
    childCancel: () => 600,
    notifyParent: (notice: NonNullable<CommitBatch["notifyParent"]>) => itemBytes(inboxItem(notice.executionId, notice.event, nowMs, `child-${executionId}`)) + 300,
  };
}

/** The execution has not ended (running or sleeping); needs `#status` mapped to `status`. */
export const NOT_ENDED = {
  condition: "#status IN (:running, :sleeping)",
  values: { ":running": "running", ":sleeping": "sleeping" },
} as const;
