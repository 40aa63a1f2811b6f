/**
 * The test environment: needs nothing installed (no Java, no services, no network). Workflows run
 * through the real worker handler and the real engine (start, signal, cancel), on the in-memory
 * store and queue, with an injected clock; a typical workflow test takes a few milliseconds.
 * `durable-aws/testing/dynamodb-local` has the same methods on DynamoDB Local and the SQS
 * emulator, so a test moves from one to the other by changing the factory.
 *
 * Time stands still unless the test moves it: wake-ups due now are handled by `runUntilIdle`
 * (which `start`, `signal` and `cancel` call), later ones when `advanceTime` reaches them, in
 * order and each at its own time. Engine retries back off on the same clock.
 *
 * @example
 * const env = await createTestEnvironment({ workflows: [approval] });
 * const id = await env.start(approval, { request: "laptop" });
 * await env.advanceTime("3 days");
 * await env.signal(id, "decision", { approved: true });
 * expect(await env.result(id)).toEqual({ status: "approved" });
 * await env.close();
 */
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { randomUUID } from "node:crypto";
import { type Duration, toMs } from "../core/duration.js";
import type { HistoryEvent } from "../core/events.js";
import { isTerminal } from "../core/status.js";
import { type AnyWorkflow, type WorkflowDefinition, WorkflowRegistry } from "../core/workflow.js";
import { type ApiDeps, cancelExecution, type ExecutionView, getExecution, sendSignal, startExecution, answerCallback, heartbeatCallback } from "../engine/executions.js";
import type { EngineMetrics } from "../engine/observability.js";
import type { EngineDeps, WorkerOptions } from "../engine/process-wakeup.js";
import { RunCache } from "../engine/run-cache.js";
import { sweepDue, type SweepOptions } from "../engine/sweeper.js";
import { createWorkerHandler } from "../handlers/worker.js";
import { type DeadLetter, MemoryQueue, type MemoryQueueOptions } from "./memory-queue.js";
import { MemoryRedelivery, MemoryWakeupScheduler, type MemoryWakeupSchedulerOptions } from "./memory-scheduler.js";
import { MemoryExecutionStore, type MemoryStoreOptions } from "./memory-store.js";

/** What createTestEnvironment takes: the workflows to run, and settings for the clock, the engine and the adapters. */
export interface TestEnvironmentOptions {
  workflows: readonly AnyWorkflow[];
  /** Where the clock starts (epoch ms). Default: now. */
  startTimeMs?: number;
  workerOptions?: WorkerOptions;
  /**
   * Keep replayed runs warm between turns, as a long-lived worker does. Default false: every turn
   * replays the whole history from scratch, the strictest check of a workflow's determinism.
   */
  warmRuns?: boolean;
  /** Store settings: retention, `singlePutSteps: false` to force transactions. */
  storeOptions?: MemoryStoreOptions;
  /** The queue's visibility timeout and redrive policy. */
  queueOptions?: MemoryQueueOptions;
  /** The longest delay of one wake-up (default SQS's 900 s; `Infinity` skips the chaining of long timers). */
  schedulerOptions?: MemoryWakeupSchedulerOptions;
  /** Receives the engine's metrics (starts, ends, step attempts), e.g. to assert on them. */
  metrics?: EngineMetrics;
  /** Milliseconds each worker invocation has (Lambda's getRemainingTimeInMillis). Default 60 s. */
  invocationMs?: number;
}

/** Most messages one worker invocation gets, as Lambda's SQS event source sends by default. */
const BATCH_SIZE = 10;

/** A workflow test environment in memory; made by createTestEnvironment. */
export class TestEnvironment {
  /** Worker invocations and the messages they handled so far (for cost assertions). */
  readonly stats = { invocations: 0, messages: 0 };
  readonly deps: EngineDeps & ApiDeps;
  readonly store: MemoryExecutionStore;
  readonly queue: MemoryQueue;
  private nowMs: number;
  private readonly worker: ReturnType<typeof createWorkerHandler>;
  private readonly invocationMs: number;

