/**
 * What the API does: start, inspect, signal and cancel executions. Input arrives validated (the
 * handler's schemas); this file holds the rules (idempotent start, what may be signaled) and the
 * safety guard: every event added is followed by a wake-up, and the sweeper covers a lost send.
 */
import { randomUUID } from "node:crypto";
import type { ErrorInfo } from "../core/errors.js";
import { boundErrorInfo, DurableError } from "../core/errors.js";
import { decodeCallbackToken, InvalidCallbackTokenError } from "../core/callbacks.js";
import type { ExecutionRedriven, HistoryEvent } from "../core/events.js";
import { type ExecutionStatus, isTerminal } from "../core/status.js";
import { checkStartAt, checkTags, type Tags } from "../core/tags.js";
import type { WorkflowRegistry } from "../core/workflow.js";
import { createCursorCodec, type CursorCodec, InvalidCursorError } from "../store/cursor.js";
import { ExecutionEndedError, ExecutionNotFailedError, ExecutionNotFoundError, PayloadTooLargeError } from "../store/errors.js";
import { jsonBytes, MAX_API_VALUE_BYTES, MAX_VALUE_BYTES } from "../core/limits.js";
import type { CallbackOutcome, ExecutionListing, ExecutionRecord, ExecutionStore } from "../ports/store.js";
import type { WakeupScheduler } from "../ports/queue.js";
import { type EngineLogger, type EngineMetrics, silentLogger } from "./observability.js";
import { activeTraceparent } from "./tracing.js";
import { eventValue, parseValueName, referEventValues, referExecutionValues, type ValueRefs, ValueNotFoundError, type ValuePart, valuePart } from "./values.js";

export interface ApiDeps {
  store: ExecutionStore;
  scheduler: WakeupScheduler;
  registry: WorkflowRegistry;
  clock: () => number;
  newId?: () => string;
  logger?: EngineLogger;
  /** Counts executions started (Powertools Metrics when deployed). */
  metrics?: EngineMetrics;
  /** Signs pagination cursors; this process's random secret when absent (see store/cursor.ts). */
  cursors?: CursorCodec;
}

const processCursors = createCursorCodec();

/** An execution as the API returns it. */
export interface ExecutionView {
  id: string;
  workflow: string;
  version: number;
  status: string;
  run: number;
  input: unknown;
  output?: unknown;
  error?: Omit<ErrorInfo, "stack">;
  createdAt: string;
  updatedAt: string;
  nextWakeAt?: string;
  parentId?: string;
  /** Once ended: when its retention ends and it is removed, with its history. */
  expiresAt?: string;
  /** The latest state the workflow published with `ctx.setState`, and when it was recorded. */
  state?: unknown;
  stateUpdatedAt?: string;
  /** Tags given at start. */
  tags?: Record<string, string>;
  /** A delayed start: when the workflow function begins. */
  startAt?: string;
  /** Input or output too large to hold inline: fetch them from GET /executions/{id}/values/{name}. */
  valueRefs?: ValueRefs;
}

/** An execution in a list: no input, output or error, so a page stays small; GET the execution for those. */
export type ExecutionSummary = Omit<ExecutionView, "input" | "output" | "error" | "valueRefs">;

export function toView(record: ExecutionRecord): ExecutionView {
  const view: ExecutionView = {
    id: record.id,
    workflow: record.workflow,
    version: record.version,
    status: record.status,
    run: record.run,
    input: record.input ?? null,
    createdAt: new Date(record.createdAtMs).toISOString(),
    updatedAt: new Date(record.updatedAtMs).toISOString(),
  };
  if (record.output !== undefined) view.output = record.output;
  if (record.error !== undefined) view.error = publicError(record.error);
  if (record.nextWakeAtMs !== undefined && (record.status === "sleeping" || record.status === "running")) {
    view.nextWakeAt = new Date(record.nextWakeAtMs).toISOString();
  }
  if (record.parent) view.parentId = record.parent.executionId;
  if (record.purgeAtMs !== undefined) view.expiresAt = new Date(record.purgeAtMs).toISOString();
  if (record.tags !== undefined) view.tags = { ...record.tags };
  if (record.startAtMs !== undefined) view.startAt = new Date(record.startAtMs).toISOString();
  if (record.state !== undefined) {
    view.state = record.state.value;
    view.stateUpdatedAt = new Date(record.state.atMs).toISOString();
  }
  return referExecutionValues(view);
}

/** An execution whose retention has ended is gone for every reader, removed or not yet. */
function visible<T extends { purgeAtMs?: number }>(record: T | undefined, nowMs: number): T | undefined {
  return record && (record.purgeAtMs === undefined || record.purgeAtMs > nowMs) ? record : undefined;
}

