/**
 * The driver: moves a replayed workflow forward until it must wait, ends, or runs out of time.
 *
 * Loop: take in the inbox (signals, cancel, child results) → fire what is due (timers, signal
 * deadlines) → run the steps that may run → commit their results → let the workflow react → ...
 * Each commit goes through the injected `commit`, so this file has no I/O of its own: the worker
 * gives it a DynamoDB-backed commit, tests give it whatever they like.
 */
import {
  CancelledError,
  type ErrorInfo,
  NonRetryableError,
  toErrorInfo,
  ValueNotSerializableError,
} from "./errors";
import type { EventBody, ExecutionStarted, HistoryEvent, PendingEvent, PendingItem } from "./events";
import { jsonBytes, MAX_VALUE_BYTES } from "./limits";
import { shouldRetryStep, stepRetryDelayMs } from "./retry";
import { type ChildStart, isContinueAsNewMarker, type StepCommand, type WorkflowRun } from "./run";
import { assertTransition, type ExecutionStatus } from "./status";

/** A change to the execution item that must land with the events. */
export interface ExecutionUpdate {
  status: ExecutionStatus;
  /**
   * When to wake the execution next; null when only an outside event (signal, child) can;
   * undefined leaves it as it is (while a worker holds the lease it is the lease's expiry, so a
   * crashed worker's execution is found by the sweeper).
   */
  nextWakeAtMs?: number | null;
  /** This commit ends the worker's turn: the lease is released with it. */
  releaseLease: boolean;
  output?: unknown;
  error?: ErrorInfo;
  /** Set when a continue-as-new started run `run` at `runStartSeq`. */
  run?: { run: number; runStartSeq: number; input: unknown };
}

/** One atomic unit of durable change. */
export interface CommitBatch {
  /** New history events, seq contiguous after the last one committed. */
  events: HistoryEvent[];
  /** Inbox items moved into history by `events`: deleted in the same commit. */
  consumed: PendingItem[];
  /** Child executions to create. */
  childStarts: ChildStart[];
  /** Child executions to ask to cancel. */
  childCancels: string[];
  /** The parent to tell that this execution ended. */
  notifyParent?: { executionId: string; event: PendingEvent };
  execution?: ExecutionUpdate;
}

export interface DriveDeps {
  /** Wall clock, epoch ms. */
  clock(): number;
  /** Commits atomically; throws (e.g. LeaseLostError) if it cannot. */
  commit(batch: CommitBatch): Promise<void>;
  /** False once no new step should start (the invocation is nearly out of time). */
  hasTime(): boolean;
  /** [0, 1), for retry jitter. */
  random(): number;
  /** Called around each step attempt (logs, metrics). */
  onStepAttempt?(info: { name: string; cmd: number; attempt: number; durationMs: number; ok: boolean }): void;
}

export type DriveOutcome =
  | { kind: "completed"; output: unknown }
  | { kind: "failed"; error: ErrorInfo }
  | { kind: "canceled"; reason?: string }
  /** Waiting: wake at `nextWakeAtMs`, or only on an outside event when undefined. */
  | { kind: "sleeping"; nextWakeAtMs?: number }
  /** Out of time with work ready: enqueue an immediate wake-up. */
  | { kind: "yielded" }
  /** A new run started under the same id; drive it from `started`. */
  | { kind: "continued"; started: HistoryEvent & ExecutionStarted };

export interface DriveResult {
  outcome: DriveOutcome;
  /** Other executions to wake now (children started or canceled, the parent told of our end). */
  wake: string[];
  /** Commits made, steps attempted: for metrics and tests. */
  commits: number;
  stepAttempts: number;
}

/** The execution's status before this drive: a first commit switches it to `running`. */
export interface DriveOptions {
  currentStatus: ExecutionStatus;
  /** Inbox items visible now, oldest first. */
  pending?: readonly PendingItem[];
}

export async function drive(run: WorkflowRun, deps: DriveDeps, options: DriveOptions): Promise<DriveResult> {
  const driver = new Driver(run, deps, options.currentStatus);
  const outcome = await driver.go(options.pending ?? []);
  return { outcome, wake: driver.wake, commits: driver.commits, stepAttempts: driver.stepAttempts };
}

class Driver {
  readonly wake: string[] = [];
  commits = 0;
  stepAttempts = 0;

  constructor(
    private readonly run: WorkflowRun,
    private readonly deps: DriveDeps,
    private status: ExecutionStatus,
  ) {}

