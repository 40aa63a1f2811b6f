import type { CommitBatch } from "../core/driver.js";
import type { ErrorInfo } from "../core/errors.js";
import type { ExecutionRedriven, HistoryEvent, InboxEvent, InboxItem } from "../core/events.js";
import type { ExecutionStatus } from "../core/status.js";
import type { CallbackRef } from "../core/callbacks.js";
import type { Tags } from "../core/tags.js";

/** How an execution ends without a lease. */
export type LeaselessEnd = { status: "failed"; error: ErrorInfo } | { status: "terminated"; error: ErrorInfo; reason?: string; by?: string };

/** What an external system reported for a callback. */
export type CallbackOutcome = { ok: true; result: unknown } | { ok: false; error: ErrorInfo };

/** The execution item (META), as the engine and the API see it. */
export interface ExecutionRecord {
  id: string;
  workflow: string;
  version: number;
  status: ExecutionStatus;
  input: unknown;
  output?: unknown;
  error?: ErrorInfo;
  createdAtMs: number;
  updatedAtMs: number;
  /** Current run (1 + number of continue-as-new) and the seq of its ExecutionStarted. */
  run: number;
  runStartSeq: number;
  /** Last seq written by a transaction; single-event appends do not touch the execution item. */
  lastSeq: number;
  leaseOwner?: string;
  leaseExpiresAtMs?: number;
  /** Fencing token: +1 on every lease taken. */
  leaseVersion: number;
  /** Turns in a row that made no progress (crashed, timed out, failed); reset by progress. */
  retryCount: number;
  /** +1 for every item put in the inbox (see MetaItem). */
  inboxSeq: number;
  nextWakeAtMs?: number;
  parent?: { executionId: string; position: number };
  /** Once ended: when its retention ends. From then it is gone for every reader, and the sweeper removes its items. */
  purgeAtMs?: number;
  /** The latest state the workflow published (`ctx.setState`), and when. */
  state?: { value: unknown; atMs: number };
  /** Tags given at start. */
  tags?: Tags;
  /** A delayed start: when the workflow function begins. */
  startAtMs?: number;
  /** The W3C trace context of the request that started it: its turns' spans join that trace. */
  traceparent?: string;
}

/** Which execution a schedule's latest fire started (kept for `overlap: "skip"`). */
export interface ScheduleState {
  executionId: string;
  fireAtMs: number;
}

export interface Lease {
  executionId: string;
  owner: string;
  version: number;
  expiresAtMs: number;
}

export type LeaseResult =
  | {
      acquired: true;
      lease: Lease;
      /** The execution as it is now, under this lease. */
      execution: ExecutionRecord;
      /**
       * Status and wake time before the lease was taken (taking it leaves the wake time as it
       * is), and `retryCount`: turns in a row that were started and did not finish
       * (taking the lease counts this turn in advance; the commit that ends a turn resets it).
       */
      previous: { status: ExecutionStatus; nextWakeAtMs?: number; retryCount: number; lastSeq: number; inboxSeq: number };
      /** Gives the lease back. */
      unlock: () => Promise<void>;
    }
  | { acquired: false; reason: "not-found" }
  | { acquired: false; reason: "terminal"; execution: ExecutionRecord }
  | { acquired: false; reason: "held"; execution: ExecutionRecord }
  /** Asked with `dueByMs`: nothing is due by then and the inbox is empty. */
  | { acquired: false; reason: "not-due"; execution: ExecutionRecord };

