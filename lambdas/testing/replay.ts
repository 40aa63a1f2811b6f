/**
 * Replays a saved history against workflow code, like Temporal's replayer: the check to run
 * before deploying a change to a workflow that has executions in flight. The code runs on the
 * engine's own replay runtime (WorkflowRun), so it fits the history here exactly when a worker
 * running it would fit; no step body runs, nothing is written, no time passes.
 */
import { CancelledError, DurableError, NonDeterminismError } from "../core/errors.js";
import type { HistoryEvent, SignalReceived } from "../core/events.js";
import { type Command, WorkflowRun } from "../core/run.js";
import type { AnyWorkflow, WorkflowContext } from "../core/workflow.js";
import { ReplayInputError, readSavedHistory, type SavedHistory, type SavedRun, splitRuns } from "./saved-history.js";

export interface ReplayOptions {
  /**
   * The id of the execution the history belongs to. Its runs seed `ctx.random()` and
   * `ctx.uuid()` with it and `ctx.executionId` returns it: a workflow that reads any of them
   * cannot be replayed without it (replayHistory says so rather than replay with a wrong one).
   */
  executionId?: string;
  /**
   * Which runs of a history that continued as new to replay: `"all"` (default), each against the
   * code in turn, or only the `"last"`, the one a worker would replay next.
   */
  runs?: "all" | "last";
}

/** What a replay that fits found. */
export interface ReplayReport {
  workflow: string;
  /** The version the last run was started with. */
  version: number;
  /** Runs in the history (1 + one per continue-as-new), and how many were replayed. */
  runs: number;
  runsReplayed: number;
  /** Events of the replayed runs, ExecutionStarted included. */
  eventsReplayed: number;
  /** Whether the last run ended; `status` says how, or `"waiting"` while the execution is open. */
  ended: boolean;
  status: "waiting" | "completed" | "failed" | "canceled" | "terminated";
  /** The durable calls the code waits on at the end of history, e.g. `signal "decision"` (none once ended). */
  waitingOn: string[];
}

/**
 * Replays `history` against `workflow` (the code about to be deployed) and resolves with a
 * report when the code fits it; rejects with the NonDeterminismError a worker would fail the
 * execution with (code `NON_DETERMINISM`, `details.position` naming the durable call, and
 * `details.run`) when it does not. Beyond what a worker checks, a run the history shows ended
 * (completed, continued as new, canceled) must end the same way: code that now makes another
 * call, or ends otherwise, does not fit it. Code that only adds calls after the point an open
 * execution reached fits.
 *
 * `history` is what `GET /executions/{id}/history` pages return, concatenated (or one page, or
 * `env.history(id)` of a test environment), or the JSON text of either. Give several definitions
 * to replay each run against the one of its name and version; one definition is used whatever
 * version the history ran (a change made in place).
 *
 * @example
 * const saved = await readFile("test/histories/order-7f3a.json", "utf8");
 * const report = await replayHistory(order, saved, { executionId: "order-7f3a" });
 * expect(report.status).toBe("waiting");
 */