  async go(pending: readonly PendingItem[]): Promise<DriveOutcome> {
    if (pending.length > 0) await this.takeInbox(pending);
    for (;;) {
      const ended = this.endIfDone();
      if (ended) return this.finish(ended);

      const due = this.run.dueEvents(this.deps.clock());
      if (due.length > 0) {
        await this.commitAndApply(due);
        continue;
      }

      const steps = this.run.runnableSteps(this.deps.clock());
      if (steps.length > 0) {
        if (!this.deps.hasTime()) return this.yieldForTime();
        const results = await Promise.all(steps.map((s) => this.attempt(s)));
        // Recorded in call order; many at once (a wide Promise.all) in several commits.
        for (let i = 0; i < results.length; i += MAX_EVENTS_PER_COMMIT) {
          await this.commitAndApply(results.slice(i, i + MAX_EVENTS_PER_COMMIT));
        }
        continue;
      }

      if (this.run.hasUnrecorded()) {
        // Records of calls just made (a timer, a wait, a child) may make something due at once.
        const next = this.run.nextWakeAtMs();
        if (next !== undefined && next <= this.deps.clock()) {
          await this.commitAndApply([]);
          continue;
        }
      }
      return this.sleep();
    }
  }

  private async takeInbox(pending: readonly PendingItem[]): Promise<void> {
    // Each item is a delete and an event: chunks keep each commit within one transaction.
    for (let i = 0; i < pending.length; i += MAX_EVENTS_PER_COMMIT) {
      await this.takeInboxChunk(pending.slice(i, i + MAX_EVENTS_PER_COMMIT));
    }
  }

  private async takeInboxChunk(pending: readonly PendingItem[]): Promise<void> {
    const events: EventBody[] = [];
    let canceling = this.run.cancelRequested;
    for (const item of pending) {
      const e = item.event;
      if (e.type === "Signal") events.push({ type: "SignalReceived", name: e.name, signalId: e.signalId, payload: e.payload });
      else if (e.type === "Cancel") {
        if (!canceling) events.push({ type: "CancelRequested", ...(e.reason === undefined ? {} : { reason: e.reason }) });
        canceling = true;
      } else if (e.status === "completed") {
        events.push({ type: "ChildCompleted", cmd: e.cmd, childId: e.childId, output: e.output });
      } else {
        events.push({
          type: "ChildFailed",
          cmd: e.cmd,
          childId: e.childId,
          status: e.status,
          error: e.error ?? { name: "Error", message: `child ${e.status}` },
        });
      }
    }
    await this.commitAndApply(events, { consumed: [...pending] });
  }

  /** Commits `events` (after the records of new calls) and lets the workflow react to them. */
  private async commitAndApply(
    events: EventBody[],
    extra: { consumed?: PendingItem[]; execution?: ExecutionUpdate; notifyParent?: CommitBatch["notifyParent"] } = {},
  ): Promise<HistoryEvent[]> {
    const unrecorded = this.run.takeUnrecorded();
    const items =
      1 + // the lease check / execution update
      unrecorded.events.length +
      events.length +
      (extra.consumed?.length ?? 0) +
      ITEMS_PER_CHILD_START * unrecorded.childStarts.length +
      ITEMS_PER_CHILD_CANCEL * unrecorded.childCancels.length +
      (extra.notifyParent ? ITEMS_PER_CHILD_CANCEL : 0);
    if (items > MAX_ITEMS_PER_COMMIT) {
      // Too much for one transaction: the records of calls made so far go first, in chunks with
      // the children they start. History keeps the same order a single commit would have had.
      await this.commitRecords(unrecorded);
      return this.commitStamped(events, { events: [], childStarts: [], childCancels: [] }, extra);
    }
    return this.commitStamped(events, unrecorded, extra);
  }

  private async commitRecords(unrecorded: ReturnType<WorkflowRun["takeUnrecorded"]>): Promise<void> {
    const startsById = new Map(unrecorded.childStarts.map((c) => [c.childId, c]));
    let chunk: EventBody[] = [];
    let starts: ChildStart[] = [];
    let weight = 1;
    const flush = async () => {
      if (chunk.length === 0) return;
      await this.commitStamped([], { events: chunk, childStarts: starts, childCancels: [] }, {});
      chunk = [];
      starts = [];
      weight = 1;
    };
    for (const record of unrecorded.events) {
      const start = record.type === "ChildStarted" ? startsById.get(record.childId) : undefined;
      const cost = 1 + (start ? ITEMS_PER_CHILD_START : 0);
      if (weight + cost > MAX_ITEMS_PER_COMMIT) await flush();
      chunk.push(record);
      if (start) starts.push(start);
      weight += cost;
    }
    await flush();
    for (let i = 0; i < unrecorded.childCancels.length; i += MAX_EVENTS_PER_COMMIT) {
      await this.commitStamped([], { events: [], childStarts: [], childCancels: unrecorded.childCancels.slice(i, i + MAX_EVENTS_PER_COMMIT) }, {});
    }
  }

