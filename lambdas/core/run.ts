/**
 * The replay runtime: runs a workflow function against its history.
 *
 * The workflow function runs for real; each durable call (step, sleep, signal wait, child) gets a
 * position in call order and a promise that only this runtime settles. History events are applied
 * one at a time, in sequence order, and after each one the workflow's pending microtasks are
 * drained, so the code sees outcomes in exactly the order they were recorded: a replay makes the
 * same calls in the same order as the first run did. Calls recorded in history are checked
 * against the code (kind and name at each position); a mismatch is a NonDeterminismError, never
 * silently re-run.
 *
 * No I/O here: the driver (driver.ts) decides what to run and commits through injected functions.
 */
import { type BatchOptions, type BatchResult, runBatch } from "./batch.js";
import { type ConditionCheck, waitForCondition, type WaitForConditionOptions } from "./condition.js";
import { type Callback, CallbackFailedError, type CallbackOptions, CallbackTimeoutError, encodeCallbackToken, newCallbackId } from "./callbacks.js";
import { type Duration, toMs } from "./duration.js";
import {
  CancelledError,
  DurableError,
  type ErrorInfo,
  InvalidNameError,
  MAX_CALL_NAME_CHARS,
  NonDeterminismError,
  NonRetryableError,
  StepFailedError,
  ValueNotSerializableError,
  WorkflowBlockedError,
} from "./errors.js";
import type { EventBody, ExecutionStarted, HistoryEvent, SignalReceived } from "./events.js";
import { jsonBytes, MAX_STATE_BYTES, MAX_VALUE_BYTES } from "./limits.js";
import { createPrng, hashSeed, uuidFrom } from "./prng.js";
import { idInTenantOf, MAX_LOCAL_ID_CHARS, TENANT_SEPARATOR } from "./tenants.js";
import { type ResolvedRetryPolicy, resolveRetryPolicy } from "./retry.js";
import type {
  AnyWorkflow,
  ChildOptions,
  SignalWaitOptions,
  StepInfo,
  StepOptions,
  WaitForCallbackOptions,
  WorkflowContext,
  WorkflowDefinition,
} from "./workflow.js";

/** Thrown into a child's parent when the child ended failed, canceled or terminated. */
export class ChildFailedError extends DurableError {
  constructor(
    readonly childId: string,
    readonly status: "failed" | "canceled" | "terminated",
    readonly failure: ErrorInfo,
  ) {
    super("CHILD_FAILED", `child execution "${childId}" ended ${status}: ${failure.message}`, {
      details: { childId, status, failure: { name: failure.name, message: failure.message, code: failure.code } },
    });
  }
}

/** Marker thrown by ctx.continueAsNew() so no workflow code runs after it. */
class ContinueAsNewMarker extends Error {
  constructor() {
    super("continue-as-new");
    this.name = "ContinueAsNew";
  }
}

interface Deferred {
  promise: Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: Error): void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve!: (value: unknown) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A workflow may legitimately never await a call it made (e.g. the loser of a race).
  promise.catch(() => undefined);
  const d: Deferred = {
    promise,
    settled: false,
    resolve: (v) => {
      if (d.settled) return;
      d.settled = true;
      resolve(v);
    },
    reject: (e) => {
      if (d.settled) return;
      d.settled = true;
      reject(e);
    },
  };
  return d;
}

interface CommandBase {
  position: number;
  name: string;
  cancellable: boolean;
  deferred: Deferred;
}

export interface StepCommand extends CommandBase {
  kind: "step";
  fn: (info: StepInfo) => unknown;
  retry: ResolvedRetryPolicy;
  timeoutMs: number | undefined;
  /** Attempts that failed so far (from StepAttemptFailed events). */
  failedAttempts: number;
  retryAtMs: number | undefined;
  /** Heartbeat details the last failed attempt reported, for the next one. */
  lastHeartbeat: unknown;
}

export interface TimerCommand extends CommandBase {
  kind: "timer";
  fireAtMs: number;
}

export interface SignalCommand extends CommandBase {
  kind: "signal";
  deadlineAtMs: number | undefined;
}

export interface ChildCommand extends CommandBase {
  kind: "child";
  childId: string;
  workflow: string;
  version: number;
  input: unknown;
}

export interface CallbackCommand extends CommandBase {
  kind: "callback";
  callbackId: string;
  deadlineAtMs: number | undefined;
  heartbeatTimeoutMs: number | undefined;
  /** When no heartbeat came by then, it times out; moved on by heartbeats the driver reads from the store. */
  heartbeatDeadlineAtMs: number | undefined;
}

/** A published state: settled as it is made. */
export interface StateCommand extends CommandBase {
  kind: "state";
}