/** History events as the API returns them: no stacks. */
export function toEventView(event: HistoryEvent): Record<string, unknown> {
  const { atMs, ...rest } = event as HistoryEvent & { error?: ErrorInfo };
  const view: Record<string, unknown> = { ...rest, at: new Date(atMs).toISOString() };
  if (rest.error) view.error = publicError(rest.error);
  return referEventValues(view, event.seq);
}

function publicError(error: ErrorInfo): Omit<ErrorInfo, "stack"> {
  const { stack: _stack, ...rest } = error;
  return rest;
}

export class InputMismatchError extends DurableError {
  constructor(executionId: string) {
    super(
      "EXECUTION_EXISTS",
      `an execution with id "${executionId}" already exists with a different workflow, input, tags or start time; use another id`,
      { details: { executionId } },
    );
  }
}

export interface StartRequest {
  workflow: string;
  version?: number;
  input?: unknown;
  id?: string;
  /** Tags to list it by (`GET /executions?tag.<key>=<value>`): at most 10, keys ≤ 64 and values ≤ 256 characters. */
  tags?: Tags;
  /** A delayed start: the workflow function begins then (at most 366 days ahead; a past time starts now). */
  startAt?: Date | string | number;
}

/**
 * Starts an execution. With a client-given id, a repeat of the same request returns the existing
 * execution (`created: false`); the same id with another workflow or input is an error.
 */
export async function startExecution(deps: ApiDeps, request: StartRequest, options: { internal?: boolean } = {}): Promise<{ created: boolean; execution: ExecutionView }> {
  // The engine's own workflows (bulk.ts) are started by the engine only, never by name.
  const definition = options.internal ? { name: request.workflow, version: 1 } : deps.registry.get(request.workflow, request.version); // throws WORKFLOW_NOT_FOUND
  const id = request.id ?? (deps.newId ?? randomUUID)();
  const nowMs = deps.clock();
  const input = request.input ?? null;
  requireValueSize(deps, input, "the input");
  const tags = request.tags === undefined ? undefined : checkTags(request.tags);
  const startAtMs = checkStartAt(request.startAt, nowMs);
  const { created, execution } = await deps.store.createExecution({
    id,
    workflow: definition.name,
    version: definition.version,
    input,
    nowMs,
    ...(tags === undefined || Object.keys(tags).length === 0 ? {} : { tags }),
    ...(startAtMs === undefined ? {} : { startAtMs }),
    ...traceparentField(),
  });
  if (!created) {
    // A repeat may name the start time again once it has passed: only a different future time differs.
    const sameStart = request.startAt === undefined || startAtMs === undefined || execution.startAtMs === startAtMs;
    const sameRequest =
      execution.workflow === definition.name &&
      (request.version === undefined || execution.version === request.version) &&
      stableJson(execution.input ?? null) === stableJson(input) &&
      stableJson(execution.tags ?? {}) === stableJson(tags ?? {}) &&
      sameStart;
    if (!sameRequest || execution.parent) throw new InputMismatchError(id);
    return { created: false, execution: toView(execution) };
  }
  deps.metrics?.executionStarted(definition.name);
  // Safety guard: if this send is lost, the execution is due (now, or at its start time) and the
  // sweeper finds it.
  await sendOrLog(deps, () => (startAtMs === undefined ? deps.scheduler.wakeNow([id]) : deps.scheduler.schedule(id, { dueAtMs: startAtMs, nowMs })), id);
  (deps.logger ?? silentLogger).info("execution started", { executionId: id, workflow: definition.name, version: definition.version });
  return { created: true, execution: toView(execution) };
}

export async function getExecution(deps: ApiDeps, executionId: string): Promise<ExecutionView> {
  const record = visible(await deps.store.getExecution(executionId), deps.clock());
  if (!record) throw new ExecutionNotFoundError(executionId);
  return toView(record);
}

/**
 * A page's worth at most, measured as Lambda sends it: a synchronous Lambda answers at most 6 MB,
 * and the page's JSON travels as a string inside the response envelope, where every quote and
 * backslash is escaped once more (a 350 KB event of quotes takes 1.4 MB there). A page of `limit`
 * events can be cut short (its cursor goes on from there); one event always fits.
 */
export const MAX_PAGE_BYTES = 5_500_000;

/** Bytes an event view adds to the Lambda response: its JSON, escaped again as part of the body string. */
function responseBytes(view: Record<string, unknown>): number {
  return jsonBytes(JSON.stringify(JSON.stringify(view))) - 2 + 1;
}

