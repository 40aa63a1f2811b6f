/**
 * For worker tests: a table and queues of their own, engine deps on them, SQS records shaped the
 * way Lambda's event source mapping hands them to the worker, and a recorder for redeliveries.
 */
import { randomUUID } from "node:crypto";
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSRecord } from "aws-lambda";
import type { ErrorInfo } from "../../lambdas/core/errors.js";
import { type AnyWorkflow, WorkflowRegistry } from "../../lambdas/core/workflow.js";
import type { EngineDeps, WorkerOptions } from "../../lambdas/engine/process-wakeup.js";
import { createWorkerHandler } from "../../lambdas/handlers/worker.js";
import type { Redelivery, WakeupMessage } from "../../lambdas/ports/queue.js";
import { SqsWakeupScheduler } from "../../lambdas/queue/wakeups.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { createTable } from "../../lambdas/store/table.js";
import { createLambdaContext } from "../../local/http-api.js";
import { testClients, uniqueName } from "../support/services.js";

export class RecordingRedelivery implements Redelivery {
  readonly retries: { receiptHandle: string; delaySeconds: number }[] = [];
  readonly deadLetters: { message: WakeupMessage; reason: ErrorInfo }[] = [];
  failRetries = false;

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    if (this.failRetries) throw new Error("ChangeMessageVisibility refused");
    this.retries.push({ receiptHandle, delaySeconds });
  }

  async deadLetter(message: WakeupMessage, reason: ErrorInfo): Promise<void> {
    this.deadLetters.push({ message, reason });
  }
}

export interface WorkerWorld {
  clients: ReturnType<typeof testClients>;
  tableName: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  store: DynamoExecutionStore;
  deps(workflows: readonly AnyWorkflow[], overrides?: Partial<EngineDeps>): EngineDeps;
}

export async function workerWorld(prefix: string, options: { visibilityTimeoutSeconds?: number } = {}): Promise<WorkerWorld> {
  const clients = testClients();
  const tableName = uniqueName(prefix);
  await createTable(clients.dynamo, tableName);
  const queueName = uniqueName(prefix);
  const queue = await clients.sqs.send(
    new CreateQueueCommand({ QueueName: queueName, Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30) } }),
  );
  const dlq = await clients.sqs.send(new CreateQueueCommand({ QueueName: `${queueName}-dlq` }));
  const store = new DynamoExecutionStore({ client: clients.doc, tableName });
  const queueUrl = queue.QueueUrl as string;
  return {
    clients,
    tableName,
    queueUrl,
    deadLetterQueueUrl: dlq.QueueUrl as string,
    store,
    deps: (workflows, overrides = {}) => ({
      store,
      scheduler: new SqsWakeupScheduler(clients.sqs, queueUrl),
      registry: new WorkflowRegistry(workflows),
      clock: Date.now,
      random: () => 0,
      workerId: `worker/${randomUUID()}`,
      ...overrides,
    }),
  };
}

export function sqsRecord(executionId: string, options: { receiveCount?: number; receiptHandle?: string; messageId?: string; body?: string } = {}): SQSRecord {
  return {
    messageId: options.messageId ?? randomUUID(),
    receiptHandle: options.receiptHandle ?? `rh-${randomUUID()}`,
    body: options.body ?? JSON.stringify({ executionId }),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(Date.now()),
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:test",
    awsRegion: "us-east-1",
  };
}

/** Invokes the worker handler like the event source mapping, with a 60 s Lambda timeout. */
export async function invokeWorker(deps: EngineDeps, records: SQSRecord[], options: WorkerOptions = {}): Promise<SQSBatchResponse> {
  const handler = createWorkerHandler(deps, options);
  const result = await handler({ Records: records }, createLambdaContext({ functionName: "worker", region: "us-east-1", timeoutMs: 60_000 }));
  return result as SQSBatchResponse;
}

/**
 * Runs the queue into the worker until it stays empty for `quietMs` (deleting what succeeded),
 * like the event source mapping. For tests with short waits only.
 */
export async function drainIntoWorker(world: WorkerWorld, deps: EngineDeps, options: { quietMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const out = await world.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"] }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) {
      if (Date.now() - quietSince > (options.quietMs ?? 1_500)) return;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const records = messages.map((m) =>
      sqsRecord("", { body: m.Body ?? "", messageId: m.MessageId ?? "", receiptHandle: m.ReceiptHandle ?? "", receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1) }),
    );
    const result = await invokeWorker(deps, records, { minRemainingMs: 1_000 });
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ""));
    if (done.length > 0) {
      await world.clients.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: world.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
      );
    }
    quietSince = Date.now();
  }
  throw new Error("the queue did not go quiet");
}