export async function replayHistory(workflow: AnyWorkflow | readonly AnyWorkflow[], history: SavedHistory, options: ReplayOptions = {}): Promise<ReplayReport> {
  const runs = splitRuns(readSavedHistory(history));
  const chosen = options.runs === "last" ? runs.slice(-1) : runs;
  const all = runs.flatMap((r) => [r.started, ...r.events]);
  const reads = new Set<string>();
  let eventsReplayed = 0;
  let last: { run: WorkflowRun; saved: SavedRun } | undefined;
  for (const saved of chosen) {
    const definition = watched(definitionFor(workflow, saved), options.executionId === undefined ? reads : undefined);
    const run = new WorkflowRun({
      executionId: options.executionId ?? "replay",
      definition,
      started: saved.started,
      // Only calls past the end of history read the clock (to date a new timer): the last event's time.
      clock: () => (saved.events[saved.events.length - 1] ?? saved.started).atMs,
      carried: carriedSignals(saved, all),
    });
    await run.replay(saved.events);
    if (reads.size > 0) {
      throw new ReplayInputError(
        "EXECUTION_ID_REQUIRED",
        `the workflow reads ${[...reads].join(", ")}, which depend on the execution's id: pass { executionId } (the id the history belongs to)`,
        { reads: [...reads] },
      );
    }
    const problem = run.fatal ?? unreachedCall(run, saved) ?? differentEnd(run, saved) ?? stuck(run, saved);
    if (problem) {
      // Which run, for a history that continued as new: the position alone is ambiguous.
      Object.assign(problem.details, { run: saved.started.run });
      throw problem;
    }
    eventsReplayed += 1 + saved.events.length;
    last = { run, saved };
  }
  const { run, saved } = last as { run: WorkflowRun; saved: SavedRun };
  const status = statusOf(saved);
  return {
    workflow: saved.started.workflow,
    version: saved.started.version,
    runs: runs.length,
    runsReplayed: chosen.length,
    eventsReplayed,
    ended: status !== "waiting",
    status,
    waitingOn: status === "waiting" ? run.openCommands().map((c) => describeCall(c.kind, c.name)) : [],
  };
}

function definitionFor(workflow: AnyWorkflow | readonly AnyWorkflow[], saved: SavedRun): AnyWorkflow {
  const { workflow: name, version, run } = saved.started;
  if (!Array.isArray(workflow)) {
    const only = workflow as AnyWorkflow;
    if (only.name === name) return only;
    throw new ReplayInputError("WORKFLOW_MISMATCH", `run ${run} of the history is of workflow "${name}", not "${only.name}": pass its definition`, { workflow: name, version, run });
  }
  const list = workflow as readonly AnyWorkflow[];
  const match = list.find((w) => w.name === name && w.version === version);
  if (match) return match;
  const versions = list.filter((w) => w.name === name).map((w) => w.version);
  throw new ReplayInputError(
    "WORKFLOW_MISMATCH",
    `run ${run} of the history is of workflow "${name}" version ${version}; the definitions given have ${versions.length === 0 ? `no "${name}"` : `versions ${versions.join(", ")} of it`}`,
    { workflow: name, version, run },
  );
}

/** The signals an earlier run left unconsumed, which this run starts with. */
function carriedSignals(saved: SavedRun, all: readonly HistoryEvent[]): (HistoryEvent & SignalReceived)[] {
  return (saved.started.carried ?? []).map((seq) => {
    const event = all.find((e) => e.seq === seq);
    if (event?.type === "SignalReceived") return event;
    throw new ReplayInputError(
      "INVALID_HISTORY",
      event
        ? `run ${saved.started.run} carries seq ${seq}, a ${event.type}, not a SignalReceived`
        : `run ${saved.started.run} carries the signal at seq ${seq}, which the history given does not have: include the earlier runs`,
      { run: saved.started.run, seq },
    );
  });
}

/**
 * A call the history recorded that the code never made. A worker only notices when an event
 * completes it; a timer still pending, say, would be left behind silently.
 */
function unreachedCall(run: WorkflowRun, saved: SavedRun): NonDeterminismError | undefined {
  const recorded = new Map<number, string>();
  for (const event of saved.events) {
    const call = recordedCall(event);
    if (call && !recorded.has(call.position)) recorded.set(call.position, call.description);
  }
  for (const [position, description] of [...recorded].sort(([a], [b]) => a - b)) {
    if (!run.command(position)) return new NonDeterminismError(position, description, `nothing at this position (${codeState(run)})`);
  }
  return undefined;
}

