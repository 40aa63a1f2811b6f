import type { ErrorInfo } from "./errors.js";

/**
 * History events. History is append-only; every event has a sequence number (1, 2, ...) that is
 * unique within an execution (the store writes it with attribute_not_exists, so two writers can
 * never both append seq N) and the time it was recorded.
 *
 * Durable calls made by the workflow code are numbered in call order ("position", `position`). An event
 * about a call names its position, kind and name: replay checks them against the code.
 */
export type HistoryEvent = EventBody & { seq: number; atMs: number };

export type EventBody =
  | ExecutionStarted
  | StepCompleted
  | StepAttemptFailed
  | StepFailed
  | TimerStarted
  | TimerFired
  | SignalWaitStarted
  | SignalReceived
  | SignalWaitTimedOut
  | ChildStarted
  | ChildCompleted
  | ChildFailed
  | CallbackStarted
  | CallbackCompleted
  | CallbackFailed
  | CallbackTimedOut
  | StateSet
  | CancelRequested
  | ExecutionCompleted
  | ExecutionFailed
  | ExecutionCanceled
  | ExecutionTerminated
  | ExecutionRedriven
  | ContinuedAsNew;

export type EventType = EventBody["type"];

/** First event of a run. A continue-as-new starts a new run with a new ExecutionStarted. */
export interface ExecutionStarted {
  type: "ExecutionStarted";
  workflow: string;
  version: number;
  input: unknown;
  run: number;
  parent?: { executionId: string; position: number };
  /**
   * Signals an earlier run received and did not consume, carried into this run: the seqs of their
   * SignalReceived events (in an earlier run's part of history), oldest first.
   */
  carried?: number[];
  /**
   * A delayed start (run 1 only): the workflow function begins at this time. Until then the run
   * waits on a timer named START_TIMER_NAME at position 0, which a cancel ends like any sleep.
   */
  startAtMs?: number;
}

export interface StepCompleted {
  type: "StepCompleted";
  position: number;
  name: string;
  attempt: number;
  result?: unknown;
}

/** One attempt failed and another is due at `retryAtMs`. */
export interface StepAttemptFailed {
  type: "StepAttemptFailed";
  position: number;
  name: string;
  attempt: number;
  error: ErrorInfo;
  retryAtMs: number;
  /** The last details the attempt reported with `heartbeat()`; the next attempt gets them. */
  heartbeat?: unknown;
}

/** The step failed for good: the workflow sees a StepFailedError. */
export interface StepFailed {
  type: "StepFailed";
  position: number;
  name: string;
  attempt: number;
  error: ErrorInfo;
}

export interface TimerStarted {
  type: "TimerStarted";
  position: number;
  name: string;
  fireAtMs: number;
}

export interface TimerFired {
  type: "TimerFired";
  position: number;
}

export interface SignalWaitStarted {
  type: "SignalWaitStarted";
  position: number;
  name: string;
  deadlineAtMs?: number;
}

/**
 * A signal moved from the pending inbox into history. Signals are buffered: each wait for a name
 * takes the oldest unconsumed signal of that name, in history order.
 */
export interface SignalReceived {
  type: "SignalReceived";
  name: string;
  signalId: string;
  payload: unknown;
  /**
   * When the API accepted it (the API's clock). A wait whose deadline passed before this does not
   * take it: it stays buffered for a later wait. Absent on events written before it was recorded.
   */
  arrivedAtMs?: number;
}

export interface SignalWaitTimedOut {
  type: "SignalWaitTimedOut";
  position: number;
}

export interface ChildStarted {
  type: "ChildStarted";
  position: number;
  name: string;
  childId: string;
  workflow: string;
  version: number;
}

export interface ChildCompleted {
  type: "ChildCompleted";
  position: number;
  childId: string;
  output?: unknown;
}

export interface ChildFailed {
  type: "ChildFailed";
  position: number;
  childId: string;
  status: "failed" | "canceled" | "terminated";
  error: ErrorInfo;
}

/**
 * A callback was created: `callbackId` (random, unguessable) is what its token carries, and the
 * store keeps a callback item under it that the API checks completions against.
 */
export interface CallbackStarted {
  type: "CallbackStarted";
  position: number;
  name: string;
  callbackId: string;
  /** The run that made the call (a token names it). */
  run: number;
  /** The callback times out at this time (reason "timeout"). */
  deadlineAtMs?: number;
  /** It also times out when no heartbeat came for this long (reason "heartbeat"). */
  heartbeatTimeoutMs?: number;
}

