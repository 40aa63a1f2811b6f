/**
 * The DynamoDB store: one table, items keyed by execution (keys.ts, schema.ts).
 *
 *   EXEC#<id> | META              the execution: status, lease, wake time, output
 *   EXEC#<id> | H#<seq>           history, immutable, put with attribute_not_exists
 *   EXEC#<id> | P#<arrivedAt>#<id> inbox: signals, cancel, child results not yet in history
 *
 * Event bodies and payloads are stored as JSON strings so a value reads back exactly as written;
 * with `payloads`, they are sealed by a codec chain and large ones kept in an object store
 * (stored-values.ts).
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { CommitBatch } from "../core/driver.js";
import { MAX_VALUE_BYTES } from "../core/limits.js";
import type { ExecutionRedriven, HistoryEvent, InboxEvent, InboxItem } from "../core/events.js";
import { StoreBusyError } from "./errors.js";
import { executionPk, HISTORY_PREFIX, historySk, META_SK, INBOX_PREFIX, seqFromHistorySk } from "./keys.js";
import type {
  CallbackOutcome,
  ExecutionListPage,
  ExecutionRecord,
  ExecutionSnapshot,
  ExecutionStore,
  Lease,
  LeaseResult,
  ListExecutionsQuery,
  NewExecution,
  ClaimedExecution,
  LeaselessEnd,
  ScheduleState,
} from "../ports/store.js";
import { TransactionConflict, withinTransaction } from "./transaction.js";
import { type CommitSettings, commitBatch } from "./commits.js";
import { translate } from "./translate.js";
import { findExpired, purgeExecution, purgeOrphans, type PurgeSettings } from "./purge.js";
import { decode, decodeEvent, decodeInboxItem, encode, historyItem, INLINE_VALUE_BYTES, type MetaItem, metaItem, newItemCondition, startedEvent, tagItems, toRecord } from "./items.js";
import { acquireLease, markProgress, releaseLease } from "./leases.js";
import { addToInbox, readInbox, readInboxSeq } from "./inbox.js";
import { endWithoutLease, findDue, claimDueExecutions } from "./sweeping.js";
import { redriveExecution } from "./redrive.js";
import { listExecutions } from "./list-query.js";
import { claimScheduleFire, readScheduleState } from "./schedule-state.js";
import type { StoreContext } from "./store-context.js";
import { completeCallback, heartbeatCallback, readCallbackHeartbeats } from "./callbacks.js";
import { batchGetAll } from "./batch-get.js";
import type { CallbackRef } from "../core/callbacks.js";
import { type ObjectCounts, type PayloadOptions, StoredValues } from "./stored-values.js";


export { INLINE_VALUE_BYTES, MAX_VALUE_BYTES };
export interface DynamoStoreOptions {
  tableName: string;
  client: DynamoDBClient | DynamoDBDocumentClient;
  /** How long an ended execution is kept before the sweeper removes it, history and all. Default 30 days. */
  retentionSeconds?: number;
  /**
   * Commit a lone step result as one conditional put (default true). False sends every commit
   * through TransactWriteItems with the lease check: the benchmark compares the two.
   */
  singlePutSteps?: boolean;
  /**
   * Where large values go and how values are sealed: an object store (S3) for values above the
   * threshold, a codec chain (compression, encryption) for every value. Without it values are
   * JSON in their items, at most MAX_VALUE_BYTES each.
   */
  payloads?: PayloadOptions;
  /**
   * TESTS ONLY, deliberately broken: commits skip the lease condition (owner + fencing token), so
   * a zombie worker can overwrite the execution item. The fault suite runs with it to show that it
   * detects the breakage (test/faults/broken-variant.test.ts). Never set it anywhere else.
   */
  unsafeSkipLeaseCheck?: boolean;
  /**
   * TESTS ONLY, deliberately broken: the commit that ends a turn sets the wake time without
   * checking that no inbox item arrived during the turn, so a signal whose wake-up was lost is
   * stranded. The fault suite must catch it. Never set it anywhere else.
   */
  unsafeUnconditionalWakeTime?: boolean;
}

