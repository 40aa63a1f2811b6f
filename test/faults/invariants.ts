/**
 * The checks every execution of the scenario gets, whatever its workflow, and the ones over all of
 * them (step body runs, the dead-letter queue). Each part adds its own (outputs, statuses).
 *
 * Per execution:
 * - history: seqs contiguous from 1; exactly one terminal event, last, agreeing with the item;
 * - steps, per run: at most one outcome per position, attempts numbered 1..k within the policy,
 *   each recorded result produced by a real run of that attempt's body;
 * - nothing left in the inbox; the lease released and the execution out of the due index once it
 *   ended; `retryCount` 0 once it completed;
 * - timers never fire before their time (TimerFired.atMs ≥ fireAtMs − the workers' clock spread;
 *   the same for a signal wait's timeout) and fire within `bounds.dueMs` after it;
 * - every accepted signal is taken into history; the start, each accepted signal, cancel and child
 *   result within `bounds.dueMs` of its acceptance (real clock; a worker's stamp is turned into the
 *   earliest real time it can mean with the largest stack offset).
 */
import type { HistoryEvent } from "../../lambdas/core/events.js";
import { isTerminal } from "../../lambdas/core/status.js";
import type { ExecutionRecord } from "../../lambdas/ports/store.js";
import type { FaultInjector, Stamped } from "../support/faults.js";
import type { AcceptedSignal } from "./api-client.js";
import type { CheckContext, ObservedExecution, Report } from "./part.js";

/** Every step of the scenario's workflows allows at most this many attempts. */
export const MAX_ATTEMPTS = 3;

const ENGINE_GAVE_UP = "ENGINE_RETRIES_EXHAUSTED";

/** The checks of the file header, for one execution that must exist. */
export function checkExecution(id: string, observed: ObservedExecution | undefined, ctx: CheckContext, v: Report): void {
  const record = observed?.record;
  if (!observed || !record) {
    v(id, "execution item missing");
    return;
  }
  const { history, inbox } = observed;
  checkHistoryShape(id, record, history, v);
  checkSteps(id, history, ctx.faults, v);
  if (inbox.length > 0) {
    // Stamps of different clocks: "after it ended" only when no clock spread can explain it.
    const ended = isTerminal(record.status) ? record.updatedAtMs + ctx.bounds.spreadMs : undefined;
    const items = inbox.map((p) => `${describeInboxEvent(p.event)}${ended !== undefined && p.arrivedAtMs > ended ? " (arrived after it ended)" : ""}`);
    v(id, `${inbox.length} inbox item(s) never consumed: ${items.join(", ")}`);
  }
  // One that did not end is reported as such; its lease may be a crashed turn's, still running out.
  if (isTerminal(record.status) && record.leaseOwner !== undefined) v(id, `still leased by ${record.leaseOwner} after it ended`);
  if (isTerminal(record.status) && record.nextWakeAtMs !== undefined) v(id, "ended but still in the due index");
  if (record.status === "completed" && record.retryCount !== 0) v(id, `retryCount ${record.retryCount} after a clean end`);
  checkTimers(id, history, ctx, v);
  checkDueLatency(id, history, ctx, v);
}

/**
 * The execution ended as expected. A healthy execution failed by engine retries is reported as
 * such (its error says which turns died), once.
 */
export function expectStatus(id: string, record: ExecutionRecord | undefined, expected: string, v: Report, code?: string): boolean {
  if (record?.status === expected && (code === undefined || record.error?.code === code)) return true;
  const got = `${record?.status}${record?.error ? ` (${record.error.code ?? record.error.name}: ${record.error.message.slice(0, 160)})` : ""}`;
  if (record?.error?.code === ENGINE_GAVE_UP && code !== ENGINE_GAVE_UP) v(id, `a healthy execution failed by ${ENGINE_GAVE_UP}, expected ${expected}: ${got}`);
  else v(id, `status ${got}, expected ${expected}${code ? ` by ${code}` : ""}`);
  return false;
}

export function stepResults(history: HistoryEvent[]) {
  return history.filter((e): e is HistoryEvent & { type: "StepCompleted" } => e.type === "StepCompleted");
}

/** Contiguous seqs from 1; exactly one terminal event, last, agreeing with the execution item. */
function checkHistoryShape(id: string, record: ExecutionRecord, history: HistoryEvent[], v: Report): void {
  history.forEach((e, i) => {
    if (e.seq !== i + 1) v(id, `history seq ${e.seq} at position ${i + 1}`);
  });
  const terminal = history.filter((e) => e.type === "ExecutionCompleted" || e.type === "ExecutionFailed" || e.type === "ExecutionCanceled");
  const last = history[history.length - 1];
  // Every way an execution ends appends its terminal event, the engine's give-up without a lease too.
  if (terminal.length !== 1) v(id, `${terminal.length} terminal events in history (${terminal.map((e) => `${e.type}@${e.seq}`).join(", ")})`);
  else if (terminal[0] !== last) v(id, `events after the terminal one (${last?.type}@${last?.seq})`);
  const statusOf: Record<string, string> = { ExecutionCompleted: "completed", ExecutionFailed: "failed", ExecutionCanceled: "canceled" };
  if (last && statusOf[last.type] !== record.status) v(id, `execution item says ${record.status}, history ends with ${last.type}`);
}