  private async commitStamped(
    events: EventBody[],
    unrecorded: ReturnType<WorkflowRun["takeUnrecorded"]>,
    extra: { consumed?: PendingItem[]; execution?: ExecutionUpdate; notifyParent?: CommitBatch["notifyParent"] },
  ): Promise<HistoryEvent[]> {
    const bodies = [...unrecorded.events, ...events];
    const atMs = this.deps.clock();
    let seq = this.run.lastSeq;
    const stamped = bodies.map((body) => ({ ...body, seq: (seq += 1), atMs }) as HistoryEvent);
    // The execution item changes only when the turn ends (or the run does): a step result or a
    // fired timer in between is a single-event append, the cheapest write there is.
    let execution = extra.execution;
    if (execution?.run) {
      const started = stamped.find((e) => e.type === "ExecutionStarted");
      if (started) execution = { ...execution, run: { ...execution.run, runStartSeq: started.seq } };
    }
    const batch: CommitBatch = {
      events: stamped,
      consumed: extra.consumed ?? [],
      childStarts: unrecorded.childStarts,
      childCancels: unrecorded.childCancels,
      ...(execution ? { execution } : {}),
      ...(extra.notifyParent ? { notifyParent: extra.notifyParent } : {}),
    };
    if (batch.events.length === 0 && batch.consumed.length === 0 && !batch.execution && batch.childStarts.length === 0 && batch.childCancels.length === 0) {
      return [];
    }
    // Only legal transitions reach the store; nothing leaves a terminal status.
    if (execution) assertTransition(this.status, execution.status);
    await this.deps.commit(batch);
    this.commits += 1;
    if (execution) this.status = execution.status;
    for (const c of batch.childStarts) this.wake.push(c.childId);
    for (const id of batch.childCancels) this.wake.push(id);
    if (batch.notifyParent) this.wake.push(batch.notifyParent.executionId);
    await this.run.applyCommitted(stamped);
    return stamped;
  }

  /** Runs one attempt of a step; returns the event that records how it went. */
  private async attempt(step: StepCommand): Promise<EventBody> {
    const attempt = step.failedAttempts + 1;
    const controller = new AbortController();
    const started = this.deps.clock();
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.stepAttempts += 1;
    try {
      const body = Promise.resolve().then(() =>
        step.fn({ attempt, idempotencyKey: this.run.idempotencyKey(step.cmd), signal: controller.signal }),
      );
      const value =
        step.timeoutMs === undefined
          ? await body
          : await Promise.race([
              body,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  const err = new StepTimeoutError(step.name, step.timeoutMs as number);
                  controller.abort(err);
                  reject(err);
                }, step.timeoutMs);
              }),
            ]);
      const result = jsonClone(value, `the result of step "${step.name}"`);
      this.deps.onStepAttempt?.({ name: step.name, cmd: step.cmd, attempt, durationMs: this.deps.clock() - started, ok: true });
      return { type: "StepCompleted", cmd: step.cmd, name: step.name, attempt, ...(result === undefined ? {} : { result }) };
    } catch (err) {
      this.deps.onStepAttempt?.({ name: step.name, cmd: step.cmd, attempt, durationMs: this.deps.clock() - started, ok: false });
      const error = toErrorInfo(err);
      if (shouldRetryStep(step.retry, attempt, error)) {
        const delay = stepRetryDelayMs(step.retry, attempt, this.deps.random());
        return { type: "StepAttemptFailed", cmd: step.cmd, name: step.name, attempt, error, retryAtMs: this.deps.clock() + delay };
      }
      return { type: "StepFailed", cmd: step.cmd, name: step.name, attempt, error };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** The events that end this run, if the workflow is done (or broken). */
  private endIfDone(): { events: EventBody[]; update: ExecutionUpdate; outcome: DriveOutcome } | undefined {
    const run = this.run;
    const fatal = run.fatal;
    if (fatal) return this.failWith(toErrorInfo(fatal));
    if (run.continueAsNew) {
      const input = safeClone(run.continueAsNew.input, "the continue-as-new input");
      if (!input.ok) return this.failWith(input.error);
      const started = run.definition;
      const nextRun = run.runNumber + 1;
      return {
        events: [
          { type: "ContinuedAsNew", input: input.value, nextRun },
          { type: "ExecutionStarted", workflow: started.name, version: started.version, input: input.value, run: nextRun, ...this.parentOf() },
        ],
        // runStartSeq is filled in when the events get their sequence numbers.
        update: { status: "running", releaseLease: false, run: { run: nextRun, runStartSeq: 0, input: input.value } },
        outcome: { kind: "yielded" }, // replaced in finish() with the new run's start
      };
    }
    const result = run.result;
    if (result.kind === "returned") {
      const output = safeClone(result.value, "the workflow's output");
      if (!output.ok) return this.failWith(output.error);
      return {
        events: [{ type: "ExecutionCompleted", ...(output.value === undefined ? {} : { output: output.value }) }],
        update: { status: "completed", nextWakeAtMs: null, releaseLease: true, ...(output.value === undefined ? {} : { output: output.value }) },
        outcome: { kind: "completed", output: output.value },
      };
    }
    if (result.kind === "threw") {
      if (isContinueAsNewMarker(result.error)) return undefined;
      if (run.cancelRequested && result.error instanceof CancelledError) {
        const reason = run.cancellationReason;
        return {
          events: [{ type: "ExecutionCanceled", ...(reason === undefined ? {} : { reason }) }],
          update: { status: "canceled", nextWakeAtMs: null, releaseLease: true, error: toErrorInfo(result.error) },
          outcome: { kind: "canceled", ...(reason === undefined ? {} : { reason }) },
        };
      }
      return this.failWith(toErrorInfo(result.error));
    }
    if (run.isStuck()) return this.failWith(toErrorInfo(run.stuckError()));
    return undefined;
  }

  private failWith(error: ErrorInfo): { events: EventBody[]; update: ExecutionUpdate; outcome: DriveOutcome } {
    return {
      events: [{ type: "ExecutionFailed", error }],
      update: { status: "failed", nextWakeAtMs: null, releaseLease: true, error },
      outcome: { kind: "failed", error },
    };
  }

  private parentOf(): { parent?: { executionId: string; cmd: number } } {
    const parent = this.run.parent;
    return parent ? { parent } : {};
  }

  private async finish(end: { events: EventBody[]; update: ExecutionUpdate; outcome: DriveOutcome }): Promise<DriveOutcome> {
    const parent = this.run.parent;
    let notifyParent: CommitBatch["notifyParent"];
    if (parent && end.update.status !== "running") {
      const status = end.update.status as "completed" | "failed" | "canceled";
      notifyParent = {
        executionId: parent.executionId,
        event: {
          type: "ChildEnded",
          cmd: parent.cmd,
          childId: this.run.executionId,
          status,
          ...(end.update.output === undefined ? {} : { output: end.update.output }),
          ...(end.update.error === undefined ? {} : { error: end.update.error }),
        },
      };
    }
    const stamped = await this.commitAndApply(end.events, { execution: end.update, ...(notifyParent ? { notifyParent } : {}) });
    if (end.update.run) {
      const started = stamped[stamped.length - 1] as HistoryEvent & ExecutionStarted;
      return { kind: "continued", started };
    }
    return end.outcome;
  }

  private async yieldForTime(): Promise<DriveOutcome> {
    await this.commitAndApply([], { execution: { status: "running", nextWakeAtMs: this.deps.clock(), releaseLease: true } });
    return { kind: "yielded" };
  }

  private async sleep(): Promise<DriveOutcome> {
    const next = this.run.nextWakeAtMs();
    await this.commitAndApply([], { execution: { status: "sleeping", nextWakeAtMs: next ?? null, releaseLease: true } });
    return next === undefined ? { kind: "sleeping" } : { kind: "sleeping", nextWakeAtMs: next };
  }
}

