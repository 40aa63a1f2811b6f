import type { BatchOptions, BatchResult } from "./batch.js";
import type { Callback, CallbackOptions } from "./callbacks.js";
import type { ConditionCheck, WaitForConditionOptions } from "./condition.js";
import type { Duration } from "./duration.js";
import { WorkflowNotFoundError } from "./errors.js";
import type { RetryPolicy } from "./retry.js";

/** What a step body receives. */
export interface StepInfo {
  /** 1 for the first attempt, 2 for the first retry, ... */
  attempt: number;
  /**
   * Stable across retries and replays of this step: execution id + run + step position.
   * Pass it to the services a step calls so they can drop duplicates.
   */
  idempotencyKey: string;
  /**
   * Fires when the step's timeout passes, when the invocation must end while the step still runs,
   * or when its result is no longer needed (the execution was canceled or ended); pass it to fetch
   * and friends.
   */
  signal: AbortSignal;
  /**
   * Reports progress of a long step. If the attempt is interrupted at the end of the worker
   * invocation (or fails), the next attempt gets the last details as `lastHeartbeat` and can
   * resume from there. JSON, up to 64 KB; kept in memory, so a crash loses the details since the
   * last recorded attempt.
   * @example info.heartbeat({ page: 41 });
   */
  heartbeat(details?: unknown): void;
  /** The details the previous attempt last reported with `heartbeat()`, if any. */
  lastHeartbeat?: unknown;
}

export interface StepOptions {
  retry?: RetryPolicy;
  /** An attempt that runs longer than this fails (and is retried per the policy). */
  timeout?: Duration;
}

export interface SignalWaitOptions {
  /** Resolve with `undefined` if no signal came within this time. */
  timeout?: Duration;
}

export interface WaitForCallbackOptions extends CallbackOptions {
  /** Retry policy and timeout of the step that runs `submit`. */
  submit?: StepOptions;
}

export interface ChildOptions {
  /** The child's execution id; default: `<parent id>-<step position>`. */
  id?: string;
}

/**
 * The handle a workflow gets. Every method is a durable call: its outcome is recorded in history
 * and returned from history when the workflow replays. Workflow code must be deterministic
 * between durable calls: do I/O in steps, take time and randomness from `now()`/`random()`.
 */
export interface WorkflowContext {
  readonly executionId: string;
  readonly workflow: string;
  readonly version: number;
  /** 1 for the first run; +1 on each continue-as-new. */
  readonly run: number;

