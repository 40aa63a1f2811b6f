/**
 * A test kit for workflow authors: runs workflows through the real worker handler against
 * DynamoDB Local and the SQS emulator, with an injected clock so a workflow that sleeps 7 days
 * and waits 24 hours for a signal finishes in well under a second. It has the methods of the
 * in-memory TestEnvironment (`durable-aws/testing`), so a test moves from one to the other by
 * changing the factory; this one also checks what DynamoDB does (conditions, transactions, sizes).
 *
 * Wake-ups due "now" go through SQS as in production; wake-ups due later are held by the kit
 * until `advanceTime` moves the clock past them (like Temporal's time-skipping test server).
 *
 * Environments share the services (services.ts): each makes its own table and queue, and deletes
 * them when it closes.
 */
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { randomUUID } from "node:crypto";
import { type Duration, toMs } from "../../lambdas/core/duration.js";
import { type AnyWorkflow, WorkflowRegistry } from "../../lambdas/core/workflow.js";
import type { ApiDeps } from "../../lambdas/engine/executions.js";
import type { ScheduleDefinition } from "../../lambdas/starts/definitions.js";
import { ScheduleFires } from "../../lambdas/starts/local-fires.js";
import { TestKit } from "../../lambdas/testing/test-kit.js";
import type { EngineMetrics } from "../../lambdas/engine/observability.js";
import type { EngineDeps, WorkerOptions } from "../../lambdas/engine/process-wakeup.js";
import { RunCache } from "../../lambdas/engine/run-cache.js";
import { createWorkerHandler } from "../../lambdas/handlers/worker.js";
import { SqsWakeupScheduler } from "../../lambdas/queue/wakeups.js";
import type { WakeupScheduler } from "../../lambdas/ports/queue.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { createTable } from "../../lambdas/store/table.js";
import { localClients, type LocalClients } from "../aws-clients.js";
import { sharedTestServices, type TestServiceEndpoints } from "./services.js";

export interface DynamoDBTestEnvironmentOptions {
  workflows: readonly AnyWorkflow[];
  /**
   * Use these running services. Without them: the ones DURABLE_TEST_DYNAMODB_ENDPOINT and
   * DURABLE_TEST_SQS_ENDPOINT name (set by the global setup), else this process's own, started
   * once on first use and shared by every environment (see stopTestServices).
   */
  endpoints?: TestServiceEndpoints;
  /** Where the clock starts (epoch ms). Default: now. */
  startTimeMs?: number;
  workerOptions?: WorkerOptions;
  /**
   * Keep replayed runs warm between turns, as a long-lived worker does. Default false: every turn
   * replays the whole history from scratch, the strictest check of a workflow's determinism.
   */
  warmRuns?: boolean;
  /** Store settings (e.g. `singlePutSteps: false` to force transactions). */
  storeOptions?: { singlePutSteps?: boolean };
  /** Receives the engine's metrics (starts, ends, step attempts), e.g. to assert on them. */
  metrics?: EngineMetrics;
  /** Schedules `advanceTime` fires when the clock passes their times (rates count from `startTimeMs`). */
  schedules?: readonly ScheduleDefinition[];
}

/** Holds wake-ups due in the future until the test's clock reaches them. */
class TimeSkippingScheduler implements WakeupScheduler {
  readonly held: { executionId: string; dueAtMs: number }[] = [];
  sent = 0;

  constructor(
    private readonly inner: WakeupScheduler,
    private readonly clock: () => number,
  ) {}

  async schedule(executionId: string, options: { dueAtMs?: number; nowMs: number }): Promise<void> {
    if (options.dueAtMs !== undefined && options.dueAtMs > this.clock()) {
      this.held.push({ executionId, dueAtMs: options.dueAtMs });
      return;
    }
    this.sent += 1;
    await this.inner.schedule(executionId, { nowMs: this.clock() });
  }

  async wakeNow(executionIds: readonly string[]): Promise<void> {
    this.sent += executionIds.length;
    await this.inner.wakeNow(executionIds);
  }

  nextDueAtMs(): number | undefined {
    return this.held.reduce<number | undefined>((min, h) => (min === undefined || h.dueAtMs < min ? h.dueAtMs : min), undefined);
  }

  /** Sends every held wake-up that is due by now. */
  async release(): Promise<number> {
    const now = this.clock();
    const due = this.held.filter((h) => h.dueAtMs <= now);
    if (due.length === 0) return 0;
    for (const h of due) this.held.splice(this.held.indexOf(h), 1);
    await this.inner.wakeNow(due.map((h) => h.executionId));
    return due.length;
  }
}

/** A workflow test environment on DynamoDB Local and the SQS emulator; made by createDynamoDBTestEnvironment. */
export class DynamoDBTestEnvironment extends TestKit {
  private nowMs: number;
  private closed = false;
  /** Worker invocations and the messages they handled so far (for cost assertions). */
  readonly stats = { invocations: 0, messages: 0 };