export interface NewExecution {
  id: string;
  workflow: string;
  version: number;
  input: unknown;
  nowMs: number;
  parent?: { executionId: string; position: number };
  /** Tags (checked by the engine: core/tags.ts); each is indexed for listing. */
  tags?: Tags;
  /** A delayed start, later than `nowMs`: the execution sleeps until then. */
  startAtMs?: number;
  /** The W3C trace context of the request that started it (engine/tracing.ts). */
  traceparent?: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

/** Which executions to list, newest first (by `createdAtMs`). */
export interface ListExecutionsQuery {
  workflow?: string;
  status?: ExecutionStatus;
  /** Only executions with every one of these tags (the first, by key, is read from the tag index). */
  tags?: Tags;
  /** Only this tenant's executions, read from its own index partitions; absent: only executions of no tenant. */
  tenant?: string;
  /** At most this many executions in the page. */
  limit: number;
  /** `next` of the previous page, exactly as the store returned it (the API signs it into a cursor). */
  after?: unknown;
  /**
   * Most index items one call reads per index partition before it returns a short page (a filter
   * can skip many). Default 1000; tests lower it.
   */
  readBudget?: number;
}

/** An execution as a list shows it: without input, output and error (up to 350 KB each). */
export type ExecutionListing = Omit<ExecutionRecord, "input" | "output" | "error">;

export interface ExecutionListPage {
  executions: ExecutionListing[];
  /** Where this page stopped: a JSON value only the store understands. Absent on the last page. */
  next?: unknown;
}

/** A due execution claimed by `claimDueExecutions`, with the callback that gives the claim back. */
export interface ClaimedExecution {
  executionId: string;
  /** Makes the execution due again at once (e.g. its wake-up could not be sent). */
  unlock: () => Promise<void>;
}

/** What a worker reads to run an execution: everything newer than what it knows. */
export interface ExecutionSnapshot {
  execution: ExecutionRecord;
  /** History of the current run after `afterSeq`, in order. */
  history: HistoryEvent[];
  /** The inbox, oldest first. */
  inbox: InboxItem[];
}

/**
 * The persistence interface the engine calls (one class per backend, like Powertools'
 * BasePersistenceLayer / DynamoDBPersistenceLayer).
 */
export interface ExecutionStore {
  /**
   * Largest value (step result, input, output, signal payload), as JSON, the store records.
   * Absent: MAX_VALUE_BYTES (what one DynamoDB item holds).
   */
  readonly maxValueBytes?: number;
  /**
   * Creates the execution and its first event atomically; `created: false` if the id exists. An
   * execution under that id whose retention has ended is removed first, and the id used again.
   */
  createExecution(request: NewExecution): Promise<{ created: boolean; execution: ExecutionRecord }>;
  getExecution(executionId: string): Promise<ExecutionRecord | undefined>;
  /**
   * Removes every item of executions whose retention has ended (`purgeAtMs` passed), at most
   * `limit`, stopping at `deadlineMs`; returns the ids removed. See purge.ts.
   */
  purgeExpired(options: { nowMs: number; limit: number; deadlineMs?: number }): Promise<string[]>;
  /** History of all runs, oldest first, paged. */
  readHistory(executionId: string, options?: { afterSeq?: number; limit?: number }): Promise<{ events: HistoryEvent[]; lastSeq?: number }>;
  /** Execution item + history of the current run after `afterSeq` + visible inbox, in one read. */
  loadSnapshot(executionId: string, options: { afterSeq?: number; nowMs: number }): Promise<ExecutionSnapshot | undefined>;
  /**
   * Takes the execution's lease if it is free or expired and the execution has not ended; with
   * `dueByMs`, only if it has work (its wake time is by then, or its inbox holds something).
   */
  acquireLease(executionId: string, options: { owner: string; nowMs: number; leaseMs: number; dueByMs?: number }): Promise<LeaseResult>;
  /** Notes, under the lease, that history reached `lastSeq`: the count of turns without progress restarts at 1. */
  markProgress(lease: Lease, lastSeq: number): Promise<void>;
  /**
   * Commits a batch under the lease, in one transaction or, when it is too big for one, in several
   * in order (see commit-plan.ts). With `inboxSeen`, a batch that updates the execution lands only
   * if no inbox item arrived after the worker's read that saw `inboxSeen` (InboxChangedError
   * otherwise, and nothing of it lands).
   */
  commit(lease: Lease, batch: CommitBatch, nowMs: number, options?: { inboxSeen?: number }): Promise<void>;
  /**
   * Puts an event in a running execution's inbox (signal, cancel) and makes it due. Refuses
   * (InboxFullError) a signal beyond the inbox's limits.
   */
  addToInbox(executionId: string, event: InboxEvent, nowMs: number): Promise<InboxItem>;
  /** The execution's inbox counter (`inboxSeq`): one small consistent read. */
  readInboxSeq(executionId: string): Promise<number | undefined>;
  /** Every item in the execution's inbox, oldest first. */
  readInbox(executionId: string): Promise<InboxItem[]>;
  /**
   * Completes (`ok`) or fails a callback through its token: marks its callback item ended and puts
   * the result in the execution's inbox, making it due, in one transaction. Refuses, writing
   * nothing: CallbackNotFoundError (no such callback, or the token does not match it),
   * CallbackEndedError (completed or failed already), CallbackExpiredError (timed out, past its
   * deadline or its heartbeat deadline), ExecutionEndedError, InboxFullError.
   */
  completeCallback(ref: CallbackRef, outcome: CallbackOutcome, nowMs: number): Promise<void>;
  /** Moves a callback's heartbeat deadline on (to now + its heartbeat timeout); refuses as completeCallback does. */
  heartbeatCallback(ref: CallbackRef, nowMs: number): Promise<{ heartbeatDeadlineAtMs?: number }>;
  /** The heartbeat deadline of each callback that has one, by callback id. */
  readCallbackHeartbeats(executionId: string, callbackIds: readonly string[]): Promise<Map<string, number>>;
  /** Signal events of earlier runs by seq (continue-as-new carries them), in the order asked. */
  readEvents(executionId: string, seqs: readonly number[]): Promise<HistoryEvent[]>;
  /** Executions due by `nowMs` (sparse index), oldest first. */
  findDue(nowMs: number, limit: number): Promise<{ executionId: string; nextWakeAtMs: number }[]>;
  /**
   * Finds executions due by `dueBeforeMs` (default `nowMs`) that no worker holds, and claims each
   * for `lockTimeMs` (its wake time moves to the claim's end), so that two sweepers never both
   * wake the same one. One query when nothing is due.
   */
  claimDueExecutions(lockTimeMs: number, limit: number, options: { nowMs: number; dueBeforeMs?: number }): Promise<ClaimedExecution[]>;
  /**
   * Ends a running execution without a lease: failed (the engine gave up and no lease can be had)
   * or terminated (an operator). ExecutionFailed / ExecutionTerminated is appended after the last
   * event, with a conditional status update that also bumps the fencing token, so a worker still
   * holding a lease can no longer commit. A parent is told (inbox + due), as a commit would. False
   * if the execution had already ended.
   */
  endWithoutLease(executionId: string, end: LeaselessEnd, nowMs: number, options?: { parent?: { executionId: string; position: number } }): Promise<boolean>;
  /**
   * Resumes a failed execution: ExecutionRedriven appended at `expectedLastSeq + 1`, status
   * running and due now, its error and retention cleared, the fencing token bumped. Refuses,
   * writing nothing: ExecutionNotFoundError, ExecutionNotFailedError (not failed, a child, or
   * its retention ended), StoreBusyError (history moved on since `expectedLastSeq` was read).
   */
  redriveExecution(executionId: string, redriven: ExecutionRedriven, options: { expectedLastSeq: number }, nowMs: number): Promise<void>;
  /**
   * Executions newest first, from the byWorkflow index (status filtered) or the byStatus index.
   * A page can hold fewer than `limit` executions and still have a `next`; a `next` this store did
   * not make throws InvalidCursorError.
   */
  listExecutions(query: ListExecutionsQuery): Promise<ExecutionListPage>;
  /** The schedule's latest fire, if it has fired (one small item per schedule, kept for good). */
  readScheduleState(scheduleName: string): Promise<ScheduleState | undefined>;
  /**
   * Records `next` as the schedule's latest fire if its state is still `expected` (undefined: it
   * never fired); false, writing nothing, if another fire changed it meanwhile.
   */
  claimScheduleFire(scheduleName: string, expected: ScheduleState | undefined, next: ScheduleState): Promise<boolean>;
}