export type Command = StepCommand | TimerCommand | SignalCommand | ChildCommand | CallbackCommand | StateCommand;

/** A child execution to create in the same commit as its ChildStarted record. */
export interface ChildStart {
  childId: string;
  workflow: string;
  version: number;
  input: unknown;
  parentPosition: number;
}

const RECORD_KIND: Partial<Record<EventBody["type"], Command["kind"]>> = {
  StepCompleted: "step",
  StepAttemptFailed: "step",
  StepFailed: "step",
  TimerStarted: "timer",
  SignalWaitStarted: "signal",
  ChildStarted: "child",
  CallbackStarted: "callback",
  StateSet: "state",
};

type Outcome =
  | { kind: "pending" }
  | { kind: "returned"; value: unknown }
  | { kind: "threw"; error: unknown };

export interface WorkflowRunOptions {
  executionId: string;
  definition: AnyWorkflow;
  /** The ExecutionStarted event of the current run. */
  started: HistoryEvent & ExecutionStarted;
  /** Wall clock for calls made past the end of history (new timers, deadlines). */
  clock: () => number;
  /** Retry policy for steps that name none. */
  defaultRetry?: ResolvedRetryPolicy;
  /**
   * The SignalReceived events named by `started.carried` (signals an earlier run did not consume),
   * oldest first. Required when `started.carried` is not empty.
   */
  carried?: readonly (HistoryEvent & SignalReceived)[];
  /** Largest value, as JSON, the store records (a child's input beyond it is refused). Default MAX_VALUE_BYTES. */
  maxValueBytes?: number;
}

/** A signal in the buffer: received, not yet taken by a wait. */
type BufferedSignal = HistoryEvent & SignalReceived;

/** The timer a delayed start (`startAt`) waits on, at position 0, before the workflow function runs. */
export const START_TIMER_NAME = "startAt";

export class WorkflowRun {
  readonly executionId: string;
  readonly definition: AnyWorkflow;
  readonly runNumber: number;
  readonly maxValueBytes: number;

  private readonly clock: () => number;
  private readonly defaultRetry: ResolvedRetryPolicy | undefined;
  private readonly history: HistoryEvent[] = [];
  private applied = 0;
  private readonly records = new Map<number, HistoryEvent>();
  /** Seqs a redrive took out of replay (ExecutionRedriven `dropped`): kept in history, never applied. */
  private readonly dropped = new Set<number>();
  private readonly commands = new Map<number, Command>();
  private nextPosition = 0;
  private readonly signalBuffer = new Map<string, BufferedSignal[]>();
  private readonly waiting = new Map<string, SignalCommand[]>();
  private readonly unrecorded: EventBody[] = [];
  private readonly pendingChildStarts: ChildStart[] = [];
  private readonly pendingChildCancels: string[] = [];
  private cancelReason: string | undefined;
  private canceled = false;
  private timeMs: number;
  private readonly random: () => number;
  private outcome: Outcome = { kind: "pending" };
  private fatalError: DurableError | undefined;
  private continueInput: { input: unknown } | undefined;
  private started = false;
  /**
   * True while this runtime lets the workflow run (starting it, or applying an event and draining):
   * a durable call or a return outside these windows came from something this runtime does not
   * control (a bare timer, a fetch), which a replay would not reproduce.
   */
  private runtimeActive = false;

  constructor(options: WorkflowRunOptions) {
    this.executionId = options.executionId;
    this.definition = options.definition;
    this.runNumber = options.started.run;
    this.maxValueBytes = options.maxValueBytes ?? MAX_VALUE_BYTES;
    this.clock = options.clock;
    this.defaultRetry = options.defaultRetry;
    this.timeMs = options.started.atMs;
    this.random = createPrng(hashSeed(`${options.executionId}#${options.started.run}`));
    this.history.push(options.started);
    this.applied = 1;
    const carried = options.started.carried ?? [];
    if (carried.length > 0) {
      const bySeq = new Map((options.carried ?? []).map((e) => [e.seq, e]));
      for (const seq of carried) {
        const event = bySeq.get(seq);
        if (!event) throw new RangeError(`run ${options.started.run} carries the signal at seq ${seq}, which was not given`);
        this.buffer(event);
      }
    }
  }

  /** Sequence number of the last event this run knows. */
  get lastSeq(): number {
    return this.history[this.history.length - 1]?.seq ?? 0;
  }

  /** The ExecutionStarted event of this run. */
  get startedEvent(): HistoryEvent & ExecutionStarted {
    return this.history[0] as HistoryEvent & ExecutionStarted;
  }

