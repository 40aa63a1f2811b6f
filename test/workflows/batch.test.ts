/**
 * `ctx.map` and `ctx.parallel` through the real worker on the in-memory kit (every turn replays
 * the whole history, as a cold worker does): the concurrency bound over whatever durable calls an
 * item makes, results in item order, each completion policy and its thresholds, bad options,
 * cancellation, and replay that tells a changed bound from the recorded one.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type AnyWorkflow,
  BatchFailedError,
  type BatchOptions,
  type BatchResult,
  defineWorkflow,
  type HistoryEvent,
  NonDeterminismError,
  NonRetryableError,
} from "../../lambdas/index.js";
import { createTestEnvironment, replayHistory, type TestEnvironment } from "../../lambdas/testing/index.js";

const T0 = Date.UTC(2026, 0, 1);
const ran = new Map<string, number>();
const count = (key: string) => ran.set(key, (ran.get(key) ?? 0) + 1);

let env: TestEnvironment | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
  ran.clear();
});

async function kit(workflows: readonly AnyWorkflow[]): Promise<TestEnvironment> {
  env = await createTestEnvironment({ workflows, startTimeMs: T0 });
  return env;
}

/** Most timers started and not yet fired at any point of the history: items sleeping at once. */
function mostTimersAtOnce(history: readonly HistoryEvent[]): number {
  let open = 0;
  let most = 0;
  for (const e of history) {
    if (e.type === "TimerStarted") most = Math.max(most, (open += 1));
    if (e.type === "TimerFired") open -= 1;
  }
  return most;
}

/** Each item: a step, an hour's sleep (it stays in flight across turns), a step. */
const sleepy = defineWorkflow("sleepy-map", async (ctx, input: { items: number; maxConcurrency?: number }) => {
  const items = Array.from({ length: input.items }, (_, i) => i);
  const options: BatchOptions = input.maxConcurrency === undefined ? {} : { maxConcurrency: input.maxConcurrency };
  const result = await ctx.map(
    "process",
    items,
    async (c, item) => {
      await c.step("begin", () => (count(`begin-${item}`), item));
      await c.sleep("work", `${1 + (item % 3)}h`);
      return c.step("end", () => item * 10);
    },
    options,
  );
  return { values: result.values, reason: result.completionReason, succeeded: result.succeeded };
});

/** Items that fail where the input says, with a policy from the input. */
const flaky = defineWorkflow("flaky-map", async (ctx, input: { items: number; failing: number[]; options: BatchOptions }) => {
  const items = Array.from({ length: input.items }, (_, i) => i);
  try {
    const result = await ctx.map(
      "charge",
      items,
      (c, item) =>
        c.step("charge", () => {
          count(`charge-${item}`);
          if (input.failing.includes(item)) throw new NonRetryableError(`card ${item} declined`, { code: "DECLINED" });
          return `ok-${item}`;
        }),
      input.options,
    );
    return { outcome: "resolved" as const, ...summary(result) };
  } catch (err) {
    if (err instanceof BatchFailedError) return { outcome: "rejected" as const, code: err.code, message: err.message, ...summary(err.result) };
    throw err;
  }
});

function summary(result: BatchResult<unknown>) {
  return {
    reason: result.completionReason,
    values: result.values,
    failedAt: result.errors.map((e) => [e.index, e.error.message]),
    statuses: result.items.map((i) => i.status),
  };
}

