/**
 * The driver: moves a replayed workflow forward until it must wait, ends, or runs out of time.
 *
 * Loop: take in the inbox (signals, cancel, children's results) in time order with the timers due
 * before them → fire what is due (timers, signal deadlines) → start the steps that may run → while
 * steps run, commit each outcome as it comes, fire timers that fall due meanwhile and look at the
 * inbox about once a second → when nothing runs and nothing is due, commit the end of the turn.
 *
 * Each commit goes through the injected `commit`, so this file has no I/O of its own. Commits are
 * made one at a time: a writer appends seq N only after its N − 1 landed, so two writers that race
 * (a zombie and the lease holder) can never interleave their histories.
 */
import {
  boundErrorInfo,
  CancelledError,
  ChildIdInUseError,
  DurableError,
  type ErrorInfo,
  InboxChangedError,
  NonRetryableError,
  toErrorInfo,
  ValueNotSerializableError,
} from "./errors.js";
import type { EventBody, ExecutionStarted, HistoryEvent, InboxEvent, InboxItem } from "./events.js";
import { jsonBytes, MAX_VALUE_BYTES } from "./limits.js";
import { shouldRetryStep, stepRetryDelayMs } from "./retry.js";
import { type ChildStart, isContinueAsNewMarker, type StepCommand, type WorkflowRun } from "./run.js";
import { assertTransition, type ExecutionStatus } from "./status.js";

/** A change to the execution item that must land with the events. */
export interface ExecutionUpdate {
  status: ExecutionStatus;
  /**
   * When to wake the execution next; null when only an outside event (signal, child) can;
   * undefined leaves it as it is.
   */
  nextWakeAtMs?: number | null;
  /** This commit ends the worker's turn: the lease is released with it. */
  releaseLease: boolean;
  output?: unknown;
  error?: ErrorInfo;
  /** Set when a continue-as-new started run `run` at `runStartSeq`. */
  run?: { run: number; runStartSeq: number; input: unknown };
}

/** An inbox item taken into history, with the seq of the event that records it (none for a repeated cancel). */
export interface ConsumedItem {
  item: InboxItem;
  seq?: number;
}

/**
 * One unit of durable change. The store may split it into several transactions (DynamoDB allows
 * 100 items and 4 MB in one) but never splits what must land together: an event with the inbox
 * item it records and the child it starts, and the last event with the execution update and the
 * notice to the parent.
 */
export interface CommitBatch {
  /** New history events, seq contiguous after the last one committed. */
  events: HistoryEvent[];
  /** Inbox items moved into history by `events`: deleted with them. */
  consumed: ConsumedItem[];
  /** Child executions to create (each with its ChildStarted event). */
  childStarts: ChildStart[];
  /** Child executions to ask to cancel. */
  childCancels: string[];
  /** The parent to tell that this execution ended. */
  notifyParent?: { executionId: string; event: InboxEvent };
  execution?: ExecutionUpdate;
  /** The seq of the last history event once this batch has landed (the run's position). */
  lastSeq: number;
  /**
   * The batch records a deadline (a wait or a callback timing out): it must land only if no inbox
   * item arrived since the driver last looked (InboxChangedError otherwise), like a closing commit.
   */
  guardInbox?: boolean;
}