  /** The parent execution, for a child. */
  get parent(): { executionId: string; position: number } | undefined {
    return (this.history[0] as HistoryEvent & ExecutionStarted).parent;
  }

  /** The non-determinism (or similar) error that makes this run unusable, if any. */
  get fatal(): DurableError | undefined {
    return this.fatalError;
  }

  get cancelRequested(): boolean {
    return this.canceled;
  }

  get cancellationReason(): string | undefined {
    return this.cancelReason;
  }

  /** How the workflow function ended, once it has. */
  get result(): Outcome {
    return this.outcome;
  }

  /** Set when the workflow called ctx.continueAsNew(). */
  get continueAsNew(): { input: unknown } | undefined {
    return this.continueInput;
  }

  /** Signals received (in this run or carried into it) that no wait has taken, oldest first. */
  unconsumedSignals(): (HistoryEvent & SignalReceived)[] {
    return [...this.signalBuffer.values()].flat().sort((a, b) => a.seq - b.seq);
  }

  /** The call made at position `position`, if any. */
  command(position: number): Command | undefined {
    return this.commands.get(position);
  }

  /** Starts the workflow function (once) and replays every event given so far. */
  async replay(events: readonly HistoryEvent[] = []): Promise<void> {
    for (const event of events) if (event.type === "ExecutionRedriven") for (const seq of event.dropped) this.dropped.add(seq);
    for (const event of events) this.addEvent(event);
    if (!this.started) {
      this.started = true;
      const ctx = this.createContext(true);
      const started = this.history[0] as HistoryEvent & ExecutionStarted;
      this.runtimeActive = true;
      // A delayed start waits on a timer of its own before the function runs (see ExecutionStarted).
      const startAtMs = started.startAtMs;
      const begin = startAtMs !== undefined && startAtMs > started.atMs ? this.timer(START_TIMER_NAME, true, () => startAtMs) : Promise.resolve();
      begin
        .then(() => this.definition.fn(ctx, started.input as never))
        .then(
          (value) => this.settle({ kind: "returned", value }),
          (error: unknown) => this.settle({ kind: "threw", error }),
        );
      await drain();
      this.runtimeActive = false;
    }
    while (this.applied < this.history.length && !this.fatalError) {
      const event = this.history[this.applied] as HistoryEvent;
      this.applied += 1;
      if (this.dropped.has(event.seq)) continue;
      this.runtimeActive = true;
      this.apply(event);
      await drain();
      this.runtimeActive = false;
    }
  }

  private settle(outcome: Outcome): void {
    if (this.outcome.kind !== "pending") return;
    if (!this.runtimeActive && !(outcome.kind === "threw" && isContinueAsNewMarker(outcome.error))) {
      this.fail(new WorkflowBlockedError("the workflow function returned"));
      return;
    }
    this.outcome = outcome;
  }

  /** A durable call made while this runtime was not running the workflow: see `runtimeActive`. */
  private checkCalledByRuntime(kind: string, name: string): void {
    if (!this.runtimeActive) this.fail(new WorkflowBlockedError(`it called ${kind} "${name}"`));
  }

  /** Adds events just committed by the driver and lets the workflow run on them. */
  async applyCommitted(events: readonly HistoryEvent[]): Promise<void> {
    await this.replay(events);
  }

  /** Records of calls made past the end of history, to commit with the next batch. */
  takeUnrecorded(): { events: EventBody[]; childStarts: ChildStart[]; childCancels: string[] } {
    return {
      events: this.unrecorded.splice(0),
      childStarts: this.pendingChildStarts.splice(0),
      childCancels: this.pendingChildCancels.splice(0),
    };
  }

  /** Records of calls waiting for the next commit. */
  unrecordedCount(): number {
    return this.unrecorded.length;
  }

  hasUnrecorded(): boolean {
    return this.unrecorded.length > 0 || this.pendingChildCancels.length > 0;
  }

  /** Calls made and not yet settled, in position order. */
  openCommands(): Command[] {
    return [...this.commands.values()].filter((c) => !c.deferred.settled).sort((a, b) => a.position - b.position);
  }

  /** Steps that may run an attempt now. */
  runnableSteps(nowMs: number): StepCommand[] {
    return this.openCommands().filter(
      (c): c is StepCommand => c.kind === "step" && (c.retryAtMs === undefined || c.retryAtMs <= nowMs),
    );
  }

