/**
 * `ExecutionStore` in memory, for tests that need no DynamoDB: it behaves as `DynamoExecutionStore`
 * does, request for request (conditions, errors, size limits, what each read returns), and
 * `test/store/contract.test.ts` runs the same tests against both so neither drifts.
 *
 * It keeps the DynamoDB store's items (`lambdas/store/items.ts`: bodies and payloads as JSON
 * strings) in a table of its own (memory-table.ts), so values round-trip through JSON exactly as
 * they do in DynamoDB, and nothing a caller holds aliases what is stored.
 *
 * @example
 * const store = new MemoryExecutionStore();
 * await store.createExecution({ id: "order-1", workflow: "checkout", version: 1, input: { sku: "x" }, nowMs: Date.now() });
 * const taken = await store.acquireLease("order-1", { owner: "worker-1", nowMs: Date.now(), leaseMs: 60_000 });
 */
import type { CommitBatch } from "../core/driver.js";
import type { ExecutionRedriven, HistoryEvent, InboxEvent, InboxItem } from "../core/events.js";
import { CANCEL_HEADROOM_ITEMS, MAX_INBOX_BYTES, MAX_INBOX_ITEMS } from "../core/limits.js";
import { isTerminal } from "../core/status.js";
import { leaseTaken } from "../store/leases.js";
import { refusal as redriveRefusal } from "../store/redrive.js";
import { endingEvent } from "../store/sweeping.js";
import type { CallbackRef } from "../core/callbacks.js";
import { callbackRefusal, callbackResultEvent } from "../store/callback-items.js";
import { ExecutionEndedError, ExecutionNotFoundError, InboxFullError, LeaseLostError, StoreBusyError } from "../store/errors.js";
import { decodeEvent, decodeInboxItem, metaItem, nextArrivalCounter, inboxItemBytes, startedEvent, tagItems, toRecord } from "../store/items.js";
import { callbackSk, DUE_SHARD, HISTORY_PREFIX, historySk, INBOX_PREFIX, PURGE_SHARD, seqFromHistorySk } from "../store/keys.js";
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
import { checkedHistoryItem, checkedInboxItem, commitBatchInMemory, MEMORY_VALUES, type MemoryCommitSettings } from "./memory-commits.js";
import { applyChange, leaseHeldBy, markDueChange, MemoryValidationError, notEnded } from "./memory-conditions.js";
import { listExecutionsInMemory } from "./memory-listing.js";
import { findExpired, purgeExecution, purgeOrphans } from "./memory-purge.js";
import { compareKeys, copyMeta, MemoryTable, type StoredItem } from "./memory-table.js";

export interface MemoryStoreOptions {
  /** How long an ended execution is kept (its `purgeAtMs`). Default 30 days, as DynamoExecutionStore's. */
  retentionSeconds?: number;
  /** As DynamoStoreOptions.singlePutSteps: false sends every commit through a lease-checked transaction. */
  singlePutSteps?: boolean;
}

/** The sort key after every history key (`H#` + digits) and before META: DynamoDB's `H#~`. */
const HISTORY_END = `${HISTORY_PREFIX}~`;
/** A BatchGetItem asks for at most this many keys (dynamo-store.ts's chunks). */

export class MemoryExecutionStore implements ExecutionStore {
  private readonly table = new MemoryTable();
  /** Schedules' states (`SCHEDULE#<name>` items in the DynamoDB store). */
  private readonly schedules = new Map<string, ScheduleState>();
  private readonly retentionSeconds: number;
  private readonly commitSettings: MemoryCommitSettings;

  constructor(options: MemoryStoreOptions = {}) {
    this.retentionSeconds = options.retentionSeconds ?? 30 * 86_400;
    this.commitSettings = {
      retentionSeconds: this.retentionSeconds,
      singlePutSteps: options.singlePutSteps ?? true,
      freeExpiredIds: (ids, nowMs) => this.freeExpiredIds(ids, nowMs),
    };
  }

  /** As the deployed store, whose large values go to the object store: 50 MB. */
  get maxValueBytes(): number {
    return MEMORY_VALUES.maxValueBytes;
  }

