/**
 * `createClient()`: the API's routes as typed methods (docs/api.md). Each method is one request
 * (plus the retries of retry.ts), except `result()`, which polls, the iterators, which page, and
 * `value()`, which reads a large value part by part (values.ts), as `get()`, `result()` and
 * `start()` do for an input or output the API answered by reference.
 */
import type { ExecutionStatus } from "../core/status.js";
import type { WorkflowDefinition } from "../core/workflow.js";
import { type ClientAuth, createAuthorizer } from "./auth.js";
import { parseValuePart } from "./answers.js";
import { ExecutionCanceledError, ExecutionFailedError, ExecutionTerminatedError, InvalidArgumentError, ValueChangedError } from "./errors.js";
import { itemsOfPages } from "./pagination.js";
import { type ResultOptions, waitUntilEnded } from "./result.js";
import { type RetryOptions, retryPolicy } from "./retry.js";
import { callbackAnswerSchema, cancelAnswerSchema, executionPageSchema, heartbeatAnswerSchema, executionSchema, historyPageSchema, bulkAnswerSchema, redriveAnswerSchema, signalReceiptSchema, terminateAnswerSchema, workflowsSchema } from "./schemas.js";
import { createTransport, pathSegment } from "./transport.js";
import { readValue, resolveValues } from "./values.js";
import type {
  AnyWorkflowDefinition,
  Execution,
  ExecutionHandle,
  ExecutionPage,
  ExecutionSummary,
  ExecutionWithRefs,
  HistoryEventView,
  HistoryPage,
  SignalReceipt,
  StartedExecution,
  ValueRef,
  WorkflowInfo,
} from "./types.js";

export interface ClientOptions {
  /** The API's base URL: the construct's `apiUrl` (`WorkflowsApiUrl` output), or the local stack's `apiUrl`. */
  url: string | URL;
  auth: ClientAuth;
  /** Retries of `503 STORE_BUSY` and `429 INBOX_FULL` (nothing else is retried). */
  retry?: RetryOptions;
  /** Default: the global fetch (Node 20+). */
  fetch?: typeof fetch;
}

export interface StartOptions {
  /**
   * The execution's id (1–128 of `A–Z a–z 0–9 _ -`); the server makes a UUID when absent. With an
   * id, a start is idempotent: sending it again returns the same execution (`created: false`).
   */
  id?: string;
  /**
   * The version to run. Default: when given a definition, the definition's version, so the input
   * and output types checked at compile time are the ones the server runs; when given a name,
   * the latest registered.
   */
  version?: number;
  /**
   * Tags to find it by (`list({ tags })`): at most 10, keys 1–64 of `A–Z a–z 0–9 _ . : -`,
   * values 1–256 characters.
   */
  tags?: Record<string, string>;
  /** Begin the workflow at this time instead of now (at most 366 days ahead; a past time starts now). */
  startAt?: Date | string;
}

export interface BulkJobRequest {
  action: "cancel" | "terminate" | "redrive";
  filter: { workflow?: string | AnyWorkflowDefinition; status?: ExecutionStatus; tags?: Record<string, string>; createdAfter?: Date | string; createdBefore?: Date | string };
  reason?: string;
  /** At most 100. Default 10. */
  ratePerSecond?: number;
  /** The job's id: a repeat with the same id and request returns the same job. */
  id?: string;
}

export interface GetOptions {
  /**
   * `"resolve"` (the default): an input or output too large for the API to answer inline (over
   * 1 000 000 bytes of JSON) is fetched with `value()` into its field, so `input` and `output`
   * are the values. `"refs"`: the execution as the API answered it, such a value absent from its
   * field and named in `valueRefs` (with its size), to fetch with `value()` when wanted.
   */
  values?: "resolve" | "refs";
  /** Stops the read, and the fetching of values, when aborted: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface ValueOptions {
  /** Stops fetching when aborted: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface HistoryOptions {
  /** Events per page, 1–1000 (default 100). */
  limit?: number;
  /** From a previous page: go on from there. */
  cursor?: string;
}

export interface ListOptions {
  /** Only this workflow's executions (a definition or a name). */
  workflow?: string | AnyWorkflowDefinition;
  status?: ExecutionStatus;
  /** Only executions with every one of these tags. */
  tags?: Record<string, string>;
  /** Executions per page, 1–100 (default 20). */
  limit?: number;
  /** From a previous page of the same `workflow`, `status` and `tags`. */
  cursor?: string;
}

/** An execution, by id or by a handle from `start()`. */
export type ExecutionRef = string | ExecutionHandle<unknown, unknown>;