  /** Events that are due by `nowMs` without running anything: timers fired, waits timed out. */
  dueEvents(nowMs: number): EventBody[] {
    const due: EventBody[] = [];
    for (const c of this.openCommands()) {
      if (c.kind === "timer" && c.fireAtMs <= nowMs) due.push({ type: "TimerFired", position: c.position });
      if (c.kind === "signal" && c.deadlineAtMs !== undefined && c.deadlineAtMs <= nowMs) {
        due.push({ type: "SignalWaitTimedOut", position: c.position });
      }
      if (c.kind === "callback") {
        if (c.deadlineAtMs !== undefined && c.deadlineAtMs <= nowMs) due.push({ type: "CallbackTimedOut", position: c.position, callbackId: c.callbackId, reason: "timeout" });
        else if (c.heartbeatDeadlineAtMs !== undefined && c.heartbeatDeadlineAtMs <= nowMs) {
          due.push({ type: "CallbackTimedOut", position: c.position, callbackId: c.callbackId, reason: "heartbeat" });
        }
      }
    }
    return due;
  }

  /** Earliest time a timer fires or a wait's deadline passes; undefined if none is open. */
  nextEventDueAtMs(): number | undefined {
    let next: number | undefined;
    for (const c of this.openCommands()) {
      const at = c.kind === "timer" ? c.fireAtMs : c.kind === "signal" ? c.deadlineAtMs : c.kind === "callback" ? callbackDueAtMs(c) : undefined;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Timers due by `nowMs`, with the time each fell due. */
  dueTimers(nowMs: number): { atMs: number; event: EventBody & { type: "TimerFired" } }[] {
    return this.openCommands()
      .filter((c): c is TimerCommand => c.kind === "timer" && c.fireAtMs <= nowMs)
      .map((c) => ({ atMs: c.fireAtMs, event: { type: "TimerFired", position: c.position } }));
  }

  /**
   * Earliest time something becomes due (timer, retry, wait deadline); undefined if none. Steps
   * at the positions in `running` are left out (an attempt in flight is not due).
   */
  nextWakeAtMs(running: ReadonlySet<number> = new Set()): number | undefined {
    let next: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    for (const c of this.openCommands()) {
      if (running.has(c.position)) continue;
      if (c.kind === "timer") consider(c.fireAtMs);
      else if (c.kind === "signal") consider(c.deadlineAtMs);
      else if (c.kind === "callback") consider(callbackDueAtMs(c));
      else if (c.kind === "step") consider(c.retryAtMs ?? this.timeMs);
    }
    return next;
  }

  /** The open callback with this id at `position`, if any (a completion for anything else is dropped). */
  openCallback(position: number, callbackId: string): CallbackCommand | undefined {
    const c = this.commands.get(position);
    return c?.kind === "callback" && c.callbackId === callbackId && !c.deferred.settled ? c : undefined;
  }

  /** A heartbeat the store holds moved the callback's heartbeat deadline on (never back). */
  noteHeartbeatDeadline(position: number, heartbeatDeadlineAtMs: number): void {
    const c = this.commands.get(position);
    if (c?.kind === "callback" && c.heartbeatDeadlineAtMs !== undefined && heartbeatDeadlineAtMs > c.heartbeatDeadlineAtMs) c.heartbeatDeadlineAtMs = heartbeatDeadlineAtMs;
  }

  /** Whether calls made but not recorded yet include a callback (its token may be handed out next). */
  hasUnrecordedCallback(): boolean {
    return this.unrecorded.some((e) => e.type === "CallbackStarted");
  }

  /** The idempotency key a step at `position` gets: stable across attempts and replays. */
  idempotencyKey(position: number): string {
    return `${this.executionId}:${this.runNumber}:${position}`;
  }

  /** True when the workflow cannot go on: nothing open, function not settled. */
  isStuck(): boolean {
    return this.outcome.kind === "pending" && !this.continueInput && this.openCommands().length === 0 && !this.fatalError;
  }

  stuckError(): WorkflowBlockedError {
    return new WorkflowBlockedError();
  }

  // ---- history ------------------------------------------------------------------------------

  private addEvent(event: HistoryEvent): void {
    const last = this.lastSeq;
    if (event.seq <= last) return; // already known (e.g. re-read after a conflict)
    if (event.seq !== last + 1) {
      throw new RangeError(`history gap: expected seq ${last + 1}, got ${event.seq}`);
    }
    this.history.push(event);
    if (this.dropped.has(event.seq)) return;
    const kind = RECORD_KIND[event.type];
    if (kind && "position" in event && !this.records.has(event.position)) this.records.set(event.position, event);
  }

  private apply(event: HistoryEvent): void {
    this.timeMs = event.atMs;
    switch (event.type) {
      case "StepCompleted": {
        const c = this.commandFor(event.position, "step", event.name);
        if (c) c.deferred.resolve(event.result);
        return;
      }
      case "StepAttemptFailed": {
        const c = this.commandFor(event.position, "step", event.name) as StepCommand | undefined;
        if (c) {
          c.failedAttempts = event.attempt;
          c.retryAtMs = event.retryAtMs;
          c.lastHeartbeat = event.heartbeat;
        }
        return;
      }
      case "StepFailed": {
        const c = this.commandFor(event.position, "step", event.name);
        if (c) c.deferred.reject(new StepFailedError(event.name, event.attempt, event.error));
        return;
      }
      case "TimerFired": {
        const c = this.commandFor(event.position, "timer");
        if (c) c.deferred.resolve(undefined);
        return;
      }
      case "SignalReceived": {
        this.buffer(event);
        this.deliverSignals(event.name);
        return;
      }
      case "SignalWaitTimedOut": {
        const c = this.commandFor(event.position, "signal");
        if (c) {
          this.removeWaiter(c as SignalCommand);
          c.deferred.resolve(undefined);
          // A signal this wait could not take (it came after the deadline) may suit a later one.
          this.deliverSignals(c.name);
        }
        return;
      }
      case "ChildCompleted": {
        const c = this.commandFor(event.position, "child");
        if (c) c.deferred.resolve(event.output);
        return;
      }
      case "ChildFailed": {
        const c = this.commandFor(event.position, "child");
        if (c) c.deferred.reject(new ChildFailedError(event.childId, event.status, event.error));
        return;
      }
      case "CallbackCompleted": {
        const c = this.commandFor(event.position, "callback");
        if (c) c.deferred.resolve(event.result);
        return;
      }
      case "CallbackFailed": {
        const c = this.commandFor(event.position, "callback");
        if (c) c.deferred.reject(new CallbackFailedError(c.name, event.error));
        return;
      }
      case "CallbackTimedOut": {
        const c = this.commandFor(event.position, "callback");
        if (c) c.deferred.reject(new CallbackTimeoutError(c.name, event.reason));
        return;
      }
      case "CancelRequested": {
        if (this.canceled) return;
        this.canceled = true;
        this.cancelReason = event.reason;
        for (const c of this.openCommands()) {
          if (!c.cancellable) continue;
          if (c.kind === "signal") this.removeWaiter(c);
          if (c.kind === "child") this.pendingChildCancels.push(c.childId);
          c.deferred.reject(new CancelledError(event.reason));
        }
        return;
      }
      default:
        // Records (TimerStarted, SignalWaitStarted, ChildStarted) are checked when the call is
        // made; run-level events need nothing here.
        return;
    }
  }

  /** The open call at `position`, checked against the event; undefined (and fatal set) if it differs. */
  private commandFor(position: number, kind: Command["kind"], name?: string): Command | undefined {
    const c = this.commands.get(position);
    if (!c) {
      this.fail(new NonDeterminismError(position, describe(kind, name), "nothing (the workflow made no such call at this point)"));
      return undefined;
    }
    if (c.kind !== kind || (name !== undefined && c.name !== name)) {
      this.fail(new NonDeterminismError(position, describe(kind, name), describe(c.kind, c.name)));
      return undefined;
    }
    return c;
  }

  private fail(error: DurableError): void {
    if (this.fatalError) return;
    this.fatalError = error;
    // Unblock nothing: the driver fails the execution; the workflow must not act on this.
  }

  private buffer(event: BufferedSignal): void {
    const queue = this.signalBuffer.get(event.name) ?? [];
    queue.push(event);
    this.signalBuffer.set(event.name, queue);
  }

  /**
   * Hands buffered signals to waits, oldest signal first, each to the earliest wait that may take
   * it: a wait with a deadline takes only signals that arrived by then (the rest stay buffered).
   * Decided from recorded data only, so a replay hands out the same signals.
   */
  private deliverSignals(name: string): void {
    const queue = this.signalBuffer.get(name);
    const waiters = this.waiting.get(name);
    if (!queue || !waiters) return;
    for (let i = 0; i < queue.length && waiters.length > 0; ) {
      const signal = queue[i] as BufferedSignal;
      const index = waiters.findIndex((w) => w.deadlineAtMs === undefined || signal.arrivedAtMs === undefined || signal.arrivedAtMs <= w.deadlineAtMs);
      if (index < 0) {
        i += 1;
        continue;
      }
      const [waiter] = waiters.splice(index, 1) as [SignalCommand];
      queue.splice(i, 1);
      waiter.deferred.resolve(signal.payload);
    }
  }

  private removeWaiter(c: SignalCommand): void {
    const waiters = this.waiting.get(c.name);
    if (!waiters) return;
    const index = waiters.indexOf(c);
    if (index >= 0) waiters.splice(index, 1);
  }

  // ---- the context the workflow sees -------------------------------------------------------

  /** Registers a call at the next position; checks it against history's record, if any. */
  private issue<C extends Command>(make: (position: number, record: HistoryEvent | undefined) => C): C {
    const position = this.nextPosition;
    this.nextPosition += 1;
    const record = this.records.get(position);
    const c = make(position, record);
    if (record) {
      const kind = RECORD_KIND[record.type];
      const recordedName = "name" in record ? record.name : undefined;
      if (kind !== c.kind || (recordedName !== undefined && recordedName !== c.name)) {
        this.fail(new NonDeterminismError(position, describe(kind ?? record.type, recordedName), describe(c.kind, c.name)));
      }
    }
    this.commands.set(position, c);
    return c;
  }

  private createContext(cancellable: boolean): WorkflowContext {
    const run = this;
    const started = this.history[0] as HistoryEvent & ExecutionStarted;
    const ctx: WorkflowContext = {
      executionId: run.executionId,
      workflow: started.workflow,
      version: started.version,
      run: started.run,

      step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, options: StepOptions = {}): Promise<T> {
        checkName("step", name);
        run.checkCalledByRuntime("step", name);
        const retry = options.retry === undefined && run.defaultRetry ? run.defaultRetry : resolveRetryPolicy(options.retry);
        const timeoutMs = options.timeout === undefined ? undefined : toMs(options.timeout);
        const c = run.issue<StepCommand>((position) => ({
          kind: "step",
          position,
          name,
          cancellable,
          deferred: deferred(),
          fn,
          retry,
          timeoutMs,
          failedAttempts: 0,
          retryAtMs: undefined,
          lastHeartbeat: undefined,
        }));
        return run.settleIfCanceled(c) as Promise<T>;
      },

      sleep(name: string, duration: Duration): Promise<void> {
        checkName("sleep", name);
        run.checkCalledByRuntime("sleep", name);
        const ms = toMs(duration);
        return run.timer(name, cancellable, () => run.clock() + ms);
      },

      sleepUntil(name: string, until: Date | number): Promise<void> {
        checkName("sleep", name);
        run.checkCalledByRuntime("sleepUntil", name);
        const at = typeof until === "number" ? until : until.getTime();
        if (!Number.isFinite(at)) throw new RangeError(`sleepUntil("${name}"): not a valid time`);
        return run.timer(name, cancellable, () => at);
      },

      waitForSignal<T>(name: string, options: SignalWaitOptions = {}): Promise<T> {
        checkName("signal", name);
        run.checkCalledByRuntime("waitForSignal", name);
        const timeoutMs = options.timeout === undefined ? undefined : toMs(options.timeout);
        const c = run.issue<SignalCommand>((position, record) => ({
          kind: "signal",
          position,
          name,
          cancellable,
          deferred: deferred(),
          deadlineAtMs:
            record?.type === "SignalWaitStarted" ? record.deadlineAtMs : timeoutMs === undefined ? undefined : run.clock() + timeoutMs,
        }));
        if (!run.rejectIfCanceled(c)) {
          if (!run.records.has(c.position)) {
            run.unrecorded.push({
              type: "SignalWaitStarted",
              position: c.position,
              name,
              ...(c.deadlineAtMs === undefined ? {} : { deadlineAtMs: c.deadlineAtMs }),
            });
          }
          const waiters = run.waiting.get(name) ?? [];
          waiters.push(c);
          run.waiting.set(name, waiters);
          run.deliverSignals(name);
        }
        return c.deferred.promise as Promise<T>;
      },

      child<I, O>(workflow: WorkflowDefinition<I, O>, input: I, options: ChildOptions = {}): Promise<O> {
        run.checkCalledByRuntime("child", workflow.name);
        const c = run.issue<ChildCommand>((position, record) => ({
          kind: "child",
          position,
          name: workflow.name,
          cancellable,
          deferred: deferred(),
          childId: record?.type === "ChildStarted" ? record.childId : (options.id === undefined ? defaultChildId(run.executionId, run.runNumber, position) : idInTenantOf(run.executionId, options.id)),
          workflow: workflow.name,
          version: workflow.version,
          input,
        }));
        // Checked when the call is made, from the input alone: a replay decides the same way.
        const refused = run.records.has(c.position) ? undefined : (childIdRefused(options.id) ?? valueTooLarge(input, `the input of child workflow "${workflow.name}"`, run.maxValueBytes));
        if (refused) {
          c.deferred.reject(refused);
          return c.deferred.promise as Promise<O>;
        }
        if (!run.records.has(c.position) && !(run.canceled && cancellable)) {
          run.unrecorded.push({ type: "ChildStarted", position: c.position, name: c.name, childId: c.childId, workflow: c.workflow, version: c.version });
          run.pendingChildStarts.push({ childId: c.childId, workflow: c.workflow, version: c.version, input, parentPosition: c.position });
        }
        return run.settleIfCanceled(c) as Promise<O>;
      },

      setState(value: unknown): void {
        run.checkCalledByRuntime("setState", "state");
        const json = JSON.stringify(value);
        if (json === undefined) throw new ValueNotSerializableError("the published state", undefined);
        const bytes = jsonBytes(json);
        if (bytes > MAX_STATE_BYTES) throw new DurableError("STATE_TOO_LARGE", `the published state is ${bytes} bytes as JSON; the limit is ${MAX_STATE_BYTES}`, { details: { bytes, limitBytes: MAX_STATE_BYTES } });
        const c = run.issue<StateCommand>((position) => ({ kind: "state", position, name: "state", cancellable: false, deferred: deferred() }));
        c.deferred.resolve(undefined);
        if (!run.records.has(c.position)) run.unrecorded.push({ type: "StateSet", position: c.position, value: JSON.parse(json) as unknown });
      },

      createCallback<T>(name: string, options: CallbackOptions = {}): Callback<T> {
        checkName("callback", name);
        run.checkCalledByRuntime("createCallback", name);
        const timeoutMs = options.timeout === undefined ? undefined : toMs(options.timeout);
        const heartbeatMs = options.heartbeatTimeout === undefined ? undefined : toMs(options.heartbeatTimeout);
        const c = run.issue<CallbackCommand>((position, record) => {
          const recorded = record?.type === "CallbackStarted" ? record : undefined;
          const startedAtMs = recorded ? recorded.atMs : run.clock();
          const heartbeatTimeoutMs = recorded ? recorded.heartbeatTimeoutMs : heartbeatMs;
          return {
            kind: "callback",
            position,
            name,
            cancellable,
            deferred: deferred(),
            callbackId: recorded ? recorded.callbackId : newCallbackId(),
            deadlineAtMs: recorded ? recorded.deadlineAtMs : timeoutMs === undefined ? undefined : startedAtMs + timeoutMs,
            heartbeatTimeoutMs,
            heartbeatDeadlineAtMs: heartbeatTimeoutMs === undefined ? undefined : startedAtMs + heartbeatTimeoutMs,
          };
        });
        if (!run.records.has(c.position) && !(run.canceled && cancellable)) {
          run.unrecorded.push({
            type: "CallbackStarted",
            position: c.position,
            name,
            callbackId: c.callbackId,
            run: run.runNumber,
            ...(c.deadlineAtMs === undefined ? {} : { deadlineAtMs: c.deadlineAtMs }),
            ...(c.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: c.heartbeatTimeoutMs }),
          });
        }
        const result = run.settleIfCanceled(c) as Promise<T>;
        // A workflow that ends without awaiting the result (or is canceled first) must not leave
        // an unhandled rejection behind.
        result.catch(() => undefined);
        return { token: encodeCallbackToken({ executionId: run.executionId, run: run.runNumber, position: c.position, callbackId: c.callbackId }), result };
      },

      async waitForCallback<T>(name: string, submit: (token: string, info: StepInfo) => Promise<unknown> | unknown, options: WaitForCallbackOptions = {}): Promise<T> {
        const callback = ctx.createCallback<T>(name, options);
        await ctx.step(name, (info) => submit(callback.token, info), options.submit ?? {});
        return callback.result;
      },

      waitForCondition<S>(
        name: string,
        check: (state: S, info: { poll: number; signal: AbortSignal }) => Promise<ConditionCheck<S>> | ConditionCheck<S>,
        options: WaitForConditionOptions<S>,
      ): Promise<S> {
        checkName("condition", name);
        run.checkCalledByRuntime("waitForCondition", name);
        return waitForCondition(ctx, name, check, options);
      },

      map<I, O>(name: string, items: readonly I[], fn: (scoped: WorkflowContext, item: I, index: number) => Promise<O>, options?: BatchOptions): Promise<BatchResult<O>> {
        checkName("map", name);
        run.checkCalledByRuntime("map", name);
        return runBatch(ctx, name, items, fn, options);
      },

      parallel<O>(name: string, branches: readonly ((scoped: WorkflowContext) => Promise<O>)[], options?: BatchOptions): Promise<BatchResult<O>> {
        checkName("parallel", name);
        run.checkCalledByRuntime("parallel", name);
        return runBatch(ctx, name, branches, (scoped, branch) => branch(scoped), options);
      },

      nonCancellable<T>(fn: (scoped: WorkflowContext) => Promise<T>): Promise<T> {
        return fn(run.createContext(false));
      },

      continueAsNew(input: unknown): Promise<never> {
        run.checkCalledByRuntime("continueAsNew", "");
        run.continueInput = { input };
        return Promise.reject(new ContinueAsNewMarker());
      },

      now: () => run.timeMs,
      random: () => run.random(),
      uuid: () => uuidFrom(run.random),
    };
    return ctx;
  }

