/**
 * Commits under a lease, in memory, following `lambdas/store/commits.ts` write for write:
 *
 *   one event, nothing else      → one conditional put on its seq (no lease check)
 *   only the execution update    → one conditional update (lease, and inbox counter if given)
 *   anything else                → transactions split by `planCommit`, each all or nothing,
 *                                  its first item the execution item checked on the lease
 *
 * A transaction is checked the way DynamoDB cancels one: every condition is evaluated against the
 * items as they were, and the failure reported is the first in the order commits.ts reads the
 * cancellation reasons (lease or inbox, then history, consumed items, child ids, notices).
 */
import type { CommitBatch, ConsumedItem } from "../core/driver.js";
import { InboxChangedError } from "../core/errors.js";
import type { HistoryEvent, InboxEvent } from "../core/events.js";
import { type CallbackWrite, callbackWrites } from "../store/callback-items.js";
import { isTerminal } from "../core/status.js";
import { type CommitPart, isLoneAppend, planCommit } from "../store/commit-plan.js";
import { ChildIdInUseError, HistoryConflictError, LeaseLostError, InboxConflictError, StoreBusyError } from "../store/errors.js";
import { encode, historyItem, inboxItem, publishedState, INLINE_INPUT_BYTES, INLINE_VALUE_BYTES, type MetaItem, metaItem, inboxItemBytes, startedEvent, tagItems } from "../store/items.js";
import { StoredValues } from "../store/stored-values.js";
import { memoryBlobStore } from "../payloads/blob-store.js";
import { DUE_SHARD, executionPk, historySk, META_SK, PURGE_SHARD } from "../store/keys.js";
import type { Lease, NewExecution } from "../ports/store.js";
import { MAX_TRANSACTION_ITEMS, TransactionTooLargeError } from "../store/transaction.js";
import { applyChange, assertNoOverlap, emptyChange, inboxUnchanged, leaseHeldBy, markDueChange, MemoryValidationError, type MetaChange, notEnded } from "./memory-conditions.js";
import type { MemoryTable, StoredItem } from "./memory-table.js";

export interface MemoryCommitSettings {
  retentionSeconds: number;
  singlePutSteps: boolean;
  /** Removes the executions under these ids whose retention has ended; true if any was (see commits.ts). */
  freeExpiredIds(executionIds: readonly string[], nowMs: number): boolean;
}

/** An item put in another execution's inbox, with the update that counts it there. */
interface Notice {
  target: string;
  item: StoredItem;
  bytes: number;
  kind: "child-cancel" | "parent";
}

/** Everything one transaction writes, built before anything is checked (as the SDK request is). */
interface PartWrites {
  meta: MetaChange;
  events: { seq: number; item: StoredItem }[];
  consumedKeys: string[];
  childStarts: { childId: string; meta: MetaItem; started: StoredItem; listed: StoredItem[] }[];
  notices: Notice[];
  callbacks: CallbackWrite[];
}

/** Notices whose target ended or is gone: the part is retried without them. */
class DroppedNotices {
  constructor(
    readonly childCancels: string[],
    readonly notifyParent: boolean,
  ) {}
}

export function commitBatchInMemory(table: MemoryTable, settings: MemoryCommitSettings, lease: Lease, batch: CommitBatch, nowMs: number, inboxSeen: number | undefined): void {
  const id = lease.executionId;
  const noOtherWrites = batch.consumed.length === 0 && batch.childStarts.length === 0 && batch.childCancels.length === 0 && !batch.notifyParent;
  if (settings.singlePutSteps && isLoneAppend(batch, inboxSeen)) {
    // A step result: one put on its sequence number, whoever holds the lease (see commits.ts).
    const event = batch.events[0] as HistoryEvent;
    const item = checkedHistoryItem(id, event);
    if (table.item(id, String(item.SK)) !== undefined) throw new HistoryConflictError(id, event.seq);
    table.putItem(id, item);
    return;
  }
  if (batch.execution !== undefined && batch.events.length === 0 && noOtherWrites) {
    updateExecution(table, settings, lease, batch, nowMs, inboxSeen);
    return;
  }
  const parts = planCommit(batch, partSizes(id, nowMs));
  for (const part of parts) commitPart(table, settings, lease, batch, part, nowMs, inboxSeen);
}