export async function getHistory(
  deps: ApiDeps,
  executionId: string,
  page: { limit: number; cursor?: string },
): Promise<{ events: Record<string, unknown>[]; cursor?: string }> {
  const cursors = deps.cursors ?? processCursors;
  const query = `history:${executionId}`;
  let afterSeq = page.cursor === undefined ? 0 : historyPosition(cursors.decode(query, page.cursor));
  const record = visible(await deps.store.getExecution(executionId), deps.clock());
  if (!record) throw new ExecutionNotFoundError(executionId);

  const events: Record<string, unknown>[] = [];
  let bytes = 0;
  let more = false;
  while (events.length < page.limit) {
    const want = page.limit - events.length;
    const part = await deps.store.readHistory(executionId, { afterSeq, limit: want });
    for (const event of part.events) {
      const view = toEventView(event);
      bytes += responseBytes(view);
      if (events.length > 0 && bytes > MAX_PAGE_BYTES) {
        more = true;
        break;
      }
      events.push(view);
      afterSeq = event.seq;
    }
    if (more) break;
    if (part.lastSeq !== undefined) {
      more = true; // a full page and DynamoDB has more
      continue;
    }
    // A short page without a next key is the end, or a query that stopped at 1 MB (readHistory
    // does not tell the two apart): one more read settles it.
    if (part.events.length === want || part.events.length === 0) break;
  }
  return { events, ...(more ? { cursor: cursors.encode(query, afterSeq) } : {}) };
}

/**
 * Part `part` of one of the execution's values (values.ts): `input`, `output`, or `<seq>.<field>`
 * of a history event, as JSON text.
 */
export async function getValue(deps: ApiDeps, executionId: string, name: string, part: number): Promise<ValuePart> {
  const which = parseValueName(name);
  const record = visible(await deps.store.getExecution(executionId), deps.clock());
  if (!record) throw new ExecutionNotFoundError(executionId);
  let value: unknown;
  if (which.kind === "execution") value = record[which.field];
  else {
    const { events } = await deps.store.readHistory(executionId, { afterSeq: which.seq - 1, limit: 1 });
    const event = events[0];
    value = event?.seq === which.seq ? eventValue(event, which.field) : undefined;
  }
  if (value === undefined) throw new ValueNotFoundError(executionId, name);
  return valuePart(value, part);
}

function historyPosition(position: unknown): number {
  if (typeof position === "number" && Number.isSafeInteger(position) && position >= 0) return position;
  throw new InvalidCursorError("malformed position");
}

export interface ListRequest {
  workflow?: string;
  status?: ExecutionStatus;
  /** Only executions with all of these tags. */
  tags?: Tags;
  /** The caller's tenant: only its executions (tenants.ts). */
  tenant?: string;
  limit: number;
  cursor?: string;
}

/**
 * Executions newest first, by workflow (and status) or by status; with neither filter, all
 * statuses merged. A page may be shorter than `limit` and still have a cursor (a selective status
 * filter reads a bounded number of index items per request): page on until there is no cursor.
 */
export async function listExecutions(deps: ApiDeps, request: ListRequest): Promise<{ executions: ExecutionSummary[]; cursor?: string }> {
  const cursors = deps.cursors ?? processCursors;
  const tags = request.tags === undefined || Object.keys(request.tags).length === 0 ? undefined : checkTags(request.tags);
  const query = JSON.stringify(["executions", request.workflow ?? null, request.status ?? null, tags === undefined ? null : stableJson(tags), request.tenant ?? null]);
  const after = request.cursor === undefined ? undefined : cursors.decode(query, request.cursor);
  if (request.cursor !== undefined && (after === undefined || after === null)) throw new InvalidCursorError("malformed position");
  const page = await deps.store.listExecutions({
    limit: request.limit,
    ...(request.workflow === undefined ? {} : { workflow: request.workflow }),
    ...(request.status === undefined ? {} : { status: request.status }),
    ...(tags === undefined ? {} : { tags }),
    ...(request.tenant === undefined ? {} : { tenant: request.tenant }),
    ...(after === undefined ? {} : { after }),
  });
  const nowMs = deps.clock();
  return {
    executions: page.executions.filter((e) => visible(e, nowMs)).map(toSummary),
    ...(page.next === undefined ? {} : { cursor: cursors.encode(query, page.next) }),
  };
}

function toSummary(record: ExecutionListing): ExecutionSummary {
  const { input: _input, ...summary } = toView({ ...record, input: null });
  return summary;
}