/** A run the history shows ended by its code must end the same way on replay. */
function differentEnd(run: WorkflowRun, saved: SavedRun): NonDeterminismError | undefined {
  const end = saved.events[saved.events.length - 1];
  let fits: boolean;
  switch (end?.type) {
    case "ExecutionCompleted":
      fits = run.result.kind === "returned" && !run.continueAsNew;
      break;
    case "ContinuedAsNew":
      fits = run.continueAsNew !== undefined;
      break;
    case "ExecutionCanceled":
      fits = run.result.kind === "threw" && run.result.error instanceof CancelledError;
      break;
    default:
      // Open, or failed: a failure may be the engine's (retries spent with a step in flight), not the code's.
      return undefined;
  }
  if (fits) return undefined;
  const calls = positionsCalled(run);
  const recorded = new Set(saved.events.flatMap((e) => (recordedCall(e) ? [(recordedCall(e) as { position: number }).position] : [])));
  const firstNew = calls.find((c) => !recorded.has(c.position));
  const expected = `the end of the run (${end.type})`;
  if (firstNew) return new NonDeterminismError(firstNew.position, expected, describeCall(firstNew.kind, firstNew.name));
  return new NonDeterminismError(calls.length, expected, `nothing more (${codeState(run)})`);
}

/** Waiting with no durable call open: the worker fails such a run (UNSUPPORTED_AWAIT). */
function stuck(run: WorkflowRun, saved: SavedRun): DurableError | undefined {
  return statusOf(saved) === "waiting" && run.isStuck() ? run.stuckError() : undefined;
}

function statusOf(saved: SavedRun): ReplayReport["status"] {
  switch (saved.events[saved.events.length - 1]?.type) {
    case "ExecutionCompleted":
      return "completed";
    case "ExecutionFailed":
      return "failed";
    case "ExecutionCanceled":
      return "canceled";
    case "ExecutionTerminated":
      return "terminated";
    default:
      return "waiting";
  }
}

/** Calls the code made, in position order (positions are handed out 0, 1, 2, ...). */
function positionsCalled(run: WorkflowRun): Command[] {
  const calls: Command[] = [];
  for (let c = run.command(0); c; c = run.command(calls.length)) calls.push(c);
  return calls;
}

/** The events that record a call when it is made or first settled, as the runtime matches them. */
function recordedCall(event: HistoryEvent): { position: number; description: string } | undefined {
  switch (event.type) {
    case "StepCompleted":
    case "StepAttemptFailed":
    case "StepFailed":
      return { position: event.position, description: describeCall("step", event.name) };
    case "TimerStarted":
      return { position: event.position, description: describeCall("timer", event.name) };
    case "SignalWaitStarted":
      return { position: event.position, description: describeCall("signal", event.name) };
    case "ChildStarted":
      return { position: event.position, description: describeCall("child", event.name) };
    default:
      return undefined;
  }
}

/** Worded as the runtime's own NonDeterminismErrors word a call. */
function describeCall(kind: Command["kind"], name: string): string {
  return `${kind} "${name}"`;
}

function codeState(run: WorkflowRun): string {
  if (run.continueAsNew) return "it continued as new";
  const result = run.result;
  if (result.kind === "returned") return "it returned";
  if (result.kind === "threw") return `it threw ${result.error instanceof Error ? `${result.error.name}: ${result.error.message}` : String(result.error)}`;
  const open = run.openCommands();
  return open.length === 0 ? "it is waiting on no durable call" : `it is waiting on ${open.map((c) => describeCall(c.kind, c.name)).join(", ")}`;
}

/**
 * The definition with a context that notes reads of what the execution id decides, when no id
 * was given (`reads` undefined otherwise): a replay with a made-up id would draw other random
 * numbers and could pass or fail for the wrong reason.
 */
function watched(definition: AnyWorkflow, reads: Set<string> | undefined): AnyWorkflow {
  if (!reads) return definition;
  const watch = (ctx: WorkflowContext): WorkflowContext => ({
    ...ctx,
    get executionId() {
      reads.add("ctx.executionId");
      return ctx.executionId;
    },
    random: () => {
      reads.add("ctx.random()");
      return ctx.random();
    },
    uuid: () => {
      reads.add("ctx.uuid()");
      return ctx.uuid();
    },
    nonCancellable: (fn) => ctx.nonCancellable((scoped) => fn(watch(scoped))),
  });
  return { name: definition.name, version: definition.version, fn: (ctx, input) => definition.fn(watch(ctx), input) };
}
