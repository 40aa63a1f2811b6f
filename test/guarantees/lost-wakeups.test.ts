/**
 * Whatever is in an execution's inbox keeps it due until a worker has taken it in, whatever the
 * clocks and the wake-up sends do: a signal, a cancel or a child's result that arrives during a
 * turn is taken in by that turn, and one that arrives while nobody runs is found by the sweeper.
 * Real worker, real API over HTTP, DynamoDB Local and the SQS emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { processWakeup } from "../../lambdas/engine/process-wakeup.js";
import { drainIntoWorker } from "../worker/harness.js";
import { eventually, type GuaranteeWorld, guaranteeWorld, inboxSize, sleep } from "./support.js";

const time = { remainingMs: () => 60_000 };

const gate = defineWorkflow("gate", async (ctx) => {
  await ctx.step("work", () => sleep(500).then(() => "worked"));
  return ctx.waitForSignal<string>("go");
});

const longSleeper = defineWorkflow("long-sleeper", async (ctx) => {
  await ctx.step("work", () => sleep(500).then(() => "worked"));
  await ctx.sleep("month", "30 days");
  return "woke";
});

const kid = defineWorkflow("kid", async (ctx) => ctx.step("k", () => "kid-done"));
const parent = defineWorkflow("parent", async (ctx) => {
  const child = ctx.child(kid, null, { id: `${ctx.executionId}-kid` });
  const mine = await ctx.step("mine", () => sleep(800).then(() => "mine"));
  return { mine, child: await child };
});

const waiter = defineWorkflow("waiter", async (ctx) => ctx.waitForSignal<string>("go"));

const workflows = [gate, longSleeper, kid, parent, waiter];

/** Waits until a worker holds the execution's lease (its turn is under way). */
async function leased(g: GuaranteeWorld, id: string): Promise<void> {
  expect(await eventually(async () => (await g.world.store.getExecution(id))?.leaseOwner !== undefined)).toBe(true);
}

describe("a lost wake-up", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("lost", workflows);
  });
  afterAll(async () => g.close());

  it("does not strand a signal accepted during a turn: the turn takes it in before it ends", async () => {
    const start = await g.api("POST", "/executions", { workflow: "gate", id: "gate-1" });
    expect(start.status).toBe(201);
    const turn = processWakeup({ executionId: "gate-1" }, time, g.worker());
    await leased(g, "gate-1");
    g.apiSends.failing = true; // the API answers 202 and counts on the sweeper
    const signal = await g.api("POST", "/executions/gate-1/signals/go", "now");
    g.apiSends.failing = false;
    expect(signal.status).toBe(202);
    expect(await turn).toMatchObject({ kind: "ran", outcome: "completed" });
    expect(await g.world.store.getExecution("gate-1")).toMatchObject({ status: "completed", output: "now" });
    expect(await inboxSize(g.world, "gate-1")).toBe(0);
  });

  it("does not leave a cancel accepted during a turn waiting for the next timer", async () => {
    await g.api("POST", "/executions", { workflow: "long-sleeper", id: "sleeper-1" });
    const turn = processWakeup({ executionId: "sleeper-1" }, time, g.worker());
    await leased(g, "sleeper-1");
    g.apiSends.failing = true;
    expect((await g.api("POST", "/executions/sleeper-1/cancel", { reason: "stop" })).status).toBe(202);
    g.apiSends.failing = false;
    expect(await turn).toMatchObject({ kind: "ran", outcome: "canceled" });
    expect(await g.world.store.getExecution("sleeper-1")).toMatchObject({ status: "canceled" });
  });

  it("does not strand a child's result when its wake-up to the parent is lost while the parent's turn runs", async () => {
    await g.api("POST", "/executions", { workflow: "parent", id: "parent-1" });
    const parentTurn = processWakeup({ executionId: "parent-1" }, time, g.worker());
    // The child exists once the parent's first commit landed; run its turn with failing sends.
    const kidId = "parent-1-kid";
    expect(await eventually(async () => (await g.world.store.getExecution(kidId)) !== undefined)).toBe(true);
    g.workerSends.failing = true;
    const kidTurn = await processWakeup({ executionId: kidId }, time, g.worker());
    g.workerSends.failing = false;
    expect(kidTurn).toMatchObject({ kind: "ran", outcome: "completed" });
    expect(await parentTurn).toMatchObject({ kind: "ran", outcome: "completed" });
    expect(await g.world.store.getExecution("parent-1")).toMatchObject({ status: "completed", output: { mine: "mine", child: "kid-done" } });
  });

  it("leaves a signal whose wake-up was lost while nobody ran due, so the sweeper finds it", async () => {
    await g.api("POST", "/executions", { workflow: "waiter", id: "waiter-1" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect(await g.world.store.getExecution("waiter-1")).toMatchObject({ status: "sleeping" });
    g.apiSends.failing = true;
    expect((await g.api("POST", "/executions/waiter-1/signals/go", "late")).status).toBe(202);
    g.apiSends.failing = false;
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect((await g.world.store.getExecution("waiter-1"))?.status).toBe("sleeping"); // nothing was sent
    expect(await g.sweep()).toContain("waiter-1");
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect(await g.world.store.getExecution("waiter-1")).toMatchObject({ status: "completed", output: "late" });
  });
});

describe("clocks that disagree", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    // The API's host runs 2.5 s ahead of the workers': its inbox items look "in the future" to them.
    g = await guaranteeWorld("skew", workflows, { apiClock: () => Date.now() + 2_500 });
  });
  afterAll(async () => g.close());

  it("do not hide a signal from the worker or erase its due mark", async () => {
    await g.api("POST", "/executions", { workflow: "waiter", id: "skew-1" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect((await g.world.store.getExecution("skew-1"))?.status).toBe("sleeping");
    expect((await g.api("POST", "/executions/skew-1/signals/go", "ahead")).status).toBe(202);
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    expect(await g.world.store.getExecution("skew-1")).toMatchObject({ status: "completed", output: "ahead" });
  });

  it("do not strand a signal accepted during a turn by a clock ahead of the worker's", async () => {
    await g.api("POST", "/executions", { workflow: "gate", id: "skew-2" });
    const turn = processWakeup({ executionId: "skew-2" }, time, g.worker());
    await leased(g, "skew-2");
    g.apiSends.failing = true;
    expect((await g.api("POST", "/executions/skew-2/signals/go", "ahead")).status).toBe(202);
    g.apiSends.failing = false;
    expect(await turn).toMatchObject({ kind: "ran", outcome: "completed" });
    expect(await g.world.store.getExecution("skew-2")).toMatchObject({ status: "completed", output: "ahead" });
  });
});
