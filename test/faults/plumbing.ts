/** What the scenario needs around the checks: bounded concurrency, and reading back what DynamoDB and SQS hold. */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import type { ObservedExecution } from "./part.js";

/** Runs `fn` over `items` with at most `size` at once. */
export async function inBatches<T>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const index = next;
        next += 1;
        await fn(items[index] as T, index);
      }
    }),
  );
}

/**
 * The execution item, every run's history and the whole inbox (whatever the arrival times), read
 * consistently, large values from their objects.
 */
export async function observe(store: DynamoExecutionStore, id: string): Promise<ObservedExecution> {
  const [record, { events }, inbox] = await Promise.all([store.getExecution(id), store.readHistory(id), store.readInbox(id)]);
  return { record, history: events, inbox };
}

/** Execution ids of every message in the queue (received and deleted). */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let empty = 0; empty < 2; ) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) {
      empty += 1;
      continue;
    }
    for (const m of messages) ids.add(String((JSON.parse(m.Body ?? "{}") as { executionId?: string }).executionId));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
  }
  return ids;
}
