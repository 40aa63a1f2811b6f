/**
 * Reads a saved history for replayHistory: the engine's events (`atMs`), or the API's views of
 * them (`at`, ISO 8601; errors without stacks) as `GET /executions/{id}/history` pages return
 * them, concatenated, or a page itself, or the JSON text of any of these. Checked here, at the
 * edge, for what replay relies on; past this point the events are trusted as HistoryEvents.
 */
import { z } from "zod";
import type { HistoryEventView, HistoryPage } from "../client/types.js";
import { DurableError } from "../core/errors.js";
import type { EventType, ExecutionStarted, HistoryEvent } from "../core/events.js";

/** What replayHistory takes as a history. */
export type SavedHistory = string | readonly (HistoryEvent | HistoryEventView)[] | HistoryPage;

/** Why a replay could not start: the history or the definitions given do not allow one. */
export class ReplayInputError extends DurableError {
  constructor(
    code: "INVALID_HISTORY" | "WORKFLOW_MISMATCH" | "EXECUTION_ID_REQUIRED",
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(code, message, { details });
  }
}

/** One run of an execution: its ExecutionStarted and the events after it, up to the next run's. */
export interface SavedRun {
  started: HistoryEvent & ExecutionStarted;
  events: HistoryEvent[];
}

const seq = z.number().int().positive();
const position = z.number().int().nonnegative();
const name = z.string().min(1);
const epochMs = z.number().finite();
const errorInfo = z.looseObject({ name: z.string(), message: z.string() });
const call = <T extends z.ZodRawShape>(type: EventType, shape: T) => z.looseObject({ type: z.literal(type), position, ...shape });

/** The fields replay reads, by event type; anything else an event carries is kept as it is. */
const EventBody = z.discriminatedUnion("type", [
  z.looseObject({
    type: z.literal("ExecutionStarted"),
    workflow: name,
    version: z.number().int().positive(),
    run: z.number().int().positive(),
    carried: z.array(seq).optional(),
  }),
  call("StepCompleted", { name, attempt: z.number().int().positive() }),
  call("StepAttemptFailed", { name, attempt: z.number().int().positive(), error: errorInfo, retryAtMs: epochMs }),
  call("StepFailed", { name, attempt: z.number().int().positive(), error: errorInfo }),
  call("TimerStarted", { name, fireAtMs: epochMs }),
  call("TimerFired", {}),
  call("SignalWaitStarted", { name, deadlineAtMs: epochMs.optional() }),
  z.looseObject({ type: z.literal("SignalReceived"), name, signalId: z.string(), arrivedAtMs: epochMs.optional() }),
  call("SignalWaitTimedOut", {}),
  call("ChildStarted", { name, childId: name, workflow: name, version: z.number().int().positive() }),
  call("ChildCompleted", { childId: name }),
  call("ChildFailed", { childId: name, status: z.enum(["failed", "canceled", "terminated"]), error: errorInfo }),
  call("CallbackStarted", { name, callbackId: z.string().min(1), run: z.number().int().positive(), deadlineAtMs: epochMs.optional(), heartbeatTimeoutMs: z.number().nonnegative().optional() }),
  call("CallbackCompleted", { callbackId: z.string().min(1) }),
  call("CallbackFailed", { callbackId: z.string().min(1), error: errorInfo }),
  call("CallbackTimedOut", { callbackId: z.string().min(1), reason: z.enum(["timeout", "heartbeat"]) }),
  call("StateSet", {}),
  z.looseObject({ type: z.literal("CancelRequested") }),
  z.looseObject({ type: z.literal("ExecutionCompleted") }),
  z.looseObject({ type: z.literal("ExecutionFailed"), error: errorInfo }),
  z.looseObject({ type: z.literal("ExecutionCanceled") }),
  z.looseObject({ type: z.literal("ExecutionTerminated") }),
  z.looseObject({ type: z.literal("ExecutionRedriven"), dropped: z.array(seq), redrive: z.number().int().positive() }),
  z.looseObject({ type: z.literal("ContinuedAsNew"), nextRun: z.number().int().positive() }),
]);