  private timer(name: string, cancellable: boolean, fireAt: () => number): Promise<void> {
    const c = this.issue<TimerCommand>((position, record) => ({
      kind: "timer",
      position,
      name,
      cancellable,
      deferred: deferred(),
      fireAtMs: record?.type === "TimerStarted" ? record.fireAtMs : fireAt(),
    }));
    if (!this.records.has(c.position) && !(this.canceled && cancellable)) {
      this.unrecorded.push({ type: "TimerStarted", position: c.position, name, fireAtMs: c.fireAtMs });
    }
    return this.settleIfCanceled(c) as Promise<void>;
  }

  /** A cancellable call made after cancellation fails at once with CancelledError. */
  private rejectIfCanceled(c: Command): boolean {
    if (this.canceled && c.cancellable) {
      c.deferred.reject(new CancelledError(this.cancelReason));
      return true;
    }
    return false;
  }

  private settleIfCanceled(c: Command): Promise<unknown> {
    this.rejectIfCanceled(c);
    return c.deferred.promise;
  }
}

/** Lets every promise continuation the workflow has queued run, until it waits on a durable call. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function checkName(kind: string, name: unknown): void {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_CALL_NAME_CHARS) throw new InvalidNameError(kind, name);
}

/**
 * A child's id when the workflow gives none: `<parent>~<run>.<position>`. `~` is refused in ids a
 * caller gives the API, so nobody can start an execution under an id a parent will use.
 * Bounded in length however deep children nest.
 */