export interface DriveDeps {
  /** Wall clock, epoch ms. */
  clock(): number;
  /**
   * Commits; throws LeaseLostError and the like if it cannot, and InboxChangedError when a commit
   * that would end the turn finds inbox items the driver has not seen (it then reads the inbox).
   */
  commit(batch: CommitBatch): Promise<void>;
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis). */
  remainingMs(): number;
  /** [0, 1), for retry jitter. */
  random(): number;
  /**
   * Inbox items that arrived since the last read; [] when none did. Cheap when nothing is new
   * (one small read).
   */
  readInbox(): Promise<InboxItem[]>;
  /**
   * The heartbeat deadline each callback's item holds now (heartbeats move it on), by callback id;
   * read before a callback is timed out for a missed heartbeat. Absent: heartbeats are not read.
   */
  callbackHeartbeats?(callbackIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * Runs one attempt's body (`body`): the engine wraps it in a span. Absent: the body runs as it
   * is. Must return what `body` returns and throw what it throws.
   */
  runStepAttempt?<T>(info: { name: string; position: number; attempt: number }, body: () => Promise<T>): Promise<T>;
  /** Called around each step attempt (logs, metrics). */
  onStepAttempt?(info: { name: string; position: number; attempt: number; durationMs: number; ok: boolean }): void;
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

export interface DriveOptions {
  /** The execution's status before this drive: a first commit switches it to `running`. */
  currentStatus: ExecutionStatus;
  /** Inbox items visible now, oldest first. */
  inbox?: readonly InboxItem[];
  /** No step starts with less than this left in the invocation. Default 10 s. */
  minRemainingMs?: number;
  /**
   * Steps still running this long before the invocation ends are interrupted (recorded as a
   * failed attempt, retried in a new invocation), so the turn can commit before Lambda stops it.
   * Default 3 s, at most `minRemainingMs`; 0 never interrupts (Lambda's timeout then ends them).
   */
  turnEndMarginMs?: number;
  /** How often the inbox is looked at while the turn goes on (cancel, signals). Default 1 s. */
  inboxCheckIntervalMs?: number;
  /** True when this drive is the first thing the invocation does: a step may start even if its timeout exceeds the time left. */
  freshInvocation?: boolean;
  /** Largest value, as JSON, the store records: a larger step result or output fails at once. Default MAX_VALUE_BYTES. */
  maxValueBytes?: number;
}

export async function drive(run: WorkflowRun, deps: DriveDeps, options: DriveOptions): Promise<DriveResult> {
  const driver = new Driver(run, deps, options);
  try {
    const outcome = await driver.go(options.inbox ?? []);
    return { outcome, wake: driver.wake, commits: driver.commits, stepAttempts: driver.stepAttempts };
  } finally {
    driver.abandonRunning("the turn ended");
  }
}

/** A step attempt in flight. */
interface RunningAttempt {
  step: StepCommand;
  attempt: number;
  controller: AbortController;
  /** Resolves with the event recording the attempt (never rejects). */
  done: Promise<EventBody>;
  /** Set once `done` resolved. */
  outcome?: EventBody;
  /** When it ended (the wall clock): outcomes and due timers are recorded in the order they happened. */
  endedAtMs?: number;
  heartbeat: { details?: unknown };
}

class Driver {
  readonly wake: string[] = [];
  commits = 0;
  stepAttempts = 0;
  private status: ExecutionStatus;
  private readonly running = new Map<number, RunningAttempt>();
  private readonly minRemainingMs: number;
  private readonly turnEndMarginMs: number;
  private readonly inboxCheckIntervalMs: number;
  private readonly freshInvocation: boolean;
  private readonly maxValueBytes: number;
  /**
   * When the inbox was last read, on a monotonic clock (the wall clock may be a test's, frozen or
   * jumping; the pacing of inbox reads is about real time only).
   */
  private inboxReadAt: number;

  constructor(
    private readonly run: WorkflowRun,
    private readonly deps: DriveDeps,
    options: DriveOptions,
  ) {
    this.status = options.currentStatus;
    this.maxValueBytes = options.maxValueBytes ?? MAX_VALUE_BYTES;
    this.minRemainingMs = options.minRemainingMs ?? 10_000;
    this.turnEndMarginMs = Math.min(options.turnEndMarginMs ?? 3_000, this.minRemainingMs);
    this.inboxCheckIntervalMs = options.inboxCheckIntervalMs ?? 1_000;
    this.freshInvocation = options.freshInvocation ?? false;
    this.inboxReadAt = monotonicMs();
  }

  async go(inbox: readonly InboxItem[]): Promise<DriveOutcome> {
    if (inbox.length > 0) await this.takeInbox(inbox);
    for (;;) {
      const ended = this.endIfDone();
      if (ended) {
        this.abandonRunning("the workflow ended");
        const outcome = await this.closing(() => this.finish(ended));
        if (outcome) return outcome;
        continue;
      }

      // Due by now, or by when the earliest attempt not yet recorded ended: a timer that fell due
      // before a step ended is recorded first, however late the driver gets to both.
      const due = this.run.dueEvents(Math.min(this.deps.clock(), ...this.endedAttempts().map((r) => r.endedAtMs as number)));
      if (due.length > 0) {
        // A callback about to miss its heartbeat: a heartbeat may have moved its deadline on.
        if (await this.refreshHeartbeats(due)) continue;
        const deadlines = due.some((e) => e.type === "SignalWaitTimedOut" || e.type === "CallbackTimedOut");
        if (!deadlines) {
          await this.commitAndApply(due);
          continue;
        }
        // A wait or a callback about to time out: a signal or a completion that came in time may
        // be in the inbox, unseen; and one may land while this commits, which the guard refuses.
        if (await this.checkInbox(true)) continue;
        if (await this.recordCalls()) continue;
        await this.closing(async () => {
          await this.commitAndApply(due, { guardInbox: true });
          return undefined;
        });
        continue;
      }

      if (this.inboxCheckDue() && (this.run.runnableSteps(this.deps.clock()).some((s) => !this.running.has(s.position)) || this.running.size > 0)) {
        if (await this.checkInbox(true)) continue;
      }

      // A callback's token may be handed out by the next step: its record lands first, so the API
      // knows the callback by the time anyone can complete it.
      if (this.run.hasUnrecordedCallback()) {
        await this.recordCalls();
        continue;
      }

      const startable = this.run.runnableSteps(this.deps.clock()).filter((s) => !this.running.has(s.position));
      const starting = startable.filter((s) => this.mayStart(s));
      for (const step of starting) this.start(step);

      if (this.running.size > 0) {
        // Calls made meanwhile (a child, a timer) are recorded before the wait, so a child starts
        // now rather than when the steps end.
        if (await this.recordCalls()) continue;
        await this.waitForProgress();
        continue;
      }
      if (startable.length > 0) {
        const outcome = await this.closing(() => this.yieldForTime());
        if (outcome) return outcome;
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
      const outcome = await this.closing(() => this.sleep());
      if (outcome) return outcome;
    }
  }

  // ---- the inbox ------------------------------------------------------------------------------

  /**
   * Runs a commit that ends the turn; if the inbox changed meanwhile, takes the new items in and
   * returns undefined (the loop goes on), else the outcome.
   */
  private async closing(end: () => Promise<DriveOutcome | undefined>): Promise<DriveOutcome | undefined> {
    try {
      return await end();
    } catch (err) {
      if (!(err instanceof InboxChangedError)) throw err;
      const items = await this.deps.readInbox();
      this.inboxReadAt = monotonicMs();
      if (items.length > 0) await this.takeInbox(items);
      return undefined;
    }
  }

  /** Moves callbacks' heartbeat deadlines on from the store; true if one that looked due no longer is. */
  private async refreshHeartbeats(due: readonly EventBody[]): Promise<boolean> {
    const missed = due.filter((e): e is EventBody & { type: "CallbackTimedOut" } => e.type === "CallbackTimedOut" && e.reason === "heartbeat");
    if (missed.length === 0 || !this.deps.callbackHeartbeats) return false;
    const deadlines = await this.deps.callbackHeartbeats(missed.map((e) => e.callbackId));
    const now = this.deps.clock();
    let moved = false;
    for (const e of missed) {
      const at = deadlines.get(e.callbackId);
      if (at !== undefined && at > now) {
        this.run.noteHeartbeatDeadline(e.position, at);
        moved = true;
      }
    }
    return moved;
  }

  private inboxCheckDue(): boolean {
    return monotonicMs() - this.inboxReadAt >= this.inboxCheckIntervalMs;
  }

  /** Looks at the inbox (now, or if the interval passed); true if something was taken in. */
  private async checkInbox(now: boolean): Promise<boolean> {
    if (!now && !this.inboxCheckDue()) return false;
    const items = await this.deps.readInbox();
    this.inboxReadAt = monotonicMs();
    if (items.length === 0) return false;
    await this.takeInbox(items);
    return true;
  }

  /**
   * Moves inbox items into history in arrival order, with the timers that fell due before each
   * item first: a timer due at 10:00 beats a signal that arrived at 10:01, however late the
   * worker looks.
   */
  private async takeInbox(items: readonly InboxItem[]): Promise<void> {
    const ordered = [...items].sort((a, b) => a.arrivedAtMs - b.arrivedAtMs);
    const now = this.deps.clock();
    const timers = this.run
      .dueTimers(now)
      .filter((t) => t.atMs < (ordered[ordered.length - 1]?.arrivedAtMs ?? 0))
      .sort((a, b) => a.atMs - b.atMs || a.event.position - b.event.position);
    const events: EventBody[] = [];
    const consumedAt: { item: InboxItem; eventIndex: number | undefined }[] = [];
    let canceling = this.run.cancelRequested;
    for (const item of ordered) {
      while (timers.length > 0 && (timers[0] as { atMs: number }).atMs < item.arrivedAtMs) events.push((timers.shift() as { event: EventBody }).event);
      const event = inboxEvent(item, canceling, this.run);
      if (item.event.type === "Cancel") canceling = true;
      if (event) events.push(event);
      consumedAt.push({ item, eventIndex: event ? events.length - 1 : undefined });
    }
    await this.commitAndApply(events, { consumedAt });
  }

  // ---- steps ----------------------------------------------------------------------------------

  /** Whether a step may start now: time left for it (its timeout, if it has one) and the turn's end. */
  private mayStart(step: StepCommand): boolean {
    const remaining = this.deps.remainingMs();
    if (remaining <= this.minRemainingMs) return false;
    if (step.timeoutMs === undefined) return true;
    if (remaining - this.turnEndMarginMs >= step.timeoutMs) return true;
    // Its timeout is longer than what is left: better in a new invocation, unless this one is
    // new itself (then no invocation offers more, and it may well finish early).
    return this.freshInvocation && this.commits === 0 && this.stepAttempts === 0;
  }

  private start(step: StepCommand): void {
    const attempt = step.failedAttempts + 1;
    const controller = new AbortController();
    const heartbeat: { details?: unknown } = {};
    const running: RunningAttempt = { step, attempt, controller, heartbeat, done: Promise.resolve(undefined as never) };
    running.done = this.attempt(step, attempt, controller, heartbeat).then((event) => {
      running.outcome = event;
      running.endedAtMs = this.deps.clock();
      return event;
    });
    this.running.set(step.position, running);
    this.stepAttempts += 1;
  }

  /**
   * Waits until a running attempt ends, a timer or deadline falls due, the inbox is due a look, or
   * the invocation nears its end; then commits what ended and interrupts what must stop.
   */
  private async waitForProgress(): Promise<void> {
    const now = this.deps.clock();
    // What falls due while the steps run: timers, deadlines, retries of steps not running now.
    const next = this.run.nextWakeAtMs(new Set(this.running.keys()));
    const untilDue = next === undefined ? Infinity : Math.max(0, next - now);
    const untilInbox = Math.max(0, this.inboxCheckIntervalMs - (monotonicMs() - this.inboxReadAt));
    const untilEnd = this.turnEndMarginMs > 0 ? Math.max(0, this.deps.remainingMs() - this.turnEndMarginMs) : Infinity;
    const waitMs = Math.min(untilDue, untilInbox, untilEnd);
    if (this.endedAttempts().length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        ...[...this.running.values()].map((r) => r.done),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(waitMs, 2 ** 31 - 1));
        }),
      ]);
      if (timer) clearTimeout(timer);
    }

    // The attempts that ended before the next timer or deadline fell due (in the order they
    // ended); the rest wait until the loop has recorded that timer.
    const nextEvent = this.run.nextEventDueAtMs();
    const ended = this.endedAttempts().filter((r) => nextEvent === undefined || (r.endedAtMs as number) < nextEvent);
    if (ended.length > 0) {
      for (const r of ended) this.running.delete(r.step.position);
      // An attempt whose call was settled meanwhile (canceled) records nothing: the workflow moved on.
      const events = ended.filter((r) => !r.step.deferred.settled).map((r) => r.outcome as EventBody);
      if (events.length > 0) await this.commitAndApply(events);
      this.dropSettled();
      return;
    }
    if (this.turnEndMarginMs > 0 && this.deps.remainingMs() <= this.turnEndMarginMs) {
      await this.interruptRunning();
      return;
    }
    // A timer or deadline fell due, or the inbox is due a look: the loop sees to both.
  }

  /** Attempts that have ended and are not recorded yet, in the order they ended. */
  private endedAttempts(): RunningAttempt[] {
    return [...this.running.values()].filter((r) => r.outcome !== undefined).sort((a, b) => (a.endedAtMs as number) - (b.endedAtMs as number));
  }

  /** Records every running attempt as interrupted by the end of the invocation. */
  private async interruptRunning(): Promise<void> {
    const cut = [...this.running.values()];
    this.running.clear();
    const events: EventBody[] = [];
    for (const r of cut) {
      const error = new StepInterruptedError(r.step.name, this.deps.remainingMs());
      r.controller.abort(error);
      if (r.step.deferred.settled) continue;
      const info = toErrorInfo(error);
      const heartbeat = cloneHeartbeat(r.heartbeat.details);
      const base = { position: r.step.position, name: r.step.name, attempt: r.attempt, error: info };
      events.push(
        shouldRetryStep(r.step.retry, r.attempt, info)
          ? { type: "StepAttemptFailed", ...base, retryAtMs: this.deps.clock(), ...(heartbeat === undefined ? {} : { heartbeat }) }
          : { type: "StepFailed", ...base },
      );
    }
    if (events.length > 0) await this.commitAndApply(events);
  }

  /** Aborts running attempts whose calls were settled (canceled): nothing of theirs is recorded. */
  private dropSettled(): void {
    for (const [position, r] of this.running) {
      if (!r.step.deferred.settled) continue;
      r.controller.abort(new CancelledError(this.run.cancellationReason));
      this.running.delete(position);
    }
  }

  abandonRunning(reason: string): void {
    for (const r of this.running.values()) r.controller.abort(new StepAbandonedError(r.step.name, reason));
    this.running.clear();
  }

  /** Runs one attempt of a step; resolves with the event that records how it went. */
  private async attempt(step: StepCommand, attempt: number, controller: AbortController, heartbeat: { details?: unknown }): Promise<EventBody> {
    const started = this.deps.clock();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const invoke = async (): Promise<unknown> =>
        step.fn({
          attempt,
          idempotencyKey: this.run.idempotencyKey(step.position),
          signal: controller.signal,
          heartbeat: (details?: unknown) => {
            heartbeat.details = details;
          },
          ...(step.lastHeartbeat === undefined ? {} : { lastHeartbeat: step.lastHeartbeat }),
        });
      const wrap = this.deps.runStepAttempt;
      const body = Promise.resolve().then(() => (wrap ? wrap({ name: step.name, position: step.position, attempt }, invoke) : invoke()));
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
      const result = jsonClone(value, `the result of step "${step.name}"`, this.maxValueBytes);
      this.deps.onStepAttempt?.({ name: step.name, position: step.position, attempt, durationMs: this.deps.clock() - started, ok: true });
      return { type: "StepCompleted", position: step.position, name: step.name, attempt, ...(result === undefined ? {} : { result }) };
    } catch (err) {
      this.deps.onStepAttempt?.({ name: step.name, position: step.position, attempt, durationMs: this.deps.clock() - started, ok: false });
      const error = toErrorInfo(err);
      const details = cloneHeartbeat(heartbeat.details);
      if (shouldRetryStep(step.retry, attempt, error)) {
        const delay = stepRetryDelayMs(step.retry, attempt, this.deps.random());
        return {
          type: "StepAttemptFailed",
          position: step.position,
          name: step.name,
          attempt,
          error,
          retryAtMs: this.deps.clock() + delay,
          ...(details === undefined ? {} : { heartbeat: details }),
        };
      }
      return { type: "StepFailed", position: step.position, name: step.name, attempt, error };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  // ---- commits --------------------------------------------------------------------------------

  /**
   * Commits `events` (after the records of calls made since the last commit) and lets the
   * workflow react to them. `consumedAt` pairs inbox items with the index in `events` of the event
   * that records each.
   */
  private async commitAndApply(
    events: EventBody[],
    extra: {
      consumedAt?: { item: InboxItem; eventIndex: number | undefined }[];
      execution?: ExecutionUpdate;
      notifyParent?: CommitBatch["notifyParent"];
      guardInbox?: boolean;
    } = {},
  ): Promise<HistoryEvent[]> {
    const unrecorded = this.run.takeUnrecorded();
    try {
      return await this.commitStampedAndApply(unrecorded, events, extra);
    } catch (err) {
      if (!(err instanceof ChildIdInUseError)) throw err;
      // Someone else's execution has a child's id: that child call fails, the others go on.
      const taken = new Set(err.childIds);
      const failed = unrecorded.childStarts.filter((c) => taken.has(c.childId));
      const error = toErrorInfo(err);
      return this.commitStampedAndApply(
        { ...unrecorded, childStarts: unrecorded.childStarts.filter((c) => !taken.has(c.childId)) },
        [...events, ...failed.map((c): EventBody => ({ type: "ChildFailed", position: c.parentPosition, childId: c.childId, status: "failed", error }))],
        extra,
      );
    }
  }

  private async commitStampedAndApply(
    unrecorded: ReturnType<WorkflowRun["takeUnrecorded"]>,
    events: EventBody[],
    extra: {
      consumedAt?: { item: InboxItem; eventIndex: number | undefined }[];
      execution?: ExecutionUpdate;
      notifyParent?: CommitBatch["notifyParent"];
      guardInbox?: boolean;
    },
  ): Promise<HistoryEvent[]> {
    const bodies = [...unrecorded.events, ...events];
    const atMs = this.deps.clock();
    let seq = this.run.lastSeq;
    const stamped = bodies.map((body) => ({ ...body, seq: (seq += 1), atMs }) as HistoryEvent);
    const firstOwn = unrecorded.events.length;
    const consumed: ConsumedItem[] = (extra.consumedAt ?? []).map(({ item, eventIndex }) => {
      const event = eventIndex === undefined ? undefined : stamped[firstOwn + eventIndex];
      return event ? { item, seq: event.seq } : { item };
    });
    // The execution item changes only when the turn ends (or the run does): a step result or a
    // fired timer in between is a single-event append, the cheapest write there is.
    let execution = extra.execution;
    if (execution?.run) {
      const started = stamped.find((e) => e.type === "ExecutionStarted");
      if (started) execution = { ...execution, run: { ...execution.run, runStartSeq: started.seq } };
    }
    const batch: CommitBatch = {
      events: stamped,
      lastSeq: seq,
      consumed,
      childStarts: unrecorded.childStarts,
      childCancels: unrecorded.childCancels,
      ...(execution ? { execution } : {}),
      ...(extra.notifyParent ? { notifyParent: extra.notifyParent } : {}),
      ...(extra.guardInbox ? { guardInbox: true } : {}),
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
    this.dropSettled();
    return stamped;
  }

  // ---- the end of a turn or a run -------------------------------------------------------------

  /** The events that end this run, if the workflow is done (or broken). */
  private endIfDone(): { events: EventBody[]; update: ExecutionUpdate; outcome: DriveOutcome } | undefined {
    const run = this.run;
    const fatal = run.fatal;
    if (fatal) return this.failWith(toErrorInfo(fatal));
    if (run.continueAsNew) {
      const input = safeClone(run.continueAsNew.input, "the continue-as-new input", this.maxValueBytes);
      if (!input.ok) return this.failWith(input.error);
      const carried = run.unconsumedSignals().map((e) => e.seq);
      if (carried.length > MAX_CARRIED_SIGNALS) {
        return this.failWith(
          toErrorInfo(
            new DurableError(
              "SIGNAL_BUFFER_FULL",
              `${carried.length} signals received and not consumed would be carried into the next run; the limit is ${MAX_CARRIED_SIGNALS}`,
            ),
          ),
        );
      }
      const definition = run.definition;
      const nextRun = run.runNumber + 1;
      return {
        events: [
          { type: "ContinuedAsNew", input: input.value, nextRun },
          {
            type: "ExecutionStarted",
            workflow: definition.name,
            version: definition.version,
            input: input.value,
            run: nextRun,
            ...this.parentOf(),
            ...(carried.length > 0 ? { carried } : {}),
          },
        ],
        // runStartSeq is filled in when the events get their sequence numbers.
        update: { status: "running", releaseLease: false, run: { run: nextRun, runStartSeq: 0, input: input.value } },
        outcome: { kind: "yielded" }, // replaced in finish() with the new run's start
      };
    }
    const result = run.result;
    if (result.kind === "returned") {
      const output = safeClone(result.value, "the workflow's output", this.maxValueBytes);
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
    if (run.isStuck() && this.running.size === 0) return this.failWith(toErrorInfo(run.stuckError()));
    return undefined;
  }

  private failWith(error: ErrorInfo): { events: EventBody[]; update: ExecutionUpdate; outcome: DriveOutcome } {
    return {
      events: [{ type: "ExecutionFailed", error }],
      update: { status: "failed", nextWakeAtMs: null, releaseLease: true, error },
      outcome: { kind: "failed", error },
    };
  }

  private parentOf(): { parent?: { executionId: string; position: number } } {
    const parent = this.run.parent;
    return parent ? { parent } : {};
  }

  /**
   * Commits the records of calls made since the last commit (and the children they start) on
   * their own, so the commit that ends the turn holds only the execution update and the events
   * that must land with it: small, never split, and when the inbox changed under it, nothing of it
   * landed. True when that commit recorded more than the calls (a child that could not start
   * failed at once): the workflow reacted, and the turn must look again before it ends.
   */
  private async recordCalls(): Promise<boolean> {
    if (!this.run.hasUnrecorded()) return false;
    const records = this.run.unrecordedCount();
    const stamped = await this.commitAndApply([]);
    return stamped.length > records;
  }

  private async finish(end: { events: EventBody[]; update: ExecutionUpdate; outcome: DriveOutcome }): Promise<DriveOutcome | undefined> {
    if (await this.recordCalls()) return undefined;
    const parent = this.run.parent;
    let notifyParent: CommitBatch["notifyParent"];
    if (parent && end.update.status !== "running") {
      const status = end.update.status as "completed" | "failed" | "canceled";
      notifyParent = {
        executionId: parent.executionId,
        event: {
          type: "ChildEnded",
          position: parent.position,
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

  private async yieldForTime(): Promise<DriveOutcome | undefined> {
    if (await this.recordCalls()) return undefined;
    await this.commitAndApply([], { execution: { status: "running", nextWakeAtMs: this.deps.clock(), releaseLease: true } });
    return { kind: "yielded" };
  }

  private async sleep(): Promise<DriveOutcome | undefined> {
    if (await this.recordCalls()) return undefined;
    const next = this.run.nextWakeAtMs();
    await this.commitAndApply([], { execution: { status: "sleeping", nextWakeAtMs: next ?? null, releaseLease: true } });
    return next === undefined ? { kind: "sleeping" } : { kind: "sleeping", nextWakeAtMs: next };
  }
}

/** Milliseconds on a clock that only moves forward, for pacing. */
function monotonicMs(): number {
  return performance.now();
}

/** The history event that records an inbox item; none for a cancel after the first. */
function inboxEvent(item: InboxItem, alreadyCanceling: boolean, run: WorkflowRun): EventBody | undefined {
  const e = item.event;
  if (e.type === "Signal") return { type: "SignalReceived", name: e.name, signalId: e.signalId, payload: e.payload, arrivedAtMs: item.arrivedAtMs };
  if (e.type === "Cancel") return alreadyCanceling ? undefined : { type: "CancelRequested", ...(e.reason === undefined ? {} : { reason: e.reason }) };
  if (e.type === "CallbackResult") {
    // For an earlier run, or a callback no longer open (canceled): nothing to record.
    if (e.run !== run.runNumber || !run.openCallback(e.position, e.callbackId)) return undefined;
    return e.ok
      ? { type: "CallbackCompleted", position: e.position, callbackId: e.callbackId, result: e.result, arrivedAtMs: item.arrivedAtMs }
      : { type: "CallbackFailed", position: e.position, callbackId: e.callbackId, error: boundErrorInfo(e.error ?? { name: "CallbackError", message: "the callback failed" }), arrivedAtMs: item.arrivedAtMs };
  }
  if (e.status === "completed") return { type: "ChildCompleted", position: e.position, childId: e.childId, output: e.output };
  return {
    type: "ChildFailed",
    position: e.position,
    childId: e.childId,
    status: e.status,
    error: boundErrorInfo(e.error ?? { name: "Error", message: `child ${e.status}` }),
  };
}

/** Unconsumed signals a continue-as-new carries into the next run, at most (their seqs ride in its first event). */
export const MAX_CARRIED_SIGNALS = 20_000;

/** Largest heartbeat details kept for the next attempt, as JSON. */
export const MAX_HEARTBEAT_BYTES = 64_000;

/** An attempt ran past its `timeout`. Retryable. */
export class StepTimeoutError extends DurableError {
  constructor(stepName: string, timeoutMs: number) {
    super("STEP_TIMEOUT", `step "${stepName}" timed out after ${timeoutMs} ms`, { details: { stepName, timeoutMs } });
  }
}

/**
 * An attempt was still running when the worker invocation had to end (Lambda's timeout). It is
 * recorded as a failed attempt and retried in a new invocation, per the step's retry policy; its
 * last heartbeat details go to the next attempt.
 */
export class StepInterruptedError extends DurableError {
  constructor(stepName: string, remainingMs: number) {
    super(
      "STEP_INTERRUPTED",
      `step "${stepName}" was still running when the worker invocation had to end (${Math.max(0, Math.round(remainingMs))} ms left); ` +
        "it is retried in a new invocation. Give it a `timeout` shorter than the worker timeout, split it, or raise the worker timeout.",
      { details: { stepName } },
    );
  }
}

/** What a running attempt's AbortSignal carries when the engine no longer needs its result. */
export class StepAbandonedError extends DurableError {
  constructor(stepName: string, reason: string) {
    super("STEP_ABANDONED", `step "${stepName}" is no longer needed: ${reason}`, { details: { stepName } });
  }
}

/**
 * JSON round trip, so the first run sees exactly what a replay will read back; a value too large
 * to record fails at once (retrying would not make it smaller).
 */
function jsonClone(value: unknown, what: string, limitBytes: number): unknown {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new NonRetryableError(new ValueNotSerializableError(what, cause).message, { code: "NOT_SERIALIZABLE", cause });
  }
  if (text === undefined) throw new NonRetryableError(`${what} must be JSON-serialisable`, { code: "NOT_SERIALIZABLE" });
  const bytes = jsonBytes(text);
  if (bytes > limitBytes) {
    throw new NonRetryableError(`${what} is ${bytes} bytes of JSON; the limit is ${limitBytes} bytes`, {
      code: "PAYLOAD_TOO_LARGE",
      details: { bytes, limitBytes },
    });
  }
  return JSON.parse(text);
}

function safeClone(value: unknown, what: string, limitBytes: number): { ok: true; value: unknown } | { ok: false; error: ErrorInfo } {
  try {
    return { ok: true, value: jsonClone(value, what, limitBytes) };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  }
}

/** Heartbeat details as recorded: JSON, within MAX_HEARTBEAT_BYTES; dropped otherwise. */
function cloneHeartbeat(details: unknown): unknown {
  if (details === undefined) return undefined;
  try {
    const text = JSON.stringify(details);
    if (text === undefined || jsonBytes(text) > MAX_HEARTBEAT_BYTES) return undefined;
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
