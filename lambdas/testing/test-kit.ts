/**
 * What both test environments (in memory, and on DynamoDB Local) do the same way: each call
 * goes through the API's own functions on the environment's engine, then hands the worker what
 * became due until nothing is left. Each environment brings its own deps, clock and queue.
 */
import type { HistoryEvent } from "../core/events.js";
import { isTerminal } from "../core/status.js";
import type { WorkflowDefinition } from "../core/workflow.js";
import {
  answerCallback,
  type ApiDeps,
  cancelExecution,
  type ExecutionSummary,
  type ExecutionView,
  getExecution,
  heartbeatCallback,
  listExecutions,
  type ListRequest,
  redriveExecution,
  sendSignal,
  startExecution,
  terminateExecution,
} from "../engine/executions.js";
import type { EngineDeps } from "../engine/process-wakeup.js";
import { type BulkRequest, startBulk } from "../engine/bulk.js";
import { sweepDue, type SweepOptions } from "../engine/sweeper.js";
import type { ScheduleDefinition } from "../starts/definitions.js";
import { type FireOutcome, fireSchedule, startFromEvent } from "../starts/fire.js";
import { ScheduleFires } from "../starts/local-fires.js";

/** How a test starts an execution: as `POST /executions` takes it, and whether to run it at once. */
export interface KitStartOptions {
  id?: string;
  version?: number;
  tags?: Record<string, string>;
  /** A delayed start: nothing runs until the environment's clock reaches it. */
  startAt?: Date | string | number;
  /** Run it until it waits or ends (default true). */
  run?: boolean;
}

export abstract class TestKit {
  abstract readonly deps: EngineDeps & ApiDeps;
  /** The schedules `advanceTime` fires on the way (the environment's `schedules` option). */
  protected fires: ScheduleFires | undefined;
  /** What each schedule fire did, oldest first. */
  readonly scheduleFires: (FireOutcome & { schedule: string; fireAt: string })[] = [];

  /** Fires the schedules due by the environment's clock, as EventBridge Scheduler would. */
  protected async fireDueSchedules(): Promise<void> {
    await this.fires?.fireDue(this.deps.clock(), async (schedule, fireAtMs) => {
      await this.fireSchedule(schedule, fireAtMs, { run: false });
    });
  }

  /** Where `advanceTime` stops next: the earlier of the next wake-up (`wakeAtMs`) and the next schedule fire. */
  protected nextStopAtMs(wakeAtMs: number | undefined): number | undefined {
    const fireAtMs = this.fires?.nextAtMs();
    if (wakeAtMs === undefined) return fireAtMs;
    return fireAtMs === undefined ? wakeAtMs : Math.min(wakeAtMs, fireAtMs);
  }

  /**
   * Fires `schedule` (a definition, or the name of one given to the environment) as if
   * EventBridge Scheduler fired it at `fireAtMs` (default: now), then runs what it started.
   */
  async fireSchedule(schedule: ScheduleDefinition | string, fireAtMs: number = this.deps.clock(), options: { run?: boolean } = {}): Promise<FireOutcome> {
    const definition = typeof schedule === "string" ? this.fires?.schedule(schedule) : schedule;
    if (!definition) throw new RangeError(`no schedule named "${String(schedule)}" was given to the test environment`);
    const outcome = await fireSchedule(this.deps, definition, fireAtMs);
    this.scheduleFires.push({ ...outcome, schedule: definition.name, fireAt: new Date(fireAtMs).toISOString() });
    if (options.run !== false) await this.runUntilIdle();
    return outcome;
  }

  /** Starts `workflow` for an event, as an event start does (id `<name>-<eventId>`, once per event id). */
  async startFromEvent(target: { name: string; workflow: string; version?: number }, eventId: string, input: unknown, options: { run?: boolean } = {}): Promise<string> {
    const { executionId } = await startFromEvent(this.deps, target, eventId, input);
    if (options.run !== false) await this.runUntilIdle();
    return executionId;
  }

  /** Hands the wake-ups due now to the worker until none is left. */
  abstract runUntilIdle(maxBatches?: number): Promise<void>;

