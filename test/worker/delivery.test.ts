/**
 * SQS delivers at least once and in no particular order: late, duplicate and concurrent wake-ups,
 * through the real worker, DynamoDB Local and the SQS emulator.
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { sendSignal, startExecution } from "../../lambdas/engine/executions.js";
import { processWakeup, type WakeupResult } from "../../lambdas/engine/process-wakeup.js";
import { executionPk, META_SK } from "../../lambdas/store/keys.js";
import { drainIntoWorker, invokeWorker, RecordingRedelivery, sqsRecord, type WorkerWorld, workerWorld } from "./harness.js";

let world: WorkerWorld;
/** Step body runs by idempotency key and attempt. */
const runs = new Map<string, number>();
const count = (key: string) => runs.set(key, (runs.get(key) ?? 0) + 1);

const slow = defineWorkflow("slow", async (ctx, ms: number) => {
  const first = await ctx.step("first", async (info) => {
    count(`${info.idempotencyKey}#${info.attempt}`);
    await new Promise((r) => setTimeout(r, ms));
    return 1;
  });
  const second = await ctx.step("second", (info) => {
    count(`${info.idempotencyKey}#${info.attempt}`);
    return first + 1;
  });
  return second;
});

const waiter = defineWorkflow("waiter", async (ctx) => {
  await ctx.step("work", async () => {
    await new Promise((r) => setTimeout(r, 600));
  });
  return ctx.waitForSignal<string>("go");
});

let counter = 0;
const time = { remainingMs: () => 60_000 };
const nextId = (prefix: string) => `${prefix}-${(counter += 1)}`;

beforeAll(async () => {
  world = await workerWorld("delivery");
});

async function meta(id: string): Promise<Record<string, unknown>> {
  const out = await world.clients.doc.send(new GetCommand({ TableName: world.tableName, Key: { PK: executionPk(id), SK: META_SK }, ConsistentRead: true }));
  return out.Item ?? {};
}

function runsOf(id: string): number[] {
  return [...runs.entries()].filter(([key]) => key.startsWith(`${id}:`)).map(([, n]) => n);
}

describe("a late message for a finished execution", () => {
  it("is acknowledged and dropped, and changes nothing", async () => {
    const deps = world.deps([slow]);
    const id = nextId("late");
    await world.store.createExecution({ id, workflow: "slow", version: 1, input: 1, nowMs: Date.now() });
    expect((await invokeWorker(deps, [sqsRecord(id)])).batchItemFailures).toEqual([]);
    expect(await meta(id)).toMatchObject({ status: "completed", output: "2" });
    const before = { item: await meta(id), history: (await world.store.readHistory(id)).events };

    const result = await invokeWorker(deps, [sqsRecord(id), sqsRecord(id, { receiveCount: 3 })]);

    expect(result.batchItemFailures).toEqual([]);
    expect(await processWakeup({ executionId: id }, time, deps)).toEqual({ kind: "dropped", reason: "terminal" });
    expect(await meta(id)).toEqual(before.item);
    expect((await world.store.readHistory(id)).events).toEqual(before.history);
    expect(runsOf(id)).toEqual([1, 1]);
  });
});

describe("wake-ups for one execution delivered to several workers at once", () => {
  it("run each step body once: one worker takes the lease, the others back off", async () => {
    const id = nextId("race");
    await world.store.createExecution({ id, workflow: "slow", version: 1, input: 500, nowMs: Date.now() });
    const workers = Array.from({ length: 6 }, () => world.deps([slow]));
    const results = await Promise.all(workers.map((deps) => processWakeup({ executionId: id }, time, deps)));

    // One ran the steps; the rest found the lease held (or, if they came after it, nothing to do).
    const kinds = results.map((r: WakeupResult) => r.kind);
    expect(kinds.filter((k) => k === "busy").length).toBeGreaterThanOrEqual(1);
    expect(kinds.every((k) => k === "busy" || k === "ran")).toBe(true);
    expect(results.filter((r) => r.kind === "ran" && r.stepAttempts > 0)).toHaveLength(1);
    expect(runsOf(id)).toEqual([1, 1]);
    const { events } = await world.store.readHistory(id);
    expect(events.filter((e) => e.type === "StepCompleted")).toHaveLength(2);
    expect(await meta(id)).toMatchObject({ status: "completed", retryCount: 0 });
  });

  it("run each step body once when the same message arrives twice in one batch", async () => {
    const id = nextId("twice");
    await world.store.createExecution({ id, workflow: "slow", version: 1, input: 10, nowMs: Date.now() });
    const record = sqsRecord(id);
    const result = await invokeWorker(world.deps([slow], { redelivery: new RecordingRedelivery() }), [record, { ...record, messageId: `${record.messageId}-copy` }]);
    expect(result.batchItemFailures).toEqual([]);
    expect(runsOf(id)).toEqual([1, 1]);
    expect(await meta(id)).toMatchObject({ status: "completed" });
  });

  it("leave nothing stranded: a signal that arrives while another worker holds the lease is taken in by that worker's turn", async () => {
    const id = nextId("strand");
    const api = world.deps([waiter]);
    await startExecution(api, { workflow: "waiter", id, input: null });
    // Worker A takes the lease and is busy in its step (600 ms) when the signal arrives.
    const a = processWakeup({ executionId: id }, time, world.deps([waiter]));
    while ((await meta(id)).leaseOwner === undefined) await new Promise((r) => setTimeout(r, 10));
    await sendSignal(api, id, "go", "now");
    // The signal's wake-up reaches worker B while A still holds the lease: B backs off.
    const b = await processWakeup({ executionId: id }, time, world.deps([waiter]));
    expect(b.kind).toBe("busy");
    // A cannot end its turn waiting while the inbox holds something it has not seen: it takes the
    // signal in and completes.
    expect(await a).toMatchObject({ kind: "ran", outcome: "completed" });
    expect(await meta(id)).toMatchObject({ status: "completed", output: JSON.stringify("now") });
    // B's rescheduled wake-up (and the start's) come round and are dropped.
    await drainIntoWorker(world, world.deps([waiter]));
    expect(await meta(id)).toMatchObject({ status: "completed" });
  });
});
