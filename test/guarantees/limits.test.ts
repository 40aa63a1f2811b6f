/**
 * What the API accepts, the engine can always commit: values up to the limit as they are stored,
 * many large signals at once, a wide fan-out of large results, errors with huge messages. A value
 * that can never fit fails that step or that call with a clear code, never the execution by engine
 * retries; an inbox nobody empties refuses more with 429 and changes nothing.
 * Real worker, real API over HTTP, DynamoDB Local and the SQS emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow, StepFailedError } from "../../lambdas/index.js";
import { ERROR_LIMITS } from "../../lambdas/core/errors.js";
import { MAX_INBOX_BYTES, MAX_INBOX_ITEMS, MAX_VALUE_BYTES } from "../../lambdas/core/limits.js";
import { ChildFailedError } from "../../lambdas/core/run.js";
import { drainIntoWorker } from "../worker/harness.js";
import { type GuaranteeWorld, guaranteeWorld, inboxSize } from "./support.js";

/** A string whose JSON (quotes included) is exactly `bytes` long. */
const jsonOf = (bytes: number, fill = "x") => fill.repeat(bytes - 2);
const BIG = 330_000;
const bodyRuns = new Map<string, number>();
const ran = (key: string) => bodyRuns.set(key, (bodyRuns.get(key) ?? 0) + 1);

const one = defineWorkflow("one-signal", async (ctx) => (await ctx.waitForSignal<string>("go")).length);

const many = defineWorkflow("many-signals", async (ctx, input: { count: number }) => {
  const lengths: number[] = [];
  for (let i = 0; i < input.count; i += 1) lengths.push((await ctx.waitForSignal<string>("big")).length);
  return lengths;
});

const wide = defineWorkflow("wide-results", async (ctx, input: { count: number }) => {
  const results = await Promise.all(
    Array.from({ length: input.count }, (_, i) => ctx.step(`big-${i}`, () => (ran(`${ctx.executionId}:${i}`), jsonOf(BIG, String.fromCharCode(97 + i))))),
  );
  return results.map((r) => r.length);
});

const loud = defineWorkflow("loud-error", async (ctx) => {
  try {
    await ctx.step(
      "shout",
      () => {
        ran(`${ctx.executionId}:shout`);
        throw new Error("x".repeat(200_000));
      },
      { retry: { maxAttempts: 3, initialInterval: 10 } },
    );
    return { caught: false };
  } catch (err) {
    if (!(err instanceof StepFailedError)) throw err;
    return { caught: true, attempts: err.attempts, messageLength: err.failure.message.length };
  }
});

const bigChild = defineWorkflow("big-child", async () => "never runs");
const parent = defineWorkflow("big-parent", async (ctx) => {
  try {
    await ctx.child(bigChild, { blob: "x".repeat(MAX_VALUE_BYTES) });
    return "started";
  } catch (err) {
    return { code: (err as { code?: string }).code };
  }
});

const hoarder = defineWorkflow("hoarder", async (ctx) => {
  await ctx.sleep("forever", "365 days");
  return "woke";
});

const workflows = [one, many, wide, loud, bigChild, parent, hoarder];