  /** Starts an execution and runs it until it waits or ends. */
  async start<I>(workflow: WorkflowDefinition<I, unknown> | string, input: I, options: KitStartOptions = {}): Promise<string> {
    const name = typeof workflow === "string" ? workflow : workflow.name;
    const version = options.version ?? (typeof workflow === "string" ? undefined : workflow.version);
    const { execution } = await startExecution(this.deps, {
      workflow: name,
      input,
      ...(version === undefined ? {} : { version }),
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.tags === undefined ? {} : { tags: options.tags }),
      ...(options.startAt === undefined ? {} : { startAt: options.startAt }),
    });
    if (options.run !== false) await this.runUntilIdle();
    return execution.id;
  }

  /** Executions newest first, as `GET /executions` lists them (`tags`: every one must match). */
  async list(filter: Partial<ListRequest> = {}): Promise<{ executions: ExecutionSummary[]; cursor?: string }> {
    return listExecutions(this.deps, { ...filter, limit: filter.limit ?? 20 });
  }

  async signal(executionId: string, name: string, payload?: unknown, options: { run?: boolean } = {}): Promise<void> {
    await sendSignal(this.deps, executionId, name, payload);
    if (options.run !== false) await this.runUntilIdle();
  }

  async cancel(executionId: string, reason?: string): Promise<void> {
    await cancelExecution(this.deps, executionId, reason);
    await this.runUntilIdle();
  }

  /** Ends the execution at once, as `POST /executions/{id}/terminate` does (no cleanup runs). */
  async terminate(executionId: string, reason?: string): Promise<void> {
    await terminateExecution(this.deps, executionId, reason === undefined ? {} : { reason });
    await this.runUntilIdle();
  }

  /** Starts a bulk job as `POST /bulk` does; watch it with `execution(id).state` (a BulkProgress). */
  async bulk(request: BulkRequest, options: { run?: boolean } = {}): Promise<string> {
    const { id } = await startBulk(this.deps, request);
    if (options.run !== false) await this.runUntilIdle();
    return id;
  }

  /** Resumes a failed execution where it failed, as `POST /executions/{id}/redrive` does, and runs it. */
  async redrive(executionId: string, options: { reason?: string; run?: boolean } = {}): Promise<{ id: string; run: number; redrive: number }> {
    const redriven = await redriveExecution(this.deps, executionId, options.reason === undefined ? {} : { reason: options.reason });
    if (options.run !== false) await this.runUntilIdle();
    return redriven;
  }

  /**
   * Completes the callback `token` names with `result`, as `POST /callbacks/{token}` does (and
   * refuses as it does: CallbackNotFoundError, CallbackEndedError, CallbackExpiredError), then
   * runs the execution until it waits.
   */
  async completeCallback(token: string, result?: unknown, options: { run?: boolean } = {}): Promise<void> {
    await answerCallback(this.deps, token, { ok: true, result: result === undefined ? null : result });
    if (options.run !== false) await this.runUntilIdle();
  }

  /** Fails the callback, as `POST /callbacks/{token}/fail` does: the workflow sees a CallbackFailedError. */
  async failCallback(token: string, error: { message?: string; code?: string } = {}, options: { run?: boolean } = {}): Promise<void> {
    const info = { name: "CallbackError", message: error.message ?? "the callback failed", ...(error.code === undefined ? {} : { code: error.code }) };
    await answerCallback(this.deps, token, { ok: false, error: info });
    if (options.run !== false) await this.runUntilIdle();
  }

  /** A heartbeat, as `POST /callbacks/{token}/heartbeat`: moves the callback's heartbeat deadline on. */
  async heartbeatCallback(token: string): Promise<void> {
    await heartbeatCallback(this.deps, token);
  }

  /**
   * Runs the sweeper once on the test clock (claims overdue executions and wakes them, removes
   * those whose retention ended), then the worker on what it woke.
   */
  async sweep(options: SweepOptions = {}): Promise<{ woken: string[]; failed: string[]; purged: string[] }> {
    const swept = await sweepDue(this.deps, options);
    await this.runUntilIdle();
    return swept;
  }

  async execution(executionId: string): Promise<ExecutionView> {
    return getExecution(this.deps, executionId);
  }

  /** The output of a completed execution; throws with the recorded error otherwise. */
  async result<O = unknown>(executionId: string): Promise<O> {
    const execution = await this.execution(executionId);
    if (execution.status !== "completed") {
      throw new Error(`execution ${executionId} is ${execution.status}${execution.error ? `: ${execution.error.message}` : ""}`);
    }
    return execution.output as O;
  }

  /** History of all runs, oldest first. */
  async history(executionId: string): Promise<HistoryEvent[]> {
    return (await this.deps.store.readHistory(executionId)).events;
  }

  async isDone(executionId: string): Promise<boolean> {
    const execution = await this.execution(executionId);
    return isTerminal(execution.status as never);
  }
}
