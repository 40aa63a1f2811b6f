/**
 * `durable history` and `durable watch`: one line per history event, with what history lets us
 * derive. History has no "step started" event, so durations are measured from what it does have:
 *
 *   - a step's attempt: from its retry time (`retryAtMs` of the attempt that failed before it), or
 *     for a first attempt from the event just before it (the turn was at that point when the step
 *     began; steps run in parallel share that start);
 *   - a timer, signal wait, child or callback: from the event that started it, same position;
 *   - the end of a run: from the run's ExecutionStarted.
 *
 * Positions restart with every run (continue-as-new), so the positions seen are per run.
 *
 * A value the API names in the event's `valueRefs` (over 1 000 000 bytes of JSON) shows as its size
 * and the command that prints it: `result: 2.0 MB (durable value order-42 7.result to print it)`.
 */
import type { HistoryEventView, ValueRef } from "../../../lambdas/client/types.js";
import { errorText, formatDuration, refText, shortJson } from "./render-values.js";

export interface TimelineRow {
  seq: number;
  at: string;
  kind: string;
  /** The durable call's name (looked up by position for events that do not carry it). */
  name: string;
  durationMs?: number;
  attempt?: number;
  /** Errors, results, reasons: the rest worth a glance. */
  detail: string;
}

export const TIMELINE_HEADER = formatRow({ seq: "seq", at: "time", kind: "event", name: "name", duration: "took", attempt: "try", detail: "detail" });

/**
 * A timeline of execution `executionId` that keeps what it needs from earlier events: feed it
 * every event, oldest first.
 */
export function createTimeline(executionId: string): { row(event: HistoryEventView): TimelineRow; line(event: HistoryEventView): string } {
  /** `result "ok"` inline; `result: 2.0 MB (durable value ...)` for a value named in valueRefs. */
  const value = (field: string, inline: unknown, ref: ValueRef | undefined) => (ref === undefined ? `${field} ${shortJson(inline)}` : `${field}: ${refText(executionId, ref)}`);

  let runStartMs: number | undefined;
  let previousMs: number | undefined;
  let started = new Map<number, { name: string; atMs: number }>();
  let retryAtMs = new Map<number, number>();

  const row = (event: HistoryEventView): TimelineRow => {
    const atMs = Date.parse(event.at);
    const base = { seq: event.seq, at: event.at, kind: event.type };
    const since = (fromMs: number | undefined) => (fromMs === undefined ? undefined : Math.max(0, atMs - fromMs));
    const call = (position: number) => started.get(position);
    const ofCall = (position: number, detail = ""): TimelineRow => {
      const begun = call(position);
      return withDuration({ ...base, name: begun?.name ?? `#${position}`, detail }, since(begun?.atMs));
    };
    let result: TimelineRow;
    switch (event.type) {
      case "ExecutionStarted": {
        runStartMs = atMs;
        started = new Map();
        retryAtMs = new Map();
        const parts = [`v${event.version}`, `run ${event.run}`];
        if (event.startAtMs !== undefined) parts.push(`begins ${new Date(event.startAtMs).toISOString()}`);
        if (event.parent !== undefined) parts.push(`child of ${event.parent.executionId}`);
        parts.push(value("input", event.input, event.valueRefs?.input));
        result = { ...base, name: event.workflow, detail: parts.join(", ") };
        break;
      }
      case "StepCompleted":
      case "StepAttemptFailed":
      case "StepFailed": {
        const from = retryAtMs.get(event.position) ?? previousMs;
        const detail =
          event.type === "StepCompleted"
            ? value("result", event.result, event.valueRefs?.result)
            : event.type === "StepAttemptFailed"
              ? `${errorText(event.error)}; retry at ${new Date(event.retryAtMs).toISOString()}`
              : errorText(event.error);
        if (event.type === "StepAttemptFailed") retryAtMs.set(event.position, event.retryAtMs);
        else retryAtMs.delete(event.position);
        result = withDuration({ ...base, name: event.name, attempt: event.attempt, detail }, since(from));
        break;
      }
      case "TimerStarted":
        started.set(event.position, { name: event.name, atMs });
        result = { ...base, name: event.name, detail: `fires ${new Date(event.fireAtMs).toISOString()} (in ${formatDuration(event.fireAtMs - atMs)})` };
        break;
      case "SignalWaitStarted":
        started.set(event.position, { name: event.name, atMs });
        result = { ...base, name: event.name, detail: event.deadlineAtMs === undefined ? "" : `until ${new Date(event.deadlineAtMs).toISOString()}` };
        break;
      case "ChildStarted":
        started.set(event.position, { name: event.name, atMs });
        result = { ...base, name: event.name, detail: `${event.workflow} v${event.version} as ${event.childId}` };
        break;
      case "CallbackStarted": {
        started.set(event.position, { name: event.name, atMs });
        const parts = [];
        if (event.deadlineAtMs !== undefined) parts.push(`until ${new Date(event.deadlineAtMs).toISOString()}`);
        if (event.heartbeatTimeoutMs !== undefined) parts.push(`heartbeat every ${formatDuration(event.heartbeatTimeoutMs)}`);
        result = { ...base, name: event.name, detail: parts.join(", ") };
        break;
      }
      case "TimerFired":
        result = ofCall(event.position);
        break;
      case "SignalWaitTimedOut":
        result = ofCall(event.position, "no signal in time");
        break;
      case "ChildCompleted":
        result = ofCall(event.position, value("output", event.output, event.valueRefs?.output));
        break;
      case "ChildFailed":
        result = ofCall(event.position, `${event.status}: ${errorText(event.error)}`);
        break;
      case "CallbackCompleted":
        result = ofCall(event.position, value("result", event.result, event.valueRefs?.result));
        break;
      case "CallbackFailed":
        result = ofCall(event.position, errorText(event.error));
        break;
      case "CallbackTimedOut":
        result = ofCall(event.position, event.reason === "heartbeat" ? "no heartbeat in time" : "timed out");
        break;
      case "SignalReceived":
        result = { ...base, name: event.name, detail: value("payload", event.payload, event.valueRefs?.payload) };
        break;
      case "StateSet":
        result = { ...base, name: "", detail: `state ${shortJson(event.value)}` };
        break;
      case "CancelRequested":
        result = { ...base, name: "", detail: event.reason === undefined ? "" : `reason ${JSON.stringify(event.reason)}` };
        break;
      case "ExecutionCompleted":
        result = withDuration({ ...base, name: "", detail: value("output", event.output, event.valueRefs?.output) }, since(runStartMs));
        break;
      case "ExecutionFailed":
        result = withDuration({ ...base, name: "", detail: errorText(event.error) }, since(runStartMs));
        break;
      case "ExecutionCanceled":
        result = withDuration({ ...base, name: "", detail: event.reason === undefined ? "" : `reason ${JSON.stringify(event.reason)}` }, since(runStartMs));
        break;
      case "ContinuedAsNew":
        result = withDuration({ ...base, name: "", detail: `next run ${event.nextRun}, ${value("input", event.input, event.valueRefs?.input)}` }, since(runStartMs));
        break;
      case "ExecutionTerminated":
        result = withDuration({ ...base, name: "", detail: otherDetail(event, executionId) }, since(runStartMs));
        break;
      case "ExecutionRedriven":
        // The step whose failure ended the run starts over with fresh attempts.
        retryAtMs = new Map();
        result = { ...base, name: "", detail: otherDetail(event, executionId) };
        break;
      default:
        result = { ...base, name: nameOf(event), detail: otherDetail(event, executionId) };
    }
    previousMs = atMs;
    return result;
  };
  return { row, line: (event) => formatTimelineRow(row(event)) };
}

