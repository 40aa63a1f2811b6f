/** What the scenario needs around the checks: bounded concurrency, and reading back what DynamoDB and SQS hold. */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { decodeInboxItem } from "../../lambdas/store/items.js";
import { executionPk, INBOX_PREFIX } from "../../lambdas/store/keys.js";
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

/** The execution item, every run's history and the whole inbox (whatever the arrival times), read consistently. */
export async function observe(store: DynamoExecutionStore, doc: DynamoDBDocumentClient, tableName: string, id: string): Promise<ObservedExecution> {
  const [record, { events }, inbox] = await Promise.all([store.getExecution(id), store.readHistory(id), readInbox(doc, tableName, id)]);
  return { record, history: events, inbox };
}

async function readInbox(doc: DynamoDBDocumentClient, tableName: string, id: string) {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues: { ":pk": executionPk(id), ":p": INBOX_PREFIX },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items.map(decodeInboxItem);
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