export class DynamoExecutionStore implements ExecutionStore {
  readonly tableName: string;
  private readonly doc: DynamoDBDocumentClient;
  private readonly retentionSeconds: number;
  private readonly commitSettings: CommitSettings;
  private readonly purgeSettings: PurgeSettings;
  private readonly ctx: StoreContext;
  private readonly values: StoredValues;

  constructor(options: DynamoStoreOptions) {
    this.tableName = options.tableName;
    this.doc =
      options.client instanceof DynamoDBDocumentClient
        ? options.client
        : DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.retentionSeconds = options.retentionSeconds ?? 30 * 86_400;
    this.values = new StoredValues(options.payloads, INLINE_VALUE_BYTES);
    this.purgeSettings = { doc: this.doc, tableName: this.tableName, values: this.values };
    this.ctx = { doc: this.doc, tableName: this.tableName, retentionSeconds: this.retentionSeconds, values: this.values };
    this.commitSettings = {
      doc: this.doc,
      values: this.values,
      tableName: this.tableName,
      retentionSeconds: this.retentionSeconds,
      singlePutSteps: options.singlePutSteps ?? true,
      unsafeSkipLeaseCheck: options.unsafeSkipLeaseCheck ?? false,
      unsafeUnconditionalWakeTime: options.unsafeUnconditionalWakeTime ?? false,
      freeExpiredIds: (ids, nowMs) => this.freeExpiredIds(ids, nowMs),
    };
  }

  /** Largest value (as JSON) this store records: MAX_VALUE_BYTES, or 50 MB with an object store. */
  get maxValueBytes(): number {
    return this.values.maxValueBytes;
  }

  /** Object-store requests made so far (and reads served from the warm cache). */
  get objectCounts(): ObjectCounts {
    return { ...this.values.counts };
  }

  async createExecution(request: NewExecution): Promise<{ created: boolean; execution: ExecutionRecord }> {
    for (let attempt = 1; ; attempt += 1) {
      const meta = metaItem(request, this.values.maxValueBytes);
      try {
        await withinTransaction(this.doc, (tx) => {
          tx.put(this.tableName, meta, newItemCondition);
          tx.put(this.tableName, historyItem(request.id, startedEvent(request)), newItemCondition);
          for (const tag of tagItems(request)) tx.put(this.tableName, tag);
        }, this.values);
        // The input as stored (JSON), not the caller's object: what every later read returns.
        return { created: true, execution: { ...toRecord(meta), input: decode(encode(request.input ?? null, "the input", this.values.maxValueBytes)) } };
      } catch (err) {
        if (!(err instanceof TransactionConflict)) throw translate(err, request.id);
        if (attempt > 2) throw new StoreBusyError(`execution "${request.id}" kept changing while it was created; try again`, err);
        if (err.reasons[0] === "ConditionalCheckFailed") {
          const existing = await this.getExecution(request.id);
          if (!existing) continue; // gone meanwhile: try again
          if (existing.purgeAtMs === undefined || existing.purgeAtMs > request.nowMs) return { created: false, execution: existing };
          // Its retention has ended: it is gone for every reader, and the id may be used again.
          if (!(await purgeExecution(this.purgeSettings, request.id, existing.purgeAtMs, { nowMs: request.nowMs }))) {
            throw new StoreBusyError(`execution "${request.id}" is being removed (its retention ended); try again in a moment`, err);
          }
          continue;
        }
        if (err.reasons[1] === "ConditionalCheckFailed") {
          // History without an execution item: left by a version that expired only that item.
          await purgeOrphans(this.purgeSettings, request.id, request.nowMs);
          continue;
        }
        throw translate(err, request.id);
      }
    }
  }