/** History split by run: each run's events (its ExecutionStarted first), with its number. */
export function runsOf(history: HistoryEvent[]): { run: number; events: HistoryEvent[] }[] {
  const runs: { run: number; events: HistoryEvent[] }[] = [];
  for (const e of history) {
    if (e.type === "ExecutionStarted") runs.push({ run: e.run, events: [] });
    runs[runs.length - 1]?.events.push(e);
  }
  return runs;
}

/** Per run and step position: one outcome, attempts numbered 1..k, each recorded result from a real run. */
function checkSteps(id: string, history: HistoryEvent[], faults: FaultInjector, v: Report): void {
  for (const { run, events: runEvents } of runsOf(history)) {
    const byPosition = new Map<number, HistoryEvent[]>();
    for (const e of runEvents) {
      if (e.type === "StepCompleted" || e.type === "StepFailed" || e.type === "StepAttemptFailed") {
        const list = byPosition.get(e.position) ?? [];
        list.push(e);
        byPosition.set(e.position, list);
      }
    }
    const where = (position: number) => `step at position ${position}${run > 1 ? ` of run ${run}` : ""}`;
    for (const [position, events] of byPosition) {
      // None is fine: a step the workflow stopped waiting for (a race's loser, a canceled
      // execution) may never get one; one it needed leaves the execution unfinished, reported so.
      const outcomes = events.filter((e) => e.type !== "StepAttemptFailed").length;
      if (outcomes > 1) v(id, `${where(position)} has ${outcomes} recorded outcomes`);
      events.forEach((e, i) => {
        const attempt = (e as { attempt: number }).attempt;
        if (attempt !== i + 1) v(id, `${where(position)}: event ${i + 1} records attempt ${attempt}`);
        if (attempt > MAX_ATTEMPTS) v(id, `${where(position)}: attempt ${attempt} recorded`);
      });
      for (const e of events) {
        if (e.type !== "StepCompleted") continue;
        const key = `${id}:${run}:${position}#${e.attempt}`;
        const runId = (e.result as Stamped<unknown> | undefined)?.run;
        if (!faults.runs.get(key)?.some((r) => r.runId === runId)) v(id, `${where(position)} recorded ${runId}, which no body run of attempt ${e.attempt} produced`);
      }
    }
  }
}

/** Timers and signal-wait deadlines: never before their time, and not long after it. */
function checkTimers(id: string, history: HistoryEvent[], ctx: CheckContext, v: Report): void {
  const { workerSpreadMs, dueMs } = ctx.bounds;
  for (const { run, events } of runsOf(history)) {
    const due = new Map<number, { what: string; atMs: number }>();
    for (const e of events) {
      if (e.type === "TimerStarted") due.set(e.position, { what: `timer "${e.name}"`, atMs: e.fireAtMs });
      if (e.type === "SignalWaitStarted" && e.deadlineAtMs !== undefined) due.set(e.position, { what: `the timeout of the wait for "${e.name}"`, atMs: e.deadlineAtMs });
      if (e.type !== "TimerFired" && e.type !== "SignalWaitTimedOut") continue;
      const started = due.get(e.position);
      if (!started) continue;
      const where = `${started.what} (position ${e.position}${run > 1 ? `, run ${run}` : ""})`;
      if (e.atMs < started.atMs - workerSpreadMs) v(id, `${where} fired ${started.atMs - e.atMs} ms before its time`);
      if (e.atMs > started.atMs + dueMs + workerSpreadMs) v(id, `${where} fired ${e.atMs - started.atMs} ms after its time (bound ${dueMs} ms)`);
    }
  }
}

/**
 * The start is taken up (the first event after ExecutionStarted), and accepted signals and cancels
 * and children's results are taken into history, within the bound.
 */
