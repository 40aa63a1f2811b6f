/**
 * `ctx.waitForCondition` through the real worker on the in-memory kit: polls spaced by the
 * interval or the backoff on the engine's clock, the state handed from poll to poll (across
 * turns that replay the whole history), one history event per poll, the timeout as a typed
 * error, and a poll that throws counted as not done.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ConditionTimeoutError, defineWorkflow, NonRetryableError, StepFailedError } from "../../lambdas/index.js";
import { pollsWithin } from "../../lambdas/core/condition.js";
import { createTestEnvironment, type TestEnvironment } from "../../lambdas/testing/index.js";

const T0 = Date.UTC(2026, 0, 1);
let env: TestEnvironment | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** The job is done at poll `doneAt` (or never); each poll remembers when it ran, by the test clock. */
let clock = () => 0;
const pollTimes: number[] = [];
const render = defineWorkflow("render-wait", async (ctx, input: { doneAt?: number; throwAt?: number; fatalAt?: number; timeout?: string; backoff?: boolean }) => {
  try {
    const final = await ctx.waitForCondition<{ polls: number; seen: string[] }>(
      "render-done",
      (state, { poll }) => {
        pollTimes.push(clock());
        if (poll === input.throwAt) throw new Error("renderer unreachable");
        if (poll === input.fatalAt) throw new NonRetryableError("job deleted");
        const seen = [...state.seen, `p${poll}`];
        return { done: poll === input.doneAt, state: { polls: state.polls + 1, seen } };
      },
      {
        initialState: { polls: 0, seen: [] },
        ...(input.backoff ? { backoff: { initial: "10s", coefficient: 2, max: "1 minute" } } : { interval: "30s" }),
        ...(input.timeout ? { timeout: input.timeout } : {}),
      },
    );
    return { outcome: "done", ...final };
  } catch (err) {
    if (err instanceof ConditionTimeoutError) return { outcome: "timed-out", code: err.code, lastState: err.lastState };
    if (err instanceof StepFailedError) return { outcome: "failed", message: err.failure.message };
    throw err;
  }
});

async function kit(): Promise<TestEnvironment> {
  env = await createTestEnvironment({ workflows: [render], startTimeMs: T0 });
  clock = () => env!.now();
  pollTimes.length = 0;
  return env;
}

describe("ctx.waitForCondition", () => {
  it("polls every interval, handing each poll the state the last one left, until done; one history event per poll", async () => {
    const t = await kit();
    const id = await t.start(render, { doneAt: 4 });
    await t.advanceTime("10 minutes");
    expect(await t.result(id)).toEqual({ outcome: "done", polls: 4, seen: ["p1", "p2", "p3", "p4"] });
    // 30 s apart, less the retry jitter (up to 20 %).
    const gaps = pollTimes.slice(1).map((at, i) => at - (pollTimes[i] as number));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(24_000);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(30_000);
    const history = await t.history(id);
    expect(history.filter((e) => e.type === "StepAttemptFailed")).toHaveLength(3);
    expect(history.filter((e) => e.type === "TimerStarted")).toHaveLength(0);
  });

  it("backs off between polls up to its max", async () => {
    const t = await kit();
    const id = await t.start(render, { doneAt: 6, backoff: true });
    await t.advanceTime("1 hour");
    expect((await t.result<{ polls: number }>(id)).polls).toBe(6);
    const gaps = pollTimes.slice(1).map((at, i) => at - (pollTimes[i] as number));
    // 10, 20, 40, 60 (max), 60 s, each less up to 20 % jitter.
    [10_000, 20_000, 40_000, 60_000, 60_000].forEach((want, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(want * 0.8);
      expect(gaps[i]).toBeLessThanOrEqual(want);
    });
  });

  it("gives up after its timeout with ConditionTimeoutError carrying the last state", async () => {
    const t = await kit();
    const id = await t.start(render, { timeout: "2 minutes" });
    await t.advanceTime("1 hour");
    const out = await t.result<{ outcome: string; code: string; lastState: { polls: number } }>(id);
    expect(out).toMatchObject({ outcome: "timed-out", code: "CONDITION_TIMED_OUT" });
    expect(out.lastState.polls).toBe(pollsWithin(120_000, 30_000, 1, 30_000));
    expect(pollTimes.length).toBe(out.lastState.polls);
  });

  it("counts a poll that throws as not done (the state carries over), and stops at a NonRetryableError", async () => {
    const t = await kit();
    const recovered = await t.start(render, { doneAt: 3, throwAt: 2 });
    await t.advanceTime("10 minutes");
    expect(await t.result(recovered)).toEqual({ outcome: "done", polls: 2, seen: ["p1", "p3"] });
    const fatal = await t.start(render, { fatalAt: 2 });
    await t.advanceTime("10 minutes");
    expect(await t.result(fatal)).toEqual({ outcome: "failed", message: "job deleted" });
  });
});

describe("pollsWithin", () => {
  it("counts the first poll at once and then one per delay until the timeout is reached", () => {
    expect(pollsWithin(0, 1_000, 1, 1_000)).toBe(1);
    expect(pollsWithin(3_000, 1_000, 1, 1_000)).toBe(4);
    expect(pollsWithin(3_500, 1_000, 1, 1_000)).toBe(5);
    expect(pollsWithin(70_000, 10_000, 2, 60_000)).toBe(4); // 10 + 20 + 40 = 70
  });
});