  /**
   * Runs `fn` once and records its result; on replay the result comes from history and `fn` does
   * not run again. A throwing attempt is retried per `options.retry`; when it fails for good the
   * workflow sees a StepFailedError.
   * @example const user = await ctx.step("create-user", () => createUser(email));
   */
  step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, options?: StepOptions): Promise<T>;

  /**
   * Sleeps durably: the execution goes `sleeping` and no compute runs until the timer is due.
   * @example await ctx.sleep("grace", "3 days");
   */
  sleep(name: string, duration: Duration): Promise<void>;

  /** Sleeps until a point in time (Date or epoch ms). */
  sleepUntil(name: string, until: Date | number): Promise<void>;

  /**
   * Waits for a signal sent with `POST /executions/{id}/signals/{name}` and resolves with its
   * payload. Signals sent before the wait are kept; each wait takes the oldest one. With a
   * `timeout`, resolves `undefined` when none came in time (a payload is never `undefined`).
   * @example const ok = await ctx.waitForSignal<boolean>("approved", { timeout: "7 days" });
   */
  waitForSignal<T = unknown>(name: string): Promise<T>;
  waitForSignal<T = unknown>(name: string, options: SignalWaitOptions): Promise<T | undefined>;

  /**
   * Starts another workflow as a child execution and waits for its output. A failing child
   * rejects with a ChildFailedError. Canceling the parent cancels its children.
   */
  child<I, O>(workflow: WorkflowDefinition<I, O>, input: I, options?: ChildOptions): Promise<O>;

  /**
   * Publishes a state anyone may read while the execution runs: `GET /executions/{id}` (and the
   * client's `get`) shows the latest as `state`. Any JSON, at most 16 KB; recorded in history
   * like a call, shown once the turn commits it (before its next wait or step).
   * @example ctx.setState({ stage: "charging", done: 3, of: 10 });
   */
  setState(value: unknown): void;

  /**
   * Creates a callback: a token to hand to an external system, and a result that settles when
   * that system calls `POST /callbacks/{token}` (with a JSON result), `POST /callbacks/{token}/fail`,
   * or never in time (`timeout`, `heartbeatTimeout`: CallbackTimeoutError). Hand the token out
   * in a step (see `waitForCallback`).
   * @example
   * const approval = ctx.createCallback<{ approved: boolean }>("approval", { timeout: "3 days" });
   * await ctx.step("ask", () => sendApprovalMail(approval.token));
   * const { approved } = await approval.result;
   */
  createCallback<T = unknown>(name: string, options?: CallbackOptions): Callback<T>;

  /**
   * Creates a callback, runs `submit(token)` as a step of the same name, and waits for the
   * callback's result.
   * @example
   * const text = await ctx.waitForCallback<string>("transcribe", (token) => transcriber.submit(audioUrl, { callbackToken: token }), { timeout: "1 day", heartbeatTimeout: "10 minutes" });
   */
  waitForCallback<T = unknown>(name: string, submit: (token: string, info: StepInfo) => Promise<unknown> | unknown, options?: WaitForCallbackOptions): Promise<T>;

  /**
   * Polls `check` until it returns `{ done: true, state }`, waiting durably between polls
   * (`interval`, default 5 s, or `backoff`); each poll gets the state the last one returned
   * (`initialState` first). Resolves with the final state; after `timeout`, rejects with
   * ConditionTimeoutError (`lastState` is what the last poll left). One step whose attempts are
   * the polls: a poll that throws counts as not done. History grows by one event per poll.
   * @example
   * const job = await ctx.waitForCondition("render-done", async (s) => {
   *   const status = await renderer.status(jobId);
   *   return { done: status === "finished", state: { ...s, last: status } };
   * }, { initialState: { last: "queued" }, backoff: { initial: "5s", max: "2 minutes" }, timeout: "6 hours" });
   */
  waitForCondition<S>(
    name: string,
    check: (state: S, info: { poll: number; signal: AbortSignal }) => Promise<ConditionCheck<S>> | ConditionCheck<S>,
    options: WaitForConditionOptions<S>,
  ): Promise<S>;

  /**
   * Runs `fn` over `items` with at most `maxConcurrency` in flight (each item counts from its
   * start until its function settles, whatever durable calls it makes), and resolves with every
   * item's outcome in item order. By default the first failure fails the batch (BatchFailedError,
   * with the result so far); `completion` tolerates failures (`toleratedFailureCount`,
   * `toleratedFailurePercentage`) or ends the batch once `minSuccessful` items succeeded.
   * @example
   * const sent = await ctx.map("send", invoices, (ctx, invoice) => ctx.step("send", () => mail(invoice)), { maxConcurrency: 10 });
   * sent.values; // in invoice order
   */
  map<I, O>(name: string, items: readonly I[], fn: (ctx: WorkflowContext, item: I, index: number) => Promise<O>, options?: BatchOptions): Promise<BatchResult<O>>;

  /**
   * Runs `branches` like `map` runs items: bounded by `maxConcurrency`, outcomes in branch order,
   * the same completion policy.
   * @example
   * const [a, b] = (await ctx.parallel("fetch", [(c) => c.step("a", fetchA), (c) => c.step("b", fetchB)])).values;
   */
  parallel<O>(name: string, branches: readonly ((ctx: WorkflowContext) => Promise<O>)[], options?: BatchOptions): Promise<BatchResult<O>>;

  /** Runs `fn` with a context that ignores cancellation: for cleanup after a CancelledError. */
  nonCancellable<T>(fn: (ctx: WorkflowContext) => Promise<T>): Promise<T>;

  /** Ends this run and starts a fresh history under the same execution id with `input`. */
  continueAsNew(input: unknown): Promise<never>;

  /** Time of the latest event the workflow has seen (epoch ms): the same on every replay. */
  now(): number;
  /** A number in [0, 1) from a PRNG seeded by the execution: the same on every replay. */
  random(): number;
  /** A v4-shaped UUID from the same PRNG. */
  uuid(): string;
}