export interface DurableClient {
  /**
   * Starts an execution of `workflow` with `input`, type-checked against the definition. Returns a
   * handle typed by the workflow (for `result()`), whether it was created now, and its view.
   * @example
   * const run = await client.start(approval, { request: "laptop" }, { id: "req-42" });
   * const outcome = await client.result(run); // typed as approval's output
   */
  start<I, O>(workflow: WorkflowDefinition<I, O>, input: NoInfer<I>, options?: StartOptions): Promise<StartedExecution<I, O>>;
  /**
   * Starts an execution of the workflow registered under `workflow`; give the types when you know them.
   * @example
   * const run = await client.start<{ name: string }, { greeting: string }>("greet", { name: "Ada" });
   */
  start<I = unknown, O = unknown>(workflow: string, input?: I, options?: StartOptions): Promise<StartedExecution<I, O>>;

  /**
   * Reads one execution: status, input, output once completed, error once failed. An input or
   * output the API answers by reference (over 1 000 000 bytes of JSON) is fetched too, part by
   * part; `{ values: "refs" }` leaves it named in `valueRefs` instead (see GetOptions).
   * Throws NotFoundError (404) for an unknown id or one whose retention has ended.
   * @example
   * const execution = await client.get(run);
   * if (execution.status === "failed") console.log(execution.error?.message);
   * const { valueRefs } = await client.get(run, { values: "refs" }); // sizes only, no large download
   */
  get<I, O>(execution: ExecutionHandle<I, O>, options?: GetOptions & { values?: "resolve" }): Promise<Execution<I, O>>;
  get<I = unknown, O = unknown>(executionId: string, options?: GetOptions & { values?: "resolve" }): Promise<Execution<I, O>>;
  get<I, O>(execution: ExecutionHandle<I, O>, options: GetOptions): Promise<ExecutionWithRefs<I, O>>;
  get<I = unknown, O = unknown>(executionId: string, options: GetOptions): Promise<ExecutionWithRefs<I, O>>;

  /**
   * One of the execution's values, whole and parsed: `"input"`, `"output"`, `"<seq>.<field>"` of
   * a history event (`"7.result"`), or a `ValueRef` from `valueRefs`. Fetches its parts from `GET
   * /executions/{id}/values/{name}` one after another and checks they add up to one value (else
   * ValueChangedError: it changed meanwhile, as an execution's input does at a continue-as-new;
   * with a ValueRef, also when it is no longer the size the reference said). Throws
   * InvalidRequestError (`INVALID_VALUE_NAME`) for a name of no value, NotFoundError
   * (`VALUE_NOT_FOUND`, `EXECUTION_NOT_FOUND`) when there is none. The type is the caller's to give.
   * @example
   * for await (const event of client.iterateHistory(run)) {
   *   if (event.type === "StepCompleted" && event.valueRefs?.result) console.log(await client.value<string>(run, event.valueRefs.result));
   * }
   */
  value<T = unknown>(execution: ExecutionRef, name: string | ValueRef, options?: ValueOptions): Promise<T>;

  /**
   * Waits until the execution ends and returns its output. Throws ExecutionFailedError (with the
   * execution's error as `failure`) when it failed, ExecutionCanceledError when it was canceled,
   * ResultTimeoutError after `timeoutMs`, and the signal's reason when `signal` aborts. The polls
   * fetch no large value; an output the API answers by reference is fetched once it has completed
   * (after `timeoutMs`'s wait, stopped by `signal`). The execution an error carries is as the API
   * answered it, a large input named in `valueRefs`.
   * @example
   * const output = await client.result(run, { timeoutMs: 60_000 });
   */
  result<O>(execution: ExecutionHandle<unknown, O>, options?: ResultOptions): Promise<O>;
  result<O = unknown>(executionId: string, options?: ResultOptions): Promise<O>;

  /**
   * One page of the execution's history, oldest first; pass `cursor` back for the next page. An
   * event's value over 1 000 000 bytes of JSON is named in its `valueRefs` and left to `value()`.
   * @example
   * const { events, cursor } = await client.history(run, { limit: 50 });
   */
  history(execution: ExecutionRef, options?: HistoryOptions): Promise<HistoryPage>;

  /**
   * Every event of the execution's history, oldest first, fetching page after page; large values
   * stay in `valueRefs`, as in `history()`.
   * @example
   * for await (const event of client.iterateHistory(run)) console.log(event.seq, event.type, event.at);
   */
  iterateHistory(execution: ExecutionRef, options?: HistoryOptions): AsyncIterable<HistoryEventView>;

