/**
 * The sweeper, the backstop for a lost wake-up: it claims what is due, so sweepers running at once
 * never both wake an execution, and gives a claim back when it cannot send.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { sweepDue } from "../../lambdas/engine/sweeper.js";
import type { WakeupScheduler } from "../../lambdas/ports/queue.js";
import { drainIntoWorker, type WorkerWorld, workerWorld } from "./harness.js";

let world: WorkerWorld;
const T0 = 1_800_000_000_000;

class RecordingScheduler implements WakeupScheduler {
  readonly woken: string[] = [];
  fail = false;
  async schedule(executionId: string): Promise<void> {
    this.woken.push(executionId);
  }
  async wakeNow(executionIds: readonly string[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.fail) throw new Error("SQS refused");
    this.woken.push(...executionIds);
  }
}

beforeEach(async () => {
  world = await workerWorld("sweeper");
});

async function due(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `due-${i}`);
  // Started, and their wake-ups lost: due since T0.
  await Promise.all(ids.map((id) => world.store.createExecution({ id, workflow: "wf", version: 1, input: null, nowMs: T0 })));
  return ids;
}

describe("sweepDue", () => {
  it("wakes each overdue execution once, even with two sweepers running at once", async () => {
    const ids = await due(35);
    const one = new RecordingScheduler();
    const two = new RecordingScheduler();
    const clock = () => T0 + 60_000;
    const [a, b] = await Promise.all([
      sweepDue({ store: world.store, scheduler: one, clock }, { graceMs: 30_000 }),
      sweepDue({ store: world.deps([]).store, scheduler: two, clock }, { graceMs: 30_000 }),
    ]);
    expect([...one.woken, ...two.woken].sort()).toEqual([...ids].sort());
    expect(a.woken.filter((id) => b.woken.includes(id))).toEqual([]);
    // Swept: not again while the claim lasts (default 60 s)...
    expect((await sweepDue({ store: world.store, scheduler: one, clock: () => T0 + 90_000 }, { graceMs: 0 })).woken).toEqual([]);
    // ...but again once it runs out, if no worker took them in the meantime (the wake-up was lost too).
    expect((await sweepDue({ store: world.store, scheduler: one, clock: () => T0 + 200_000 }, { graceMs: 30_000 })).woken.sort()).toEqual([...ids].sort());
  });

  it("with a backlog in the queue, wakes only executions due for longer than the extra grace: their wake-ups are likely waiting their turn", async () => {
    await due(2);
    const scheduler = Object.assign(new RecordingScheduler(), { backlog: async () => 500 });
    // Due for 2 minutes: past the 30 s grace, within the 5 minutes a backlog adds.
    expect((await sweepDue({ store: world.store, scheduler, clock: () => T0 + 120_000 }, { graceMs: 30_000 })).woken).toEqual([]);
    // A small queue is no backlog: woken.
    const quiet = Object.assign(new RecordingScheduler(), { backlog: async () => 99 });
    expect((await sweepDue({ store: world.store, scheduler: quiet, clock: () => T0 + 120_000 }, { graceMs: 30_000 })).woken.sort()).toEqual(["due-0", "due-1"]);
  });

  it("with a backlog, still wakes an execution due for longer than grace and the extra grace", async () => {
    await due(1);
    const scheduler = Object.assign(new RecordingScheduler(), { backlog: async () => 5_000 });
    expect((await sweepDue({ store: world.store, scheduler, clock: () => T0 + 331_000 }, { graceMs: 30_000 })).woken).toEqual(["due-0"]);
  });

  it("leaves alone executions due within the grace period", async () => {
    await due(3);
    const scheduler = new RecordingScheduler();
    expect((await sweepDue({ store: world.store, scheduler, clock: () => T0 + 10_000 }, { graceMs: 30_000 })).woken).toEqual([]);
  });

  it("gives the claims back when it cannot send, so the next sweep tries again", async () => {
    const ids = await due(12);
    const scheduler = new RecordingScheduler();
    scheduler.fail = true;
    const clock = () => T0 + 60_000;
    const failed = await sweepDue({ store: world.store, scheduler, clock }, { graceMs: 30_000 });
    expect(failed).toEqual({ woken: [], failed: expect.arrayContaining(ids), purged: [] });
    scheduler.fail = false;
    expect((await sweepDue({ store: world.store, scheduler, clock }, { graceMs: 30_000 })).woken.sort()).toEqual([...ids].sort());
  });

  it("wakes an execution whose wake-up was lost between the commit and the send, and it completes", async () => {
    const hello = defineWorkflow("hello", async (ctx) => ctx.step("hi", () => "hi"));
    const deps = world.deps([hello]);
    await world.store.createExecution({ id: "lost", workflow: "hello", version: 1, input: null, nowMs: Date.now() - 60_000 });
    // No wake-up was ever sent. The sweeper finds it and sends one.
    const { woken } = await sweepDue(deps, { graceMs: 30_000 });
    expect(woken).toEqual(["lost"]);
    await drainIntoWorker(world, deps);
    expect(await world.store.getExecution("lost")).toMatchObject({ status: "completed", output: "hi" });
  });
});
