/**
 * The execution-level reducer: what an execution is, folded from its events.
 * `state = history.reduce(apply, zeroState())` — the workflow-level replay is in run.ts; this is
 * the summary the API, the tests and the local stack print (status, output, counts).
 */
import type { ErrorInfo } from "./errors.js";
import type { HistoryEvent } from "./events.js";
import type { ExecutionStatus } from "./status.js";

export interface ExecutionState {
  status: ExecutionStatus | "new";
  workflow?: string;
  version?: number;
  run: number;
  input?: unknown;
  output?: unknown;
  error?: ErrorInfo;
  lastSeq: number;
  startedAtMs?: number;
  endedAtMs?: number;
  stepsCompleted: number;
  stepAttemptsFailed: number;
  signalsReceived: number;
  cancelRequested: boolean;
  /** Timers started and not fired, by position. */
  openTimers: Record<number, { name: string; fireAtMs: number }>;
}

export function zeroState(): ExecutionState {
  return {
    status: "new",
    run: 0,
    lastSeq: 0,
    stepsCompleted: 0,
    stepAttemptsFailed: 0,
    signalsReceived: 0,
    cancelRequested: false,
    openTimers: {},
  };
}

export function apply(state: ExecutionState, event: HistoryEvent): ExecutionState {
  const next: ExecutionState = { ...state, lastSeq: Math.max(state.lastSeq, event.seq) };
  switch (event.type) {
    case "ExecutionStarted":
      return {
        ...next,
        status: "running",
        workflow: event.workflow,
        version: event.version,
        run: event.run,
        input: event.input,
        startedAtMs: state.startedAtMs ?? event.atMs,
        openTimers: {},
      };
    case "StepCompleted":
      return { ...next, stepsCompleted: state.stepsCompleted + 1 };
    case "StepAttemptFailed":
      return { ...next, stepAttemptsFailed: state.stepAttemptsFailed + 1 };
    case "TimerStarted":
      return { ...next, status: "sleeping", openTimers: { ...state.openTimers, [event.cmd]: { name: event.name, fireAtMs: event.fireAtMs } } };
    case "TimerFired": {
      const openTimers = { ...state.openTimers };
      delete openTimers[event.cmd];
      return { ...next, status: "running", openTimers };
    }
    case "SignalWaitStarted":
      return { ...next, status: "sleeping" };
    case "SignalReceived":
      return { ...next, signalsReceived: state.signalsReceived + 1 };
    case "CancelRequested":
      return { ...next, cancelRequested: true };
    case "ExecutionCompleted":
      return { ...next, status: "completed", output: event.output, endedAtMs: event.atMs, openTimers: {} };
    case "ExecutionFailed":
      return { ...next, status: "failed", error: event.error, endedAtMs: event.atMs, openTimers: {} };
    case "ExecutionCanceled":
      return { ...next, status: "canceled", endedAtMs: event.atMs, openTimers: {} };
    default:
      return next;
  }
}

/** Folds a whole history. */
export function foldHistory(events: readonly HistoryEvent[]): ExecutionState {
  return events.reduce(apply, zeroState());
}