  constructor(options: TestEnvironmentOptions) {
    this.nowMs = options.startTimeMs ?? Date.now();
    const clock = () => this.nowMs;
    this.queue = new MemoryQueue(clock, options.queueOptions);
    this.store = new MemoryExecutionStore(options.storeOptions);
    this.invocationMs = options.invocationMs ?? 60_000;
    this.deps = {
      store: this.store,
      scheduler: new MemoryWakeupScheduler(this.queue, options.schedulerOptions),
      redelivery: new MemoryRedelivery(this.queue),
      registry: new WorkflowRegistry(options.workflows),
      clock,
      random: Math.random,
      workerId: `memory-test/${randomUUID().slice(0, 8)}`,
      ...(options.warmRuns ? { runCache: new RunCache() } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    };
    this.worker = createWorkerHandler(this.deps, options.workerOptions ?? {});
  }

  /** The test clock (epoch ms). */
  now(): number {
    return this.nowMs;
  }

  /** Starts an execution and runs it until it waits or ends. */
  async start<I>(workflow: WorkflowDefinition<I, unknown> | string, input: I, options: { id?: string; version?: number; run?: boolean } = {}): Promise<string> {
    const name = typeof workflow === "string" ? workflow : workflow.name;
    const version = options.version ?? (typeof workflow === "string" ? undefined : workflow.version);
    const { execution } = await startExecution(this.deps, {
      workflow: name,
      input,
      ...(version === undefined ? {} : { version }),
      ...(options.id === undefined ? {} : { id: options.id }),
    });
    if (options.run !== false) await this.runUntilIdle();
    return execution.id;
  }

  async signal(executionId: string, name: string, payload?: unknown, options: { run?: boolean } = {}): Promise<void> {
    await sendSignal(this.deps, executionId, name, payload);
    if (options.run !== false) await this.runUntilIdle();
  }

  async cancel(executionId: string, reason?: string): Promise<void> {
    await cancelExecution(this.deps, executionId, reason);
    await this.runUntilIdle();
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
   * Moves the clock forward, stopping at each wake-up on the way so timers fire in order and at
   * their own time.
   */
  async advanceTime(duration: Duration): Promise<void> {
    const target = this.nowMs + toMs(duration);
    for (;;) {
      const next = this.queue.nextVisibleAtMs();
      if (next === undefined || next > target) break;
      this.nowMs = Math.max(this.nowMs, next);
      await this.runUntilIdle();
    }
    this.nowMs = target;
    await this.runUntilIdle();
  }

  /** Hands the wake-ups visible now to the worker, batch by batch, until none is left. */
  async runUntilIdle(maxBatches = 1_000): Promise<void> {
    for (let i = 0; i < maxBatches; i += 1) {
      const messages = this.queue.receive(BATCH_SIZE);
      if (messages.length === 0) return;
      const records: SQSRecord[] = messages.map((m) => ({
        messageId: m.messageId,
        receiptHandle: m.receiptHandle,
        body: m.body,
        attributes: {
          ApproximateReceiveCount: String(m.receiveCount),
          SentTimestamp: String(m.sentAtMs),
          SenderId: "memory-test",
          ApproximateFirstReceiveTimestamp: String(m.firstReceivedAtMs),
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:memory-test",
        awsRegion: "us-east-1",
      }));
      const event: SQSEvent = { Records: records };
      this.stats.invocations += 1;
      this.stats.messages += records.length;
      const result = await this.worker(event, lambdaContext(this.invocationMs));
      // Failed records stay in flight: they come back when their visibility (the engine's backoff) ends.
      const failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      for (const m of messages) if (!failed.has(m.messageId)) this.queue.delete(m.receiptHandle);
    }
    throw new Error(`runUntilIdle: still busy after ${maxBatches} batches`);
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

  /** Wake-ups the engine gave up on, and messages the redrive policy moved out. */
  deadLetters(): readonly DeadLetter[] {
    return this.queue.deadLetters;
  }

  /** Nothing runs in the background: this only drops the queued wake-ups. */
  async close(): Promise<void> {
    this.queue.clear();
  }
}

function lambdaContext(remainingMs: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "worker",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:worker",
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/worker",
    logStreamName: "memory-test",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Creates an in-memory test environment; see TestEnvironment. Needs no services.
 *
 * @example
 * const env = await createTestEnvironment({ workflows: [approval], startTimeMs: Date.UTC(2026, 0, 1) });
 * const id = await env.start(approval, { request: "laptop" });
 * await env.advanceTime("7 days");
 * expect((await env.execution(id)).status).toBe("sleeping"); // waiting for the decision signal
 */
export async function createTestEnvironment(options: TestEnvironmentOptions): Promise<TestEnvironment> {
  return new TestEnvironment(options);
}
