/**
 * Smaller paths where a guarantee used to slip: an execution failed without a lease ends its
 * history (no late append can follow), a timer's wake-up that comes early is sent on rather than
 * swallowed, a child id someone else holds fails that child call with a true error instead of
 * spinning the parent, and a history conflict backs off.
 * Real worker, real API over HTTP, DynamoDB Local and the SQS emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { ChildFailedError } from "../../lambdas/core/run.js";
import { processWakeup } from "../../lambdas/engine/process-wakeup.js";
import { HistoryConflictError } from "../../lambdas/store/errors.js";
import type { ExecutionStore } from "../../lambdas/ports/store.js";
import { drainIntoWorker } from "../worker/harness.js";
import { type GuaranteeWorld, guaranteeWorld, sleep } from "./support.js";

const time = { remainingMs: () => 60_000 };

const napper = defineWorkflow("napper", async (ctx) => {
  await ctx.sleep("nap", 1_500);
  return "rested";
});
const other = defineWorkflow("other", async (ctx) => ctx.step("o", () => "other"));
const adopter = defineWorkflow("adopter", async (ctx) => {
  try {
    return await ctx.child(other, null, { id: "wanted-id" });
  } catch (err) {
    if (err instanceof ChildFailedError) return { code: err.failure.code, turns: 0 };
    throw err;
  }
});
const stepper = defineWorkflow("stepper", async (ctx) => {
  await ctx.step("one", () => 1);
  return ctx.waitForSignal("never");
});

describe("edges", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("edges", [napper, other, adopter, stepper]);
  });
  afterAll(async () => g.close());

  it("failing an execution without a lease appends ExecutionFailed, so a late append cannot follow the end", async () => {
    await g.api("POST", "/executions", { workflow: "stepper", id: "no-lease" });
    await drainIntoWorker(g.world, g.worker(), { quietMs: 300 });
    const store = g.world.store;
    const before = await store.readHistory("no-lease");
    const last = before.events[before.events.length - 1]?.seq ?? 0;
    expect(await store.endWithoutLease("no-lease", { status: "failed", error: { name: "Error", message: "given up", code: "ENGINE_RETRIES_EXHAUSTED" } }, Date.now())).toBe(true);
    const after = await store.readHistory("no-lease");
    expect(after.events.map((e) => [e.seq, e.type]).slice(-1)).toEqual([[last + 1, "ExecutionFailed"]]);
    // A zombie that read the history before the end appends at last + 1: refused.
    const zombie = { executionId: "no-lease", owner: "zombie", version: 1, expiresAtMs: Date.now() + 60_000 };
    await expect(
      store.commit(zombie, { events: [{ seq: last + 1, atMs: Date.now(), type: "StepCompleted", position: 9, name: "late", attempt: 1 }], lastSeq: last + 1, consumed: [], childStarts: [], childCancels: [] }, Date.now()),
    ).rejects.toBeInstanceOf(HistoryConflictError);
    expect((await g.api("GET", "/executions/no-lease")).body).toMatchObject({ status: "failed", error: { code: "ENGINE_RETRIES_EXHAUSTED" } });
  });

  it("sends a timer's wake-up on when it comes a little early, so the timer fires on time, not through the sweeper", async () => {
    await g.api("POST", "/executions", { workflow: "napper", id: "early" });
    expect(await processWakeup({ executionId: "early" }, time, g.worker())).toMatchObject({ outcome: "sleeping" });
    const record = await g.world.store.getExecution("early");
    const dueAtMs = record?.nextWakeAtMs as number;
    // The timer's own wake-up, delivered 400 ms before its time (clocks a little apart).
    await sleep(Math.max(0, dueAtMs - Date.now() - 400));
    expect(await processWakeup({ executionId: "early", dueAtMs }, time, g.worker())).toEqual({ kind: "rescheduled", dueAtMs });
    // Without a sweep: the message re-sent on the way fires the timer.
    await drainIntoWorker(g.world, g.worker(), { quietMs: 1_500 });
    expect(await g.world.store.getExecution("early")).toMatchObject({ status: "completed", output: "rested" });
  });

  it("fails a child call whose id another execution holds, with CHILD_ID_IN_USE, in one turn", async () => {
    expect((await g.api("POST", "/executions", { workflow: "other", id: "wanted-id" })).status).toBe(201);
    await g.api("POST", "/executions", { workflow: "adopter", id: "adopter-1" });
    const turn = await processWakeup({ executionId: "adopter-1" }, time, g.worker());
    expect(turn).toMatchObject({ kind: "ran", outcome: "completed" });
    expect(await g.world.store.getExecution("adopter-1")).toMatchObject({ status: "completed", output: { code: "CHILD_ID_IN_USE" }, retryCount: 0 });
    // The other execution is untouched.
    expect((await g.world.store.getExecution("wanted-id"))?.parent).toBeUndefined();
  });

  it("refuses to start an execution under the form of id the engine gives children", async () => {
    const answer = await g.api("POST", "/executions", { workflow: "other", id: "adopter-1~1.0" });
    expect([answer.status, answer.body.error?.code]).toEqual([400, "INVALID_INPUT"]);
  });

  it("backs off a history conflict, longer with each in a row, instead of spinning", async () => {
    await g.api("POST", "/executions", { workflow: "stepper", id: "conflicted" });
    // A store whose step commits always meet another writer's event at that seq.
    const store = g.world.store;
    const conflicted: ExecutionStore = Object.assign(Object.create(Object.getPrototypeOf(store)) as ExecutionStore, store, {
      commit: async () => {
        throw new HistoryConflictError("conflicted", 2);
      },
    });
    const delays: number[] = [];
    for (const receiveCount of [1, 2, 4, 8]) {
      const result = await processWakeup({ executionId: "conflicted" }, time, g.worker({ store: conflicted }), {}, { receiveCount });
      expect(result.kind).toBe("retry");
      delays.push(result.kind === "retry" ? result.delaySeconds : -1);
    }
    expect(delays).toEqual([0, 1, 7, 30]);
  });
});