  /**
   * One page of executions, newest first, optionally of one workflow and/or status. A page may be
   * short, even empty, and still have a `cursor`: page on while there is one.
   * @example
   * const { executions, cursor } = await client.list({ workflow: approval, status: "sleeping" });
   */
  list(options?: ListOptions): Promise<ExecutionPage>;

  /**
   * Every execution matching the filter, newest first, fetching page after page.
   * @example
   * for await (const execution of client.iterateExecutions({ status: "failed" })) console.log(execution.id);
   */
  iterateExecutions(options?: ListOptions): AsyncIterable<ExecutionSummary>;

  /**
   * Sends a signal; `payload` (any JSON, `null` when absent) is what `ctx.waitForSignal(name)`
   * resolves with. Throws NotFoundError for an unknown execution, ConflictError
   * (`EXECUTION_ENDED`) for one that has ended; a full inbox is retried, then RateLimitError.
   * @example
   * await client.signal(run, "decision", { approved: true, by: "ana" });
   */
  signal(execution: ExecutionRef, name: string, payload?: unknown): Promise<SignalReceipt>;

  /**
   * Asks the execution to cancel; the workflow sees a CancelledError at its next durable call.
   * Throws ConflictError (`EXECUTION_ENDED`) when it has ended already.
   * @example
   * await client.cancel(run, "customer withdrew");
   */
  cancel(execution: ExecutionRef, reason?: string): Promise<void>;

  /**
   * Ends the execution at once, without running its cleanup (`cancel` is the cooperative way); a
   * step still running is never recorded, open children are terminated too. Throws ConflictError
   * (`EXECUTION_ENDED`) when it has ended already.
   * @example
   * await client.terminate(run, { reason: "stuck on a bad deploy" });
   */
  terminate(execution: ExecutionRef, options?: { reason?: string }): Promise<void>;

  /**
   * Resumes a failed execution where it failed (the step whose failure ended it runs again, every
   * result recorded before stays), under the code deployed now. Throws ConflictError
   * (`EXECUTION_NOT_FAILED`) unless it is failed (and not a child).
   * @example
   * const { redrive } = await client.redrive(run, { reason: "fixed the parser" });
   */
  redrive(execution: ExecutionRef, options?: { reason?: string }): Promise<{ id: string; run: number; redrive: number }>;

  /**
   * Cancels, terminates or redrives every execution `filter` matches, as a background job (an
   * execution of `durable:bulk`, paced to `ratePerSecond`, default 10): returns its id; `get(id)`
   * shows its progress in `state` (`matched`, `done`, `skipped`, `failed`, `finished`).
   * @example
   * const job = await client.bulk({ action: "terminate", filter: { workflow: "import", status: "sleeping" }, reason: "bad batch" });
   */
  bulk(request: BulkJobRequest): Promise<{ id: string }>;

  /**
   * Completes the callback `token` names (what `ctx.createCallback` handed out) with `result`,
   * which the workflow's `callback.result` resolves with. Throws NotFoundError
   * (`CALLBACK_NOT_FOUND`) for a token that matches no callback, ConflictError
   * (`CALLBACK_ALREADY_COMPLETED`, `EXECUTION_ENDED`) when it was answered or its execution
   * ended, InvalidRequestError with status 410 (`CALLBACK_EXPIRED`) when it timed out.
   * @example
   * await client.completeCallback(token, { text: "total: 42 EUR" });
   */
  completeCallback(token: string, result?: unknown): Promise<void>;

  /**
   * Fails the callback: the workflow sees a CallbackFailedError with this message and code.
   * @example
   * await client.failCallback(token, { message: "unreadable scan", code: "UNREADABLE" });
   */
  failCallback(token: string, error?: { message?: string; code?: string; details?: Record<string, unknown> }): Promise<void>;

  /**
   * Tells a callback with a heartbeat timeout that the work goes on; returns its new heartbeat deadline.
   * @example
   * const { heartbeatDeadline } = await client.heartbeatCallback(token);
   */
  heartbeatCallback(token: string): Promise<{ heartbeatDeadline?: string }>;

  /**
   * The registered workflows and their versions.
   * @example
   * const names = (await client.workflows()).map((w) => w.name);
   */
  workflows(): Promise<WorkflowInfo[]>;
}

/**
 * A client of the durable-aws HTTP API.
 * @example
 * // Against AWS (IAM auth, credentials from the standard chain):
 * const client = createClient({ url: process.env.WORKFLOWS_API_URL!, auth: { type: "iam" } });
 * // Against the local stack:
 * const local = createClient({ url: stack.apiUrl, auth: { type: "bearer", token: stack.bearerToken } });
 */
