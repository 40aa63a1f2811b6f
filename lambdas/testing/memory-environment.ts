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
import { type AnyWorkflow, WorkflowRegistry } from "../core/workflow.js";
import type { ApiDeps } from "../engine/executions.js";
import type { EngineMetrics } from "../engine/observability.js";
import type { EngineDeps, WorkerOptions } from "../engine/process-wakeup.js";
import { RunCache } from "../engine/run-cache.js";
import { createWorkerHandler } from "../handlers/worker.js";
import { type DeadLetter, MemoryQueue, type MemoryQueueOptions } from "./memory-queue.js";
import { MemoryRedelivery, MemoryWakeupScheduler, type MemoryWakeupSchedulerOptions } from "./memory-scheduler.js";
import { MemoryExecutionStore, type MemoryStoreOptions } from "./memory-store.js";
import type { ScheduleDefinition } from "../starts/definitions.js";
import { ScheduleFires } from "../starts/local-fires.js";
import { TestKit } from "./test-kit.js";

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
  /** Schedules `advanceTime` fires when the clock passes their times (rates count from `startTimeMs`). */
  schedules?: readonly ScheduleDefinition[];
}

/** Most messages one worker invocation gets, as Lambda's SQS event source sends by default. */
const BATCH_SIZE = 10;

/** A workflow test environment in memory; made by createTestEnvironment. */
export class TestEnvironment extends TestKit {
  /** Worker invocations and the messages they handled so far (for cost assertions). */
  readonly stats = { invocations: 0, messages: 0 };
  readonly deps: EngineDeps & ApiDeps;
  readonly store: MemoryExecutionStore;
  readonly queue: MemoryQueue;
  private nowMs: number;
  private readonly worker: ReturnType<typeof createWorkerHandler>;
  private readonly invocationMs: number;

  constructor(options: TestEnvironmentOptions) {
    super();
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
    if (options.schedules !== undefined && options.schedules.length > 0) this.fires = new ScheduleFires(options.schedules, this.nowMs);
  }

  /** The test clock (epoch ms). */
  now(): number {
    return this.nowMs;
  }

  /**
   * Moves the clock forward, stopping at each wake-up on the way so timers fire in order and at
   * their own time.
   */
  async advanceTime(duration: Duration): Promise<void> {
    const target = this.nowMs + toMs(duration);
    for (;;) {
      const next = this.nextStopAtMs(this.queue.nextVisibleAtMs());
      if (next === undefined || next > target) break;
      this.nowMs = Math.max(this.nowMs, next);
      await this.fireDueSchedules();
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
