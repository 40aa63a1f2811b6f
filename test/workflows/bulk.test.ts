/**
 * Bulk actions as a job (`durable:bulk`), on the in-memory kit and on DynamoDB Local with the SQS
 * emulator: terminate, cancel and redrive every execution a filter matches (workflow, status,
 * tag, creation time), paced, with its progress published, continuing as new on long lists; and
 * over HTTP through `POST /bulk` and the client.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { codeOf } from "../support/codes.js";
import { type AnyWorkflow, defineWorkflow } from "../../lambdas/index.js";
import type { BulkProgress } from "../../lambdas/engine/bulk.js";
import { createTestEnvironment, type TestKit } from "../../lambdas/testing/index.js";
import { createClient } from "../../lambdas/client/index.js";
import { createDynamoDBTestEnvironment } from "../../local/testing.js";
import { startLocalStack } from "../../local/stack.js";
import { uniqueName } from "../support/services.js";

const brokenFor = new Set<string>();
const napper = defineWorkflow("bulk-napper", async (ctx) => {
  await ctx.sleep("nap", "30 days");
  return "up";
});
const other = defineWorkflow("bulk-other", async (ctx) => {
  await ctx.sleep("nap", "30 days");
  return "other";
});
const flaky = defineWorkflow("bulk-flaky", async (ctx, input: { key: string }) =>
  ctx.step("work", () => {
    if (brokenFor.has(input.key)) throw new Error("down");
    return "ok";
  }, { retry: { maxAttempts: 1 } }),
);

type Kit = TestKit & { advanceTime(duration: string): Promise<void>; now(): number; close(): Promise<void> };
const T0 = Date.UTC(2026, 4, 1);
const MODES: { name: string; create(workflows: AnyWorkflow[]): Promise<Kit> }[] = [
  { name: "in memory", create: (workflows) => createTestEnvironment({ workflows, startTimeMs: T0 }) },
  {
    name: "DynamoDB Local",
    create: (workflows) => createDynamoDBTestEnvironment({ workflows, startTimeMs: T0, endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") } }),
  },
];

describe.each(MODES)("bulk actions, $name", (mode) => {
  let env: Kit;
  beforeAll(async () => {
    env = await mode.create([napper, other, flaky]);
  });
  afterAll(async () => {
    await env?.close();
  });

  it("terminates every sleeping execution of a workflow, paced, across pages and continued runs, and leaves the others alone", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 13; i += 1) ids.push(await env.start(napper, null, { id: `nap-${i}` }));
    const untouched = await env.start(other, null, { id: "other-1" });
    const job = await env.bulk({ action: "terminate", filter: { workflow: "bulk-napper", status: "sleeping" }, reason: "clean-up", ratePerSecond: 4, pageSize: 3, pagesPerRun: 2 });
    await env.advanceTime("1 minute");
    const view = await env.execution(job);
    expect(view.status).toBe("completed");
    expect(view.run).toBeGreaterThan(1); // continued as new after 2 pages
    expect(view.state).toMatchObject({ matched: 13, done: 13, skipped: 0, failed: 0, finished: true } satisfies Partial<BulkProgress>);
    for (const id of ids) expect((await env.execution(id)).status, id).toBe("terminated");
    expect((await env.execution(untouched)).status).toBe("sleeping");
    // Paced: 13 executions at 4 a second take at least 3 s of (test) time between pages.
    const history = await env.history(job);
    const first = history.find((e) => e.type === "StepCompleted");
    const last = [...history].reverse().find((e) => e.type === "StepCompleted");
    expect((last?.atMs ?? 0) - (first?.atMs ?? 0)).toBeGreaterThanOrEqual(3_000);
  });

  it("redrives the failed executions with a tag, and counts what was not failed as skipped", async () => {
    for (const key of ["f1", "f2", "f3"]) {
      brokenFor.add(key);
      await env.start(flaky, { key }, { id: `flaky-${key}`, tags: { batch: "b7" } });
    }
    await env.start(flaky, { key: "fine" }, { id: "flaky-fine", tags: { batch: "b7" } });
    for (const key of ["f1", "f2", "f3"]) expect((await env.execution(`flaky-${key}`)).status).toBe("failed");
    for (const key of ["f1", "f2", "f3"]) brokenFor.delete(key);
    const job = await env.bulk({ action: "redrive", filter: { tags: { batch: "b7" } }, ratePerSecond: 100 });
    await env.advanceTime("10 seconds");
    expect((await env.execution(job)).state).toMatchObject({ matched: 4, done: 3, skipped: 1, failed: 0, finished: true });
    for (const key of ["f1", "f2", "f3"]) expect(await env.result(`flaky-${key}`)).toBe("ok");
  });

  it("cancels only what was created in a time range", async () => {
    await env.start(other, null, { id: "early" });
    await env.advanceTime("1 hour");
    const from = env.now();
    await env.start(other, null, { id: "inside" });
    await env.advanceTime("1 hour");
    const to = env.now();
    await env.start(other, null, { id: "late" });
    const job = await env.bulk({ action: "cancel", filter: { workflow: "bulk-other", createdAfterMs: from, createdBeforeMs: to } });
    await env.advanceTime("10 seconds");
    expect((await env.execution(job)).state).toMatchObject({ matched: 1, done: 1, finished: true });
    expect((await env.execution("inside")).status).toBe("canceled");
    expect((await env.execution("early")).status).toBe("sleeping");
    expect((await env.execution("late")).status).toBe("sleeping");
  });

  it("refuses a rate out of bounds and a backwards time range, starting nothing", async () => {
    expect(await codeOf(env.bulk({ action: "cancel", filter: {}, ratePerSecond: 500 }))).toBe("INVALID_INPUT");
    expect(await codeOf(env.bulk({ action: "cancel", filter: { createdAfterMs: 10, createdBeforeMs: 5 } }))).toBe("INVALID_INPUT");
    expect(await codeOf(env.bulk({ action: "cancel", filter: { tags: { "bad key": "x" } } }))).toBe("INVALID_TAGS");
    expect(await codeOf(env.start("durable:bulk", { action: "cancel", filter: {} }))).toBe("WORKFLOW_NOT_FOUND");
  });
});

describe("POST /bulk over HTTP, through the client", () => {
  it("starts a job the client can watch, and refuses a bad request with 400", async () => {
    const stack = await startLocalStack({
      workflows: [napper],
      endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
      tableName: uniqueName("bulk"),
      queueName: uniqueName("bulk"),
    });
    try {
      const client = createClient({ url: stack.apiUrl, auth: { type: "bearer", token: stack.bearerToken } });
      for (let i = 0; i < 4; i += 1) await client.start(napper, null, { id: `http-nap-${i}` });
      for (let i = 0; i < 4; i += 1) {
        for (let t = 0; t < 100 && (await client.get(`http-nap-${i}`)).status !== "sleeping"; t += 1) await new Promise((r) => setTimeout(r, 50));
      }
      const { id } = await client.bulk({ action: "terminate", filter: { workflow: napper, status: "sleeping" }, ratePerSecond: 100 });
      await client.result(id, { timeoutMs: 20_000 });
      expect((await client.get(id)).state).toMatchObject({ matched: 4, done: 4, finished: true });
      for (let i = 0; i < 4; i += 1) expect((await client.get(`http-nap-${i}`)).status).toBe("terminated");
      await expect(client.bulk({ action: "delete" as never, filter: {} })).rejects.toMatchObject({ status: 400, code: "INVALID_INPUT" });
      await expect(client.bulk({ action: "cancel", filter: {}, ratePerSecond: 0 })).rejects.toMatchObject({ status: 400 });
    } finally {
      await stack.stop();
    }
  });
});
