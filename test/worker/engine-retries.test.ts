/**
 * Engine retries through the real worker handler, DynamoDB Local and the SQS emulator: backoff by
 * the message's visibility, the count on the execution item, and giving up after 20 retries.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { engineRetryDelaySeconds, MAX_ENGINE_BACKOFF_SECONDS, MAX_ENGINE_RETRIES } from "../../lambdas/core/retry.js";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { WorkflowRegistry } from "../../lambdas/core/workflow.js";
import { ConfigError } from "../../lambdas/handlers/config.js";
import { createEngineDeps } from "../../lambdas/handlers/deps.js";
import { SqsRedelivery, visibilitySecondsFor } from "../../lambdas/queue/redelivery.js";
import { executionPk, META_SK, INBOX_PREFIX } from "../../lambdas/store/keys.js";
import { invokeWorker, RecordingRedelivery, sqsRecord, type WorkerWorld, workerWorld } from "./harness.js";

let world: WorkerWorld;
let stepRuns = 0;
const greet = defineWorkflow("greet", async (ctx, name: string) => ctx.step("hello", () => {
  stepRuns += 1;
  return `hello ${name}`;
}));
let counter = 0;

beforeAll(async () => {
  world = await workerWorld("retries");
});

/** An execution of a version this worker does not have: every turn fails. */
async function unregisteredExecution(options: { parent?: { executionId: string; position: number } } = {}): Promise<string> {
  counter += 1;
  const id = `lost-${counter}`;
  await world.store.createExecution({ id, workflow: "greet", version: 7, input: "x", nowMs: Date.now(), ...options });
  return id;
}

async function setRetryCount(id: string, retryCount: number): Promise<void> {
  await world.clients.doc.send(
    new UpdateCommand({ TableName: world.tableName, Key: { PK: executionPk(id), SK: META_SK }, UpdateExpression: "SET retryCount = :n", ExpressionAttributeValues: { ":n": retryCount } }),
  );
}

async function meta(id: string): Promise<Record<string, unknown>> {
  const out = await world.clients.doc.send(new GetCommand({ TableName: world.tableName, Key: { PK: executionPk(id), SK: META_SK }, ConsistentRead: true }));
  return out.Item ?? {};
}

describe("engine retry backoff", () => {
  it("is min(2 ** n + jitter, 64) seconds, jitter in [1, 3)", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => engineRetryDelaySeconds(n, 0))).toEqual([3, 5, 9, 17, 33, 64, 64]);
    for (let n = 1; n <= MAX_ENGINE_RETRIES; n += 1) {
      const low = engineRetryDelaySeconds(n, 0);
      const high = engineRetryDelaySeconds(n, 0.999);
      expect(low).toBeGreaterThanOrEqual(Math.min(2 ** n + 1, MAX_ENGINE_BACKOFF_SECONDS));
      expect(high).toBeLessThanOrEqual(MAX_ENGINE_BACKOFF_SECONDS);
      expect(high).toBeGreaterThanOrEqual(low);
    }
  });

  it("never writes a caret (XOR in JavaScript) where a power of two is meant, anywhere in lambdas/", async () => {
    const offenders: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.name.endsWith(".ts") && /\b2\s*\^\s*[\w(]/.test(await readFile(path, "utf8"))) offenders.push(path);
      }
    };
    await walk("lambdas");
    expect(offenders).toEqual([]);
  });

  it("clamps a visibility timeout to SQS's bounds", () => {
    expect([0, -1, 0.2, 3, 64, 1e9].map(visibilitySecondsFor)).toEqual([0, 0, 1, 3, 64, 43_200]);
  });
});

describe("a turn that fails for an infrastructure reason", () => {
  it("comes back after the backoff (the message's visibility), with the count kept on the execution", async () => {
    const id = await unregisteredExecution();
    const redelivery = new RecordingRedelivery();
    const deps = world.deps([greet], { redelivery });
    for (let n = 1; n <= 5; n += 1) {
      const record = sqsRecord(id, { receiveCount: n });
      const result = await invokeWorker(deps, [record]);
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
      expect(redelivery.retries[n - 1]).toEqual({ receiptHandle: record.receiptHandle, delaySeconds: engineRetryDelaySeconds(n, 0) });
      expect(await meta(id)).toMatchObject({ retryCount: n, status: "running" });
      expect((await meta(id)).leaseOwner).toBeUndefined(); // let go, so the retry can start at once
    }
    expect(redelivery.retries.map((r) => r.delaySeconds)).toEqual([3, 5, 9, 17, 33]);
  });

  it("is still reported failed when the backoff cannot be set (it returns after the queue's own timeout)", async () => {
    const id = await unregisteredExecution();
    const redelivery = new RecordingRedelivery();
    redelivery.failRetries = true;
    const record = sqsRecord(id);
    const result = await invokeWorker(world.deps([greet], { redelivery }), [record]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
  });

  it("hides the real message for the backoff, then SQS delivers it again", async () => {
    const id = await unregisteredExecution();
    await world.clients.sqs.send(new SendMessageCommand({ QueueUrl: world.queueUrl, MessageBody: JSON.stringify({ executionId: id }) }));
    const received = await world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
    const message = received.Messages?.[0];
    expect(message).toBeDefined();
    const deps = world.deps([greet], { redelivery: new SqsRedelivery(world.clients.sqs, world.queueUrl, world.deadLetterQueueUrl) });
    const result = await invokeWorker(deps, [sqsRecord(id, { messageId: message?.MessageId, receiptHandle: message?.ReceiptHandle })], {
      engineRetries: { delaySeconds: () => 2 },
    });
    expect(result.batchItemFailures).toHaveLength(1);
    const receive = () =>
      world.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"] }));
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await receive()).Messages ?? []).toEqual([]); // the queue's own timeout is 30 s: only our backoff brings it back
    await new Promise((r) => setTimeout(r, 1_500));
    const again = await receive();
    expect(again.Messages?.map((m) => [m.MessageId, m.Attributes?.ApproximateReceiveCount])).toEqual([[message?.MessageId, "2"]]);
  });

  it("resets the count once a turn ends", async () => {
    counter += 1;
    const id = `greet-${counter}`;
    await world.store.createExecution({ id, workflow: "greet", version: 1, input: "ada", nowMs: Date.now() });
    await setRetryCount(id, 7);
    await invokeWorker(world.deps([greet], { redelivery: new RecordingRedelivery() }), [sqsRecord(id)]);
    expect(await meta(id)).toMatchObject({ status: "completed", retryCount: 0 });
  });
});