/** The end of a turn with nothing else to write: one conditional update of the execution item. */
function updateExecution(table: MemoryTable, settings: MemoryCommitSettings, lease: Lease, batch: CommitBatch, nowMs: number, inboxSeen: number | undefined): void {
  const change = metaChange(settings, batch, { events: [], consumed: [], childStarts: [], childCancels: [], ...(batch.execution ? { execution: batch.execution } : {}) }, nowMs);
  assertNoOverlap(change);
  const meta = table.meta(lease.executionId);
  if (!leaseHeldBy(meta, lease) || !inboxUnchanged(meta, inboxSeen)) throw whyRefused(lease, meta, inboxSeen);
  applyChange(meta, change);
}

function commitPart(table: MemoryTable, settings: MemoryCommitSettings, lease: Lease, batch: CommitBatch, part: CommitPart, nowMs: number, inboxSeen: number | undefined): void {
  const dropped = { childCancels: new Set<string>(), notifyParent: false };
  for (let attempt = 1; ; attempt += 1) {
    const { notifyParent, ...rest } = part;
    const current: CommitPart = {
      ...rest,
      childCancels: part.childCancels.filter((c) => !dropped.childCancels.has(c)),
      ...(notifyParent && !dropped.notifyParent ? { notifyParent } : {}),
    };
    const writes = buildPart(settings, lease, batch, current, nowMs);
    const refused = check(table, lease, current, writes, inboxSeen);
    if (refused === undefined) {
      apply(table, lease.executionId, writes, nowMs);
      return;
    }
    if (refused instanceof ChildIdInUseError && attempt < 3 && settings.freeExpiredIds(refused.childIds, nowMs)) continue;
    if (refused instanceof DroppedNotices && attempt < 3) {
      for (const c of refused.childCancels) dropped.childCancels.add(c);
      if (refused.notifyParent) dropped.notifyParent = true;
      continue;
    }
    throw refused instanceof DroppedNotices ? new StoreBusyError(`commit of "${lease.executionId}" kept failing on ended targets`, undefined) : refused;
  }
}

/** The items of one transaction, in the order commits.ts's writePart builds them (so the same value fails first). */
function buildPart(settings: MemoryCommitSettings, lease: Lease, batch: CommitBatch, part: CommitPart, nowMs: number): PartWrites {
  const id = lease.executionId;
  const meta = metaChange(settings, batch, part, nowMs);
  const events = part.events.map((event) => ({ seq: event.seq, item: checkedHistoryItem(id, event) }));
  const consumedKeys = part.consumed.map(({ item }) => item.key);
  const childStarts = part.childStarts.map((child) => {
    const request: NewExecution = { id: child.childId, workflow: child.workflow, version: child.version, input: child.input, nowMs, parent: { executionId: id, position: child.parentPosition } };
    return { childId: child.childId, meta: metaItem(request, MEMORY_VALUES.maxValueBytes), started: checkedHistoryItem(child.childId, startedEvent(request)), listed: tagItems(request) };
  });
  const notices: Notice[] = part.childCancels.map((childId) => {
    const event = { type: "Cancel" as const, reason: "parent canceled" };
    return { target: childId, item: checkedInboxItem(childId, event, nowMs, `cancel-${id}`), bytes: inboxItemBytes(event), kind: "child-cancel" };
  });
  if (part.notifyParent) {
    const { executionId, event } = part.notifyParent;
    notices.push({ target: executionId, item: checkedInboxItem(executionId, event, nowMs, `child-${id}`), bytes: inboxItemBytes(event), kind: "parent" });
  }
  const callbacks = callbackWrites(id, part.events);
  const itemCount = 1 + events.length + consumedKeys.length + childStarts.reduce((n, c) => n + 2 + c.listed.length, 0) + 2 * notices.length + callbacks.length;
  // Only the item count: withinTransaction also measures the request's JSON, which this store does
  // not build (planCommit keeps parts well below 4 MB); the bytes reported are the items' own.
  if (itemCount > MAX_TRANSACTION_ITEMS) throw new TransactionTooLargeError(itemCount, writtenBytes({ meta, events, consumedKeys, childStarts, notices, callbacks }));
  assertNoOverlap(meta);
  assertOneOperationPerItem(id, { meta, events, consumedKeys, childStarts, notices, callbacks });
  return { meta, events, consumedKeys, childStarts, notices, callbacks };
}