  async createExecution(request: NewExecution): Promise<{ created: boolean; execution: ExecutionRecord }> {
    for (let attempt = 1; ; attempt += 1) {
      const meta = metaItem(request, MEMORY_VALUES.maxValueBytes);
      const started = checkedHistoryItem(request.id, startedEvent(request));
      const metaTaken = this.table.meta(request.id) !== undefined;
      const firstEventTaken = this.table.item(request.id, String(started.SK)) !== undefined;
      if (!metaTaken && !firstEventTaken) {
        this.table.putMeta(meta);
        this.table.putItem(request.id, started);
        for (const tag of tagItems(request)) this.table.putItem(request.id, tag);
        // As the DynamoDB store does: the input returned is the caller's own value, not a read.
        return { created: true, execution: { ...toRecord(copyMeta(meta)), input: JSON.parse(JSON.stringify(request.input ?? null)) as unknown } };
      }
      // The DynamoDB store gives up on a second conflict in a row (it rethrows the transaction's
      // cancellation, which only a race can cause there).
      if (attempt > 1) throw new StoreBusyError(`execution "${request.id}" could not be created: its id is still taken after a retry`, undefined);
      if (metaTaken) {
        const existing = await this.getExecution(request.id);
        if (!existing) continue;
        if (existing.purgeAtMs === undefined || existing.purgeAtMs > request.nowMs) return { created: false, execution: existing };
        // Its retention has ended: it is gone for every reader, and the id may be used again.
        if (!purgeExecution(this.table, request.id, existing.purgeAtMs, { nowMs: request.nowMs })) {
          throw new StoreBusyError(`execution "${request.id}" is being removed (its retention ended); try again in a moment`, undefined);
        }
        continue;
      }
      // History without an execution item (a late single-put append after a purge, say).
      purgeOrphans(this.table, request.id, request.nowMs);
    }
  }

  async getExecution(executionId: string): Promise<ExecutionRecord | undefined> {
    const meta = this.table.meta(executionId);
    if (!meta) return undefined;
    const record = toRecord(copyMeta(meta));
    // Large values live only in history, as in DynamoDB: read from their event.
    if (meta.inputInHistory) {
      const started = this.historyEvent(executionId, record.runStartSeq);
      if (started?.type === "ExecutionStarted") record.input = started.input;
    }
    if (meta.outputSeq !== undefined) {
      const completed = this.historyEvent(executionId, Number(meta.outputSeq));
      if (completed?.type === "ExecutionCompleted") record.output = completed.output;
    }
    return record;
  }