function checkDueLatency(id: string, history: HistoryEvent[], ctx: CheckContext, v: Report): void {
  const { dueMs, maxStackSkewMs, spreadMs, workerSpreadMs } = ctx.bounds;
  const [started, first] = history;
  // An execution the engine gave up on made no turn at all (every one failed): its first event is
  // the give-up, counted by the engine-retry checks, not a turn.
  const gaveUp = first?.type === "ExecutionFailed" && first.error.code === ENGINE_GAVE_UP;
  if (started && first && !gaveUp) {
    const lateMs = first.atMs - started.atMs - spreadMs;
    if (lateMs > dueMs) v(id, `first turn at least ${lateMs} ms after it started (bound ${dueMs} ms)`);
  }
  const received = new Map<string, HistoryEvent>();
  for (const e of history) if (e.type === "SignalReceived" && !received.has(e.signalId)) received.set(e.signalId, e);
  for (const s of ctx.api.signals.get(id) ?? []) {
    const e = received.get(s.signalId);
    if (!e) {
      v(id, `signal ${describeSignal(s)} was accepted but never taken into history`);
      continue;
    }
    const lateMs = e.atMs - maxStackSkewMs - s.realAfterMs;
    if (lateMs > dueMs) v(id, `signal ${describeSignal(s)} taken into history at least ${lateMs} ms after it was accepted (bound ${dueMs} ms)`);
  }
  const cancel = ctx.api.acceptedCancel(id);
  const requested = history.find((e) => e.type === "CancelRequested");
  if (cancel && requested) {
    const lateMs = requested.atMs - maxStackSkewMs - cancel.realAfterMs;
    if (lateMs > dueMs) v(id, `cancel taken into history at least ${lateMs} ms after it was accepted (bound ${dueMs} ms)`);
  }
  for (const e of history) {
    if (e.type !== "ChildCompleted" && e.type !== "ChildFailed") continue;
    const child = ctx.observed.get(e.childId)?.history;
    const ended = child?.find((c) => c.type === "ExecutionCompleted" || c.type === "ExecutionFailed" || c.type === "ExecutionCanceled");
    if (!ended) continue;
    const lateMs = e.atMs - ended.atMs - workerSpreadMs;
    if (lateMs > dueMs) v(id, `took the result of child ${e.childId} at least ${lateMs} ms after it ended (bound ${dueMs} ms)`);
  }
}

/**
 * Every signal sent is in history exactly once; with `ordered`, in the order it was sent. Not for
 * executions that continue as new: a signal carried into the next run may be recorded there again.
 */
export function checkSignalsOnce(id: string, history: HistoryEvent[], sent: readonly { signalId: string }[], v: Report, options: { ordered: boolean } = { ordered: true }): void {
  const received = history.filter((e): e is HistoryEvent & { type: "SignalReceived" } => e.type === "SignalReceived").map((e) => e.signalId);
  const counts = new Map<string, number>();
  for (const s of received) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (const { signalId } of sent) {
    const n = counts.get(signalId) ?? 0;
    if (n !== 1) v(id, `signal ${signalId} consumed ${n} times`);
  }
  if (received.length !== sent.length) v(id, `${received.length} signals in history, ${sent.length} sent`);
  if (options.ordered && JSON.stringify(received) !== JSON.stringify(sent.map((s) => s.signalId))) v(id, "signals consumed out of the order they were sent");
}

/** Across runs: every signal sent is in history at least once, and nothing else is. */
export function checkSignalsKept(id: string, history: HistoryEvent[], sent: readonly { signalId: string }[], v: Report): void {
  const received = new Set(history.flatMap((e) => (e.type === "SignalReceived" ? [e.signalId] : [])));
  const ids = new Set(sent.map((s) => s.signalId));
  const lost = sent.filter((s) => !received.has(s.signalId));
  if (lost.length > 0) v(id, `${lost.length} of ${sent.length} signals never in history: ${lost.map((s) => s.signalId).join(", ")}`);
  for (const r of received) if (!ids.has(r)) v(id, `history has signal ${r}, which was never sent`);
}

/**
 * Step bodies: attempts within the policy; an attempt ran again only after the invocation that ran
 * it before was disturbed (a crash, a fault, a timeout, a stall, or a conflict).
 */
export function checkStepRuns(faults: FaultInjector, v: Report): { runs: number; reruns: number } {
  let runs = 0;
  let reruns = 0;
  // One line per execution: a turn that fails for good re-runs all its steps, every time.
  const undisturbed = new Map<string, string[]>();
  for (const [key, list] of faults.runs) {
    runs += list.length;
    reruns += list.length - 1;
    const id = key.split(":")[0] as string;
    const attempt = Number(key.slice(key.lastIndexOf("#") + 1));
    if (attempt > MAX_ATTEMPTS) v(id, `${key}: attempt ${attempt} ran; at most ${MAX_ATTEMPTS} allowed`);
    list.slice(0, -1).forEach((run, i) => {
      if (!run.invocation?.disturbed) {
        const lines = undisturbed.get(id) ?? [];
        lines.push(`${key} ran ${list.length} times; run ${i + 1} (${run.runId}, invocation ${run.invocation?.id}) was not disturbed`);
        undisturbed.set(id, lines);
      }
    });
  }
  for (const [id, lines] of undisturbed) {
    v(id, `${lines.length} step run(s) were not disturbed, yet their attempt ran again (${lines.slice(0, 2).join("; ")}${lines.length > 2 ? "; …" : ""})`);
  }
  return { runs, reruns };
}

function describeSignal(s: AcceptedSignal): string {
  return `"${s.name}" ${s.signalId}`;
}

function describeInboxEvent(event: { type: string; name?: string; childId?: string }): string {
  if (event.type === "Signal") return `Signal "${event.name}"`;
  if (event.type === "ChildEnded") return `ChildEnded from ${event.childId}`;
  return event.type;
}