export function defaultChildId(parentId: string, run: number, position: number): string {
  const suffix = `~${run}.${position}`;
  if (parentId.length + suffix.length <= MAX_DEFAULT_CHILD_ID_CHARS) return `${parentId}${suffix}`;
  const keep = parentId.slice(0, MAX_DEFAULT_CHILD_ID_CHARS - suffix.length - 10);
  return `${keep}~${hashSeed(parentId).toString(16).padStart(8, "0")}${suffix}`;
}

/** A child's own id may not hold `/`: it separates a tenant from the id (tenants.ts). */
function childIdRefused(id: string | undefined): DurableError | undefined {
  if (id === undefined) return undefined;
  if (id.includes(TENANT_SEPARATOR)) return new DurableError("INVALID_CHILD_ID", `a child's id may not hold "${TENANT_SEPARATOR}", got "${id.slice(0, 100)}"`);
  if (id.length === 0 || id.length > MAX_LOCAL_ID_CHARS) return new DurableError("INVALID_CHILD_ID", `a child's id must be 1–${MAX_LOCAL_ID_CHARS} characters, got ${id.length}`);
  return undefined;
}

/** Execution ids the engine makes for children stay within what the API accepts in a path. */
export const MAX_DEFAULT_CHILD_ID_CHARS = 200;