export function createClient(options: ClientOptions): DurableClient {
  const baseUrl = parseBaseUrl(options.url);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw new InvalidArgumentError("no global fetch: use Node 20+ or pass options.fetch");
  const send = createTransport({ baseUrl, authorize: createAuthorizer(options.auth, baseUrl), retry: retryPolicy(options.retry), fetch: fetchImpl });

  const executionPath = (execution: ExecutionRef) => `/executions/${pathSegment(idOf(execution), "the execution id")}`;
  const read = async (execution: ExecutionRef, signal?: AbortSignal): Promise<ExecutionWithRefs> =>
    (await send({ method: "GET", path: executionPath(execution), ...(signal === undefined ? {} : { signal }) }, executionSchema)).body;

  const value = async (execution: ExecutionRef, name: string | ValueRef, signal?: AbortSignal): Promise<unknown> => {
    const ref = typeof name === "object" && name !== null ? name : undefined;
    const valueName = ref === undefined ? (name as string) : ref.name;
    const path = `${executionPath(execution)}/values/${pathSegment(valueName, "the value name")}`;
    const target = { executionId: idOf(execution), name: valueName, ...(ref === undefined ? {} : { expected: ref }) };
    return readValue(target, async (part) => (await send({ method: "GET", path, query: { part }, ...(signal === undefined ? {} : { signal }) }, parseValuePart)).body);
  };

  const resolve = (execution: ExecutionRef, view: ExecutionWithRefs, signal?: AbortSignal, known?: { input?: unknown }) =>
    resolveValues(view, (ref) => value(execution, ref, signal), known);

  /** An input changes at a continue-as-new: one read between the view and its value's parts sees another value, so read both again. */
  const readResolved = async (execution: ExecutionRef, signal?: AbortSignal): Promise<Execution> => {
    for (let attempt = 1; ; attempt += 1) {
      const view = await read(execution, signal);
      try {
        return await resolve(execution, view, signal);
      } catch (err) {
        if (!(err instanceof ValueChangedError) || attempt >= MAX_RESOLVING_READS) throw err;
      }
    }
  };

  const history = async (execution: ExecutionRef, page: HistoryOptions = {}): Promise<HistoryPage> =>
    (await send({ method: "GET", path: `${executionPath(execution)}/history`, query: { limit: page.limit, cursor: page.cursor } }, historyPageSchema)).body;

  const list = async (filter: ListOptions = {}): Promise<ExecutionPage> => {
    const workflow = typeof filter.workflow === "object" ? filter.workflow.name : filter.workflow;
    const tags = Object.fromEntries(Object.entries(filter.tags ?? {}).map(([key, value]) => [`tag.${key}`, value]));
    const query = { workflow, status: filter.status, ...tags, limit: filter.limit, cursor: filter.cursor };
    return (await send({ method: "GET", path: "/executions", query }, executionPageSchema)).body;
  };

  const start = async (workflow: string | AnyWorkflowDefinition, input?: unknown, startOptions: StartOptions = {}): Promise<StartedExecution> => {
    const name = typeof workflow === "string" ? workflow : workflow.name;
    const version = startOptions.version ?? (typeof workflow === "string" ? undefined : workflow.version);
    const { status, body } = await send(
      {
        method: "POST",
        path: "/executions",
        body: {
          workflow: name,
          ...(version === undefined ? {} : { version }),
          ...(input === undefined ? {} : { input }),
          ...(startOptions.id === undefined ? {} : { id: startOptions.id }),
          ...(startOptions.tags === undefined ? {} : { tags: startOptions.tags }),
          ...(startOptions.startAt === undefined ? {} : { startAt: startTime(startOptions.startAt) }),
        },
      },
      executionSchema,
    );
    const created = status === 201;
    // A new execution's input is the one just sent: parse what was sent rather than download it again.
    const known = created && body.valueRefs?.input !== undefined ? { input: JSON.parse(JSON.stringify(input)) as unknown } : {};
    const execution = await resolve(body.id, body, undefined, known);
    return { id: body.id, workflow: body.workflow, version: body.version, created, execution };
  };

  const get = async (execution: ExecutionRef, getOptions: GetOptions = {}): Promise<ExecutionWithRefs> => {
    const { values = "resolve", signal } = getOptions;
    if (values !== "resolve" && values !== "refs") throw new InvalidArgumentError(`values must be "resolve" or "refs", got ${JSON.stringify(values)}`);
    return values === "refs" ? read(execution, signal) : readResolved(execution, signal);
  };

  const result = async (execution: ExecutionRef, waitOptions: ResultOptions = {}): Promise<unknown> => {
    const ended = await waitUntilEnded(idOf(execution), (signal) => read(execution, signal), waitOptions);
    if (ended.status === "failed") throw new ExecutionFailedError(ended);
    if (ended.status === "canceled") throw new ExecutionCanceledError(ended);
    if (ended.status === "terminated") throw new ExecutionTerminatedError(ended);
    // A completed execution's output never changes: the reference of the last poll holds.
    const outputRef = ended.valueRefs?.output;
    return outputRef === undefined ? ended.output : value(execution, outputRef, waitOptions.signal);
  };

  return {
    start: start as DurableClient["start"],
    get: get as DurableClient["get"],
    value: ((execution: ExecutionRef, name: string | ValueRef, valueOptions: ValueOptions = {}) => value(execution, name, valueOptions.signal)) as DurableClient["value"],
    result: result as DurableClient["result"],
    history,
    iterateHistory: (execution, page = {}) =>
      itemsOfPages(async (cursor) => {
        const { events, cursor: next } = await history(execution, { ...page, ...(cursor === undefined ? {} : { cursor }) });
        return { items: events, ...(next === undefined ? {} : { cursor: next }) };
      }, page.cursor),
    list,
    iterateExecutions: (filter = {}) =>
      itemsOfPages(async (cursor) => {
        const { executions, cursor: next } = await list({ ...filter, ...(cursor === undefined ? {} : { cursor }) });
        return { items: executions, ...(next === undefined ? {} : { cursor: next }) };
      }, filter.cursor),
    signal: async (execution, name, payload) =>
      (
        await send(
          { method: "POST", path: `${executionPath(execution)}/signals/${pathSegment(name, "the signal name")}`, ...(payload === undefined ? {} : { body: payload }) },
          signalReceiptSchema,
        )
      ).body,
    cancel: async (execution, reason) => {
      await send({ method: "POST", path: `${executionPath(execution)}/cancel`, ...(reason === undefined ? {} : { body: { reason } }) }, cancelAnswerSchema);
    },
    terminate: async (execution, terminateOptions = {}) => {
      await send({ method: "POST", path: `${executionPath(execution)}/terminate`, body: terminateOptions.reason === undefined ? {} : { reason: terminateOptions.reason } }, terminateAnswerSchema);
    },
    redrive: async (execution, redriveOptions = {}) =>
      (await send({ method: "POST", path: `${executionPath(execution)}/redrive`, body: redriveOptions.reason === undefined ? {} : { reason: redriveOptions.reason } }, redriveAnswerSchema)).body,
    bulk: async (request) => {
      const { workflow, createdAfter, createdBefore, ...filter } = request.filter;
      const body = {
        ...request,
        filter: {
          ...filter,
          ...(workflow === undefined ? {} : { workflow: typeof workflow === "string" ? workflow : workflow.name }),
          ...(createdAfter === undefined ? {} : { createdAfter: startTime(createdAfter) }),
          ...(createdBefore === undefined ? {} : { createdBefore: startTime(createdBefore) }),
        },
      };
      return { id: (await send({ method: "POST", path: "/bulk", body }, bulkAnswerSchema)).body.id };
    },
    completeCallback: async (token, result) => {
      await send({ method: "POST", path: `/callbacks/${pathSegment(token, "the callback token")}`, body: result === undefined ? null : result }, callbackAnswerSchema);
    },
    failCallback: async (token, error = {}) => {
      await send({ method: "POST", path: `/callbacks/${pathSegment(token, "the callback token")}/fail`, body: error }, callbackAnswerSchema);
    },
    heartbeatCallback: async (token) => (await send({ method: "POST", path: `/callbacks/${pathSegment(token, "the callback token")}/heartbeat` }, heartbeatAnswerSchema)).body,
    workflows: async () => (await send({ method: "GET", path: "/workflows" }, workflowsSchema)).body,
  };
}

/** Reads of an execution `get()` makes when its input changes under it before giving up (ValueChangedError). */
const MAX_RESOLVING_READS = 3;

function idOf(execution: ExecutionRef): string {
  return typeof execution === "string" ? execution : execution?.id;
}

function parseBaseUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`url must be an absolute http(s) URL, got ${JSON.stringify(String(url))}`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new InvalidArgumentError(`url must be http(s), got ${parsed.protocol}`);
  // The client appends `/executions?...`: a query or fragment on the base would end up in the middle.
  if (parsed.search !== "" || parsed.hash !== "") throw new InvalidArgumentError("url must be the API's base URL, without a query or fragment");
  return parsed;
}

function startTime(startAt: Date | string): string {
  if (typeof startAt === "string") return startAt;
  if (Number.isNaN(startAt.getTime())) throw new InvalidArgumentError("an invalid Date was given as a time");
  return startAt.toISOString();
}