export interface CallbackCompleted {
  type: "CallbackCompleted";
  position: number;
  callbackId: string;
  result?: unknown;
  /** When the API accepted the completion (its clock). */
  arrivedAtMs?: number;
}

export interface CallbackFailed {
  type: "CallbackFailed";
  position: number;
  callbackId: string;
  error: ErrorInfo;
  arrivedAtMs?: number;
}

export interface CallbackTimedOut {
  type: "CallbackTimedOut";
  position: number;
  callbackId: string;
  reason: "timeout" | "heartbeat";
}

/** Events that create or end a callback: the store keeps its callback item in step with them. */
export type CallbackEvent = CallbackStarted | CallbackCompleted | CallbackFailed | CallbackTimedOut;

export function isCallbackEvent(event: EventBody): event is CallbackEvent {
  return event.type === "CallbackStarted" || event.type === "CallbackCompleted" || event.type === "CallbackFailed" || event.type === "CallbackTimedOut";
}

/** The workflow published its state (`ctx.setState`): the execution item shows the latest. */
export interface StateSet {
  type: "StateSet";
  position: number;
  value: unknown;
}

export interface CancelRequested {
  type: "CancelRequested";
  reason?: string;
}

export interface ExecutionCompleted {
  type: "ExecutionCompleted";
  output?: unknown;
}

export interface ExecutionFailed {
  type: "ExecutionFailed";
  error: ErrorInfo;
}

export interface ExecutionCanceled {
  type: "ExecutionCanceled";
  reason?: string;
}

/** An operator ended the execution at once (`POST /executions/{id}/terminate`): no cleanup ran. */
export interface ExecutionTerminated {
  type: "ExecutionTerminated";
  reason?: string;
  /** Who asked (the caller's identity as the API saw it). */
  by?: string;
}

/**
 * An operator resumed a failed execution (`POST /executions/{id}/redrive`). Replay leaves out the
 * events in `dropped` (the ExecutionFailed, and the attempts of the step whose failure ended it,
 * so that step runs again with fresh attempts); everything else recorded before stays.
 */
export interface ExecutionRedriven {
  type: "ExecutionRedriven";
  dropped: number[];
  /** How many times this execution has been redriven, this one included. */
  redrive: number;
  reason?: string;
  by?: string;
}

/** The run ended and a new one starts (same execution id) with `input`. */
export interface ContinuedAsNew {
  type: "ContinuedAsNew";
  input: unknown;
  nextRun: number;
}

/** Events that resolve or reject a durable call. */
export function completesCommand(
  event: EventBody,
): event is StepCompleted | StepFailed | TimerFired | SignalWaitTimedOut | ChildCompleted | ChildFailed | CallbackCompleted | CallbackFailed | CallbackTimedOut {
  switch (event.type) {
    case "StepCompleted":
    case "StepFailed":
    case "TimerFired":
    case "SignalWaitTimedOut":
    case "ChildCompleted":
    case "ChildFailed":
    case "CallbackCompleted":
    case "CallbackFailed":
    case "CallbackTimedOut":
      return true;
    default:
      return false;
  }
}

/** Events that end a run. */
export function isTerminalEvent(event: EventBody): event is ExecutionCompleted | ExecutionFailed | ExecutionCanceled | ExecutionTerminated | ContinuedAsNew {
  return (
    event.type === "ExecutionCompleted" ||
    event.type === "ExecutionFailed" ||
    event.type === "ExecutionCanceled" ||
    event.type === "ExecutionTerminated" ||
    event.type === "ContinuedAsNew"
  );
}

/**
 * Events waiting in the execution's inbox (pending items) until a worker moves them into history.
 * Written by the API (signals, cancel) and by children when they end.
 */
export type InboxEvent =
  | { type: "Signal"; name: string; signalId: string; payload: unknown }
  | { type: "Cancel"; reason?: string }
  | { type: "ChildEnded"; position: number; childId: string; status: "completed" | "failed" | "canceled" | "terminated"; output?: unknown; error?: ErrorInfo }
  /** An external system completed (`ok`) or failed a callback through its token. */
  | { type: "CallbackResult"; run: number; position: number; callbackId: string; ok: boolean; result?: unknown; error?: ErrorInfo };

/** A pending event as stored: its key orders the inbox by arrival. */
export interface InboxItem {
  /** The store's sort key, e.g. `P#<visibleAtMs>#<id>`; opaque to core. */
  key: string;
  arrivedAtMs: number;
  event: InboxEvent;
}
