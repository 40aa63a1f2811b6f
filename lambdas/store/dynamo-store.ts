/**
 * The DynamoDB store: one table, items keyed by execution (keys.ts, schema.ts).
 *
 *   EXEC#<id> | META              the execution: status, lease, wake time, output
 *   EXEC#<id> | H#<seq>           history, immutable, put with attribute_not_exists
 *   EXEC#<id> | P#<arrivedAt>#<id> inbox: signals, cancel, child results not yet in history
 *
 * Event bodies and payloads are stored as JSON strings so a value reads back exactly as written.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { CommitBatch } from "../core/driver.js";
import { MAX_VALUE_BYTES } from "../core/limits.js";
import type { ErrorInfo } from "../core/errors.js";
import type { HistoryEvent, PendingEvent, PendingItem } from "../core/events.js";
import { isTerminal, type ExecutionStatus } from "../core/status.js";
import {
  ExecutionEndedError,
  ExecutionNotFoundError,
  InboxFullError,
  HistoryConflictError,
  LeaseLostError,
  PayloadTooLargeError,
  PendingConflictError,
  StoreBusyError,
} from "./errors.js";
import { DUE_SHARD, PURGE_SHARD, executionIdFromPk, executionPk, HISTORY_PREFIX, historySk, META_SK, PENDING_PREFIX, pendingSk, seqFromHistorySk, TABLE } from "./keys.js";
import type {
  ExecutionListing,
  ExecutionListPage,
  ExecutionRecord,
  ExecutionSnapshot,
  ExecutionStore,
  Lease,
  LeaseResult,
  ListExecutionsQuery,
  NewExecution,
  PendingExecution,
} from "./store.js";
import { TransactionConflict, withinTransaction } from "./transaction.js";
import { type CommitSettings, commitBatch, markDue, NOT_ENDED } from "./commits.js";
import { translate } from "./translate.js";
import { findExpired, purgeExecution, purgeOrphans, type PurgeSettings } from "./purge.js";
import { CANCEL_HEADROOM_ITEMS, MAX_INBOX_BYTES, MAX_INBOX_ITEMS } from "../core/limits.js";
import {
  decode,
  decodeEvent,
  decodePending,
  encode,
  historyItem,
  INLINE_INPUT_BYTES,
  INLINE_VALUE_BYTES,
  type MetaItem,
  metaItem,
  newItemCondition,
  nextArrivalCounter,
  pendingBytes,
  pendingItem,
  startedEvent,
  toListing,
  toRecord,
  LISTED_ATTRIBUTES,
  unmarshallItem,
} from "./items.js";
import { exclusiveStartKey, type IndexStream, type ItemPosition, mergeNewestFirst, parsePosition, positionOf, type StreamRead, streamsFor } from "./listing.js";

/** Most index items one list request reads per index partition (each a read unit or less). */
const LIST_READ_BUDGET = 1000;
/** Items a filtered list query asks for at a time: enough that a selective filter needs few round trips. */
const FILTERED_PAGE_SIZE = 100;
/** What a list reads of each execution item: all but input, output and error. */

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

  constructor(options: DynamoStoreOptions) {
    this.tableName = options.tableName;
    this.doc =
      options.client instanceof DynamoDBDocumentClient
        ? options.client
        : DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.retentionSeconds = options.retentionSeconds ?? 30 * 86_400;
    this.purgeSettings = { doc: this.doc, tableName: this.tableName };
    this.commitSettings = {
      doc: this.doc,
      tableName: this.tableName,
      retentionSeconds: this.retentionSeconds,
      singlePutSteps: options.singlePutSteps ?? true,
      unsafeSkipLeaseCheck: options.unsafeSkipLeaseCheck ?? false,
      unsafeUnconditionalWakeTime: options.unsafeUnconditionalWakeTime ?? false,
      freeExpiredIds: (ids, nowMs) => this.freeExpiredIds(ids, nowMs),
    };
  }

  async createExecution(request: NewExecution): Promise<{ created: boolean; execution: ExecutionRecord }> {
    for (let attempt = 1; ; attempt += 1) {
      const meta = metaItem(request);
      try {
        await withinTransaction(this.doc, (tx) => {
          tx.put(this.tableName, meta, newItemCondition);
          tx.put(this.tableName, historyItem(request.id, startedEvent(request)), newItemCondition);
        });
        // The input as stored (JSON), not the caller's object: what every later read returns.
        return { created: true, execution: { ...toRecord(meta), input: decode(encode(request.input ?? null, "the input")) } };
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
    return out.Item ? decodeEvent(out.Item) : undefined;
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
    const execution = toRecord(metaItem);
    const history = items
      .filter((i) => String(i.SK).startsWith(HISTORY_PREFIX))
      .map(decodeEvent)
      .filter((e) => e.seq >= execution.runStartSeq);
    // The whole inbox, whatever its items' times say: they are stamped by other machines' clocks.
    const pending = items.filter((i) => String(i.SK).startsWith(PENDING_PREFIX)).map(decodePending);
    return { execution, history, pending };
  }

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
  async acquireLease(executionId: string, options: { owner: string; nowMs: number; leaseMs: number; dueByMs?: number }): Promise<LeaseResult> {
    const expiresAtMs = options.nowMs + options.leaseMs;
    const executionExists = "attribute_exists(PK)";
    const notEnded = NOT_ENDED.condition;
    const leaseFree = "attribute_not_exists(leaseExpiresAtMs)";
    const leaseExpired = "leaseExpiresAtMs < :now";
    // Something to do: due by then, or something in the inbox. A wake-up for an execution with
    // neither (a duplicate, a sweeper's resend of one already handled) costs this one request.
    const hasWork = options.dueByMs === undefined ? "" : " AND (nextWakeAtMs <= :dueBy OR inboxCount > :zero)";
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
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
      const old = toRecord(out.Attributes as MetaItem);
      const execution: ExecutionRecord = {
        ...old,
        leaseOwner: options.owner,
        leaseExpiresAtMs: expiresAtMs,
        leaseVersion: old.leaseVersion + 1,
        retryCount: old.retryCount + 1,
      };
      const lease: Lease = { executionId, owner: options.owner, version: execution.leaseVersion, expiresAtMs };
      const previous = {
        status: old.status,
        retryCount: old.retryCount,
        lastSeq: old.lastSeq,
        inboxSeq: old.inboxSeq,
        ...(old.nextWakeAtMs === undefined ? {} : { nextWakeAtMs: old.nextWakeAtMs }),
      };
      return { acquired: true, lease, execution, previous, unlock: () => this.releaseLease(lease) };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        const old = err.Item ? toRecord(unmarshallItem(err.Item)) : undefined;
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
  async releaseLease(lease: Lease): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
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

  /*
   * Claim timeline (the sweeper's `pendingExecutions(lockTimeMs, limit)`):
   *
   *   nextWakeAtMs ── grace ── query sees it due ── claim: nextWakeAtMs := now + lockTimeMs ── ...
   *                                                   │ only if nextWakeAtMs is still what the
   *                                                   │ query read and no live lease holds it
   *   a second sweeper that read the same value ──────┴─ fails this condition and skips it
   *
   * The claimed execution is woken by the caller; its worker takes the lease (which moves the wake
   * time again). If that wake-up is lost too, the claim runs out and the next sweep finds it.
   */
  async pendingExecutions(lockTimeMs: number, limit: number, options: { nowMs: number; dueBeforeMs?: number }): Promise<PendingExecution[]> {
    const due = await this.findDue(options.dueBeforeMs ?? options.nowMs, limit);
    if (due.length === 0) return [];
    const claims = await Promise.allSettled(due.map((d) => this.claimDue(d.executionId, d.nextWakeAtMs, options.nowMs + lockTimeMs, options.nowMs)));
    // A claim that failed for a reason other than its condition (throttling) is skipped: the next sweep retries it.
    return claims.flatMap((c) => (c.status === "fulfilled" && c.value ? [c.value] : []));
  }

  private async claimDue(executionId: string, seenWakeAtMs: number, lockedUntilMs: number, nowMs: number): Promise<PendingExecution | undefined> {
    const key = { PK: executionPk(executionId), SK: META_SK };
    const stillDue = "nextWakeAtMs = :seen"; // nobody (sweeper, worker, signal) moved it since the query
    const notEnded = NOT_ENDED.condition;
    const noLiveLease = "(attribute_not_exists(leaseExpiresAtMs) OR leaseExpiresAtMs < :now)";
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
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
        await this.doc
          .send(
            new UpdateCommand({
              TableName: this.tableName,
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
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
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

  async failWithoutLease(
    executionId: string,
    error: ErrorInfo,
    nowMs: number,
    options: { parent?: { executionId: string; cmd: number } } = {},
  ): Promise<boolean> {
    let notifyParent = options.parent !== undefined;
    for (let attempt = 1; ; attempt += 1) {
      // ExecutionFailed goes after the last event: a zombie's late append at that seq makes this
      // try again after it, and once it has landed no later append can (each writer appends N + 1
      // only after its own N).
      const lastSeq = await this.lastHistorySeq(executionId);
      const event: HistoryEvent = { seq: lastSeq + 1, atMs: nowMs, type: "ExecutionFailed", error };
      try {
        await withinTransaction(this.doc, (tx) => {
          tx.update(this.tableName, { PK: executionPk(executionId), SK: META_SK }, {
            // The fencing token moves on: a worker still holding a lease cannot commit over this.
            UpdateExpression:
              "SET #status = :failed, #error = :error, updatedAtMs = :now, purgeAtMs = :purgeAt, purgeShard = :purgeShard, lastSeq = :lastSeq, " +
              "leaseVersion = if_not_exists(leaseVersion, :zero) + :one REMOVE leaseOwner, leaseExpiresAtMs, nextWakeAtMs, dueShard",
            ConditionExpression: `attribute_exists(PK) AND ${NOT_ENDED.condition}`,
            ExpressionAttributeNames: { "#status": "status", "#error": "error" },
            ExpressionAttributeValues: {
              ":failed": "failed",
              ":error": JSON.stringify(error),
              ":now": nowMs,
              ":purgeAt": nowMs + this.retentionSeconds * 1000,
              ":purgeShard": PURGE_SHARD,
              ":lastSeq": event.seq,
              ":zero": 0,
              ":one": 1,
              ...NOT_ENDED.values,
            },
          });
          tx.put(this.tableName, historyItem(executionId, event), newItemCondition);
          const parent = options.parent;
          if (parent && notifyParent) {
            const notice: PendingEvent = { type: "ChildEnded", cmd: parent.cmd, childId: executionId, status: "failed", error };
            tx.put(this.tableName, pendingItem(parent.executionId, notice, nowMs, `child-${executionId}`));
            markDue(tx, this.tableName, parent.executionId, nowMs, pendingBytes(notice));
          }
        });
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

  /** The seq of the last history event (0 if none). */
  private async lastHistorySeq(executionId: string): Promise<number> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
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

  async addPending(executionId: string, event: PendingEvent, nowMs: number): Promise<PendingItem> {
    // Inbox keys sort by arrival: time, then a monotonic counter so two events of the same
    // millisecond from this process keep their order (events from different processes in the
    // same millisecond are concurrent: either order is a true one).
    const unique = event.type === "Signal" ? event.signalId : `${event.type.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`;
    const eventId = `${nextArrivalCounter()}#${unique}`;
    const item = pendingItem(executionId, event, nowMs, eventId);
    const bytes = pendingBytes(event);
    // A signal must leave the inbox within its limits; a cancel gets a little room beyond them, so
    // an execution flooded with signals can still be canceled.
    const maxItems = event.type === "Cancel" ? MAX_INBOX_ITEMS + CANCEL_HEADROOM_ITEMS : MAX_INBOX_ITEMS;
    const maxBytes = event.type === "Cancel" ? MAX_INBOX_BYTES + CANCEL_HEADROOM_ITEMS * 2_048 : MAX_INBOX_BYTES;
    const roomForOne = "(attribute_not_exists(inboxCount) OR inboxCount < :maxItems)";
    const roomForBytes = "(attribute_not_exists(inboxBytes) OR inboxBytes <= :roomBytes)";
    try {
      await withinTransaction(this.doc, (tx) => {
        // The execution must exist, not have ended and have room: nothing is written otherwise. It
        // becomes due now, so the sweeper wakes it even if the caller's wake-up message is lost,
        // and its inbox counter moves, so a worker in the middle of a turn sees it before it ends.
        tx.update(this.tableName, { PK: executionPk(executionId), SK: META_SK }, {
          UpdateExpression: "SET nextWakeAtMs = :now, dueShard = :due ADD inboxSeq :one, inboxCount :one, inboxBytes :bytes",
          ConditionExpression: `attribute_exists(PK) AND ${NOT_ENDED.condition} AND ${roomForOne} AND ${roomForBytes}`,
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ...NOT_ENDED.values, ":now": nowMs, ":due": DUE_SHARD, ":one": 1, ":bytes": bytes, ":maxItems": maxItems, ":roomBytes": maxBytes - bytes },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        });
        tx.put(this.tableName, item, newItemCondition);
      });
    } catch (err) {
      if (err instanceof TransactionConflict && err.reasons[0] === "ConditionalCheckFailed") {
        const raw = err.original.CancellationReasons?.[0]?.Item;
        const old = raw ? unmarshallItem(raw) : undefined;
        if (!old) throw new ExecutionNotFoundError(executionId);
        if (old.purgeAtMs !== undefined && Number(old.purgeAtMs) <= nowMs) throw new ExecutionNotFoundError(executionId);
        if (old.status !== "running" && old.status !== "sleeping") throw new ExecutionEndedError(executionId, old.status);
        throw new InboxFullError(executionId, { items: MAX_INBOX_ITEMS, bytes: MAX_INBOX_BYTES }, { items: Number(old.inboxCount ?? 0), bytes: Number(old.inboxBytes ?? 0) });
      }
      throw translate(err, executionId);
    }
    return decodePending(item);
  }

  async readInboxSeq(executionId: string): Promise<number | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: executionPk(executionId), SK: META_SK },
        ConsistentRead: true,
        ProjectionExpression: "inboxSeq, PK",
      }),
    );
    return out.Item ? Number(out.Item.inboxSeq ?? 0) : undefined;
  }

  async readInbox(executionId: string): Promise<PendingItem[]> {
    const items: PendingItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :inbox)",
          ExpressionAttributeValues: { ":pk": executionPk(executionId), ":inbox": PENDING_PREFIX },
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) items.push(decodePending(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  async readEvents(executionId: string, seqs: readonly number[]): Promise<HistoryEvent[]> {
    const found = new Map<number, HistoryEvent>();
    const distinct = [...new Set(seqs)];
    for (let i = 0; i < distinct.length; i += 100) {
      let keys: Record<string, unknown>[] = distinct.slice(i, i + 100).map((seq) => ({ PK: executionPk(executionId), SK: historySk(seq) }));
      for (let attempt = 0; keys.length > 0; attempt += 1) {
        if (attempt >= 6) throw new StoreBusyError(`DynamoDB left ${keys.length} history keys unprocessed`, undefined);
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const event = decodeEvent(item);
          found.set(event.seq, event);
        }
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return seqs.map((seq) => {
      const event = found.get(seq);
      if (!event) throw new Error(`execution "${executionId}" has no history event at seq ${seq}`);
      return event;
    });
  }

  /**
   * After turns that did not finish, progress was made since (history grew past `lastSeq` of the
   * execution item): the count of turns without progress starts again from this one.
   */
  async markProgress(lease: Lease, lastSeq: number): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
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

  async findDue(nowMs: number, limit: number): Promise<{ executionId: string; nextWakeAtMs: number }[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE.indexes.due.name,
        KeyConditionExpression: "dueShard = :shard AND nextWakeAtMs <= :now",
        ExpressionAttributeValues: { ":shard": DUE_SHARD, ":now": nowMs },
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((item) => ({ executionId: executionIdFromPk(String(item.PK)), nextWakeAtMs: Number(item.nextWakeAtMs) }));
  }

  /**
   * Executions newest first from the byWorkflow / byStatus index (see listing.ts for the streams
   * and the merge). Index reads are eventually consistent: a start may show up a moment later.
   */
  async listExecutions(query: ListExecutionsQuery): Promise<ExecutionListPage> {
    const streams = streamsFor(query);
    const previous = parsePosition(streams, query.after);
    const budget = query.readBudget ?? LIST_READ_BUDGET;
    const reads = await Promise.all(
      streams.map((stream) => {
        const after = previous[stream.name];
        if (after === null) return { items: [], exhausted: true }; // read to its end on an earlier page
        return this.readIndexStream(stream, after, query.limit, budget);
      }),
    );
    const page = mergeNewestFirst(streams, reads, previous, query.limit);
    // The indexes project keys only (keys.ts): fetch the items, consistently. One that changed
    // status since the index was read is left out of a status-filtered page; one deleted (TTL)
    // is left out; one seen in two status partitions mid-move is listed once.
    const ids = [...new Set(page.items.map((item) => executionIdFromPk(item.PK)))];
    const fetched = await this.fetchListed(ids);
    const executions = ids
      .map((id) => fetched.get(id))
      .filter((item): item is MetaItem => item !== undefined && (query.status === undefined || item.status === query.status))
      .map((item): ExecutionListing => toListing(item));
    return { executions, ...(page.next ? { next: page.next } : {}) };
  }

  /** Execution items by id (at most 100), consistent reads, without their big attributes. */
  private async fetchListed(ids: readonly string[]): Promise<Map<string, MetaItem>> {
    const found = new Map<string, MetaItem>();
    const names = Object.fromEntries(LISTED_ATTRIBUTES.map((name, i) => [`#a${i}`, name]));
    let keys: Record<string, unknown>[] = ids.map((id) => ({ PK: executionPk(id), SK: META_SK }));
    for (let attempt = 0; keys.length > 0; attempt += 1) {
      if (attempt >= 6) throw new StoreBusyError(`DynamoDB left ${keys.length} keys of a list unprocessed`, undefined);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt)); // unprocessed keys: back off
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: Object.keys(names).join(", "), ExpressionAttributeNames: names } },
        }),
      );
      for (const item of out.Responses?.[this.tableName] ?? []) found.set(String(item.id), item as MetaItem);
      keys = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return found;
  }

  /**
   * Up to `want` matching items of one index partition, newest first, after `after`. Loops because
   * Limit counts items before the status filter and a query returns at most 1 MB; stops after
   * reading `budget` items so one request stays bounded (the page is then short).
   */
  private async readIndexStream(
    stream: IndexStream,
    after: ItemPosition | undefined,
    want: number,
    budget: number,
  ): Promise<StreamRead<{ PK: string; createdAtMs: number }>> {
    const items: { PK: string; createdAtMs: number }[] = [];
    let startKey = after ? exclusiveStartKey(stream, after) : undefined;
    let evaluated = 0;
    let evaluatedTo = after;
    while (items.length < want && evaluated < budget) {
      const pageSize = Math.min(budget - evaluated, stream.statusFilter ? Math.max(want - items.length, FILTERED_PAGE_SIZE) : want - items.length);
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: stream.indexName,
          KeyConditionExpression: "#partition = :partition",
          ExpressionAttributeNames: { "#partition": stream.partitionAttribute, ...(stream.statusFilter ? { "#status": "status" } : {}) },
          ExpressionAttributeValues: { ":partition": stream.partitionValue, ...(stream.statusFilter ? { ":status": stream.statusFilter } : {}) },
          ...(stream.statusFilter ? { FilterExpression: "#status = :status" } : {}),
          ScanIndexForward: false, // newest first
          Limit: pageSize,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) items.push({ PK: String(item.PK), createdAtMs: Number(item.createdAtMs) });
      evaluated += out.ScannedCount ?? pageSize;
      if (!out.LastEvaluatedKey) return { items, exhausted: true };
      startKey = out.LastEvaluatedKey;
      evaluatedTo = positionOf(out.LastEvaluatedKey);
    }
    return { items, exhausted: false, ...(evaluatedTo ? { evaluatedTo } : {}) };
  }
}