  async purgeExpired(options: { nowMs: number; limit: number; deadlineMs?: number }): Promise<string[]> {
    const expired = await findExpired(this.purgeSettings, options.nowMs, options.limit);
    const purged: string[] = [];
    for (const { executionId, purgeAtMs } of expired) {
      if (options.deadlineMs !== undefined && Date.now() > options.deadlineMs) break;
      const done = await purgeExecution(this.purgeSettings, executionId, purgeAtMs, {
        nowMs: options.nowMs,
        ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
      });
      if (done) purged.push(executionId);
    }
    return purged;
  }

  async getExecution(executionId: string): Promise<ExecutionRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { PK: executionPk(executionId), SK: META_SK }, ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    await this.values.openItem(out.Item);
    const item = out.Item as MetaItem;
    const record = toRecord(item);
    // Large values live only in history (one copy, and the execution item stays far below 400 KB).
    if (item.inputInHistory) {
      const started = await this.getHistoryEvent(executionId, record.runStartSeq);
      if (started?.type === "ExecutionStarted") record.input = started.input;
    }
    if (item.outputSeq !== undefined) {
      const completed = await this.getHistoryEvent(executionId, Number(item.outputSeq));
      if (completed?.type === "ExecutionCompleted") record.output = completed.output;
    }
    return record;
  }

  private async getHistoryEvent(executionId: string, seq: number): Promise<HistoryEvent | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { PK: executionPk(executionId), SK: historySk(seq) }, ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    await this.values.openItem(out.Item);
    return decodeEvent(out.Item);
  }

  async readHistory(executionId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<{ events: HistoryEvent[]; lastSeq?: number }> {
    const input: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression: "PK = :pk AND SK BETWEEN :from AND :to",
      ExpressionAttributeValues: {
        ":pk": executionPk(executionId),
        ":from": historySk((options.afterSeq ?? 0) + 1),
        ":to": `${HISTORY_PREFIX}~`,
      },
      ConsistentRead: true,
      ...(options.limit === undefined ? {} : { Limit: options.limit }),
    };
    const events: HistoryEvent[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
      await this.values.openItems(out.Items ?? []);
      for (const item of out.Items ?? []) events.push(decodeEvent(item));
      startKey = options.limit === undefined ? out.LastEvaluatedKey : undefined;
      if (options.limit !== undefined && out.LastEvaluatedKey && events.length === options.limit) {
        return { events, lastSeq: seqFromHistorySk(String(out.LastEvaluatedKey.SK)) };
      }
    } while (startKey);
    return { events };
  }

  async loadSnapshot(executionId: string, options: { afterSeq?: number; nowMs: number }): Promise<ExecutionSnapshot | undefined> {
    // One query from the first unknown history item to the end of the partition: newer history,
    // then META (M sorts between H and P), then the inbox.
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND SK >= :from",
          ExpressionAttributeValues: { ":pk": executionPk(executionId), ":from": historySk((options.afterSeq ?? 0) + 1) },
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    const metaItem = items.find((i) => i.SK === META_SK) as MetaItem | undefined;
    if (!metaItem) return undefined;
    // Only what this run needs: history from its first event (the query may reach back further
    // when the caller knew less), the execution item and the inbox.
    const runStartSeq = Number(metaItem.runStartSeq ?? 1);
    const needed = items.filter((i) => !String(i.SK).startsWith(HISTORY_PREFIX) || seqFromHistorySk(String(i.SK)) >= runStartSeq);
    await this.values.openItems(needed);
    const execution = toRecord(metaItem);
    const history = needed.filter((i) => String(i.SK).startsWith(HISTORY_PREFIX)).map(decodeEvent);
    // The whole inbox, whatever its items' times say: they are stamped by other machines' clocks.
    const inbox = items.filter((i) => String(i.SK).startsWith(INBOX_PREFIX)).map(decodeInboxItem);
    return { execution, history, inbox };
  }

  async commit(lease: Lease, batch: CommitBatch, nowMs: number, options: { inboxSeen?: number } = {}): Promise<void> {
    await commitBatch(this.commitSettings, lease, batch, nowMs, options.inboxSeen);
  }

  /** Removes the executions under `executionIds` whose retention has ended; true if any was. */
  private async freeExpiredIds(executionIds: readonly string[], nowMs: number): Promise<boolean> {
    let freed = false;
    for (const executionId of executionIds) {
      const existing = await this.getExecution(executionId);
      if (existing?.purgeAtMs !== undefined && existing.purgeAtMs <= nowMs && (await purgeExecution(this.purgeSettings, executionId, existing.purgeAtMs, { nowMs }))) freed = true;
    }
    return freed;
  }

  async readEvents(executionId: string, seqs: readonly number[]): Promise<HistoryEvent[]> {
    const keys = [...new Set(seqs)].map((seq) => ({ PK: executionPk(executionId), SK: historySk(seq) }));
    const found = new Map<number, HistoryEvent>();
    const items = await batchGetAll(this.ctx, keys, "history");
    await this.values.openItems(items);
    for (const item of items) {
      const event = decodeEvent(item);
      found.set(event.seq, event);
    }
    return seqs.map((seq) => {
      const event = found.get(seq);
      if (!event) throw new Error(`execution "${executionId}" has no history event at seq ${seq}`);
      return event;
    });
  }

  acquireLease(executionId: string, options: { owner: string; nowMs: number; leaseMs: number; dueByMs?: number }): Promise<LeaseResult> {
    return acquireLease(this.ctx, executionId, options);
  }

  /** Gives a lease back (the execution may be taken at once); a lease taken over meanwhile is left alone. */
  releaseLease(lease: Lease): Promise<void> {
    return releaseLease(this.ctx, lease);
  }

  markProgress(lease: Lease, lastSeq: number): Promise<void> {
    return markProgress(this.ctx, lease, lastSeq);
  }

  addToInbox(executionId: string, event: InboxEvent, nowMs: number): Promise<InboxItem> {
    return addToInbox(this.ctx, executionId, event, nowMs);
  }

  readInboxSeq(executionId: string): Promise<number | undefined> {
    return readInboxSeq(this.ctx, executionId);
  }

  readInbox(executionId: string): Promise<InboxItem[]> {
    return readInbox(this.ctx, executionId);
  }

  findDue(nowMs: number, limit: number): Promise<{ executionId: string; nextWakeAtMs: number }[]> {
    return findDue(this.ctx, nowMs, limit);
  }

  claimDueExecutions(lockTimeMs: number, limit: number, options: { nowMs: number; dueBeforeMs?: number }): Promise<ClaimedExecution[]> {
    return claimDueExecutions(this.ctx, lockTimeMs, limit, options);
  }

  endWithoutLease(executionId: string, end: LeaselessEnd, nowMs: number, options?: { parent?: { executionId: string; position: number } }): Promise<boolean> {
    return endWithoutLease(this.ctx, executionId, end, nowMs, options);
  }

  redriveExecution(executionId: string, redriven: ExecutionRedriven, options: { expectedLastSeq: number }, nowMs: number): Promise<void> {
    return redriveExecution(this.ctx, executionId, redriven, options, nowMs);
  }

  completeCallback(ref: CallbackRef, outcome: CallbackOutcome, nowMs: number): Promise<void> {
    return completeCallback(this.ctx, ref, outcome, nowMs);
  }

  heartbeatCallback(ref: CallbackRef, nowMs: number): Promise<{ heartbeatDeadlineAtMs?: number }> {
    return heartbeatCallback(this.ctx, ref, nowMs);
  }

  readCallbackHeartbeats(executionId: string, callbackIds: readonly string[]): Promise<Map<string, number>> {
    return readCallbackHeartbeats(this.ctx, executionId, callbackIds);
  }

  listExecutions(query: ListExecutionsQuery): Promise<ExecutionListPage> {
    return listExecutions(this.ctx, query);
  }

  readScheduleState(scheduleName: string): Promise<ScheduleState | undefined> {
    return readScheduleState(this.ctx, scheduleName);
  }

  claimScheduleFire(scheduleName: string, expected: ScheduleState | undefined, next: ScheduleState): Promise<boolean> {
    return claimScheduleFire(this.ctx, scheduleName, expected, next);
  }
}