/** Puts a signal in the execution's inbox and wakes it. Ended or unknown executions refuse. */
export async function sendSignal(deps: ApiDeps, executionId: string, name: string, payload: unknown): Promise<{ signalId: string }> {
  const signalId = (deps.newId ?? randomUUID)();
  const value = payload === undefined ? null : payload;
  requireValueSize(deps, value, "the signal's payload");
  await deps.store.addToInbox(executionId, { type: "Signal", name, signalId, payload: value }, deps.clock());
  await sendOrLog(deps, () => deps.scheduler.wakeNow([executionId]), executionId);
  return { signalId };
}

/**
 * Completes (`ok`) or fails the callback a token names, then wakes its execution. The store
 * refuses, writing nothing, a token that matches no callback, a callback answered already or
 * timed out, and an ended execution.
 */
export async function answerCallback(deps: ApiDeps, token: string, outcome: CallbackOutcome): Promise<{ executionId: string }> {
  const ref = decodeCallbackToken(token);
  if (!ref) throw new InvalidCallbackTokenError();
  if (outcome.ok) requireValueSize(deps, outcome.result, "the callback's result");
  const bounded: CallbackOutcome = outcome.ok ? outcome : { ok: false, error: boundErrorInfo(outcome.error) };
  await deps.store.completeCallback(ref, bounded, deps.clock());
  await sendOrLog(deps, () => deps.scheduler.wakeNow([ref.executionId]), ref.executionId);
  return { executionId: ref.executionId };
}

/** Moves the callback's heartbeat deadline on; refuses as answerCallback does. */
export async function heartbeatCallback(deps: ApiDeps, token: string): Promise<{ heartbeatDeadline?: string }> {
  const ref = decodeCallbackToken(token);
  if (!ref) throw new InvalidCallbackTokenError();
  const { heartbeatDeadlineAtMs } = await deps.store.heartbeatCallback(ref, deps.clock());
  return heartbeatDeadlineAtMs === undefined ? {} : { heartbeatDeadline: new Date(heartbeatDeadlineAtMs).toISOString() };
}

/**
 * Ends the execution at once, without running its cleanup (cancel is the cooperative way): the
 * store appends ExecutionTerminated and moves the fencing token on, so a worker in the middle of a
 * turn records nothing more, and a step still running then is never recorded. Its open children
 * are terminated too; its parent is told, as of a failed child (ChildFailedError, status
 * `terminated`).
 */
export async function terminateExecution(deps: ApiDeps, executionId: string, options: { reason?: string; by?: string } = {}): Promise<void> {
  const record = visible(await deps.store.getExecution(executionId), deps.clock());
  if (!record) throw new ExecutionNotFoundError(executionId);
  if (isTerminal(record.status)) throw new ExecutionEndedError(executionId, record.status);
  const error = { name: "ExecutionTerminated", message: options.reason === undefined ? "terminated" : `terminated: ${options.reason}`, code: "TERMINATED" };
  const end = { status: "terminated" as const, error, ...(options.reason === undefined ? {} : { reason: options.reason }), ...(options.by === undefined ? {} : { by: options.by }) };
  const ended = await deps.store.endWithoutLease(executionId, end, deps.clock(), record.parent ? { parent: record.parent } : {});
  if (!ended) {
    const now = await deps.store.getExecution(executionId);
    throw new ExecutionEndedError(executionId, now?.status ?? "gone");
  }
  (deps.logger ?? silentLogger).info("execution terminated", { executionId, by: options.by, reason: options.reason });
  if (record.parent) await sendOrLog(deps, () => deps.scheduler.wakeNow([record.parent?.executionId as string]), record.parent.executionId);
  for (const childId of openChildren(await readRun(deps, record))) {
    await terminateExecution(deps, childId, { reason: `its parent "${executionId}" was terminated`, ...(options.by === undefined ? {} : { by: options.by }) }).catch((err: unknown) => {
      if (!(err instanceof ExecutionEndedError) && !(err instanceof ExecutionNotFoundError)) throw err;
    });
  }
}

/**
 * Resumes a failed execution from where it failed: its history keeps every recorded result, and
 * an ExecutionRedriven event takes the ExecutionFailed out of replay, with the attempts of the
 * step whose failure ended it (that step runs again, from its first attempt). The workflow's
 * code then replays as deployed now: a fixed bug, a fixed non-determinism. It goes on in the same
 * run, so the idempotency keys, `ctx.random()` and `ctx.uuid()` of what was recorded stay as they
 * were. A child is not redriven (its parent has taken its failure in): redrive the parent.
 */
