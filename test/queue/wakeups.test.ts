/** Wake-up messages against the SQS emulator: delays clamped to SQS's 900 s, long timers chained. */
import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { WorkflowRegistry } from "../../lambdas/core/workflow.js";
import { processWakeup } from "../../lambdas/engine/process-wakeup.js";
import { delaySecondsFor, MAX_DELAY_SECONDS, parseWakeup, SqsWakeupScheduler } from "../../lambdas/queue/wakeups.js";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store.js";
import { testClients, uniqueName } from "../support/services.js";

function captureDelays(sqs: { middlewareStack: { add: (...args: never[]) => void } }): number[] {
  const delays: number[] = [];
  (sqs.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
    (next: (a: { input: { DelaySeconds?: number } }) => Promise<unknown>) => async (args: { input: { DelaySeconds?: number } }) => {
      if (args.input.DelaySeconds !== undefined) delays.push(args.input.DelaySeconds);
      return next(args);
    },
    { step: "initialize" },
  );
  return delays;
}

describe("wake-up delays", () => {
  it("clamps delays to SQS's 900 s and rounds up to whole seconds", () => {
    const now = 1_000_000;
    expect(delaySecondsFor(undefined, now)).toBe(0);
    expect(delaySecondsFor(now - 5, now)).toBe(0);
    expect(delaySecondsFor(now + 1, now)).toBe(1);
    expect(delaySecondsFor(now + 1500, now)).toBe(2);
    expect(delaySecondsFor(now + 30 * 86_400_000, now)).toBe(MAX_DELAY_SECONDS);
  });

  it("rejects a message that is not a wake-up with a clear error", () => {
    expect(() => parseWakeup("not json")).toThrow(/not a wake-up message/);
    expect(() => parseWakeup(JSON.stringify({ executionId: "" }))).toThrow(/not a wake-up message/);
    expect(parseWakeup(JSON.stringify({ executionId: "e1", dueAtMs: 5 }))).toEqual({ executionId: "e1", dueAtMs: 5 });
  });

  it("sends a 30-day wake-up with the longest delay SQS allows and keeps the due time in the body", async () => {
    const { sqs } = testClients();
    const delays = captureDelays(sqs as never);
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName("wake") }));
    const scheduler = new SqsWakeupScheduler(sqs, queue.QueueUrl as string);
    const now = Date.now();
    await scheduler.schedule("e-30d", { dueAtMs: now + 30 * 86_400_000, nowMs: now });
    expect(delays).toEqual([900]);
    const visible = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, WaitTimeSeconds: 0 }));
    expect(visible.Messages ?? []).toHaveLength(0);
  });

  it("re-delays a chained timer that arrives early, without touching DynamoDB", async () => {
    const { sqs, doc } = testClients();
    const delays = captureDelays(sqs as never);
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName("chain") }));
    const scheduler = new SqsWakeupScheduler(sqs, queue.QueueUrl as string);
    const now = Date.UTC(2026, 0, 1);
    const dueAtMs = now + 30 * 86_400_000;
    const result = await processWakeup(
      { executionId: "never-read", dueAtMs },
      { remainingMs: () => 60_000 },
      {
        // A table that does not exist: any DynamoDB call would fail the test.
        store: new DynamoExecutionStore({ client: doc, tableName: uniqueName("absent") }),
        scheduler,
        registry: new WorkflowRegistry([]),
        clock: () => now + 900_000,
        random: Math.random,
        workerId: "w",
      },
    );
    expect(result).toEqual({ kind: "rescheduled", dueAtMs });
    expect(delays).toEqual([900]);
  });
});
