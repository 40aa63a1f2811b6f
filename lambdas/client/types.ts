/**
 * What the API sends and takes, as the client types it (docs/api.md). Input and output types come
 * from the workflow definition; a handle carries them from `start()` to `result()` at compile time
 * only.
 */
import type { ErrorInfo } from "../core/errors.js";
import type { HistoryEvent } from "../core/events.js";
import type { ExecutionStatus } from "../core/status.js";
import type { WorkflowDefinition } from "../core/workflow.js";

export type { ExecutionStatus };

/** Any workflow definition, whatever its input and output (`never` input: every definition fits). */
export type AnyWorkflowDefinition = WorkflowDefinition<never, unknown>;

/** The input type of a workflow definition: `WorkflowInput<typeof approval>`. */
export type WorkflowInput<W> = W extends WorkflowDefinition<infer I, unknown> ? I : never;
/** The output type of a workflow definition: `WorkflowOutput<typeof approval>`. */
export type WorkflowOutput<W> = W extends WorkflowDefinition<never, infer O> ? O : never;

/**
 * Names one execution. `start()` returns one typed by its workflow, so `result(handle)` is typed
 * too; `{ id, workflow }` written by hand works everywhere an id does.
 */
export interface ExecutionHandle<I = unknown, O = unknown> {
  readonly id: string;
  readonly workflow: string;
  /**
   * Compile-time only: the workflow's input and output types. Never present at run time. The
   * `~` keeps it last in completion lists, as Standard Schema's `~standard` does.
   */
  readonly "~types"?: { readonly input: I; readonly output: O };
}

/** What `start()` gives back: the handle, whether this call created the execution, and its view. */
export interface StartedExecution<I = unknown, O = unknown> extends ExecutionHandle<I, O> {
  /** The version it runs (pinned for its whole life). */
  readonly version: number;
  /** `false` when an execution with this id, workflow and input existed already (the API's 200 instead of 201). */
  readonly created: boolean;
  readonly execution: Execution<I, O>;
}

/** An execution's error as the API reports it: never a stack. */
export type ExecutionFailure = Omit<ErrorInfo, "stack">;

/** `GET /executions/{id}`. */
export interface Execution<I = unknown, O = unknown> {
  id: string;
  workflow: string;
  version: number;
  status: ExecutionStatus;
  /** 1, then +1 at each continue-as-new. */
  run: number;
  /** The current run's input (`null` when started without one). */
  input: I;
  /** Once completed; absent when the workflow returned `undefined`. */
  output?: O;
  /** Once failed. */
  error?: ExecutionFailure;
  /** ISO 8601, UTC. */
  createdAt: string;
  updatedAt: string;
  /** While running or sleeping: when it is due next. */
  nextWakeAt?: string;
  /** A child execution's parent. */
  parentId?: string;
  /** Once ended: when its retention ends (from then on it is gone, with its history). */
  expiresAt?: string;
  /** The latest state the workflow published with `ctx.setState`, and when it was recorded. */
  state?: unknown;
  stateUpdatedAt?: string;
  /** Tags given at start. */
  tags?: Record<string, string>;
  /** A delayed start: when the workflow function begins (ISO 8601, UTC). */
  startAt?: string;
  /**
   * An input or output too large to answer inline (over 1 000 000 bytes of JSON), which the API
   * left out of its field and named here. `get()`, `result()` and `start()` fetch them
   * (`client.value()`) into `input` and `output` and drop their references, so this is seen only
   * from `get(execution, { values: "refs" })` and on the execution an error of `result()`
   * carries.
   */
  valueRefs?: ValueRefs<"input" | "output">;
}

/**
 * An execution as the API answers it, from `get(execution, { values: "refs" })`: an input or
 * output named in `valueRefs` is absent from its field.
 */
export type ExecutionWithRefs<I = unknown, O = unknown> = Omit<Execution<I, O>, "input"> & { input?: I };

/** An execution in a list: no input, output or error (GET the execution for those). */
export type ExecutionSummary = Omit<Execution, "input" | "output" | "error" | "valueRefs">;

/**
 * A value the API did not answer inline. `client.value(execution, ref)` fetches it; so does
 * `GET {href}?part=0` … `?part=<parts - 1>`, each part a slice of its JSON text.
 */
export interface ValueRef {
  /** What `client.value()` and `GET /executions/{id}/values/{name}` take: `input`, `output`, `<seq>.<field>`. */
  name: string;
  /** Bytes of the value's JSON (UTF-8). */
  bytes: number;
  /** How many parts the route serves it in. */
  parts: number;
  /** The route that serves it, relative to the API's base URL: `/executions/<id>/values/<name>`. */
  href: string;
}

/** The values a view left out, by the field each was taken from. */
export type ValueRefs<F extends string = string> = { [K in F]?: ValueRef };

/** Distributes `Omit` over a union, so each event keeps its own fields. */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type PublicError<E> = E extends { error: ErrorInfo } ? Omit<E, "error"> & { error: ExecutionFailure } : E;

/** Fields of history events that hold a workflow's values, which the API may answer by reference. */
type EventValueField = "input" | "output" | "result" | "payload";
/** An event with value fields may name them in `valueRefs` (`{ result?: ValueRef }` on a StepCompleted). */
type WithValueRefs<E> = E extends unknown ? ([Extract<keyof E, EventValueField>] extends [never] ? E : E & { valueRefs?: ValueRefs<Extract<keyof E, EventValueField>> }) : never;

/**
 * A history event as the API returns it: the engine's event with `at` (ISO 8601) instead of
 * `atMs`, and errors without stacks. A union on `type`, so `if (e.type === "StepCompleted")`
 * narrows to the step's fields. Other times inside events (`fireAtMs`, `retryAtMs`,
 * `deadlineAtMs`, `arrivedAtMs`) stay epoch milliseconds, as the API sends them.
 *
 * A value over 1 000 000 bytes of JSON (a step's `result`, a signal's `payload`, an `input` or
 * `output`) is absent from its field and named in `valueRefs` instead; the client leaves it
 * there, to be fetched when wanted:
 * `if (e.type === "StepCompleted" && e.valueRefs?.result) await client.value(run, e.valueRefs.result)`.
 */
export type HistoryEventView = WithValueRefs<OmitEach<PublicError<HistoryEvent>, "atMs"> & { at: string }>;

/** One page of `GET /executions/{id}/history`: oldest first; no `cursor` on the last page. */
export interface HistoryPage {
  events: HistoryEventView[];
  cursor?: string;
}

/** One page of `GET /executions`: newest first; no `cursor` on the last page (a page may be short, even empty, and still have one). */
export interface ExecutionPage {
  executions: ExecutionSummary[];
  cursor?: string;
}

/** `GET /workflows`: one registered workflow. */
export interface WorkflowInfo {
  name: string;
  versions: number[];
  latest: number;
}

/** `POST /executions/{id}/signals/{name}`: the id the engine gave the signal. */
export interface SignalReceipt {
  signalId: string;
}