export async function redriveExecution(deps: ApiDeps, executionId: string, options: { reason?: string; by?: string } = {}): Promise<{ id: string; run: number; redrive: number }> {
  const record = visible(await deps.store.getExecution(executionId), deps.clock());
  if (!record) throw new ExecutionNotFoundError(executionId);
  if (record.status !== "failed") throw new ExecutionNotFailedError(executionId, record.status);
  if (record.parent) throw new ExecutionNotFailedError(executionId, "failed", `it is a child of "${record.parent.executionId}"; children are not redriven, redrive the parent`);
  const events = await readRun(deps, record);
  const failed = [...events].reverse().find((e) => e.type === "ExecutionFailed");
  const last = events[events.length - 1];
  if (!failed || !last) throw new ExecutionNotFailedError(executionId, record.status, "its history has no ExecutionFailed");
  const dropped = new Set([failed.seq]);
  const stepName = failed.type === "ExecutionFailed" && failed.error.code === "STEP_FAILED" ? failed.error.details?.stepName : undefined;
  const failedStep = [...events].reverse().find((e) => e.type === "StepFailed" && e.name === stepName && e.seq < failed.seq);
  if (failedStep && "position" in failedStep) {
    for (const e of events) if ((e.type === "StepFailed" || e.type === "StepAttemptFailed") && e.position === failedStep.position) dropped.add(e.seq);
  }
  const redrive = events.filter((e) => e.type === "ExecutionRedriven").length + 1;
  const redriven: ExecutionRedriven = {
    type: "ExecutionRedriven",
    dropped: [...dropped].sort((a, b) => a - b),
    redrive,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    ...(options.by === undefined ? {} : { by: options.by }),
  };
  await deps.store.redriveExecution(executionId, redriven, { expectedLastSeq: last.seq }, deps.clock());
  (deps.logger ?? silentLogger).info("execution redriven", { executionId, redrive, by: options.by, dropped: redriven.dropped });
  await sendOrLog(deps, () => deps.scheduler.wakeNow([executionId]), executionId);
  return { id: executionId, run: record.run, redrive };
}

function traceparentField(): { traceparent?: string } {
  const traceparent = activeTraceparent();
  return traceparent === undefined ? {} : { traceparent };
}

/** Every event of the execution's current run, oldest first. */
async function readRun(deps: ApiDeps, record: ExecutionRecord): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let afterSeq = record.runStartSeq - 1;
  for (;;) {
    const page = await deps.store.readHistory(record.id, { afterSeq, limit: 1000 });
    events.push(...page.events);
    const lastSeen = page.events[page.events.length - 1];
    if (!lastSeen) return events;
    afterSeq = lastSeen.seq;
  }
}

/** Children started and not yet ended, by the run's history. */
function openChildren(events: readonly HistoryEvent[]): string[] {
  const open = new Map<number, string>();
  for (const e of events) {
    if (e.type === "ChildStarted") open.set(e.position, e.childId);
    if (e.type === "ChildCompleted" || e.type === "ChildFailed") open.delete(e.position);
  }
  return [...open.values()];
}

export async function cancelExecution(deps: ApiDeps, executionId: string, reason?: string): Promise<void> {
  await deps.store.addToInbox(executionId, { type: "Cancel", ...(reason === undefined ? {} : { reason }) }, deps.clock());
  await sendOrLog(deps, () => deps.scheduler.wakeNow([executionId]), executionId);
}

/**
 * The event is stored; a failed send only delays it (the sweeper re-sends what is due), so the
 * caller is not told of an error that changes nothing for them.
 */
async function sendOrLog(deps: ApiDeps, send: () => Promise<void>, executionId: string): Promise<void> {
  try {
    await send();
  } catch (err) {
    (deps.logger ?? silentLogger).warn("wake-up send failed; the sweeper will pick the execution up", {
      executionId,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * A value that comes through the API must fit what the store records and what Lambda takes in a
 * request (apiValueLimit), as JSON measured as it will be written (not as the request spelled it:
 * `1e5` is written `100000`). What passes here, the engine can always commit.
 */
function requireValueSize(deps: ApiDeps, value: unknown, what: string): void {
  const bytes = jsonBytes(JSON.stringify(value) ?? "null");
  const limit = apiValueLimit(deps.store);
  if (bytes > limit) throw new PayloadTooLargeError(what, bytes, limit);
}

/** Largest value the API accepts: what the store records, and at most MAX_API_VALUE_BYTES. */
export function apiValueLimit(store: { maxValueBytes?: number }): number {
  return Math.min(store.maxValueBytes ?? MAX_VALUE_BYTES, MAX_API_VALUE_BYTES);
}

/** JSON with sorted keys, to compare inputs regardless of key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