/** The envelope: a seq, and the time as the engine (`atMs`) or the API (`at`) writes it. */
const Envelope = z.looseObject({
  seq,
  atMs: epochMs.optional(),
  at: z.iso.datetime({ offset: true }).optional(),
});

/** The saved history as events, in seq order, contiguous, starting with a run's ExecutionStarted. */
export function readSavedHistory(history: SavedHistory): HistoryEvent[] {
  const items = listOfEvents(typeof history === "string" ? parseJson(history) : history);
  const bySeq = new Map<number, HistoryEvent>();
  items.forEach((item, index) => {
    const event = readEvent(item, index);
    // Pages fetched twice (a retried request, overlapping saves) repeat events: one copy each.
    if (!bySeq.has(event.seq)) bySeq.set(event.seq, event);
  });
  const events = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const first = events[0];
  if (!first) throw new ReplayInputError("INVALID_HISTORY", "the history has no events");
  if (first.type !== "ExecutionStarted") {
    throw new ReplayInputError("INVALID_HISTORY", `the history must start with a run's ExecutionStarted; it starts with ${first.type} at seq ${first.seq}`, { seq: first.seq });
  }
  for (let i = 1; i < events.length; i += 1) {
    const expected = (events[i - 1] as HistoryEvent).seq + 1;
    const found = (events[i] as HistoryEvent).seq;
    if (found !== expected) {
      throw new ReplayInputError("INVALID_HISTORY", `the history skips from seq ${expected - 1} to seq ${found}: a page is missing`, { expectedSeq: expected, foundSeq: found });
    }
  }
  return events;
}

/** The runs of a history, oldest first (continue-as-new starts a run with a new ExecutionStarted). */
export function splitRuns(events: readonly HistoryEvent[]): SavedRun[] {
  const runs: SavedRun[] = [];
  for (const event of events) {
    if (event.type === "ExecutionStarted") runs.push({ started: event, events: [] });
    else runs[runs.length - 1]?.events.push(event);
  }
  const last = runs[runs.length - 1];
  const end = last?.events[last.events.length - 1];
  if (end?.type === "ContinuedAsNew") {
    // Both are written in one commit: a history that has one without the other was cut short.
    throw new ReplayInputError("INVALID_HISTORY", `the history ends with ContinuedAsNew at seq ${end.seq} without the next run's ExecutionStarted: a page is missing`, { seq: end.seq });
  }
  return runs;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ReplayInputError("INVALID_HISTORY", `the history is not JSON: ${(error as Error).message}`);
  }
}

function listOfEvents(value: unknown): readonly unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "object" && value !== null && Array.isArray((value as { events?: unknown }).events)) return (value as { events: unknown[] }).events;
  throw new ReplayInputError("INVALID_HISTORY", "the history must be an array of events (or a page `{ events }` of GET /executions/{id}/history)");
}

function readEvent(item: unknown, index: number): HistoryEvent {
  const envelope = Envelope.safeParse(item);
  const body = EventBody.safeParse(item);
  const problem = !envelope.success ? envelope.error : !body.success ? body.error : undefined;
  if (problem || !envelope.success) {
    const where = typeof item === "object" && item !== null && "seq" in item ? `event ${index} (seq ${String((item as { seq: unknown }).seq)})` : `event ${index}`;
    throw new ReplayInputError("INVALID_HISTORY", `${where} is not a history event: ${z.prettifyError(problem as z.ZodError)}`, { index });
  }
  const { at, atMs, ...rest } = envelope.data;
  const timeMs = atMs ?? (at === undefined ? undefined : Date.parse(at));
  if (timeMs === undefined) {
    throw new ReplayInputError("INVALID_HISTORY", `event ${index} (seq ${envelope.data.seq}) has no time: \`atMs\` (the engine's events) or \`at\` (the API's)`, { index });
  }
  return { ...rest, atMs: timeMs } as HistoryEvent;
}
