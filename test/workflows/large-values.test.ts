/** Values near the limit are stored once and read back whole; values over it fail clearly. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { MAX_VALUE_BYTES } from "../../lambdas/core/limits.js";
import { createDynamoDBTestEnvironment, type DynamoDBTestEnvironment } from "../../local/testing.js";

const big = (n: number) => "x".repeat(n);

const echo = defineWorkflow("echo-big", async (ctx, input: { text: string; outBytes: number }) => {
  const piece = await ctx.step("make", () => big(input.outBytes));
  return { inLength: input.text.length, piece };
});

const tooBig = defineWorkflow("too-big", async (ctx) => {
  const result = await ctx.step("huge", () => big(MAX_VALUE_BYTES + 10)).catch((err: Error & { failure?: { code?: string } }) => ({ failed: err.failure?.code }));
  return result;
});

const tooBigOutput = defineWorkflow("too-big-output", async () => big(MAX_VALUE_BYTES + 10));

let env: DynamoDBTestEnvironment;
beforeAll(async () => {
  env = await createDynamoDBTestEnvironment({
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    workflows: [echo, tooBig, tooBigOutput],
  });
});
afterAll(async () => {
  await env?.close();
});

describe("large values", () => {
  it("completes with a 300 KB input and a 300 KB output, and returns both", async () => {
    const id = await env.start(echo, { text: big(300_000), outBytes: 300_000 });
    const execution = await env.execution(id);
    expect(execution.status).toBe("completed");
    expect((execution.input as { text: string }).text).toHaveLength(300_000);
    expect((execution.output as { piece: string }).piece).toHaveLength(300_000);
  });

  it("fails a step whose result is over the limit at once, without retrying", async () => {
    const id = await env.start(tooBig, null);
    expect(await env.result(id)).toEqual({ failed: "PAYLOAD_TOO_LARGE" });
    const attempts = (await env.history(id)).filter((e) => e.type === "StepAttemptFailed");
    expect(attempts).toHaveLength(0);
  });

  it("fails an execution whose output is over the limit, naming the limit", async () => {
    const id = await env.start(tooBigOutput, null);
    const execution = await env.execution(id);
    expect(execution.status).toBe("failed");
    expect(execution.error?.message).toContain(String(MAX_VALUE_BYTES));
  });
});