/** A JSON value over `limitBytes`, as the error a call rejects with; undefined if it fits. */
function valueTooLarge(value: unknown, what: string, limitBytes: number): NonRetryableError | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return new NonRetryableError(`${what} must be JSON-serialisable`, { code: "NOT_SERIALIZABLE" });
  }
  const bytes = text === undefined ? 0 : jsonBytes(text);
  if (bytes <= limitBytes) return undefined;
  return new NonRetryableError(`${what} is ${bytes} bytes of JSON; the limit is ${limitBytes} bytes`, {
    code: "PAYLOAD_TOO_LARGE",
    details: { bytes, limitBytes },
  });
}

function describe(kind: string, name: string | undefined): string {
  return name === undefined ? kind : `${kind} "${name}"`;
}

export function isContinueAsNewMarker(error: unknown): boolean {
  return error instanceof ContinueAsNewMarker;
}

/** When a callback falls due: its deadline, or its heartbeat deadline if that comes first. */
function callbackDueAtMs(c: CallbackCommand): number | undefined {
  if (c.deadlineAtMs === undefined) return c.heartbeatDeadlineAtMs;
  if (c.heartbeatDeadlineAtMs === undefined) return c.deadlineAtMs;
  return Math.min(c.deadlineAtMs, c.heartbeatDeadlineAtMs);
}