describe("after MAX_ENGINE_RETRIES (20) retries", () => {
  it("fails the execution with the reason, dead-letters its wake-up, acks the message and tells the parent", async () => {
    counter += 1;
    const parent = `parent-${counter}`;
    await world.store.createExecution({ id: parent, workflow: "greet", version: 1, input: "p", nowMs: Date.now() });
    const id = await unregisteredExecution({ parent: { executionId: parent, position: 4 } });
    await setRetryCount(id, MAX_ENGINE_RETRIES); // the first turn and 20 retries: this is the last
    const deps = world.deps([greet], { redelivery: new SqsRedelivery(world.clients.sqs, world.queueUrl, world.deadLetterQueueUrl) });
    const before = Date.now();

    const result = await invokeWorker(deps, [sqsRecord(id, { receiveCount: 21 })]);

    expect(result.batchItemFailures).toEqual([]); // acked
    const execution = await world.store.getExecution(id);
    expect(execution).toMatchObject({ status: "failed", error: { code: "ENGINE_RETRIES_EXHAUSTED" } });
    expect(execution?.error?.message).toMatch(/21 turns in a row/);
    expect(execution?.error?.message).toMatch(/no version 7/);
    const { events } = await world.store.readHistory(id);
    expect(events.map((e) => e.type)).toEqual(["ExecutionStarted", "ExecutionFailed"]);

    const dead = await world.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: world.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ["All"] }),
    );
    expect(dead.Messages?.map((m) => [JSON.parse(m.Body ?? "{}").executionId, m.MessageAttributes?.errorCode?.StringValue])).toEqual([[id, "ENGINE_RETRIES_EXHAUSTED"]]);

    const inbox = await world.clients.doc.send(
      new QueryCommand({
        TableName: world.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues: { ":pk": executionPk(parent), ":p": INBOX_PREFIX },
        ConsistentRead: true,
      }),
    );
    expect(inbox.Items?.map((i) => JSON.parse(String(i.data)))).toMatchObject([{ type: "ChildEnded", position: 4, childId: id, status: "failed" }]);
    expect((await world.store.getExecution(parent))?.nextWakeAtMs).toBeGreaterThanOrEqual(before);
  });

  it("counts turns that died without a word (crash, timeout): the next delivery gives up without running", async () => {
    counter += 1;
    const id = `crashy-${counter}`;
    const t0 = Date.now() - 60_000;
    await world.store.createExecution({ id, workflow: "greet", version: 1, input: "c", nowMs: t0 });
    // 21 workers took the lease and were never heard of again.
    for (let i = 0; i <= MAX_ENGINE_RETRIES; i += 1) {
      const taken = await world.store.acquireLease(id, { owner: `dead-${i}`, nowMs: t0 + i * 10, leaseMs: 5 });
      expect(taken.acquired).toBe(true);
    }
    const redelivery = new RecordingRedelivery();
    stepRuns = 0;
    const result = await invokeWorker(world.deps([greet], { redelivery }), [sqsRecord(id, { receiveCount: 22 })]);
    expect(result.batchItemFailures).toEqual([]);
    expect(stepRuns).toBe(0);
    expect(await world.store.getExecution(id)).toMatchObject({ status: "failed", error: { code: "ENGINE_RETRIES_EXHAUSTED" } });
    expect(redelivery.deadLetters.map((d) => d.message.executionId)).toEqual([id]);
    expect(redelivery.deadLetters[0]?.reason.message).toMatch(/crashed or timed out/);
  });
});

describe("the deployed worker's configuration", () => {
  it("requires DURABLE_DLQ_URL and wires the dead-letter queue from it", () => {
    const env = { DURABLE_TABLE_NAME: "t", DURABLE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/q", AWS_REGION: "us-east-1" };
    const registry = new WorkflowRegistry([greet]);
    expect(() => createEngineDeps(registry, env, { worker: true })).toThrow(ConfigError);
    expect(() => createEngineDeps(registry, env, { worker: true })).toThrow(/DURABLE_DLQ_URL/);
    expect(createEngineDeps(registry, env).redelivery).toBeUndefined(); // the API and the sweeper do not need it
    expect(createEngineDeps(registry, { ...env, DURABLE_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/1/q-dlq" }, { worker: true }).redelivery).toBeInstanceOf(SqsRedelivery);
  });
});