describe("values near every limit", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("limits", workflows);
  });
  afterAll(async () => g.close());

  it("accepts a signal of exactly the limit as stored, and the workflow receives it", async () => {
    await g.api("POST", "/executions", { workflow: "one-signal", id: "exact" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    const answer = await g.api("POST", "/executions/exact/signals/go", jsonOf(MAX_VALUE_BYTES));
    expect(answer.status).toBe(202);
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect(await g.world.store.getExecution("exact")).toMatchObject({ status: "completed", output: MAX_VALUE_BYTES - 2, retryCount: 0 });
  });

  it("refuses a signal one byte over the limit with 413 naming it", async () => {
    const answer = await g.api("POST", "/executions/exact/signals/go", jsonOf(MAX_VALUE_BYTES + 1));
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect(answer.body.error.message).toContain(String(MAX_VALUE_BYTES));
  });

  it("takes in 13 signals of 330 KB at once (4.3 MB, over one transaction's 4 MB)", async () => {
    await g.api("POST", "/executions", { workflow: "many-signals", id: "pile", input: { count: 13 } });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    for (let i = 0; i < 13; i += 1) expect((await g.api("POST", "/executions/pile/signals/big", jsonOf(BIG))).status).toBe(202);
    await drainIntoWorker(g.world, g.worker(), { quietMs: 500, timeoutMs: 60_000 });
    const execution = await g.world.store.getExecution("pile");
    expect(execution).toMatchObject({ status: "completed", retryCount: 0 });
    expect(execution?.output).toEqual(Array.from({ length: 13 }, () => BIG - 2));
    expect(await inboxSize(g.world, "pile")).toBe(0);
  }, 90_000);

  it("records 13 parallel step results of 330 KB each, each body run once", async () => {
    await g.api("POST", "/executions", { workflow: "wide-results", id: "wide", input: { count: 13 } });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 500, timeoutMs: 60_000 });
    expect(await g.world.store.getExecution("wide")).toMatchObject({ status: "completed", output: Array.from({ length: 13 }, () => BIG - 2) });
    for (let i = 0; i < 13; i += 1) expect(bodyRuns.get(`wide:${i}`)).toBe(1);
  }, 90_000);

  it("records a step error with a 200 KB message, cut to its bound, and retries it per the policy only", async () => {
    await g.api("POST", "/executions", { workflow: "loud-error", id: "loud" });
    // Each retry is a wake-up delayed by SQS (whole seconds): wait out two of them.
    await drainIntoWorker(g.world, g.worker(), { quietMs: 2_500 });
    const execution = await g.world.store.getExecution("loud");
    expect(execution).toMatchObject({ status: "completed", output: { caught: true, attempts: 3 } });
    expect((execution?.output as { messageLength: number }).messageLength).toBeLessThan(ERROR_LIMITS.messageChars + 100);
    expect(bodyRuns.get("loud:shout")).toBe(3);
  });

  it("fails a child call whose input is over the limit at once, with PAYLOAD_TOO_LARGE the workflow can catch", async () => {
    await g.api("POST", "/executions", { workflow: "big-parent", id: "big-parent" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect(await g.world.store.getExecution("big-parent")).toMatchObject({ status: "completed", output: { code: "PAYLOAD_TOO_LARGE" }, retryCount: 0 });
    expect(ChildFailedError).toBeDefined();
  });
});

describe("an inbox nobody takes in", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("inbox", workflows);
  });
  afterAll(async () => g.close());

  it(`refuses signals beyond ${MAX_INBOX_BYTES} bytes with 429 INBOX_FULL, writes nothing, still takes a cancel`, async () => {
    await g.api("POST", "/executions", { workflow: "hoarder", id: "bytes" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    // No worker runs from here: the signals pile up.
    const fits = Math.floor(MAX_INBOX_BYTES / (BIG + 120));
    for (let i = 0; i < fits; i += 1) expect((await g.api("POST", "/executions/bytes/signals/s", jsonOf(BIG))).status).toBe(202);
    const before = await inboxSize(g.world, "bytes");
    const refused = await g.api("POST", "/executions/bytes/signals/s", jsonOf(BIG));
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("INBOX_FULL");
    expect(refused.retryAfter).toBe("5");
    expect(await inboxSize(g.world, "bytes")).toBe(before);
    expect((await g.api("POST", "/executions/bytes/cancel", { reason: "flooded" })).status).toBe(202);
    await drainIntoWorker(g.world, g.worker(), { quietMs: 500, timeoutMs: 60_000 });
    expect(await g.world.store.getExecution("bytes")).toMatchObject({ status: "canceled" });
    expect(await inboxSize(g.world, "bytes")).toBe(0);
  }, 120_000);

  it(`refuses the signal after ${MAX_INBOX_ITEMS} with 429, and takes signals again once the workflow has taken the inbox in`, async () => {
    await g.api("POST", "/executions", { workflow: "hoarder", id: "count" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    // No wake-ups either (the sends fail): one sweep wakes the execution once, below.
    g.apiSends.failing = true;
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < MAX_INBOX_ITEMS) {
          next += 1;
          expect((await g.api("POST", "/executions/count/signals/s", next)).status).toBe(202);
        }
      }),
    );
    expect((await g.api("POST", "/executions/count/signals/s", "one too many")).status).toBe(429);
    g.apiSends.failing = false;
    expect(await g.sweep()).toContain("count");
    await drainIntoWorker(g.world, g.worker(), { quietMs: 500, timeoutMs: 60_000 });
    expect(await inboxSize(g.world, "count")).toBe(0);
    expect((await g.api("POST", "/executions/count/signals/s", "room again")).status).toBe(202);
  }, 120_000);
});