  async purgeExpired(options: { nowMs: number; limit: number; deadlineMs?: number }): Promise<string[]> {
    const purged: string[] = [];
    for (const { executionId, purgeAtMs } of findExpired(this.table, options.nowMs, requireLimit(options.limit))) {
      if (options.deadlineMs !== undefined && Date.now() > options.deadlineMs) break;
      const done = purgeExecution(this.table, executionId, purgeAtMs, { nowMs: options.nowMs, ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }) });
      if (done) purged.push(executionId);
    }
    return purged;
  }

  async readHistory(executionId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<{ events: HistoryEvent[]; lastSeq?: number }> {
    const items = this.table.range(executionId, historySk((options.afterSeq ?? 0) + 1), HISTORY_END);
    if (options.limit === undefined) return { events: items.map(decodeEvent) };
    const page = items.slice(0, requireLimit(options.limit));
    const events = page.map(decodeEvent);
    // DynamoDB returns a LastEvaluatedKey whenever a query stops at its Limit, more items or not.
    const last = page[page.length - 1];
    return page.length === options.limit && last ? { events, lastSeq: seqFromHistorySk(String(last.SK)) } : { events };
  }

  async loadSnapshot(executionId: string, options: { afterSeq?: number; nowMs: number }): Promise<ExecutionSnapshot | undefined> {
    const meta = this.table.meta(executionId);
    if (!meta) return undefined;
    const execution = toRecord(copyMeta(meta));
    const from = historySk((options.afterSeq ?? 0) + 1);
    // One query from the first unknown history item to the end of the partition, as DynamoDB reads it.
    const items = this.table.allItems(executionId).filter((item) => compareKeys(String(item.SK), from) >= 0);
    const history = items
      .filter((item) => String(item.SK).startsWith(HISTORY_PREFIX))
      .map(decodeEvent)
      .filter((event) => event.seq >= execution.runStartSeq);
    const inbox = items.filter((item) => String(item.SK).startsWith(INBOX_PREFIX)).map(decodeInboxItem);
    return { execution, history, inbox };
  }

  /*
   * Lease timeline, as in DynamoExecutionStore: acquiring bumps the fencing token (leaseVersion)
   * and counts the turn in advance (retryCount + 1); another worker may take the lease only once
   * `leaseExpiresAtMs < now`. The wake time is left alone.
   */
  async acquireLease(executionId: string, options: { owner: string; nowMs: number; leaseMs: number; dueByMs?: number }): Promise<LeaseResult> {
    const meta = this.table.meta(executionId);
    if (!meta) return { acquired: false, reason: "not-found" };
    const leaseFree = meta.leaseExpiresAtMs === undefined || Number(meta.leaseExpiresAtMs) < options.nowMs;
    const hasWork =
      options.dueByMs === undefined ||
      (meta.nextWakeAtMs !== undefined && Number(meta.nextWakeAtMs) <= options.dueByMs) ||
      Number(meta.inboxCount ?? 0) > 0;
    if (!notEnded(meta) || !leaseFree || !hasWork) {
      const old = toRecord(copyMeta(meta));
      if (isTerminal(old.status)) return { acquired: false, reason: "terminal", execution: old };
      return leaseFree ? { acquired: false, reason: "not-due", execution: old } : { acquired: false, reason: "held", execution: old };
    }
    const old = toRecord(copyMeta(meta));
    const expiresAtMs = options.nowMs + options.leaseMs;
    applyChange(meta, {
      set: { leaseOwner: options.owner, leaseExpiresAtMs: expiresAtMs, leaseVersion: Number(meta.leaseVersion ?? 0) + 1, retryCount: Number(meta.retryCount ?? 0) + 1 },
      remove: [],
      add: {},
    });
    const { execution, lease, previous } = leaseTaken(old, options.owner, expiresAtMs);
    return { acquired: true, lease, execution, previous, unlock: async () => this.releaseLease(lease) };
  }

  /** Gives the lease back without other changes; a no-op once it is someone else's. */
  releaseLease(lease: Lease): void {
    const meta = this.table.meta(lease.executionId);
    if (leaseHeldBy(meta, lease)) applyChange(meta, { set: {}, remove: ["leaseOwner", "leaseExpiresAtMs"], add: {} });
  }

  async markProgress(lease: Lease, lastSeq: number): Promise<void> {
    const meta = this.table.meta(lease.executionId);
    if (!leaseHeldBy(meta, lease)) throw new LeaseLostError(lease.executionId);
    applyChange(meta, { set: { retryCount: 1, lastSeq }, remove: [], add: {} });
  }

  async commit(lease: Lease, batch: CommitBatch, nowMs: number, options: { inboxSeen?: number } = {}): Promise<void> {
    commitBatchInMemory(this.table, this.commitSettings, lease, batch, nowMs, options.inboxSeen);
  }

  /** Removes the executions under `executionIds` whose retention has ended; true if any was. */
  private freeExpiredIds(executionIds: readonly string[], nowMs: number): boolean {
    let freed = false;
    for (const executionId of executionIds) {
      const meta = this.table.meta(executionId);
      const purgeAtMs = meta?.purgeAtMs === undefined ? undefined : Number(meta.purgeAtMs);
      if (purgeAtMs !== undefined && purgeAtMs <= nowMs && purgeExecution(this.table, executionId, purgeAtMs, { nowMs })) freed = true;
    }
    return freed;
  }

  async addToInbox(executionId: string, event: InboxEvent, nowMs: number): Promise<InboxItem> {
    const item = this.admit(executionId, event, nowMs)();
    return decodeInboxItem(item);
  }

  /**
   * Checks that the execution takes `event` into its inbox (as DynamoDB's conditions do) and
   * returns the write that does it: the item, the due mark and the inbox counters.
   */
  private admit(executionId: string, event: InboxEvent, nowMs: number, uniqueId?: string): () => StoredItem {
    // Same key as the DynamoDB store: arrival time, then this process's arrival counter (shared
    // with it, so items written by both stores in one process keep one order).
    const unique = uniqueId ?? (event.type === "Signal" ? event.signalId : `${event.type.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`);
    const item = checkedInboxItem(executionId, event, nowMs, `${nextArrivalCounter()}#${unique}`);
    const bytes = inboxItemBytes(event);
    // A cancel gets a little room beyond the limits, so a flooded execution can still be canceled.
    const maxItems = event.type === "Cancel" ? MAX_INBOX_ITEMS + CANCEL_HEADROOM_ITEMS : MAX_INBOX_ITEMS;
    const maxBytes = event.type === "Cancel" ? MAX_INBOX_BYTES + CANCEL_HEADROOM_ITEMS * 2_048 : MAX_INBOX_BYTES;
    const meta = this.table.meta(executionId);
    if (!meta) throw new ExecutionNotFoundError(executionId);
    const roomForOne = meta.inboxCount === undefined || Number(meta.inboxCount) < maxItems;
    const roomForBytes = meta.inboxBytes === undefined || Number(meta.inboxBytes) <= maxBytes - bytes;
    if (!notEnded(meta) || !roomForOne || !roomForBytes) {
      if (meta.purgeAtMs !== undefined && Number(meta.purgeAtMs) <= nowMs) throw new ExecutionNotFoundError(executionId);
      if (!notEnded(meta)) throw new ExecutionEndedError(executionId, meta.status);
      throw new InboxFullError(executionId, { items: MAX_INBOX_ITEMS, bytes: MAX_INBOX_BYTES }, { items: Number(meta.inboxCount ?? 0), bytes: Number(meta.inboxBytes ?? 0) });
    }
    return () => {
      // It becomes due now and its inbox counter moves, in the same write as the item.
      applyChange(meta, markDueChange(nowMs, bytes));
      this.table.putItem(executionId, item);
      return item;
    };
  }

  async completeCallback(ref: CallbackRef, outcome: CallbackOutcome, nowMs: number): Promise<void> {
    const sk = callbackSk(ref.callbackId);
    const callback = this.table.item(ref.executionId, sk);
    const refused = callbackRefusal(callback, ref, nowMs);
    if (refused) throw refused;
    const event = callbackResultEvent(ref, outcome);
    // The execution must take it (exists, has not ended, has room) before anything is written.
    const admitted = this.admit(ref.executionId, event, nowMs, `cb-${ref.callbackId}`);
    this.table.putItem(ref.executionId, { ...(callback as StoredItem), endedAs: outcome.ok ? "completed" : "failed", endedAtMs: nowMs });
    admitted();
  }

  async heartbeatCallback(ref: CallbackRef, nowMs: number): Promise<{ heartbeatDeadlineAtMs?: number }> {
    const sk = callbackSk(ref.callbackId);
    const callback = this.table.item(ref.executionId, sk);
    const refused = callbackRefusal(callback, ref, nowMs);
    if (refused) throw refused;
    const meta = this.table.meta(ref.executionId);
    if (!meta) throw new ExecutionNotFoundError(ref.executionId);
    if (!notEnded(meta)) throw new ExecutionEndedError(ref.executionId, meta.status);
    const timeoutMs = callback?.heartbeatTimeoutMs === undefined ? undefined : Number(callback.heartbeatTimeoutMs);
    const next = timeoutMs === undefined ? undefined : nowMs + timeoutMs;
    this.table.putItem(ref.executionId, { ...(callback as StoredItem), lastHeartbeatAtMs: nowMs, ...(next === undefined ? {} : { heartbeatDeadlineAtMs: next }) });
    return next === undefined ? {} : { heartbeatDeadlineAtMs: next };
  }

  async readCallbackHeartbeats(executionId: string, callbackIds: readonly string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for (const id of new Set(callbackIds)) {
      const item = this.table.item(executionId, callbackSk(id));
      if (item?.heartbeatDeadlineAtMs !== undefined) found.set(id, Number(item.heartbeatDeadlineAtMs));
    }
    return found;
  }

  async readInboxSeq(executionId: string): Promise<number | undefined> {
    const meta = this.table.meta(executionId);
    return meta ? Number(meta.inboxSeq ?? 0) : undefined;
  }

  async readInbox(executionId: string): Promise<InboxItem[]> {
    return this.table
      .allItems(executionId)
      .filter((item) => String(item.SK).startsWith(INBOX_PREFIX))
      .map(decodeInboxItem);
  }

  async readEvents(executionId: string, seqs: readonly number[]): Promise<HistoryEvent[]> {
    return seqs.map((seq) => {
      const event = this.historyEvent(executionId, seq);
      if (!event) throw new Error(`execution "${executionId}" has no history event at seq ${seq}`);
      return event;
    });
  }

  async findDue(nowMs: number, limit: number): Promise<{ executionId: string; nextWakeAtMs: number }[]> {
    return this.table
      .indexed("dueShard")
      .filter((entry) => entry.meta.dueShard === DUE_SHARD && entry.meta.nextWakeAtMs !== undefined && Number(entry.meta.nextWakeAtMs) <= nowMs)
      .sort((a, b) => Number(a.meta.nextWakeAtMs) - Number(b.meta.nextWakeAtMs) || compareKeys(a.executionId, b.executionId))
      .slice(0, requireLimit(limit))
      .map((entry) => ({ executionId: entry.executionId, nextWakeAtMs: Number(entry.meta.nextWakeAtMs) }));
  }

  /*
   * Claims, as in DynamoExecutionStore: an execution the query saw due is claimed only if its wake
   * time is still what the query read, it has not ended and no live lease holds it; the claim
   * moves its wake time to the claim's end, so a second sweeper that read the same value skips it.
   */
  async claimDueExecutions(lockTimeMs: number, limit: number, options: { nowMs: number; dueBeforeMs?: number }): Promise<ClaimedExecution[]> {
    const due = await this.findDue(options.dueBeforeMs ?? options.nowMs, limit);
    const claims: ClaimedExecution[] = [];
    for (const { executionId, nextWakeAtMs } of due) {
      const claim = this.claimDue(executionId, nextWakeAtMs, options.nowMs + lockTimeMs, options.nowMs);
      if (claim) claims.push(claim);
    }
    return claims;
  }

  private claimDue(executionId: string, seenWakeAtMs: number, lockedUntilMs: number, nowMs: number): ClaimedExecution | undefined {
    const meta = this.table.meta(executionId);
    if (!meta) return undefined;
    const stillDue = meta.nextWakeAtMs !== undefined && Number(meta.nextWakeAtMs) === seenWakeAtMs;
    const noLiveLease = meta.leaseExpiresAtMs === undefined || Number(meta.leaseExpiresAtMs) < nowMs;
    if (!stillDue || !notEnded(meta) || !noLiveLease) {
      // Not a live execution: take it out of the due index so it is not read again.
      if (!notEnded(meta) && stillDue) applyChange(meta, { set: {}, remove: ["nextWakeAtMs", "dueShard"], add: {} });
      return undefined;
    }
    meta.nextWakeAtMs = lockedUntilMs;
    const unlock = async () => {
      const current = this.table.meta(executionId);
      // Still our claim: nothing else moved the wake time since.
      if (current?.nextWakeAtMs !== undefined && Number(current.nextWakeAtMs) === lockedUntilMs) current.nextWakeAtMs = seenWakeAtMs;
    };
    return { executionId, unlock };
  }

  async endWithoutLease(executionId: string, end: LeaselessEnd, nowMs: number, options: { parent?: { executionId: string; position: number } } = {}): Promise<boolean> {
    const meta = this.table.meta(executionId);
    if (!meta || !notEnded(meta)) return false;
    // The ending event goes after the last event of any run (or a zombie's late append).
    const last = this.table.range(executionId, historySk(0), HISTORY_END).at(-1);
    const event = endingEvent(end, (last ? seqFromHistorySk(String(last.SK)) : 0) + 1, nowMs);
    const ending = checkedHistoryItem(executionId, event);
    const parent = options.parent;
    const notice: InboxEvent | undefined = parent ? { type: "ChildEnded", position: parent.position, childId: executionId, status: end.status, error: end.error } : undefined;
    const noticeItem = parent && notice ? checkedInboxItem(parent.executionId, notice, nowMs, `child-${executionId}`) : undefined;
    applyChange(meta, {
      // The fencing token moves on: a worker still holding a lease cannot commit over this.
      set: {
        status: end.status,
        error: JSON.stringify(end.error),
        updatedAtMs: nowMs,
        purgeAtMs: nowMs + this.retentionSeconds * 1000,
        purgeShard: PURGE_SHARD,
        lastSeq: event.seq,
        leaseVersion: Number(meta.leaseVersion ?? 0) + 1,
      },
      remove: ["leaseOwner", "leaseExpiresAtMs", "nextWakeAtMs", "dueShard"],
      add: {},
    });
    this.table.putItem(executionId, ending);
    const parentMeta = parent ? this.table.meta(parent.executionId) : undefined;
    // The parent ended or is gone: nobody to tell.
    if (parent && notice && noticeItem && parentMeta && notEnded(parentMeta)) {
      this.table.putItem(parent.executionId, noticeItem);
      applyChange(parentMeta, markDueChange(nowMs, inboxItemBytes(notice)));
    }
    return true;
  }

  async redriveExecution(executionId: string, redriven: ExecutionRedriven, options: { expectedLastSeq: number }, nowMs: number): Promise<void> {
    const meta = this.table.meta(executionId);
    if (!meta) throw new ExecutionNotFoundError(executionId);
    const fits = meta.status === "failed" && Number(meta.lastSeq) === options.expectedLastSeq && meta.parent === undefined && meta.purgeAtMs !== undefined && Number(meta.purgeAtMs) > nowMs;
    if (!fits) throw redriveRefusal(executionId, meta, nowMs);
    const seq = options.expectedLastSeq + 1;
    if (this.table.item(executionId, historySk(seq))) throw new StoreBusyError(`execution "${executionId}" changed while it was redriven; try again`, undefined);
    applyChange(meta, {
      set: { status: "running", updatedAtMs: nowMs, nextWakeAtMs: nowMs, dueShard: DUE_SHARD, retryCount: 0, lastSeq: seq, leaseVersion: Number(meta.leaseVersion ?? 0) + 1 },
      remove: ["error", "purgeAtMs", "purgeShard", "purgeClaimUntilMs", "leaseOwner", "leaseExpiresAtMs"],
      add: {},
    });
    this.table.putItem(executionId, checkedHistoryItem(executionId, { ...redriven, seq, atMs: nowMs }));
  }

  async listExecutions(query: ListExecutionsQuery): Promise<ExecutionListPage> {
    return listExecutionsInMemory(this.table, query);
  }

  async readScheduleState(scheduleName: string): Promise<ScheduleState | undefined> {
    const state = this.schedules.get(scheduleName);
    return state === undefined ? undefined : { ...state };
  }

  async claimScheduleFire(scheduleName: string, expected: ScheduleState | undefined, next: ScheduleState): Promise<boolean> {
    const current = this.schedules.get(scheduleName);
    const unchanged = expected === undefined ? current === undefined : current !== undefined && current.executionId === expected.executionId && current.fireAtMs === expected.fireAtMs;
    if (!unchanged) return false;
    this.schedules.set(scheduleName, { ...next });
    return true;
  }

  private historyEvent(executionId: string, seq: number): HistoryEvent | undefined {
    const item = this.table.item(executionId, historySk(seq));
    return item ? decodeEvent(item) : undefined;
  }
}

/** DynamoDB refuses a Query whose Limit is below 1. */
function requireLimit(limit: number): number {
  if (!(limit >= 1)) throw new MemoryValidationError("Limit must be greater than or equal to 1");
  return limit;
}