export type WorkflowFunction<I, O> = (ctx: WorkflowContext, input: I) => Promise<O>;

export interface WorkflowDefinition<I = unknown, O = unknown> {
  readonly name: string;
  readonly version: number;
  readonly fn: WorkflowFunction<I, O>;
}

export interface WorkflowDefinitionOptions {
  /** Default 1. Executions are pinned to the version they started with. */
  version?: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Defines a workflow.
 * @example
 * export const onboarding = defineWorkflow("onboarding", async (ctx, input: { email: string }) => {
 *   const user = await ctx.step("create-user", () => createUser(input.email));
 *   await ctx.sleep("grace", "3 days");
 *   return { id: user.id };
 * });
 */
export function defineWorkflow<I, O>(name: string, fn: WorkflowFunction<I, O>): WorkflowDefinition<I, O>;
export function defineWorkflow<I, O>(name: string, options: WorkflowDefinitionOptions, fn: WorkflowFunction<I, O>): WorkflowDefinition<I, O>;
export function defineWorkflow<I, O>(
  name: string,
  optionsOrFn: WorkflowDefinitionOptions | WorkflowFunction<I, O>,
  maybeFn?: WorkflowFunction<I, O>,
): WorkflowDefinition<I, O> {
  const options = typeof optionsOrFn === "function" ? {} : optionsOrFn;
  const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn;
  if (!NAME.test(name)) throw new RangeError(`workflow name must match ${NAME}, got ${JSON.stringify(name)}`);
  if (typeof fn !== "function") throw new TypeError(`workflow "${name}" needs a function`);
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1) throw new RangeError(`workflow "${name}": version must be a whole number ≥ 1`);
  return Object.freeze({ name, version, fn });
}

/**
 * A definition of any input and output type. `never` input: any definition is assignable, and the
 * engine passes the stored input, which the start request validated.
 */
export type AnyWorkflow = WorkflowDefinition<never, unknown>;

/** The workflows a deployment knows, by name and version. */
export class WorkflowRegistry {
  private readonly byName = new Map<string, Map<number, AnyWorkflow>>();

  constructor(workflows: Iterable<AnyWorkflow> = []) {
    for (const wf of workflows) this.register(wf);
  }

  register(wf: AnyWorkflow): this {
    const versions = this.byName.get(wf.name) ?? new Map<number, AnyWorkflow>();
    const existing = versions.get(wf.version);
    if (existing && existing !== wf) throw new RangeError(`workflow "${wf.name}" version ${wf.version} is registered twice`);
    versions.set(wf.version, wf);
    this.byName.set(wf.name, versions);
    return this;
  }

  /**
   * Swaps every workflow for `workflows` at once: what a local dev server does when the code
   * changed (`durable dev` reloading). All or nothing: if `workflows` registers a name and version
   * twice it throws and the registry keeps what it had. Executions are pinned by name and version,
   * so a running one replays with the new code of its name and version.
   * @example registry.replaceAll(reloaded.workflows);
   */
  replaceAll(workflows: Iterable<AnyWorkflow>): this {
    const next = new WorkflowRegistry(workflows);
    this.byName.clear();
    for (const [name, versions] of next.byName) this.byName.set(name, versions);
    return this;
  }

  /** The given version, or the latest when `version` is undefined. */
  get(name: string, version?: number): AnyWorkflow {
    const versions = this.byName.get(name);
    if (!versions) throw new WorkflowNotFoundError(name);
    const chosen = version === undefined ? versions.get(Math.max(...versions.keys())) : versions.get(version);
    if (!chosen) throw new WorkflowNotFoundError(name, version);
    return chosen;
  }

  has(name: string, version?: number): boolean {
    const versions = this.byName.get(name);
    return versions !== undefined && (version === undefined || versions.has(version));
  }

  /** Names and versions, for `GET /workflows`. */
  list(): { name: string; versions: number[]; latest: number }[] {
    return [...this.byName.entries()]
      .map(([name, versions]) => {
        const list = [...versions.keys()].sort((a, b) => a - b);
        return { name, versions: list, latest: list[list.length - 1] ?? 1 };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