/** DynamoDB's transaction limit is 100 items; keep a margin. */
const MAX_ITEMS_PER_COMMIT = 95;
/** Events per commit when a turn has many at once (inbox items, results of a wide Promise.all). */
const MAX_EVENTS_PER_COMMIT = 40;
/** A child start writes the child's execution item and its first history event. */
const ITEMS_PER_CHILD_START = 2;
/** A cancel (or a result) sent to another execution writes its inbox item and marks it due. */
const ITEMS_PER_CHILD_CANCEL = 2;

/** An attempt ran past its `timeout`. Retryable. */
export class StepTimeoutError extends Error {
  readonly code = "STEP_TIMEOUT";
  constructor(stepName: string, timeoutMs: number) {
    super(`step "${stepName}" timed out after ${timeoutMs} ms`);
    this.name = "StepTimeoutError";
  }
}

/**
 * JSON round trip, so the first run sees exactly what a replay will read back; a value too large
 * to record fails at once (retrying would not make it smaller).
 */
function jsonClone(value: unknown, what: string): unknown {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new NonRetryableError(new ValueNotSerializableError(what, cause).message, { code: "NOT_SERIALIZABLE", cause });
  }
  if (text === undefined) throw new NonRetryableError(`${what} must be JSON-serialisable`, { code: "NOT_SERIALIZABLE" });
  const bytes = jsonBytes(text);
  if (bytes > MAX_VALUE_BYTES) {
    throw new NonRetryableError(`${what} is ${bytes} bytes of JSON; the limit is ${MAX_VALUE_BYTES} bytes`, { code: "PAYLOAD_TOO_LARGE" });
  }
  return JSON.parse(text);
}

function safeClone(value: unknown, what: string): { ok: true; value: unknown } | { ok: false; error: ErrorInfo } {
  try {
    return { ok: true, value: jsonClone(value, what) };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  }
}