  private constructor(
    readonly deps: EngineDeps & ApiDeps,
    readonly endpoints: TestServiceEndpoints,
    readonly clients: LocalClients,
    readonly tableName: string,
    readonly queueUrl: string,
    private readonly scheduler: TimeSkippingScheduler,
    private readonly worker: ReturnType<typeof createWorkerHandler>,
    startTimeMs: number,
  ) {
    super();
    this.nowMs = startTimeMs;
  }

  static async create(options: DynamoDBTestEnvironmentOptions): Promise<DynamoDBTestEnvironment> {
    const endpoints = options.endpoints ?? (await sharedTestServices());
    const clients = localClients(endpoints);
    const suffix = randomUUID().slice(0, 8);
    const tableName = `durable-test-${suffix}`;
    await createTable(clients.dynamo, tableName);
    const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: `durable-test-${suffix}`, Attributes: { VisibilityTimeout: "1" } }));
    const queueUrl = queue.QueueUrl as string;

    let env: DynamoDBTestEnvironment | undefined;
    const clock = () => (env ? env.nowMs : (options.startTimeMs ?? Date.now()));
    const scheduler = new TimeSkippingScheduler(new SqsWakeupScheduler(clients.sqs, queueUrl), clock);
    const deps: EngineDeps & ApiDeps = {
      store: new DynamoExecutionStore({ client: clients.doc, tableName, ...options.storeOptions }),
      scheduler,
      registry: new WorkflowRegistry(options.workflows),
      clock,
      random: Math.random,
      workerId: `test/${suffix}`,
      ...(options.warmRuns ? { runCache: new RunCache() } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    };
    const worker = createWorkerHandler(deps, options.workerOptions ?? {});
    env = new DynamoDBTestEnvironment(deps, endpoints, clients, tableName, queueUrl, scheduler, worker, options.startTimeMs ?? Date.now());
    if (options.schedules !== undefined && options.schedules.length > 0) env.fires = new ScheduleFires(options.schedules, env.nowMs);
    return env;
  }

  /** The test clock (epoch ms). */
  now(): number {
    return this.nowMs;
  }

  /**
   * Moves the clock forward, stopping at each held wake-up on the way so timers fire in order
   * and at their own time.
   */
  async advanceTime(duration: Duration): Promise<void> {
    const target = this.nowMs + toMs(duration);
    for (;;) {
      const next = this.nextStopAtMs(this.scheduler.nextDueAtMs());
      if (next === undefined || next > target) break;
      this.nowMs = Math.max(this.nowMs, next);
      await this.fireDueSchedules();
      await this.scheduler.release();
      await this.runUntilIdle();
    }
    this.nowMs = target;
    await this.scheduler.release();
    await this.runUntilIdle();
  }

  /** Delivers queued wake-ups to the worker until the queue is empty. */
  async runUntilIdle(maxBatches = 1_000): Promise<void> {
    for (let i = 0; i < maxBatches; i += 1) {
      const out = await this.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"] }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) {
        if (!(await this.hasInFlight())) return;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const records: SQSRecord[] = messages.map((m) => ({
        messageId: m.MessageId as string,
        receiptHandle: m.ReceiptHandle as string,
        body: m.Body ?? "",
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
          SentTimestamp: m.Attributes?.SentTimestamp ?? "0",
          SenderId: m.Attributes?.SenderId ?? "test",
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? "0",
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:test",
        awsRegion: "us-east-1",
      }));
      const event: SQSEvent = { Records: records };
      this.stats.invocations += 1;
      this.stats.messages += records.length;
      const result = await this.worker(event, lambdaContext());
      const failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      const done = messages.filter((m) => !failed.has(m.MessageId as string));
      if (done.length > 0) {
        await this.clients.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: done.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle as string })),
          }),
        );
      }
    }
    throw new Error(`runUntilIdle: still busy after ${maxBatches} batches`);
  }

  /**
   * Deletes this environment's table and queue (the services are shared and stay up) and closes
   * its clients. Calling it again does nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Best effort: a table left behind costs only memory in DynamoDB Local, never another test's data.
    await Promise.allSettled([
      this.clients.dynamo.send(new DeleteTableCommand({ TableName: this.tableName })),
      this.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: this.queueUrl })),
    ]);
    this.clients.dynamo.destroy();
    this.clients.sqs.destroy();
  }

  private async hasInFlight(): Promise<boolean> {
    const attrs = await this.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages"] }),
    );
    return Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0) > 0;
  }
}

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "worker",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:worker",
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/worker",
    logStreamName: "test",
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Creates a test environment on DynamoDB Local and the SQS emulator, with its own table and
 * queue on the shared services; see DynamoDBTestEnvironment.
 *
 * @example
 * const env = await createDynamoDBTestEnvironment({ workflows: [approval] });
 * const id = await env.start(approval, { request: "laptop" });
 * await env.advanceTime("3 days");
 * await env.signal(id, "decision", { approved: true });
 * expect(await env.result(id)).toEqual({ status: "approved" });
 * await env.close();
 */
export function createDynamoDBTestEnvironment(options: DynamoDBTestEnvironmentOptions): Promise<DynamoDBTestEnvironment> {
  return DynamoDBTestEnvironment.create(options);
}
