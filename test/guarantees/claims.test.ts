/**
 * Claims the README makes, held to account: a step result costs one conditional PutItem (counted
 * by the request meter, so a regression to a transaction per step fails here, not only in the
 * benchmark), and UNSUPPORTED_AWAIT is reported when workflow code goes on after awaiting
 * something that is not a durable call, even while other durable calls are open.
 * Real worker, DynamoDB Local and the SQS emulator.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { processWakeup } from "../../lambdas/engine/process-wakeup.js";
import { RequestMeter } from "../../lambdas/store/request-meter.js";
import { createDynamoDBTestEnvironment as createTestEnvironment } from "../../local/testing.js";
import { type GuaranteeWorld, guaranteeWorld, sleep } from "./support.js";

const time = { remainingMs: () => 60_000 };

const steps = defineWorkflow("steps", async (ctx, input: { n: number }) => {
  let sum = 0;
  for (let i = 0; i < input.n; i += 1) sum += await ctx.step(`s${i}`, () => i);
  return sum;
});

const foreignWhileStepRuns = defineWorkflow("foreign-step", async (ctx) => {
  const long = ctx.step("long", () => sleep(400).then(() => "long"));
  await new Promise((resolve) => setTimeout(resolve, 50)); // not a durable call
  await ctx.step("after", () => "after");
  return long;
});

const foreignWhileTimerOpen = defineWorkflow("foreign-timer", async (ctx) => {
  const hour = ctx.sleep("hour", "1h");
  await new Promise((resolve) => setTimeout(resolve, 50)); // not a durable call
  await ctx.step("after", () => "after");
  await hour;
  return "done";
});

describe("the cost of a step", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("cost", [steps]);
  });
  afterAll(async () => g.close());

  async function requestsFor(n: number): Promise<Record<string, { requests: number; writeUnits: number }>> {
    const id = `steps-${n}`;
    await g.api("POST", "/executions", { workflow: "steps", id, input: { n } });
    const meter = new RequestMeter().attach(g.world.clients.dynamo, "dynamodb");
    meter.reset();
    expect(await processWakeup({ executionId: id }, time, g.worker())).toMatchObject({ kind: "ran", outcome: "completed", stepAttempts: n });
    const snapshot = meter.snapshot();
    meter.reset();
    return snapshot;
  }

  it("is one conditional PutItem of one write unit: ten more steps add ten puts and nothing else", async () => {
    const ten = await requestsFor(10);
    const twenty = await requestsFor(20);
    expect(twenty["dynamodb.PutItem"]?.requests).toBe(20);
    expect((twenty["dynamodb.PutItem"]?.requests ?? 0) - (ten["dynamodb.PutItem"]?.requests ?? 0)).toBe(10);
    expect((twenty["dynamodb.PutItem"]?.writeUnits ?? 0) - (ten["dynamodb.PutItem"]?.writeUnits ?? 0)).toBe(10);
    for (const operation of ["dynamodb.TransactWriteItems", "dynamodb.UpdateItem", "dynamodb.Query", "dynamodb.GetItem"]) {
      expect([operation, twenty[operation]?.requests ?? 0]).toEqual([operation, ten[operation]?.requests ?? 0]);
    }
  });
});

describe("UNSUPPORTED_AWAIT", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("await", [foreignWhileStepRuns]);
  });
  afterAll(async () => g.close());

  it("is reported at once when the workflow goes on after a bare timer while a step runs", async () => {
    await g.api("POST", "/executions", { workflow: "foreign-step", id: "foreign-1" });
    expect(await processWakeup({ executionId: "foreign-1" }, time, g.worker())).toMatchObject({ kind: "ran", outcome: "failed" });
    const record = await g.world.store.getExecution("foreign-1");
    expect(record).toMatchObject({ status: "failed", error: { code: "UNSUPPORTED_AWAIT" } });
    expect(record?.error?.message).toContain('step "after"');
  });

  it("is reported at the next turn of a warm worker when the bare timer resolved while a 1-hour sleep was open", async () => {
    const env = await createTestEnvironment({
      workflows: [foreignWhileTimerOpen],
      warmRuns: true,
      endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    });
    try {
      const id = await env.start(foreignWhileTimerOpen, null);
      expect((await env.execution(id)).status).toBe("sleeping");
      await sleep(100); // the bare timer fires while no turn runs
      await env.advanceTime("1h");
      expect(await env.execution(id)).toMatchObject({ status: "failed", error: { code: "UNSUPPORTED_AWAIT" } });
    } finally {
      await env.close();
    }
  });
});
