/** Wide fan-outs stay within DynamoDB's 100-item transaction limit: commits are split, order kept. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { createDynamoDBTestEnvironment, type DynamoDBTestEnvironment } from "../../local/testing.js";

const leaf = defineWorkflow("leaf", async (ctx, input: { n: number }) => ctx.step("double", () => input.n * 2));

const fanOut = defineWorkflow("fan-out", async (ctx, input: { steps: number; children: number; timers: number }) => {
  const steps = await Promise.all(Array.from({ length: input.steps }, (_, i) => ctx.step(`s${i}`, () => i)));
  const timers = await Promise.all(Array.from({ length: input.timers }, (_, i) => ctx.sleep(`t${i}`, "1 minute").then(() => i)));
  const children = await Promise.all(Array.from({ length: input.children }, (_, i) => ctx.child(leaf, { n: i })));
  return { steps: steps.reduce((a, b) => a + b, 0), timers: timers.length, children: children.reduce((a, b) => a + b, 0) };
});

const inbox = defineWorkflow("inbox", async (ctx, input: { count: number }) => {
  await ctx.sleep("let-them-pile-up", "1 minute");
  const got: number[] = [];
  for (let i = 0; i < input.count; i += 1) got.push(await ctx.waitForSignal<number>("n"));
  return got;
});

let env: DynamoDBTestEnvironment;
beforeAll(async () => {
  env = await createDynamoDBTestEnvironment({
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    workflows: [leaf, fanOut, inbox],
  });
});
afterAll(async () => {
  await env?.close();
});

describe("wide workflows", () => {
  it("runs 120 parallel steps, 60 timers and 60 children to completion", async () => {
    const id = await env.start(fanOut, { steps: 120, children: 60, timers: 60 });
    await env.advanceTime("1 minute");
    expect(await env.result(id)).toEqual({ steps: (119 * 120) / 2, timers: 60, children: 2 * ((59 * 60) / 2) });
    const history = await env.history(id);
    const completed = history.filter((e) => e.type === "StepCompleted").map((e) => (e as { name: string }).name);
    expect(completed).toEqual(Array.from({ length: 120 }, (_, i) => `s${i}`));
  }, 60_000);

  it("consumes 150 signals that piled up, in the order they were sent", async () => {
    const id = await env.start(inbox, { count: 150 });
    for (let i = 0; i < 150; i += 1) await env.signal(id, "n", i, { run: false });
    await env.advanceTime("1 minute");
    expect(await env.result(id)).toEqual(Array.from({ length: 150 }, (_, i) => i));
  }, 60_000);
});