function writtenBytes(writes: PartWrites): number {
  const items = [...writes.events.map((e) => e.item), ...writes.childStarts.flatMap((c) => [c.meta, c.started]), ...writes.notices.map((n) => n.item)];
  return items.reduce((n, item) => n + Buffer.byteLength(JSON.stringify(item)), 0);
}

/** DynamoDB refuses a transaction that touches one item twice (e.g. a cancel of a child started in it). */
function assertOneOperationPerItem(executionId: string, writes: PartWrites): void {
  const key = (pk: string, sk: unknown) => JSON.stringify([pk, String(sk)]);
  const keys = [
    key(executionId, META_SK),
    ...writes.events.map(({ item }) => key(executionId, item.SK)),
    ...writes.consumedKeys.map((sk) => key(executionId, sk)),
    ...writes.childStarts.flatMap(({ childId, started }) => [key(childId, META_SK), key(childId, started.SK)]),
    ...writes.notices.flatMap(({ target, item }) => [key(target, item.SK), key(target, META_SK)]),
    ...writes.callbacks.map((w) => key(executionId, w.kind === "put" ? w.item.SK : w.sk)),
  ];
  if (new Set(keys).size !== keys.length) throw new MemoryValidationError("Transaction request cannot include multiple operations on one item");
}

/** Every condition of the transaction against the items as they are; the first failure in commits.ts's order. */
function check(table: MemoryTable, lease: Lease, part: CommitPart, writes: PartWrites, inboxSeen: number | undefined): Error | DroppedNotices | undefined {
  const id = lease.executionId;
  const meta = table.meta(id);
  if (!leaseHeldBy(meta, lease) || !inboxUnchanged(meta, inboxSeen)) return whyRefused(lease, meta, inboxSeen);
  const taken = writes.events.find(({ item }) => table.item(id, String(item.SK)) !== undefined);
  if (taken) return new HistoryConflictError(id, taken.seq);
  if (writes.consumedKeys.some((key) => table.item(id, key) === undefined)) return new InboxConflictError(id);
  const childIdsTaken = writes.childStarts
    .filter(({ childId }) => table.meta(childId) !== undefined || table.item(childId, historySk(1)) !== undefined)
    .map(({ childId }) => childId);
  if (childIdsTaken.length > 0) return new ChildIdInUseError(id, childIdsTaken);
  const gone = writes.notices.filter(({ target }) => {
    const targetMeta = table.meta(target);
    return targetMeta === undefined || !notEnded(targetMeta);
  });
  if (gone.length > 0) return new DroppedNotices(gone.filter((n) => n.kind === "child-cancel").map((n) => n.target), part.notifyParent !== undefined && gone.some((n) => n.kind === "parent"));
  return undefined;
}

function apply(table: MemoryTable, executionId: string, writes: PartWrites, nowMs: number): void {
  const meta = table.meta(executionId) as MetaItem; // checked by `check`
  applyChange(meta, writes.meta);
  for (const { item } of writes.events) table.putItem(executionId, item);
  for (const key of writes.consumedKeys) table.deleteItem(executionId, key);
  for (const write of writes.callbacks) {
    if (write.kind === "put") table.putItem(executionId, write.item);
    else table.putItem(executionId, { ...(table.item(executionId, write.sk) ?? { PK: executionPk(executionId), SK: write.sk }), endedAs: write.endedAs, endedAtMs: write.atMs });
  }
  for (const child of writes.childStarts) {
    table.putMeta(child.meta);
    table.putItem(child.childId, child.started);
    for (const item of child.listed) table.putItem(child.childId, item);
  }
  for (const notice of writes.notices) {
    table.putItem(notice.target, notice.item);
    applyChange(table.meta(notice.target) as MetaItem, markDueChange(nowMs, notice.bytes));
  }
}

/**
 * The execution item's part of a commit (commits.ts's metaWrite): the execution update on the
 * part that carries it, and the inbox counters taken down by what the part consumes.
 */