export function formatTimelineRow(row: TimelineRow): string {
  return formatRow({
    seq: String(row.seq),
    at: row.at,
    kind: row.kind,
    name: row.name,
    duration: row.durationMs === undefined ? "" : formatDuration(row.durationMs),
    attempt: row.attempt === undefined ? "" : String(row.attempt),
    detail: row.detail,
  });
}

function formatRow(cells: { seq: string; at: string; kind: string; name: string; duration: string; attempt: string; detail: string }): string {
  return [cells.seq.padStart(4), cells.at.padEnd(24), cells.kind.padEnd(19), cells.name.padEnd(14), cells.duration.padStart(7), cells.attempt.padStart(3), cells.detail]
    .join("  ")
    .trimEnd();
}

function withDuration(row: TimelineRow, durationMs: number | undefined): TimelineRow {
  return durationMs === undefined ? row : { ...row, durationMs };
}

/** Events this version does not know in detail (newer servers): their name and other fields as they come. */
function nameOf(event: { type: string }): string {
  const { name } = event as { name?: unknown };
  return typeof name === "string" ? name : "";
}

function otherDetail(event: { type: string }, executionId: string): string {
  const { seq: _seq, at: _at, type: _type, name: _name, valueRefs, ...rest } = event as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof rest.reason === "string") parts.push(`reason ${JSON.stringify(rest.reason)}`);
  if (typeof rest.by === "string") parts.push(`by ${rest.by}`);
  if (typeof rest.redrive === "number") parts.push(`redrive ${rest.redrive}`);
  if (Array.isArray(rest.dropped)) parts.push(`replays without seq ${rest.dropped.join(", ")}`);
  const large = Object.entries((valueRefs ?? {}) as Record<string, ValueRef>).map(([field, ref]) => `${field}: ${refText(executionId, ref)}`);
  if (parts.length > 0) return [...parts, ...large].join(", ");
  return [...(Object.keys(rest).length === 0 ? [] : [shortJson(rest, 80)]), ...large].join(", ");
}
