/**
 * Cancel and deadlines mean what they say: a cancel accepted while a turn runs step after step
 * takes effect before the steps that start a second later (the turn looks at its inbox about once
 * a second, one small read); a signal that arrived after a wait's deadline does not satisfy that
 * wait and stays for a later one, and one that arrived in time does, however late the worker
 * looks; a timer in a race resolves while a step is still running.
 * Real worker, real API over HTTP, DynamoDB Local and the SQS emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { processWakeup } from "../../lambdas/engine/process-wakeup.js";
import { RequestMeter } from "../../lambdas/store/request-meter.js";
import { drainIntoWorker } from "../worker/harness.js";
import { eventually, type GuaranteeWorld, guaranteeWorld, inboxSize, sleep } from "./support.js";

const STEPS = 40;
const started = new Map<string, number[]>();

const chain = defineWorkflow("chain", async (ctx) => {
  for (let i = 0; i < STEPS; i += 1) {
    await ctx.step(`s${i}`, () => {
      started.set(ctx.executionId, [...(started.get(ctx.executionId) ?? []), Date.now()]);
      return sleep(100).then(() => i);
    });
  }
  return "all steps ran";
});

const deadline = defineWorkflow("deadline", async (ctx) => {
  const first = await ctx.waitForSignal<string>("x", { timeout: "2s" });
  const second = await ctx.waitForSignal<string>("x");
  return { first: first ?? "timed out", second };
});

const race = defineWorkflow("race", async (ctx) => {
  const winner = await Promise.race([
    ctx.step("slow", ({ signal }) => new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("step"), 3_000);
      signal.addEventListener("abort", () => clearTimeout(timer));
    })),
    ctx.sleep("short", "1s").then(() => "timer"),
  ]);
  return winner;
});

const time = { remainingMs: () => 60_000 };

describe("a cancel during a turn of consecutive steps", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("cancel", [chain]);
  });
  afterAll(async () => g.close());

  it("stops the steps within about a second, at one small read per second of turn time", async () => {
    await g.api("POST", "/executions", { workflow: "chain", id: "chain-1" });
    const meter = new RequestMeter().attach(g.world.clients.dynamo, "dynamodb");
    meter.reset();
    const turnStartedAt = Date.now();
    const turn = processWakeup({ executionId: "chain-1" }, time, g.worker());
    expect(await eventually(async () => (started.get("chain-1")?.length ?? 0) >= 10)).toBe(true);
    g.apiSends.failing = true; // only the running turn can see it
    const answer = await g.api("POST", "/executions/chain-1/cancel", { reason: "enough" });
    const acceptedAt = Date.now();
    g.apiSends.failing = false;
    expect(answer.status).toBe(202);
    expect(await turn).toMatchObject({ kind: "ran", outcome: "canceled" });
    const turnMs = Date.now() - turnStartedAt;
    const record = await g.world.store.getExecution("chain-1");
    expect(record?.status).toBe("canceled");
    const starts = started.get("chain-1") ?? [];
    expect(starts.length).toBeLessThan(STEPS);
    expect(starts.filter((t) => t > acceptedAt + 1_200)).toEqual([]);
    expect(await inboxSize(g.world, "chain-1")).toBe(0);
    // The inbox checks: GetItem of the execution's counter, about one per second of the turn.
    const checks = meter.snapshot()["dynamodb.GetItem"]?.requests ?? 0;
    expect(checks).toBeGreaterThan(0);
    expect(checks).toBeLessThanOrEqual(Math.ceil(turnMs / 1_000) + 1);
  });
});

describe("a signal and a wait's deadline", () => {
  let now = Date.now();
  let g: GuaranteeWorld;
  beforeAll(async () => {
    // One clock for the API and the workers, moved by the test.
    g = await guaranteeWorld("deadline", [deadline], { apiClock: () => now, workerClock: () => now });
  });
  afterAll(async () => g.close());

  it("a signal that arrived after the deadline does not satisfy the wait: it stays for the next one", async () => {
    now = Date.now();
    await g.api("POST", "/executions", { workflow: "deadline", id: "late" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    now += 2_500; // past the deadline; the worker has not fired the timeout yet
    expect((await g.api("POST", "/executions/late/signals/x", "late")).status).toBe(202);
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect(await g.world.store.getExecution("late")).toMatchObject({ status: "completed", output: { first: "timed out", second: "late" } });
  });

  it("a signal that arrived before the deadline satisfies the wait, even when the worker looks after it", async () => {
    now = Date.now();
    await g.api("POST", "/executions", { workflow: "deadline", id: "in-time" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    now += 1_500;
    g.apiSends.failing = true; // nobody is woken now
    expect((await g.api("POST", "/executions/in-time/signals/x", "in time")).status).toBe(202);
    g.apiSends.failing = false;
    now += 3_000; // the worker comes past the deadline
    await g.sweep();
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect((await g.world.store.getExecution("in-time"))?.status).toBe("sleeping");
    expect((await g.api("POST", "/executions/in-time/signals/x", "second")).status).toBe(202);
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect(await g.world.store.getExecution("in-time")).toMatchObject({ status: "completed", output: { first: "in time", second: "second" } });
  });
});

describe("a race between a step and a timer", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("race", [race]);
  });
  afterAll(async () => g.close());

  it("resolves with the timer while the step still runs, and records no result for the abandoned step", async () => {
    await g.api("POST", "/executions", { workflow: "race", id: "race-1" });
    expect(await processWakeup({ executionId: "race-1" }, time, g.worker())).toMatchObject({ kind: "ran", outcome: "completed" });
    expect(await g.world.store.getExecution("race-1")).toMatchObject({ status: "completed", output: "timer" });
    const { events } = await g.world.store.readHistory("race-1");
    expect(events.map((e) => e.type)).toEqual(["ExecutionStarted", "TimerStarted", "TimerFired", "ExecutionCompleted"]);
  });
});