function metaChange(settings: MemoryCommitSettings, batch: CommitBatch, part: CommitPart, nowMs: number): MetaChange {
  const change = emptyChange();
  if (part.consumed.length > 0) {
    change.add.inboxCount = -part.consumed.length;
    change.add.inboxBytes = -part.consumed.reduce((n, c) => n + inboxItemBytes(c.item.event), 0);
  }
  Object.assign(change.set, publishedState(part.events));
  const update = part.execution;
  if (!update) return change;
  Object.assign(change.set, { status: update.status, updatedAtMs: nowMs, retryCount: 0, lastSeq: batch.lastSeq });
  if (update.nextWakeAtMs === null || isTerminal(update.status)) {
    change.remove.push("nextWakeAtMs", "dueShard");
  } else if (update.nextWakeAtMs !== undefined) {
    change.set.nextWakeAtMs = update.nextWakeAtMs;
    change.set.dueShard = DUE_SHARD;
  }
  if (update.releaseLease) change.remove.push("leaseOwner", "leaseExpiresAtMs");
  if (update.output !== undefined) {
    const output = encode(update.output, "the output", MEMORY_VALUES.maxValueBytes) as string;
    const lastEvent = part.events[part.events.length - 1];
    if (Buffer.byteLength(output) <= MEMORY_VALUES.inlineOutputBytes || !lastEvent) change.set.output = output;
    else change.set.outputSeq = lastEvent.seq;
  }
  if (update.error !== undefined) change.set.error = JSON.stringify(update.error);
  if (isTerminal(update.status)) {
    change.set.purgeAtMs = nowMs + settings.retentionSeconds * 1000;
    change.set.purgeShard = PURGE_SHARD;
  }
  if (update.run) {
    change.set.run = update.run.run;
    change.set.runStartSeq = update.run.runStartSeq;
    const input = encode(update.run.input, "the input", MEMORY_VALUES.maxValueBytes) ?? "null";
    if (Buffer.byteLength(input) <= INLINE_INPUT_BYTES) {
      change.set.input = input;
      change.remove.push("inputInHistory");
    } else {
      change.set.inputInHistory = true;
      change.remove.push("input");
    }
    change.remove.push("output", "error", "outputSeq");
  }
  return change;
}

/** Why the execution item refused a commit: a lost lease, or inbox items the worker has not seen. */
function whyRefused(lease: Lease, meta: MetaItem | undefined, inboxSeen: number | undefined): Error {
  if (!leaseHeldBy(meta, lease)) return new LeaseLostError(lease.executionId);
  if (inboxSeen !== undefined && Number(meta.inboxSeq ?? 0) !== inboxSeen) return new InboxChangedError(lease.executionId);
  return new LeaseLostError(lease.executionId);
}

/** Sizes of what each part writes, as commits.ts's partSizes measures them, so batches split at the same points. */
function partSizes(executionId: string, nowMs: number) {
  const itemBytes = (item: Record<string, unknown>) => MEMORY_VALUES.storedBytes(item);
  return {
    event: (event: HistoryEvent) => itemBytes(checkedHistoryItem(executionId, event)),
    consumed: (c: ConsumedItem) => 100 + c.item.key.length,
    childStart: (child: { childId: string; workflow: string; version: number; input: unknown; parentPosition: number }) => {
      const request: NewExecution = { id: child.childId, workflow: child.workflow, version: child.version, input: child.input, nowMs, parent: { executionId, position: child.parentPosition } };
      return itemBytes(metaItem(request, MEMORY_VALUES.maxValueBytes)) + itemBytes(checkedHistoryItem(child.childId, startedEvent(request)));
    },
    childCancel: () => 600,
    notifyParent: (notice: NonNullable<CommitBatch["notifyParent"]>) => itemBytes(checkedInboxItem(notice.executionId, notice.event, nowMs, `child-${executionId}`)) + 300,
  };
}

/**
 * The memory store records what the deployed store does, whose large values go to the object
 * store: the same limits, the same item sizes in a commit's plan (values are not sealed here).
 */
export const MEMORY_VALUES = new StoredValues({ blobs: memoryBlobStore() }, INLINE_VALUE_BYTES);

/** A history event's item, refused (PayloadTooLargeError) as the deployed store refuses it. */
export function checkedHistoryItem(executionId: string, event: HistoryEvent): Record<string, unknown> {
  const item = historyItem(executionId, event);
  MEMORY_VALUES.checkItemSize(item);
  return item;
}

/** An inbox item, refused (PayloadTooLargeError) as the deployed store refuses it. */
export function checkedInboxItem(executionId: string, event: InboxEvent, nowMs: number, eventId: string): Record<string, unknown> {
  const item = inboxItem(executionId, event, nowMs, eventId);
  MEMORY_VALUES.checkItemSize(item);
  return item;
}