describe("ctx.map", () => {
  it("keeps at most maxConcurrency items in flight across turns, and gives the results in item order", async () => {
    const t = await kit([sleepy]);
    const id = await t.start(sleepy, { items: 10, maxConcurrency: 3 });
    await t.advanceTime("1 day");
    expect(await t.result(id)).toEqual({ values: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90], reason: "all-settled", succeeded: 10 });
    const history = await t.history(id);
    expect(mostTimersAtOnce(history)).toBe(3);
    // Each step body ran once, although every turn replayed the history.
    for (let i = 0; i < 10; i += 1) expect(ran.get(`begin-${i}`)).toBe(1);
  });

  it("runs every item at once without a bound", async () => {
    const t = await kit([sleepy]);
    const id = await t.start(sleepy, { items: 7 });
    await t.advanceTime("1 day");
    expect((await t.result<{ values: number[] }>(id)).values).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(mostTimersAtOnce(await t.history(id))).toBe(7);
  });

  it("counts a child workflow as in flight until it ends", async () => {
    const worker = defineWorkflow("map-child", async (ctx, input: { n: number }) => {
      await ctx.sleep("think", "30 minutes");
      return input.n * input.n;
    });
    const parent = defineWorkflow("map-parent", async (ctx) => (await ctx.map("squares", [1, 2, 3, 4, 5], (c, n) => c.child(worker, { n }), { maxConcurrency: 2 })).values);
    const t = await kit([worker, parent]);
    const id = await t.start(parent, {});
    await t.advanceTime("1 day");
    expect(await t.result(id)).toEqual([1, 4, 9, 16, 25]);
    let open = 0;
    let most = 0;
    for (const e of await t.history(id)) {
      if (e.type === "ChildStarted") most = Math.max(most, (open += 1));
      if (e.type === "ChildCompleted" || e.type === "ChildFailed") open -= 1;
    }
    expect(most).toBe(2);
  });

  it("fails fast by default: the first failure rejects with BatchFailedError, and no item starts after it", async () => {
    const t = await kit([flaky]);
    const id = await t.start(flaky, { items: 6, failing: [2], options: { maxConcurrency: 1 } });
    await t.runUntilIdle();
    expect(await t.result(id)).toEqual({
      outcome: "rejected",
      code: "BATCH_FAILED",
      message: 'batch "charge" failed: 1 of 6 item(s) failed; item 2: step "charge" failed after 1 attempt(s): card 2 declined',
      reason: "failure-tolerance-exceeded",
      values: ["ok-0", "ok-1"],
      failedAt: [[2, 'step "charge" failed after 1 attempt(s): card 2 declined']],
      statuses: ["succeeded", "succeeded", "failed", "not-started", "not-started", "not-started"],
    });
    expect([3, 4, 5].map((i) => ran.get(`charge-${i}`))).toEqual([undefined, undefined, undefined]);
  });

  it("tolerates up to toleratedFailureCount failures and fails on one more", async () => {
    const t = await kit([flaky]);
    const within = await t.start(flaky, { items: 6, failing: [1, 4], options: { completion: { toleratedFailureCount: 2 } } });
    expect(await t.result(within)).toMatchObject({
      outcome: "resolved",
      reason: "all-settled",
      values: ["ok-0", "ok-2", "ok-3", "ok-5"],
      failedAt: [
        [1, 'step "charge" failed after 1 attempt(s): card 1 declined'],
        [4, 'step "charge" failed after 1 attempt(s): card 4 declined'],
      ],
    });
    const beyond = await t.start(flaky, { items: 6, failing: [1, 3, 4], options: { maxConcurrency: 1, completion: { toleratedFailureCount: 2 } } });
    expect(await t.result(beyond)).toMatchObject({ outcome: "rejected", reason: "failure-tolerance-exceeded", statuses: ["succeeded", "failed", "succeeded", "failed", "failed", "not-started"] });
  });

  it("tolerates failures up to toleratedFailurePercentage of the items", async () => {
    const t = await kit([flaky]);
    const half = await t.start(flaky, { items: 4, failing: [0, 3], options: { completion: { toleratedFailurePercentage: 50 } } });
    expect(await t.result(half)).toMatchObject({ outcome: "resolved", values: ["ok-1", "ok-2"] });
    const over = await t.start(flaky, { items: 4, failing: [0, 1, 3], options: { completion: { toleratedFailurePercentage: 50 } } });
    expect(await t.result(over)).toMatchObject({ outcome: "rejected", reason: "failure-tolerance-exceeded" });
    // Both given: the stricter holds (1 failure of 10 allowed by the count, 5 by the percentage).
    const both = await t.start(flaky, { items: 10, failing: [2, 7], options: { completion: { toleratedFailureCount: 1, toleratedFailurePercentage: 50 } } });
    expect(await t.result(both)).toMatchObject({ outcome: "rejected" });
  });

  it("ends once minSuccessful items succeeded, leaving the rest unstarted, and fails when that number can no longer be reached", async () => {
    const t = await kit([flaky]);
    const enough = await t.start(flaky, { items: 6, failing: [0], options: { maxConcurrency: 1, completion: { minSuccessful: 2, toleratedFailureCount: 3 } } });
    expect(await t.result(enough)).toMatchObject({
      outcome: "resolved",
      reason: "min-successful",
      values: ["ok-1", "ok-2"],
      statuses: ["failed", "succeeded", "succeeded", "not-started", "not-started", "not-started"],
    });
    expect(ran.get("charge-3")).toBeUndefined();
    const unreachable = await t.start(flaky, { items: 4, failing: [0, 1], options: { maxConcurrency: 1, completion: { minSuccessful: 3, toleratedFailureCount: 3 } } });
    expect(await t.result(unreachable)).toMatchObject({ outcome: "rejected", reason: "failure-tolerance-exceeded", statuses: ["failed", "failed", "not-started", "not-started"] });
  });

  it("refuses options that make no sense with INVALID_BATCH_OPTIONS, before any item runs", async () => {
    const t = await kit([flaky]);
    const cases: BatchOptions[] = [
      { maxConcurrency: 0 },
      { maxConcurrency: 1.5 },
      { completion: { minSuccessful: 7 } },
      { completion: { toleratedFailureCount: -1 } },
      { completion: { toleratedFailurePercentage: 101 } },
    ];
    for (const options of cases) {
      const id = await t.start(flaky, { items: 6, failing: [], options });
      const execution = await t.execution(id);
      expect(execution.status, JSON.stringify(options)).toBe("failed");
      expect(execution.error?.code).toBe("INVALID_BATCH_OPTIONS");
    }
    expect(ran.size).toBe(0);
  });

  it("resolves an empty batch at once", async () => {
    const t = await kit([flaky]);
    const id = await t.start(flaky, { items: 0, failing: [], options: {} });
    expect(await t.result(id)).toMatchObject({ outcome: "resolved", reason: "all-settled", values: [], statuses: [] });
  });

  it("hands a cancel to the workflow as CancelledError, not as an item's failure", async () => {
    const t = await kit([sleepy]);
    const id = await t.start(sleepy, { items: 6, maxConcurrency: 2 });
    await t.advanceTime("90 minutes");
    await t.cancel(id, "enough");
    const execution = await t.execution(id);
    expect(execution.status).toBe("canceled");
    expect(ran.get("begin-5")).toBeUndefined();
  });

  it("replays to the same positions, and a changed bound no longer fits the history (NON_DETERMINISM)", async () => {
    const t = await kit([sleepy]);
    const id = await t.start(sleepy, { items: 5, maxConcurrency: 2 });
    await t.advanceTime("1 day");
    const history = await t.history(id);
    await expect(replayHistory(sleepy, history, { executionId: id })).resolves.toBeDefined();
    const rebounded = defineWorkflow("sleepy-map", async (ctx, input: { items: number }) => {
      const items = Array.from({ length: input.items }, (_, i) => i);
      const result = await ctx.map(
        "process",
        items,
        async (c, item) => {
          await c.step("begin", () => item);
          await c.sleep("work", `${1 + (item % 3)}h`);
          return c.step("end", () => item * 10);
        },
        { maxConcurrency: 3 },
      );
      return { values: result.values, reason: result.completionReason, succeeded: result.succeeded };
    });
    await expect(replayHistory(rebounded, history, { executionId: id })).rejects.toBeInstanceOf(NonDeterminismError);
  });

  it("maps 10,000 items with a bound of 50: every result in order, one history event per call, read back in pages", async () => {
    const wide = defineWorkflow("wide-map", async (ctx, input: { items: number }) => {
      const items = Array.from({ length: input.items }, (_, i) => i);
      const result = await ctx.map("square", items, (c, n) => c.step("square", () => n * n), { maxConcurrency: 50 });
      return { count: result.values.length, last: result.values.at(-1), sum: result.values.reduce((a, b) => a + b, 0) };
    });
    const t = await kit([wide]);
    const id = await t.start(wide, { items: 10_000 });
    await t.runUntilIdle();
    const n = 10_000;
    expect(await t.result(id)).toEqual({ count: n, last: (n - 1) * (n - 1), sum: ((n - 1) * n * (2 * n - 1)) / 6 });
    // One StepCompleted per item, each its own event (no item holds the batch's results).
    const page = await t.store.readHistory(id, { limit: 1000 });
    expect(page.events).toHaveLength(1000);
    expect(page.lastSeq).toBeDefined();
    const all = await t.history(id);
    expect(all.filter((e) => e.type === "StepCompleted")).toHaveLength(n);
  }, 120_000);
});

describe("ctx.parallel", () => {
  it("runs branches of different durable calls within the bound and gives their outcomes in branch order", async () => {
    const fanOut = defineWorkflow("fan-out", async (ctx) => {
      const result = await ctx.parallel<string>(
        "gather",
        [
          (c) => c.step("a", () => "A"),
          async (c) => {
            await c.sleep("b-wait", "2h");
            return "B";
          },
          async (c) => (await c.waitForSignal<string>("c", { timeout: "1 day" })) ?? "no C",
          (c) => c.step("d", () => "D"),
        ],
        { maxConcurrency: 2 },
      );
      return result.values;
    });
    const t = await kit([fanOut]);
    const id = await t.start(fanOut, {});
    await t.advanceTime("3h");
    await t.signal(id, "c", "C");
    await t.runUntilIdle();
    expect(await t.result(id)).toEqual(["A", "B", "C", "D"]);
    // d started only once a slot was free: after b's timer fired (a and b held the two slots first).
    const history = await t.history(id);
    const bFired = history.findIndex((e) => e.type === "TimerFired");
    const dDone = history.findIndex((e) => e.type === "StepCompleted" && e.name === "d");
    expect(dDone).toBeGreaterThan(bFired);
  });
});
